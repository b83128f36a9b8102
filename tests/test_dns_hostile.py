"""`netdiag dns` against hostile peers: floods of wrong-ID replies, a trace stopped by its
total time bound, root hints that never end, and random bytes as DNS replies. Real servers
on loopback (the lab's 127.53.0.x hierarchy, or sockets made here), never a mock, never the
system resolver."""

from __future__ import annotations

import socket
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from conftest import Outcome, run_process
from hypothesis import given, settings
from hypothesis import strategies as st

import netdiag.net.dnsquery as dnsquery
import netdiag.probes.dnstrace as dnstrace


def timed(*args: str) -> tuple[Outcome, float]:
    """Run ``netdiag ARGS`` as a real process; its outcome and wall time in seconds."""
    start = time.monotonic()
    r = run_process(*args, timeout=60)
    return r, time.monotonic() - start


# -- a flood of wrong-ID replies -------------------------------------------------------------


@pytest.mark.parametrize("retries", ["1", "3"])
def test_flood_is_counted_not_kept_and_the_deadline_holds(dnslab, retries):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_wrong_id"],
        "--port",
        dnslab["port"],
        "--timeout",
        "1",
        "--retries",
        retries,
        "--json",
    )
    assert r.code == 1, r.err
    assert "Traceback" not in r.err
    assert wall < 1 + 1.5  # an answered (if rejected) query is not retried
    doc = r.json()
    assert doc["error"]["kind"] == "bad_response"
    [q] = doc["results"]
    assert q["attempts"] == 1
    assert len(q["rejected"]) == 10
    assert all("wrong ID" in x for x in q["rejected"])
    assert q["rejected_count"] > 1000
    assert f"rejected {q['rejected_count']:,} responses" in q["error"]["message"]
    assert len(r.out) < 10_000


def test_flood_text_shows_the_first_ten_and_a_count(dnslab):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_wrong_id"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.5",
    )
    assert r.code == 1 and wall < 0.5 + 1.5
    shown = [line for line in r.out.splitlines() if line.strip().startswith("rejected a response")]
    assert len(shown) == 10
    assert "… and " in r.out and " more rejected" in r.out
    assert len(r.out) < 10_000


def test_answer_after_a_flood_is_still_found(dnslab):
    r, wall = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_then_answer"],
        "--port",
        dnslab["port"],
        "--timeout",
        "3",
        "--json",
    )
    assert r.code == 0, r.out
    [q] = r.json()["results"]
    assert [a["data"] for a in q["answer"]] == ["127.0.0.20"]
    assert q["rejected_count"] > 100 and len(q["rejected"]) == 10
    assert wall < 3 + 1.5


def test_flooding_server_answers_once_over_tcp(dnslab):
    r, _ = timed(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_then_answer"],
        "--port",
        dnslab["port"],
        "--tcp",
        "--json",
    )
    assert r.code == 0
    q = r.json()["results"][0]
    assert q["transport"] == "tcp" and q["rejected_count"] == 0


def test_flooding_server_stops_by_itself(monkeypatch):
    """The lab's flooder is bounded in count and time even if the client never closes."""
    import netdiag.lab.dns as labdns

    monkeypatch.setattr(labdns, "FLOOD_MAX_PACKETS", 5000)
    monkeypatch.setattr(labdns, "FLOOD_MAX_SECONDS", 0.5)
    zone = labdns._zone("flood.test.", ["ns.flood.test."], "www 300 IN A 127.0.0.20\n")
    server = labdns.DnsServer("127.0.0.1", 0, "flood_wrong_id", [zone]).start()
    try:
        query = dns.message.make_query("www.flood.test.", "A")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.connect(("127.0.0.1", server.port))
            client.send(query.to_wire())  # and never read: the flood must end on its own
            time.sleep(0.2)
            deadline = time.monotonic() + 3
            while server._floods and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not server._floods
            assert 0 < server.floods_sent <= 5000
    finally:
        server.stop()


