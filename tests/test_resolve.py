"""netdiag.net.resolve: the system resolver's answers and failures, its deadline and its
cancellation. Tests never use the system resolver: getaddrinfo answers from a table here, as in
test_tcp's fake_resolver (IP literals still go through the real getaddrinfo, numerically)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from netdiag.net.resolve import resolve

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def answers(monkeypatch):
    """Name -> what getaddrinfo does for it: a list of addrinfo tuples, an exception to raise,
    or a number of seconds to block before answering 127.0.0.1."""
    table: dict[str, object] = {}

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        if flags & socket.AI_NUMERICHOST:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        what = table[host]  # KeyError: the test asked for a name it did not set up
        if isinstance(what, BaseException):
            raise what
        if isinstance(what, float):
            time.sleep(what)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return what

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


def gai(code: int) -> socket.gaierror:
    return socket.gaierror(code, "resolver says no")


@pytest.mark.parametrize(
    ("exc", "version", "message"),
    [
        (gai(socket.EAI_NONAME), None, "x.lab.test does not resolve (resolver says no)"),
        (gai(socket.EAI_NONAME), 6, "x.lab.test has no IPv6 address (resolver says no)"),
        (gai(socket.EAI_ADDRFAMILY), 4, "x.lab.test has no IPv4 address"),
        (gai(socket.EAI_AGAIN), None, "temporary failure resolving x.lab.test (resolver says no)"),
        (gai(socket.EAI_FAIL), None, "cannot resolve x.lab.test: resolver says no"),
        (UnicodeError("label too long"), None, "cannot resolve x.lab.test: label too long"),
        (OSError("no file descriptors"), None, "cannot resolve x.lab.test: no file descriptors"),
    ],
)
def test_each_resolver_failure_is_a_dns_error(answers, exc, version, message):
    answers["x.lab.test"] = exc
    res = resolve("x.lab.test", 80, version=version, timeout=2)
    assert res.endpoints == ()
    assert (res.error.kind, res.error.message) == ("dns", message)
    assert res.dns_ms >= 0


def test_only_inet_addresses_are_kept_and_duplicates_go(answers):
    v4 = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", 80))
    answers["dup.lab.test"] = [v4, v4, (socket.AF_UNIX, socket.SOCK_STREAM, 0, "", "/x")]
    res = resolve("dup.lab.test", 80)
    assert res.error is None and [e.address for e in res.endpoints] == ["127.0.0.2"]


@pytest.mark.parametrize(("version", "said"), [(None, ""), (6, "IPv6 ")])
def test_an_empty_answer_is_no_address(answers, version, said):
    answers["empty.lab.test"] = [(socket.AF_UNIX, socket.SOCK_STREAM, 0, "", "/x")]
    res = resolve("empty.lab.test", 80, version=version)
    assert res.error.message == f"empty.lab.test has no {said}address"


def test_a_slow_resolver_is_abandoned_at_the_deadline(answers):
    answers["slow.lab.test"] = 1.0
    res = resolve("slow.lab.test", 80, timeout=0.1)
    assert res.error.message == "resolving slow.lab.test timed out after 0.1 s"
    assert res.endpoints == ()


def test_cancelling_abandons_the_lookup(answers):
    answers["slow.lab.test"] = 1.0
    cancel = threading.Event()
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    try:
        res = resolve("slow.lab.test", 80, timeout=5, cancel=cancel)
    finally:
        timer.cancel()
    # "interrupted", not an answer: it did not wait for the lookup (1 s) to finish
    assert (res.error.kind, res.error.message) == ("dns", "resolving slow.lab.test was interrupted")
    assert res.endpoints == ()


def test_a_lookup_that_finishes_in_time_is_not_cancelled(answers):
    answers["slow.lab.test"] = 0.05
    res = resolve("slow.lab.test", 80, timeout=5, cancel=threading.Event())
    assert res.error is None and res.endpoints[0].address == "127.0.0.1"


def test_a_literal_of_the_wrong_family(answers):
    res = resolve("127.0.0.1", 80, version=6, numeric=True)
    assert res.error.message == "127.0.0.1 is not an IPv6 address"


def test_a_scoped_ipv6_literal_keeps_its_zone(answers):
    index = socket.if_nametoindex("lo")
    res = resolve("fe80::1%lo", 80, numeric=True)
    assert res.error is None
    [ep] = res.endpoints
    assert ep.address == f"fe80::1%{index}" and ep.sockaddr[3] == index


def test_a_scoped_literal_on_no_such_interface(answers):
    res = resolve("fe80::1%nosuchif0", 80, numeric=True)
    assert res.error.kind == "unreachable" and res.endpoints == ()
    assert (
        res.error.message
        == "fe80::1%nosuchif0: no interface named 'nosuchif0' on this host (ip link lists them)"
    )
    for index in ("999999", "0"):  # glibc takes any number: checked before any lookup
        res = resolve(f"fe80::1%{index}", 80, numeric=True)
        assert res.error.kind == "unreachable" and res.endpoints == ()
        assert f"no interface with index {index} on this host" in res.error.message
