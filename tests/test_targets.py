# ruff: noqa: RUF001  (full-width characters are the point of some cases)
"""Target parsing: every accepted form, and every kind of bad input as a TargetError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdiag.targets import Target, TargetError, format_hostport, parse_target

URL_SCHEMES = {"http": 80, "https": 443}


@pytest.mark.parametrize(
    ("text", "host", "port", "version"),
    [
        ("example.test", "example.test", None, None),
        ("example.test:8080", "example.test", 8080, None),
        ("EXAMPLE.test.", "EXAMPLE.test.", None, None),
        ("127.0.0.1", "127.0.0.1", None, 4),
        ("127.0.0.1:22", "127.0.0.1", 22, 4),
        ("::1", "::1", None, 6),
        ("[::1]", "::1", None, 6),
        ("[::1]:443", "::1", 443, 6),
        ("[2001:db8::1]:65535", "2001:db8::1", 65535, 6),
        ("2001:DB8:0:0::1", "2001:db8::1", None, 6),
        ("fe80::1%lo", "fe80::1%lo", None, 6),
        ("bücher.test", "xn--bcher-kva.test", None, None),
        ("ＢÜCHER．test:1", "xn--bcher-kva.test", 1, None),  # UTS 46: full-width mapped
        ("_sip._tcp.example.test", "_sip._tcp.example.test", None, None),
        ("  padded.test  ", "padded.test", None, None),
    ],
)
def test_accepted_forms(text, host, port, version):
    t = parse_target(text)
    assert (t.host, t.port, t.ip_version) == (host, port, version)
    assert t.text == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty target"),
        ("   ", "empty target"),
        ("host:", "empty port"),
        ("host:0", "invalid port '0'"),
        ("host:65536", "invalid port '65536'"),
        ("host:-1", "invalid port"),
        ("host:http", "invalid port 'http'"),
        ("host:１２", "invalid port"),
        (":80", "empty host"),
        ("[::1", "missing ']'"),
        ("[::1]80", "expected ':port'"),
        ("[127.0.0.1]:80", "only IPv6"),
        ("[::1]:", "empty port"),
        ("1.2.3", "not a valid IPv4"),
        ("256.1.1.1", "not a valid IPv4"),
        ("1:2:3:4:5:6:7:8:9", "not a valid IPv6"),
        ("a..b", "empty label"),
        ("-bad.test", "not a valid host name"),
        ("bad-.test", "not a valid host name"),
        ("sp ace.test", "white space"),
        ("tab\t.test", "white space"),
        ("a/b", "not a valid host name"),
        ("bü cher.test", "white space"),
        ("xn--bcher-.test", "not a valid host name"),
        ("\u2603.test", "not a valid internationalised domain name"),
        ("x" * 64 + ".test", "not a valid host name"),
        (".".join(["a" * 60] * 5), "longer than 253"),
        ("host.123", "last label is all digits"),
        ("http://example.test/", "not a URL"),
    ],
)
def test_rejected_forms(text, fragment):
    with pytest.raises(TargetError) as exc:
        parse_target(text)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_default_port_fills_only_missing_ports():
    assert parse_target("a.test", default_port=80).port == 80
    assert parse_target("a.test:81", default_port=80).port == 81
    assert parse_target("[::1]", default_port=7).port == 7


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "path"),
    [
        ("http://example.test", "http", "example.test", 80, "/"),
        ("HTTPS://Example.test:8443/a/b?q=1", "https", "Example.test", 8443, "/a/b?q=1"),
        ("https://[::1]/", "https", "::1", 443, "/"),
        ("http://user:pw@127.0.0.1:8080/x", "http", "127.0.0.1", 8080, "/x"),
        ("http://bücher.test/", "http", "xn--bcher-kva.test", 80, "/"),
    ],
)
def test_urls(text, scheme, host, port, path):
    t = parse_target(text, schemes=URL_SCHEMES)
    assert (t.scheme, t.host, t.port, t.path) == (scheme, host, port, path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ftp://example.test/", "unsupported URL scheme 'ftp'"),
        ("http:///path", "no host"),
        ("http://example.test:99999/", "out of range"),
        ("http://::1/", "brackets"),
        ("http://exa mple.test/", "white space"),
    ],
)
def test_bad_urls(text, fragment):
    with pytest.raises(TargetError) as exc:
        parse_target(text, schemes=URL_SCHEMES)
    assert fragment in str(exc.value)


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_target_error(text):
    try:
        t = parse_target(text, schemes=URL_SCHEMES)
    except TargetError as exc:
        assert str(exc)
    else:
        assert isinstance(t, Target)
        assert t.host and t.host.isascii()
        assert t.port is None or 1 <= t.port <= 65535


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
hostnames = (
    st.lists(labels, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda h: not h.rsplit(".", 1)[-1].isdigit())
)
ips = st.ip_addresses().map(str)


@given(st.one_of(hostnames, ips), st.one_of(st.none(), st.integers(1, 65535)))
def test_round_trip(host, port):
    t = parse_target(format_hostport(host, port))
    assert t.host == host
    assert t.port == port
    assert parse_target(t.hostport()) == Target(t.hostport(), t.host, t.port, t.ip_version)