# -- --trace: the total bound, and root hints ------------------------------------------------


def trace_args(dnslab, name, *extra):
    return ("dns", name, "--trace", "--root", dnslab["root"], "--port", dnslab["port"], *extra)


def test_trace_total_bound_keeps_the_zone_it_stopped_at(dnslab):
    # the root and test. answer at once; of lame.test.'s servers one is silent
    r, wall = timed(
        *trace_args(dnslab, "www.lame.test", "--timeout", "5", "--trace-timeout", "1", "--json")
    )
    assert r.code == 1, r.err
    assert wall < 1 + 1.5
    doc = r.json()
    assert doc["error"]["kind"] == "timeout"
    assert "total time bound of 1 s" in doc["error"]["message"]
    assert "lame.test." in doc["error"]["message"]
    assert [h["zone"] for h in doc["hops"]] == [".", "test.", "lame.test."]
    hop = doc["hops"][-1]
    assert hop["outcome"] == "stopped"
    outcomes = {s["address"]: s["outcome"] for s in hop["servers"]}
    assert outcomes == {"127.53.0.9": "timeout", "127.53.0.10": "lame"}


def test_trace_total_bound_in_text(dnslab):
    r, wall = timed(*trace_args(dnslab, "www.lame.test", "--timeout", "5", "--trace-timeout", "1"))
    assert r.code == 1 and wall < 1 + 1.5
    assert "lame.test." in r.out
    assert "stopped here (by a trace bound); 2 servers of this zone done" in r.out
    assert "timeout" in r.out and "total time bound of 1 s" in r.out
    assert "Traceback" not in r.err


def test_trace_total_bound_defaults_to_15_timeouts(dnslab, tmp_path):
    # 60 root servers, all silent: 20 rounds of 3, more than the default 15 x --timeout
    hints = tmp_path / "named.root"
    hints.write_text(
        "".join(
            f".  3600000  NS  r{i}.root.test.\nr{i}.root.test.  3600000  A  {dnslab['silent']}\n"
            for i in range(60)
        )
    )
    args = ("dns", "host.example.test", "--trace", "--root-hints", str(hints))
    r, wall = timed(*args, "--port", dnslab["port"], "--timeout", "0.1", "--json")
    assert r.code == 1, r.err
    assert wall < 15 * 0.1 + 1.5
    doc = r.json()
    assert doc["error"]["kind"] == "timeout"
    assert "total time bound of 1.5 s" in doc["error"]["message"]
    [root] = doc["hops"]
    assert root["zone"] == "." and root["outcome"] == "stopped"
    assert 3 <= len(root["servers"]) < 60
    assert all(s["outcome"] == "timeout" for s in root["servers"])
    assert doc["queries"] == len(root["servers"])


def test_trace_query_limit_inside_a_glueless_lookup_keeps_it(dnslab):
    # root, test. (2), then ns.provider.alt. from the root: root, alt., provider.alt.: 6 > 5
    roots = [dnstrace.NameServer(dnslab["root"], dnslab["root"], "given")]
    opts = dnstrace.TraceOptions(port=int(dnslab["port"]), timeout=0.5, max_queries=5)
    report = dnstrace.trace(dns.name.from_text("www.glueless.test"), dns.rdatatype.A, roots, opts)
    assert report.error.kind == "limit"
    assert [h.zone for h in report.hops] == [".", "test.", "glueless.test."]
    hop = report.hops[-1]
    assert hop.outcome == "stopped" and hop.servers == ()
    [g] = hop.glueless
    assert g.nameserver == "ns.provider.alt." and g.addresses == ()
    assert [h.zone for h in g.trace.hops] == [".", "alt.", "provider.alt."]
    assert g.trace.hops[-1].outcome == "stopped"


