"""`netdiag http` verdicts (issue 11): a waterfall that adds up, the handshake apart from
netdiag's certificate check, failures that show where they stopped, HTTP/2 pseudo-headers
as sent, and --resolve / --connect-to / -H Host as curl has them. Against the lab on
loopback; names are .test names that --resolve points at 127.0.0.1 (never a lookup)."""

from __future__ import annotations

import pytest

from netdiag.net.certs import load_pem_bundle, system_trust_store

PHASE_KEYS = (
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "verify_ms",
    "ttfb_ms",
    "transfer_ms",
    "local_ms",
)
NAME = "www.lab.test"  # the lab web servers' certificate names it (and 127.0.0.1)


def port_of(url: str) -> str:
    return url.rsplit(":", 1)[1]


def assert_adds_up(hop: dict) -> None:
    t = hop["timing"]
    phases = [t[k] for k in PHASE_KEYS if t[k] is not None]
    assert all(v >= 0 for v in phases), t
    # JSON rounds each value to 0.1 µs: the sum may differ by that much per phase.
    assert abs(sum(phases) - t["total_ms"]) <= 0.0001 * (len(phases) + 1), t


@pytest.fixture
def http(cli, lab):
    def run(*args: str, ca: bool = True):
        extra = ["--ca-file", lab.files["tls_ca_file"]] if ca else []
        return cli("http", *args, *extra, "--json")

    return run


# -- the waterfall adds up ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "args", "version"),
    [
        ("http", (), "HTTP/1.1"),
        ("https", (), "HTTP/1.1"),
        ("h2", ("--http2",), "HTTP/2"),
    ],
)
def test_phases_add_up_to_the_total(http, lab, base, args, version):
    r = http(lab.urls[base] + "/", *args)
    assert r.code == 0, r.out
    [hop] = r.json()["hops"]
    assert hop["http_version"] == version and hop["stopped_in"] is None
    assert_adds_up(hop)
    t = hop["timing"]
    assert t["connect_ms"] > 0 and t["ttfb_ms"] > 0 and t["transfer_ms"] >= 0
    if base == "http":
        assert t["tls_ms"] is None and t["verify_ms"] is None
    else:  # the server's handshake and netdiag's check of the certificate, apart
        assert t["tls_ms"] > 0 and t["verify_ms"] > 0


def test_every_hop_of_a_redirect_chain_adds_up(http, lab):
    r = http(lab.urls["http"] + "/redirect/https", "-L", "--http2")
    assert r.code == 0, r.out
    plain, secure = r.json()["hops"]
    for hop in (plain, secure):
        assert_adds_up(hop)
    assert secure["timing"]["tls_ms"] > 0 and secure["timing"]["verify_ms"] > 0


def test_a_reused_connection_has_no_connection_phases(http, lab):
    r = http(lab.urls["https"] + "/redirect/301", "-L")
    _, second = r.json()["hops"]
    assert second["reused"] is True
    t = second["timing"]
    assert (t["dns_ms"], t["connect_ms"], t["tls_ms"], t["verify_ms"]) == (None,) * 4
    assert_adds_up(second)


def test_http2_ttfb_is_the_response_not_the_servers_settings(http, lab):
    """The server's SETTINGS come at once after the handshake; the first byte of the
    response is the first frame of the request's stream, after the request was sent."""
    hop = http(lab.urls["h2"] + "/", "--http2").json()["hops"][0]
    assert hop["http_version"] == "HTTP/2"
    assert hop["timing"]["ttfb_ms"] > 0 and hop["timing"]["transfer_ms"] >= 0
    assert_adds_up(hop)


def test_text_waterfall_has_the_new_rows(cli, lab):
    r = cli("http", lab.urls["h2"] + "/", "--http2", "--ca-file", lab.files["tls_ca_file"])
    assert r.code == 0, r.out
    for label in ("tls handshake", "cert check (local)", "server (ttfb)", "other (local)"):
        assert label in r.out


# -- the trust store is loaded once per process -------------------------------------------


