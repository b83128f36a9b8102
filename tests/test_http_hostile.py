"""`netdiag http` against hostile servers in the lab: deadlines that hold while data keeps
arriving, header bytes counted whatever the reads, a kept-alive connection the server closed,
and the HTTP/1 and HTTP/2 parsers fed arbitrary bytes (hypothesis) over real sockets."""

from __future__ import annotations

import gzip
import json
import struct
import time

import hpack
import pytest
from conftest import run_process
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdiag.lab.http import can
from netdiag.probes.http import SCHEMES, HttpOptions, probe_http
from netdiag.results import to_jsonable
from netdiag.targets import parse_target

TIMEOUT = 2.0
SLACK = 1.5
"""The whole process, start-up included, ends within ``--timeout`` plus this."""


def run_timed(*args: str) -> tuple[dict, int, float]:
    t0 = time.monotonic()
    r = run_process("http", *args, "--json", timeout=30)
    took = time.monotonic() - t0
    assert "Traceback" not in r.err, r.err
    return r.json(), r.code, took


# Deadlines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "path", "timeout", "extra"),
    [
        ("http", "/hostile/chunk-flood", TIMEOUT, ()),
        ("https", "/hostile/chunk-flood", TIMEOUT, ()),
        # With the largest header bound (16 MiB) the 1xx flood runs into the deadline, not
        # the bound: the client takes ~6 MB/s of it here, so a short --timeout keeps a wide
        # margin on a faster machine.
        ("http", "/hostile/continue-flood", 1.0, ("--max-header-bytes", str(16 << 20))),
        ("h2_window_flood", "/", TIMEOUT, ("--http2",)),
    ],
    ids=["chunk-flood", "chunk-flood-tls", "continue-flood", "h2-window-update-flood"],
)
def test_flood_is_bounded_by_the_deadline(lab, base, path, timeout, extra):
    tls = ("--ca-file", lab.files["tls_ca_file"]) if base != "http" else ()
    doc, code, took = run_timed(lab.urls[base] + path, "--timeout", f"{timeout:g}", *tls, *extra)
    assert code == 1
    assert doc["error"]["kind"] == "timeout", doc["error"]
    assert took < timeout + SLACK, f"{took:.2f} s"
    assert doc["hops"][0]["timing"]["total_ms"] < (timeout + 0.5) * 1000


@pytest.mark.parametrize("base", ["h2_settings_flood", "h2_ping_flood"])
def test_h2_control_frame_flood_is_named_as_such(lab, base):
    # No server has a reason to send a thousand SETTINGS or PING frames in one exchange: the
    # verdict names the attack at once instead of waiting for the deadline.
    doc, code, took = run_timed(
        lab.urls[base] + "/",
        "--http2",
        "--ca-file",
        lab.files["tls_ca_file"],
        "--timeout",
        str(TIMEOUT),
    )
    assert code == 1
    assert doc["error"]["kind"] == "bad_response"
    assert "control-frame flood" in doc["error"]["message"]  # named, not a timeout
    assert took < TIMEOUT + SLACK, f"{took:.2f} s"


def test_continue_flood_counts_against_the_header_bound(lab):
    doc, code, took = run_timed(
        lab.urls["http"] + "/hostile/continue-flood", "--timeout", str(TIMEOUT)
    )
    assert code == 1
    assert doc["error"]["kind"] == "header_too_large"
    assert "informational" in doc["error"]["message"]
    assert took < TIMEOUT + SLACK


# Header bytes ---------------------------------------------------------------------------------


def test_header_block_in_one_read_is_bounded(lab):
    doc, code, _ = run_timed(lab.urls["http"] + "/hostile/big-header", "--max-header-bytes", "1024")
    assert code == 1
    assert doc["error"]["kind"] == "header_too_large"
    # The same server within a larger bound is fine.
    doc, code, _ = run_timed(lab.urls["http"] + "/hostile/big-header", "--max-header-bytes", "8192")
    assert code == 0, doc["error"]


def _probe(lab, path: str, base: str = "http", **kw) -> tuple[object, float]:
    opts = HttpOptions(timeout=TIMEOUT, ca_file=lab.files["tls_ca_file"], **kw)
    t0 = time.monotonic()
    report = probe_http(parse_target(lab.urls[base] + path, schemes=SCHEMES), opts)
    return report, time.monotonic() - t0


EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
OK_EMPTY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_informational_responses_count_as_header_bytes(lab):
    report, _ = _probe(lab, can(EARLY_HINTS * 2 + OK_EMPTY), max_header_bytes=1024)
    assert report.error is None and report.status == 200
    report, _ = _probe(lab, can(EARLY_HINTS * 30 + OK_EMPTY), max_header_bytes=1024)
    assert report.error is not None and report.error.kind == "header_too_large"