def test_trace_bound_inside_a_cname_trace_keeps_it(dnslab):
    # www.example.test: root, test. (2), example.test. (2) = 5; then web.provider.alt.
    roots = [dnstrace.NameServer(dnslab["root"], dnslab["root"], "given")]
    opts = dnstrace.TraceOptions(port=int(dnslab["port"]), timeout=0.5, max_queries=6)
    report = dnstrace.trace(dns.name.from_text("www.example.test"), dns.rdatatype.A, roots, opts)
    assert report.error.kind == "limit"
    assert [h.zone for h in report.hops] == [".", "test.", "example.test."]
    assert [(a.type, a.data) for a in report.answer] == [("CNAME", "web.provider.alt.")]
    [follow] = report.cname_traces
    assert follow.name == "web.provider.alt."
    assert [h.zone for h in follow.hops] == [".", "alt."]
    assert follow.hops[-1].outcome == "stopped"


def test_trace_through_a_flooding_server_is_bounded(dnslab):
    r, wall = timed(*trace_args(dnslab, "www.flood.test", "--timeout", "0.5", "--json"))
    assert r.code == 1 and wall < 15 * 0.5 + 1.5
    doc = r.json()
    assert doc["error"]["kind"] == "bad_response"
    [s] = doc["hops"][-1]["servers"]
    assert s["outcome"] == "bad_response" and "wrong ID" in s["detail"]
    assert len(r.out) < 10_000


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom"])
def test_root_hints_from_a_device_is_a_usage_error(path):
    r, wall = timed("dns", "host.test", "--trace", "--root-hints", path)
    assert r.code == 2
    assert wall < 10
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "--root-hints" in lines[0] and path in lines[0]
    assert "Traceback" not in r.err


def test_root_hints_too_large_is_a_usage_error(cli, tmp_path):
    big = tmp_path / "named.root"
    with big.open("wb") as f:
        f.truncate(5 << 20)  # sparse: 5 MiB that take no disk
    r = cli("dns", "host.test", "--trace", "--root-hints", str(big))
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and "4 MiB" in r.err


def test_root_hints_that_are_not_text_or_not_hints(cli, tmp_path):
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    bad = tmp_path / "bad"
    bad.write_text(". 3600000 NS\n\n\x01 bogus line\n")
    for f in (binary, bad):
        r = cli("dns", "host.test", "--trace", "--root-hints", str(f))
        assert r.code == 2, r.out
        assert len(r.err.strip().splitlines()) == 1 and "--root-hints" in r.err


def test_trace_timeout_needs_trace(cli):
    r = cli("dns", "host.test", "--trace-timeout", "3")
    assert r.code == 2 and "--trace-timeout" in r.err


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_trace_timeout_must_be_a_finite_positive_number(cli, value):
    r = cli("dns", "host.test", "--trace", "--trace-timeout", value)
    assert r.code == 2
    assert "Traceback" not in r.err


# -- random bytes as DNS replies -------------------------------------------------------------

ERROR_KINDS = {"bad_response", "timeout", "unreachable"}


def _answer_to(query: dns.message.Message) -> bytes:
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "A", "127.0.0.9"))
    return response.to_wire()


