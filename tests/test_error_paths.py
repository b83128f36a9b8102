"""The error paths of the TLS and HTTP clients, each taken against a lab server that leads
there: a TLS handshake that ends in a close or an alert, HTTP/2 frames that end a stream or
the connection (canned bytes, netdiag.lab.http.can), a request that cannot be sent, a body
over the bound, and a response that ends with close_notify (netdiag.lab.hostile)."""

from __future__ import annotations

import struct
import time

import hpack
import pytest

from netdiag.lab.http import can
from netdiag.probes.http import SCHEMES, HttpOptions, probe_http
from netdiag.targets import parse_target

HEADERS, DATA, RST_STREAM, GOAWAY = 0x1, 0x0, 0x3, 0x7
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([ftype, flags])
        + struct.pack(">I", sid)
        + payload
    )


def headers(fields: list[tuple[str, str]], flags: int = END_HEADERS) -> bytes:
    return frame(HEADERS, flags, 1, hpack.Encoder().encode(fields))


def probe(lab, path: str, base: str, **kw):
    opts = HttpOptions(ca_file=lab.files["tls_ca_file"], **{"timeout": 2.0, **kw})
    return probe_http(parse_target(lab.urls[base] + path, schemes=SCHEMES), opts)


# TLS handshakes that fail --------------------------------------------------------------------


def test_a_server_that_closes_in_the_handshake(cli, lab):
    where = lab.endpoints["tls_closes_in_handshake"]
    r = cli("tls", where, "--timeout", "3", "--json")
    assert r.code == 1
    err = r.json()["error"]
    assert err["kind"] == "handshake_failed"
    assert err["message"] == f"{where} closed the connection during the TLS handshake"


def test_a_fatal_alert_in_the_handshake_is_named_by_its_reason(cli, lab):
    where = lab.endpoints["tls_alerts_in_handshake"]
    r = cli("tls", where, "--timeout", "3", "--json")
    assert r.code == 1
    err = r.json()["error"]
    assert err["kind"] == "handshake_failed"
    assert err["message"] == f"TLS handshake with {where} failed: tls alert handshake failure"


# HTTP/2: what a server can do to a stream or the connection ----------------------------------

H2_FAILURES = {
    "reset stream": (
        frame(RST_STREAM, 0, 1, struct.pack(">I", 7)),
        "the server reset the stream (<ErrorCodes.REFUSED_STREAM: 7>)",
    ),
    "goaway before the request": (
        frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
        "the server ended the HTTP/2 connection (<ErrorCodes.NO_ERROR: 0>)",
    ),
    "goaway after it": (
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 2)),
        "the server ended the HTTP/2 connection (<ErrorCodes.INTERNAL_ERROR: 2>)",
    ),
    "status not a number": (
        headers([(":status", "abc")], END_HEADERS | END_STREAM),
        "not an HTTP status: 'abc'",
    ),
    "data before headers": (
        headers([(":status", "103")]) + frame(DATA, END_STREAM, 1, b""),
        "HTTP/2 protocol error: cannot receive data before headers",
    ),
    "data on stream 0": (
        frame(DATA, 0, 0, b"x"),
        "HTTP/2 protocol error: Received frame with invalid header: "
        "Stream ID must be non-zero for DataFrame",
    ),
}


@pytest.mark.parametrize("case", H2_FAILURES)
def test_h2_failures_are_bad_responses_that_say_what_the_server_did(lab, case):
    reply, message = H2_FAILURES[case]
    report = probe(lab, can(reply), "h2", http2=True)
    assert report.ok is False and report.status is None
    assert (report.error.kind, report.error.message) == ("bad_response", message)


def test_h2_trailers_end_a_good_response(lab):
    reply = (
        headers([(":status", "200")])
        + frame(DATA, 0, 1, b"ok")
        + headers([("x-checksum", "abc")], END_HEADERS | END_STREAM)
    )
    report = probe(lab, can(reply), "h2", http2=True, show_body=True)
    assert report.error is None and report.status == 200
    assert report.hops[-1].body.text == "ok"


def test_h2_request_with_a_body(lab):
    report = probe(lab, "/echo", "h2", http2=True, method="POST", data=b"hello", show_body=True)
    assert report.error is None and report.status == 200
    assert report.hops[-1].http_version == "HTTP/2"


# HTTP/1.1 ------------------------------------------------------------------------------------


def test_a_request_the_server_never_reads_times_out_while_sending(lab):
    # 32 MiB fill the socket buffers of a server that reads nothing: the send waits, bounded.
    t0 = time.monotonic()
    report = probe(lab, "/", "http_deaf", method="POST", data=b"x" * (32 << 20), timeout=1.0)
    took = time.monotonic() - t0
    assert (report.error.kind, report.error.message) == (
        "timeout",
        "could not send the request within the hop's 1 s (--timeout)",
    )
    assert took < 1.0 + 1.5


def test_a_server_that_closes_while_the_request_is_sent(lab):
    # The lab reads the request head, answers nothing and closes with the body unread: a reset.
    report = probe(lab, can(b""), "http", method="POST", data=b"x" * (32 << 20))
    assert report.error.kind == "bad_response"
    assert report.error.message.startswith("the connection failed while sending: ")


def test_a_body_over_the_bound_is_truncated_not_an_error(lab):
    report = probe(lab, "/big", "http", max_body_bytes=1000)
    assert report.error is None and report.status == 200
    body = report.hops[-1].body
    assert body.truncated is True and body.bytes < 2 << 20  # reading stopped early


def test_close_notify_ends_a_close_delimited_body(lab):
    report = probe(lab, "/", "https_close_notify", show_body=True)
    assert report.error is None and report.status == 200
    assert report.hops[-1].body.text == "this body ends where TLS ends, with close_notify\n"
