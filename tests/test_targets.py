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
        ("http://[fe80::1%25lo]:8080/", "http", "fe80::1%lo", 8080, "/"),  # RFC 6874
        ("http://[fe80::1%lo]/", "http", "fe80::1%lo", 80, "/"),  # as curl takes it too
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
    .filter(lambda h: "xn--" not in h)  # a random xn-- label is not a valid A-label
)
ips = st.ip_addresses().map(str)


@given(st.one_of(hostnames, ips), st.one_of(st.none(), st.integers(1, 65535)))
def test_round_trip(host, port):
    t = parse_target(format_hostport(host, port))
    assert t.host == host
    assert t.port == port
    assert parse_target(t.hostport()) == Target(t.hostport(), t.host, t.port, t.ip_version)


# --- ports, A-labels and user info (issue 10) -------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["http://host.test:0/", "https://127.0.0.1:0", "http://[::1]:0/", "http://host.test:00/"],
)
def test_url_port_zero_is_an_error(text):
    with pytest.raises(TargetError, match=r"port '0+' is out of range"):
        parse_target(text, schemes=URL_SCHEMES)


def test_url_empty_port_is_the_default():
    assert parse_target("http://host.test:/", schemes=URL_SCHEMES).port == 80


@pytest.mark.parametrize(
    "text", ["xn--zz.com", "www.xn--zz.test", "xn--ls8h.test", "xn--a.test", "XN--ZZ.test"]
)
def test_invalid_a_labels_rejected(text):
    for form in (text, f"http://{text}/"):
        with pytest.raises(TargetError, match="not a valid IDNA A-label") as exc:
            parse_target(form, schemes=URL_SCHEMES)
        assert "\n" not in str(exc.value)


@pytest.mark.parametrize("text", ["xn--bcher-kva.test", "XN--BCHER-KVA.test:80"])
def test_valid_a_labels_accepted(text):
    assert parse_target(text).host.lower() == "xn--bcher-kva.test"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=30))
def test_any_a_label_parses_or_raises_target_error(rest):
    try:
        parse_target(f"xn--{rest}.test")
    except TargetError as exc:
        assert str(exc) and "\n" not in str(exc)


def test_url_user_info_is_kept_apart_and_never_shown():
    t = parse_target("http://alice:s%3Acr%40t@127.0.0.1:8080/x", schemes=URL_SCHEMES)
    assert (t.host, t.port, t.path) == ("127.0.0.1", 8080, "/x")
    assert t.text == "http://alice:[redacted]@127.0.0.1:8080/x"
    assert t.userinfo == "alice:s%3Acr%40t"
    assert "s%3Acr" not in repr(t)
    # percent-decoded, as curl sends it: alice:s:cr@t
    assert t.basic_auth() == "Basic YWxpY2U6czpjckB0"
    assert t.with_default_port(1).userinfo == t.userinfo
    assert parse_target("http://127.0.0.1/", schemes=URL_SCHEMES).basic_auth() is None


def test_user_name_alone_is_redacted_whole():
    t = parse_target("https://ghp_token@host.test/", schemes=URL_SCHEMES)
    assert t.text == "https://[redacted]@host.test/"
    assert t.basic_auth() == "Basic Z2hwX3Rva2VuOg=="  # ghp_token:


@pytest.mark.parametrize(
    "text",
    [
        "ftp://u:Pa55word@host.test/",
        "http://u:Pa55word@host.test:0/",
        "http://u:Pa55word@host.test:x/",
        "http://u:Pa55word@xn--zz.test/",
        "http://u:Pa55word@/",
        "http://u:Pa55word@[::1/",
        "http://u:Pa55 word@host.test/",
        "u:Pa55word@host.test:22",
        "u:Pa55word @host.test",
    ],
)
def test_errors_never_quote_the_password(text):
    with pytest.raises(TargetError) as exc:
        parse_target(text, schemes=URL_SCHEMES)
    assert "Pa55" not in str(exc.value)


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789%@:", max_size=12),
    st.text(max_size=30),
)
def test_password_never_in_text_or_errors(user, rest):
    text = f"http://{user}:S3cr3tPW@{rest}"
    try:
        t = parse_target(text, schemes=URL_SCHEMES)
    except TargetError as exc:
        assert "S3cr3tPW" not in str(exc)
    else:
        assert "S3cr3tPW" not in t.text
        assert t.userinfo is not None and "S3cr3tPW" in t.userinfo