def _mutate(wire: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(wire)
    for pos, value in edits:
        data[pos % len(data)] = value
    return bytes(data[:cut] if cut is not None else data)


# A reply: random bytes, random bytes that carry the query's ID, or a valid answer with some
# bytes changed and maybe cut short (which reaches deeper into the parser).
replies = st.one_of(
    st.tuples(st.just("random"), st.binary(max_size=600)),
    st.tuples(st.just("with_id"), st.binary(min_size=10, max_size=600)),
    st.tuples(
        st.just("mutated"),
        st.tuples(
            st.lists(st.tuples(st.integers(0, 4096), st.integers(0, 255)), max_size=8),
            st.one_of(st.none(), st.integers(0, 80)),
        ),
    ),
)


def _reply_bytes(kind: str, arg: object, query: dns.message.Message) -> bytes:
    if kind == "random":
        assert isinstance(arg, bytes)
        return arg
    if kind == "with_id":
        assert isinstance(arg, bytes)
        return query.id.to_bytes(2, "big") + arg
    edits, cut = arg  # type: ignore[misc]
    return _mutate(_answer_to(query), edits, cut)


def _serve_once(target: object) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


@settings(max_examples=100, deadline=None)
@given(reply=replies)
def test_random_udp_reply_then_the_answer(reply):
    """Any bytes as a UDP reply: rejected (or, if valid, taken), never a traceback; the real
    answer that follows is still found."""
    kind, arg = reply
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    sent: list[bytes] = []

    def serve() -> None:
        with sock:
            data, peer = sock.recvfrom(65535)
            query = dns.message.from_wire(data)
            sent.append(_reply_bytes(kind, arg, query))
            sock.sendto(sent[0], peer)
            sock.sendto(_answer_to(query), peer)

    thread = _serve_once(serve)
    query = dns.message.make_query("www.fuzz.test.", "A")
    start = time.monotonic()
    ex = dnsquery.exchange(query, "127.0.0.1", sock.getsockname()[1], timeout=3, retries=0)
    assert time.monotonic() - start < 3
    thread.join(5)
    if ex.response is None and _valid_truncated(sent[0], query):
        # A valid answer with TC set: netdiag rightly retried over TCP, where nothing listens
        # here. A clean error, never a traceback.
        assert ex.error is not None and ex.error.kind in ("refused", "unreachable")
        return
    assert ex.response is not None and ex.error is None
    assert ex.rejected_count in (0, 1) and len(ex.rejected) == ex.rejected_count


def _valid_truncated(wire: bytes, query: dns.message.Message) -> bool:
    """Whether ``wire`` is a valid response to ``query`` with the TC flag set."""
    try:
        response = dns.message.from_wire(wire, ignore_trailing=True, question_only=True)
    except Exception:
        return False
    return bool(response.flags & dns.flags.TC) and query.is_response(response)


@settings(max_examples=25, deadline=None)
@given(reply=replies)
def test_random_udp_reply_alone(reply):
    """Only garbage comes back: a clean error with a kind, within the timeout."""
    kind, arg = reply
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve() -> None:
        with sock:
            data, peer = sock.recvfrom(65535)
            sock.sendto(_reply_bytes(kind, arg, dns.message.from_wire(data)), peer)

    thread = _serve_once(serve)
    query = dns.message.make_query("www.fuzz.test.", "A")
    start = time.monotonic()
    ex = dnsquery.exchange(query, "127.0.0.1", sock.getsockname()[1], timeout=0.05, retries=1)
    assert time.monotonic() - start < 0.05 * 2 + 1
    thread.join(5)
    if ex.response is None:
        assert ex.error is not None and ex.error.kind in ERROR_KINDS
        assert ex.error.message and "\n" not in ex.error.message


@settings(max_examples=100, deadline=None)
@given(reply=replies, prefix=st.one_of(st.none(), st.integers(0, 65535)))
def test_random_tcp_reply(reply, prefix):
    """Any bytes over TCP, behind the right length or any other: a clean result, quickly."""
    kind, arg = reply
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                head = conn.recv(2)
                length = int.from_bytes(head, "big")
                data = b""
                while len(data) < length:
                    chunk = conn.recv(length - len(data))
                    if not chunk:
                        return
                    data += chunk
                body = _reply_bytes(kind, arg, dns.message.from_wire(data))
                size = len(body) if prefix is None else prefix
                conn.sendall(size.to_bytes(2, "big") + body)

    thread = _serve_once(serve)
    query = dns.message.make_query("www.fuzz.test.", "A")
    port = listener.getsockname()[1]
    start = time.monotonic()
    ex = dnsquery.exchange(query, "127.0.0.1", port, tcp=True, timeout=3, retries=0)
    assert time.monotonic() - start < 3  # the server closes: no waiting for the timeout
    thread.join(5)
    if ex.response is None:
        assert ex.error is not None and ex.error.kind in ERROR_KINDS
        assert ex.error.kind != "timeout"
    assert ex.rejected_count <= 1