def test_trailers_count_as_header_bytes(lab):
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
        + b"".join(b"X-Trailer-%d: %s\r\n" % (i, b"t" * 100) for i in range(20))
        + b"\r\n"
    )
    report, _ = _probe(lab, can(reply), max_header_bytes=1024)
    assert report.error is not None and report.error.kind == "header_too_large"


def _frame(ftype: int, flags: int, sid: int, payload: bytes, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


HEADERS, DATA = 0x1, 0x0
END_STREAM, END_HEADERS = 0x1, 0x4


def test_h2_header_list_is_bounded(lab):
    block = hpack.Encoder().encode([(":status", "200"), ("x-big", "b" * 4000)])
    reply = _frame(HEADERS, END_HEADERS | END_STREAM, 1, block)
    report, _ = _probe(lab, can(reply), base="h2", http2=True, max_header_bytes=1024)
    assert report.error is not None and report.error.kind == "header_too_large", report.error


def test_h2_informational_responses_count_as_header_bytes(lab):
    enc = hpack.Encoder()
    hint = [(":status", "103"), ("link", "</style.css>; rel=preload" + "x" * 150)]
    reply = b"".join(_frame(HEADERS, END_HEADERS, 1, enc.encode(hint)) for _ in range(8))
    reply += _frame(HEADERS, END_HEADERS | END_STREAM, 1, enc.encode([(":status", "200")]))
    report, _ = _probe(lab, can(reply), base="h2", http2=True, max_header_bytes=1024)
    assert report.error is not None and report.error.kind == "header_too_large", report.error
    assert "informational" in report.error.message


# A kept-alive connection the server closed ---------------------------------------------------


@pytest.mark.parametrize("base", ["http", "https"])
def test_redirect_reconnects_when_the_kept_alive_connection_was_closed(lab, base):
    tls = ("--ca-file", lab.files["tls_ca_file"]) if base != "http" else ()
    doc, code, _ = run_timed(lab.urls[base] + "/redirect/close", "-L", *tls)
    assert code == 0, doc["error"]
    first, second = doc["hops"]
    assert first["status"] == 302 and second["status"] == 200
    assert second["reused"] is False
    assert second["timing"]["connect_ms"] is not None
    if base == "https":
        assert second["timing"]["tls_ms"] is not None


def test_reconnect_happens_once(lab):
    # A redirect whose server closes, to a page whose server closes before a byte, again and
    # again: the second hop retries once on a new connection, then reports the failure.
    gone = can(b"")
    report, _ = _probe(
        lab,
        can(b"HTTP/1.1 302 Found\r\nLocation: " + gone.encode() + b"\r\nContent-Length: 0\r\n\r\n"),
        follow=True,
    )
    assert report.error is not None and report.error.kind == "bad_response"
    assert [h.reused for h in report.hops] == [False, False]
    assert report.hops[1].timing.connect_ms is not None


# Arbitrary bytes from the server -------------------------------------------------------------

CLEAN_KINDS = {"bad_response", "header_too_large", "status", "timeout"}

H1_PIECES = st.sampled_from(
    [
        b"HTTP/1.1 ",
        b"HTTP/1.0 ",
        b"HTTP/2 ",
        b"200",
        b"100",
        b"101",
        b"103",
        b"204",
        b"304",
        b"999",
        b" OK",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"Transfer-Encoding: gzip, chunked",
        b"Content-Encoding: gzip",
        b"Content-Encoding: deflate",
        b"Connection: close",
        b"Location: /elsewhere",
        b"0",
        b"5",
        b"ffffffffffffffff",
        b"-1",
        b"hello",
        b":",
        b" ",
        b";ext=1",
        b"\x00",
        b"\xff",
        b"\x1b[2J",
        b"\x1f\x8b\x08\x00",
    ]
)
H1_STATUS_LINES = st.builds(
    lambda version, code, reason: version + b" " + code + b" " + reason + b"\r\n",
    st.one_of(
        st.just(b"HTTP/1.1"), st.sampled_from([b"HTTP/1.0", b"HTTP/1.1x", b"HTTP/2", b"http/1.1"])
    ),
    st.sampled_from([b"100", b"101", b"103", b"200", b"204", b"302", b"404", b"999", b"2000"]),
    st.one_of(st.just(b"OK"), st.just(b""), st.binary(max_size=10)),
)
H1_FIELDS = st.builds(
    lambda name, value: name + b": " + value + b"\r\n",
    st.one_of(
        st.sampled_from(
            [b"Content-Length", b"Transfer-Encoding", b"Content-Encoding", b"Connection", b"X-A"]
        ),
        st.binary(max_size=8),
    ),
    st.one_of(
        st.sampled_from(
            [b"0", b"5", b"-1", b"18446744073709551616", b"chunked", b"gzip", b"deflate", b"close"]
        ),
        st.binary(max_size=16),
    ),
)
H1_BODIES = st.one_of(
    st.binary(max_size=64),
    # Chunks, sizes that may lie, maybe a last chunk and trailers.
    st.builds(
        lambda chunks, last: b"".join(chunks) + last,
        st.lists(
            st.tuples(st.binary(max_size=12), st.integers(-1, 20)).map(
                lambda c: b"%x\r\n" % (len(c[0]) if c[1] < 0 else c[1]) + c[0] + b"\r\n"
            ),
            max_size=5,
        ),
        st.sampled_from([b"", b"0\r\n\r\n", b"0\r\nX-T: 1\r\n\r\n"]),
    ),
    # A gzip stream, whole or cut.
    st.tuples(st.binary(max_size=64), st.integers(0, 100)).map(
        lambda t: gzip.compress(t[0])[: t[1]]
    ),
)
H1_RESPONSES = st.builds(
    lambda lines, fields, body: b"".join(lines) + b"".join(fields) + b"\r\n" + body,
    st.lists(H1_STATUS_LINES, min_size=1, max_size=3),
    st.lists(H1_FIELDS, max_size=4),
    H1_BODIES,
)
H1_REPLIES = st.one_of(
    st.binary(max_size=512),
    st.lists(st.one_of(H1_PIECES, st.binary(max_size=8)), max_size=40).map(b"".join),
    H1_RESPONSES,
)


def _assert_clean(report, took: float) -> None:
    assert took < TIMEOUT + 1, f"{took:.2f} s"
    json.dumps(to_jsonable(report))  # the result is plain data
    if report.error is not None:
        assert report.error.kind in CLEAN_KINDS, report.error
        assert report.ok is False


FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(reply=H1_REPLIES, head=st.booleans())
def test_http1_parser_survives_any_reply(lab, reply, head):
    report, took = _probe(
        lab, can(reply), method="HEAD" if head else "GET", compressed=True, show_body=True
    )
    _assert_clean(report, took)


H2_NAMES = st.sampled_from(
    [":status", ":path", "content-length", "content-encoding", "connection", "te", "x-a", "X-Up"]
)
H2_HEADERS = st.lists(
    st.tuples(st.one_of(H2_NAMES, st.binary(min_size=1, max_size=8)), st.binary(max_size=24)),
    max_size=6,
)
H2_FRAMES = st.one_of(
    # Any frame, lengths that may lie, any stream.
    st.builds(
        _frame,
        st.integers(0, 12),
        st.integers(0, 255),
        st.sampled_from([0, 1, 1, 1, 3, 2**31 - 1]),
        st.binary(max_size=48),
        st.one_of(st.none(), st.integers(0, 1 << 14)),
    ),
    # A well-formed header block with arbitrary fields.
    st.builds(
        lambda hs, flags: _frame(HEADERS, flags, 1, hpack.Encoder().encode(hs)),
        st.one_of(
            H2_HEADERS,
            H2_HEADERS.map(lambda hs: [(b":status", b"200"), *hs]),
        ),
        st.sampled_from([END_HEADERS, END_HEADERS | END_STREAM, 0]),
    ),
    st.builds(
        lambda data, flags: _frame(DATA, flags, 1, data),
        st.binary(max_size=32),
        st.sampled_from([0, END_STREAM]),
    ),
)
H2_WELL_FORMED = st.builds(
    lambda fields, data, end: (
        _frame(HEADERS, END_HEADERS, 1, hpack.Encoder().encode([(":status", "200"), *fields]))
        + b"".join(_frame(DATA, 0, 1, d) for d in data)
        + (_frame(DATA, END_STREAM, 1, b"") if end else b"")
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["content-length", "content-encoding", "content-type", "x-a"]),
            st.sampled_from(["0", "5", "-1", "gzip", "text/plain", "\x1b[2J", "é"]),
        ),
        max_size=3,
    ),
    st.lists(st.binary(max_size=16), max_size=3),
    st.booleans(),
)
H2_REPLIES = st.one_of(
    st.tuples(st.lists(H2_FRAMES, max_size=6), st.binary(max_size=24)).map(
        lambda parts: b"".join(parts[0]) + parts[1]
    ),
    H2_WELL_FORMED,
)


@FUZZ
@given(reply=H2_REPLIES)
def test_http2_parser_survives_any_reply(lab, reply):
    report, took = _probe(lab, can(reply), base="h2", http2=True, compressed=True, show_body=True)
    _assert_clean(report, took)


@pytest.mark.parametrize("location", [b"https:443", b"HTTP:8080"])
def test_a_redirect_to_another_scheme_without_a_host_is_a_bad_target(lab, location):
    # urljoin keeps "https:443" as it is (another scheme), which parse_target read as the
    # host "https" on port 443 with no scheme: the next hop failed an assertion.
    reply = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
    base = "https" if location.startswith(b"HTTP:") else "http"
    report, _ = _probe(lab, can(reply), base=base, follow=True, insecure=True)
    assert report.error is not None and report.error.kind == "redirect"
    assert "has no '//' before a host" in report.error.message
    assert len(report.hops) == 1