def test_trust_store_is_parsed_once(lab, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", lab.files["tls_ca_file"])
    first, path = system_trust_store()
    again, same_path = system_trust_store()
    assert path == same_path == lab.files["tls_ca_file"]
    assert first and all(a is b for a, b in zip(first, again, strict=True))
    first.clear()  # a caller changing its list does not change the cache
    assert system_trust_store()[0] == again


def test_ca_file_bundle_is_parsed_once(lab):
    with open(lab.files["tls_ca_file"], "rb") as f:
        data = f.read()
    a, b = load_pem_bundle(data), load_pem_bundle(data)
    assert a and all(x is y for x, y in zip(a, b, strict=True))


def test_another_store_file_is_read(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", lab.files["tls_ca_file"])
    lab_roots, _ = system_trust_store()
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificate here\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    roots, path = system_trust_store()
    assert path != str(empty)  # skipped: nothing in it; the system bundle (if any) instead
    assert roots != lab_roots


# -- a failed request shows what it reached --------------------------------------------


def test_refused_shows_only_the_connect(cli, lab):
    url = f"http://{lab.endpoints['tcp_refused']}/"
    doc = cli("http", url, "--json").json()
    [hop] = doc["hops"]
    assert doc["error"]["kind"] == "refused" and hop["stopped_in"] == "connect"
    t = hop["timing"]
    assert t["connect_ms"] is not None
    assert (t["tls_ms"], t["verify_ms"], t["ttfb_ms"], t["transfer_ms"]) == (None,) * 4
    assert hop["request_headers"] == [] and hop["status"] is None
    assert_adds_up(hop)
    text = cli("http", url).out
    assert "stopped here: refused" in text
    assert "server (ttfb)" not in text and "transfer" not in text and "None" not in text


def test_bad_certificate_stops_in_verify(http, cli, lab):
    url = lab.urls["https"] + "/"
    r = http(url, ca=False)
    assert r.code == 1
    [hop] = r.json()["hops"]
    assert hop["stopped_in"] == "verify" and r.json()["error"]["kind"] == "tls"
    assert hop["timing"]["tls_ms"] > 0 and hop["timing"]["verify_ms"] > 0
    assert hop["timing"]["ttfb_ms"] is None and hop["request_headers"] == []
    assert_adds_up(hop)
    text = cli("http", url).out
    assert "cert check (local)" in text and "stopped here: tls" in text
    assert "server (ttfb)" not in text


def test_silent_server_stops_in_ttfb_with_the_wait(http, lab):
    r = http(lab.urls["http"] + "/hostile/silent", "--timeout", "0.3")
    assert r.code == 1 and r.json()["error"]["kind"] == "timeout"
    [hop] = r.json()["hops"]
    assert hop["stopped_in"] == "ttfb"
    assert hop["timing"]["ttfb_ms"] is not None and hop["timing"]["transfer_ms"] is None
    assert hop["request_headers"]  # the request was sent
    assert_adds_up(hop)


def test_failed_last_hop_says_where_it_stopped(cli, lab):
    r = cli("http", lab.urls["http"] + "/redirect/https", "-L")
    assert r.code == 1
    assert "final status None" not in r.out
    assert "2 hops" in r.out and "hop 2 stopped in verify" in r.out


# -- HTTP/2 request headers as sent ------------------------------------------------------


def test_http2_request_shows_pseudo_headers(http, lab):
    url = lab.urls["h2"] + "/some/path?q=1"
    hop = http(url, "--http2", "-H", "X-Probe: 1").json()["hops"][0]
    assert hop["http_version"] == "HTTP/2"
    sent = hop["request_headers"]
    assert [n for n, _ in sent[:4]] == [":method", ":scheme", ":authority", ":path"]
    assert dict(sent[:4]) == {
        ":method": "GET",
        ":scheme": "https",
        ":authority": f"127.0.0.1:{port_of(lab.urls['h2'])}",
        ":path": "/some/path?q=1",
    }
    assert ("x-probe", "1") in [tuple(h) for h in sent]  # lower case, as on the wire
    assert all(n.lower() != "host" for n, _ in sent)


def test_http2_authorization_is_still_redacted(http, lab):
    hop = http(lab.urls["h2"] + "/", "--http2", "-H", "Authorization: Bearer s3cret").json()
    sent = dict(hop["hops"][0]["request_headers"])
    assert sent["authorization"].startswith("[redacted")


# -- --resolve and --connect-to ----------------------------------------------------------


def test_resolve_tests_a_name_on_an_address(http, lab):
    port = port_of(lab.urls["https"])
    rule = f"{NAME}:{port}:127.0.0.1"
    r = http(f"https://{NAME}:{port}/", "--resolve", rule)
    assert r.code == 0, r.out
    [hop] = r.json()["hops"]
    assert hop["remote_address"] == "127.0.0.1" and hop["remote_port"] == int(port)
    assert hop["routed_by"] == [f"--resolve {rule}"]
    assert hop["timing"]["dns_ms"] is None  # no lookup
    tls = hop["tls"]
    assert tls["sni"] == NAME and tls["verify_name"] == NAME and tls["hostname_match"]
    assert dict(hop["request_headers"])["Host"] == f"{NAME}:{port}"


def test_resolve_name_checked_is_the_urls(http, lab):
    """The name the certificate is checked against follows the URL, not the address."""
    port = port_of(lab.urls["https"])
    r = http(f"https://other.lab.test:{port}/", "--resolve", f"other.lab.test:{port}:127.0.0.1")
    assert r.code == 1
    hop = r.json()["hops"][0]
    assert hop["tls"]["sni"] == "other.lab.test" and hop["tls"]["hostname_match"] is False
    assert "hostname_mismatch" in r.json()["error"]["message"]


def test_resolve_wildcard_and_ipv6_brackets(http, lab):
    port = port_of(lab.urls["https"])
    r = http(f"https://{NAME}:{port}/", "--resolve", f"*:{port}:[::1],127.0.0.1")
    hop = r.json()["hops"][0]
    # the first address is used: ::1, where nothing listens on this port (or no IPv6)
    assert hop["routed_by"] == [f"--resolve *:{port}:[::1],127.0.0.1"]
    assert hop["remote_address"] in ("::1", None)


def test_resolve_host_rule_wins_over_wildcard(http, lab):
    port = port_of(lab.urls["https"])
    r = http(
        f"https://{NAME}:{port}/",
        "--resolve",
        f"*:{port}:127.0.0.2",
        "--resolve",
        f"{NAME.upper()}:{port}:127.0.0.1",
    )
    assert r.code == 0, r.out
    assert r.json()["hops"][0]["routed_by"] == [f"--resolve {NAME.upper()}:{port}:127.0.0.1"]


def test_resolve_applies_to_redirects_to_that_name(http, lab):
    """/redirect/close: a 302 to / on the same name, then the server closes the kept-alive
    connection, so the second hop opens a new one: through the same rule."""
    port = port_of(lab.urls["https"])
    rule = f"{NAME}:{port}:127.0.0.1"
    r = http(f"https://{NAME}:{port}/redirect/close", "-L", "--resolve", rule)
    assert r.code == 0, r.out
    _, second = r.json()["hops"]
    assert second["url"] == f"https://{NAME}:{port}/" and second["status"] == 200
    assert second["reused"] is False and second["routed_by"] == [f"--resolve {rule}"]
    assert second["tls"]["sni"] == NAME


def test_connect_to_keeps_the_urls_name_and_port_in_host(http, lab):
    port = port_of(lab.urls["https"])
    rule = f"{NAME}:443:127.0.0.1:{port}"
    r = http(f"https://{NAME}/", "--connect-to", rule)
    assert r.code == 0, r.out
    hop = r.json()["hops"][0]
    assert (hop["remote_address"], hop["remote_port"]) == ("127.0.0.1", int(port))
    assert hop["routed_by"] == [f"--connect-to {rule}"]
    assert dict(hop["request_headers"])["Host"] == NAME  # the URL's, default port omitted
    assert hop["tls"]["sni"] == NAME and hop["tls"]["hostname_match"]


def test_connect_to_empty_parts_and_first_match(http, lab):
    port = port_of(lab.urls["h2"])
    r = http(
        f"https://{NAME}/",
        "--http2",
        "--connect-to",
        f"::127.0.0.1:{port}",
        "--connect-to",
        f"{NAME}::127.0.0.2:1",
    )
    assert r.code == 0, r.out
    hop = r.json()["hops"][0]
    assert hop["routed_by"] == [f"--connect-to ::127.0.0.1:{port}"]
    assert dict(hop["request_headers"])[":authority"] == NAME


def test_connect_to_a_name_that_resolve_points(http, lab):
    """As in curl, the host connected to is looked up through the --resolve rules."""
    port = port_of(lab.urls["https"])
    r = http(
        f"https://{NAME}/",
        "--connect-to",
        f"{NAME}:443:backend.lab.test:{port}",
        "--resolve",
        f"backend.lab.test:{port}:127.0.0.1",
    )
    assert r.code == 0, r.out
    hop = r.json()["hops"][0]
    assert hop["routed_by"] == [
        f"--connect-to {NAME}:443:backend.lab.test:{port}",
        f"--resolve backend.lab.test:{port}:127.0.0.1",
    ]
    assert hop["tls"]["sni"] == NAME


def test_text_shows_the_route(cli, lab):
    port = port_of(lab.urls["https"])
    r = cli(
        "http",
        f"https://{NAME}:{port}/",
        "--resolve",
        f"{NAME}:{port}:127.0.0.1",
        "--ca-file",
        lab.files["tls_ca_file"],
    )
    assert r.code == 0, r.out
    assert f"via --resolve {NAME}:{port}:127.0.0.1" in r.out
    assert f"SNI {NAME}" in r.out and "--resolve: no lookup" in r.out


# -- -H Host does not change SNI, and says so -------------------------------------------


def test_host_header_on_https_warns_and_keeps_sni(http, lab):
    r = http(lab.urls["https"] + "/echo/headers", "-H", "Host: other.test", "--body")
    assert r.code == 0, r.out  # a warning never changes the exit status
    doc = r.json()
    [warning] = doc["warnings"]
    assert warning["kind"] == "host_header" and "SNI" in warning["message"]
    hop = doc["hops"][0]
    assert hop["tls"]["sni"] is None and hop["tls"]["verify_name"] == "127.0.0.1"
    assert "host: other.test" in hop["body"]["text"]


def test_host_header_same_as_url_or_plain_http_no_warning(http, lab):
    port = port_of(lab.urls["https"])
    same = http(lab.urls["https"] + "/", "-H", f"Host: 127.0.0.1:{port}").json()
    assert same["warnings"] == []
    plain = http(lab.urls["http"] + "/", "-H", "Host: other.test").json()
    assert plain["warnings"] == []


def test_host_header_warning_in_text(cli, lab):
    r = cli(
        "http",
        lab.urls["https"] + "/",
        "-H",
        "Host: other.test",
        "--ca-file",
        lab.files["tls_ca_file"],
    )
    assert r.code == 0 and "warning: host_header" in r.out


def test_help_says_what_host_resolve_and_connect_to_do(cli):
    r = cli("http", "--help")
    text = " ".join(r.out.split())
    assert "--resolve" in text and "--connect-to" in text
    assert "never SNI nor the name checked" in text


# -- strict validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--resolve", "www.lab.test:443", "HOST:PORT:ADDRESS"),
        ("--resolve", "www.lab.test:443:", "HOST:PORT:ADDRESS"),
        ("--resolve", "www.lab.test:443:host.lab.test", "not an IP address"),
        ("--resolve", "www.lab.test:443:127.0.0.1,nope", "not an IP address"),
        ("--resolve", "127.0.0.1:443:127.0.0.1", "HOST is a name"),
        ("--resolve", "[::1]:443:127.0.0.1", "HOST is a name"),
        ("--resolve", "www.lab.test:0:127.0.0.1", "invalid port"),
        ("--resolve", "www.lab.test:https:127.0.0.1", "invalid port"),
        ("--resolve", "+www.lab.test:443:127.0.0.1", "not supported"),
        ("--resolve", "bad_name!:443:127.0.0.1", "not a valid host name"),
        ("--connect-to", "www.lab.test:443", "HOST1:PORT1:HOST2:PORT2"),
        ("--connect-to", "www.lab.test:443:127.0.0.1", "HOST1:PORT1:HOST2:PORT2"),
        ("--connect-to", "www.lab.test:443::", "changes nothing"),
        ("--connect-to", "www.lab.test:443:127.0.0.1:99999", "invalid port"),
        ("--connect-to", "[::1:443:127.0.0.1:1", "unclosed"),
        ("--connect-to", "a.test:443:[nope]:1", "not an IPv6 address"),
        ("--connect-to", "a.test:443:::1:80", "IPv6 goes in brackets"),
    ],
)
def test_bad_rules_exit_2_with_one_line(cli, option, value, says):
    r = cli("http", "https://www.lab.test/", option, value)
    assert r.code == 2, r.out
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and says in lines[0], r.err
    assert "Traceback" not in r.err


def test_the_same_resolve_twice_is_refused(cli):
    r = cli(
        "http",
        "https://www.lab.test/",
        "--resolve",
        "www.lab.test:443:127.0.0.1",
        "--resolve",
        "WWW.lab.test:443:127.0.0.2",
    )
    assert r.code == 2 and "given twice" in r.err


def test_certificate_warnings_reach_the_http_report(lab, cli):
    # tls warns of a certificate that expires within 14 days; http, on the same certificate,
    # warns the same way, and the status stays healthy.
    url = lab.urls["https_expiring"] + "/"
    r = cli("http", url, "--ca-file", lab.files["tls_ca_file"], "--json")
    assert r.code == 0, r.out
    doc = r.json()
    kinds = [w["kind"] for w in doc["warnings"]]
    assert kinds == ["expiring_soon"]
    assert doc["hops"][0]["tls"]["warnings"] == doc["warnings"]
    text = cli("http", url, "--ca-file", lab.files["tls_ca_file"])
    assert text.code == 0
    assert "warning: expiring_soon" in text.out
