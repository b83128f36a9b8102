"""`netdiag http` against the lab's HTTP, HTTPS and HTTP/2 servers on loopback."""

from __future__ import annotations

import time

import pytest
from conftest import interrupt
from golden_util import assert_golden, normalise

TIMING_KEYS = {
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "verify_ms",
    "ttfb_ms",
    "transfer_ms",
    "local_ms",
    "total_ms",
}


@pytest.fixture
def http(cli, lab):
    def run(path, *args, base="http", json=True):
        url = lab.urls[base] + path
        extra = ["--ca-file", lab.files["tls_ca_file"]] if base != "http" else []
        return cli("http", url, *extra, *args, *(["--json"] if json else []))

    return run


def test_get_json_shape(http, lab):
    r = http("/")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["error"], doc["status"]) == ("http", True, None, 200)
    assert doc["url"] == lab.urls["http"] + "/"
    [hop] = doc["hops"]
    assert (hop["method"], hop["status"], hop["reason"], hop["http_version"]) == (
        "GET",
        200,
        "OK",
        "HTTP/1.1",
    )
    assert hop["remote_address"] == "127.0.0.1" and hop["reused"] is False
    assert [n for n, _ in hop["request_headers"]] == ["Host", "User-Agent", "Accept"]
    assert set(hop["timing"]) == TIMING_KEYS
    t = hop["timing"]
    assert t["dns_ms"] is None and t["tls_ms"] is None  # an IP literal, plain http
    assert t["connect_ms"] > 0 and t["ttfb_ms"] > 0 and t["transfer_ms"] >= 0
    assert t["total_ms"] >= t["connect_ms"] + t["ttfb_ms"]
    assert hop["body"]["bytes"] == 27 and hop["body"]["text"] is None
    assert hop["body"]["content_type"].startswith("text/plain")


def test_golden(http, lab):
    doc = http("/headers").json()
    port = lab.urls["http"].rsplit(":", 1)[1]
    shown = normalise(doc, {port: "<PORT>"})
    for hop in shown["hops"]:
        assert hop["remote_port"] == int(port)
        hop["remote_port"] = "<PORT>"
    assert_golden("http_headers", shown)


def test_response_headers_exactly_as_received(http):
    hop = http("/headers", "--show-secrets").json()["hops"][0]
    names = [n for n, _ in hop["response_headers"]]
    assert names == [
        "Content-Type",
        "Set-Cookie",
        "Set-Cookie",
        "X-Lab-Case",
        "x-lower",
        "Content-Length",
    ]
    cookies = [v for n, v in hop["response_headers"] if n == "Set-Cookie"]
    assert cookies == ["a=1; Path=/", "b=2; Path=/"]


def test_redirect_not_followed_without_L(http):
    r = http("/redirect/301")
    assert r.code == 0
    doc = r.json()
    assert doc["status"] == 301 and len(doc["hops"]) == 1 and doc["hops"][0]["redirect_to"] is None


@pytest.mark.parametrize("path", ["/redirect/301", "/redirect/302", "/redirect/308"])
def test_redirects_followed_with_own_timings(http, lab, path):
    r = http(path, "-L")
    assert r.code == 0, r.out
    doc = r.json()
    first, second = doc["hops"]
    assert first["redirect_to"] == lab.urls["http"] + "/"
    assert second["url"] == lab.urls["http"] + "/" and second["status"] == 200
    assert doc["url"] == second["url"]
    # the second hop rides the kept-alive connection: no lookup, connect or handshake
    assert second["reused"] is True
    assert second["timing"]["connect_ms"] is None and second["timing"]["ttfb_ms"] > 0


def test_307_keeps_method_and_body(http):
    doc = http("/redirect/307", "-L", "-d", "hello").json()
    assert [h["method"] for h in doc["hops"]] == ["POST", "POST"]
    assert doc["hops"][1]["status"] == 200


def test_302_after_post_becomes_get(http):
    doc = http("/redirect/302", "-L", "-d", "x=1", "--body").json()
    assert [h["method"] for h in doc["hops"]] == ["POST", "GET"]
    assert "Content-Length" not in dict(doc["hops"][1]["request_headers"])


def test_redirect_to_https_has_tls_phase(http, lab):
    doc = http("/redirect/https", "-L", "--ca-file", lab.files["tls_ca_file"]).json()
    assert doc["ok"], doc["error"]
    plain, secure = doc["hops"]
    assert plain["tls"] is None and plain["timing"]["tls_ms"] is None
    assert secure["url"].startswith("https://") and secure["reused"] is False
    assert secure["timing"]["tls_ms"] > 0 and secure["timing"]["connect_ms"] > 0
    assert secure["tls"]["trusted"] and secure["tls"]["hostname_match"]
    assert secure["tls"]["protocol"].startswith("TLSv1")


def test_redirect_loop(http):
    r = http("/loop/a", "-L")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "redirect_loop"
    assert len(doc["hops"]) == 2


def test_too_many_redirects(http):
    r = http("/chain/5", "-L", "--max-redirects", "2")
    assert r.code == 1 and r.json()["error"]["kind"] == "too_many_redirects"
    assert http("/chain/5", "-L").json()["status"] == 200


def test_redirect_to_other_schemes_refused(http):
    r = http("/redirect/ftp", "-L")
    assert r.code == 1 and r.json()["error"]["kind"] == "redirect"


def test_gzip(http):
    doc = http("/gzip", "--compressed", "--body").json()
    body = doc["hops"][0]["body"]
    assert body["content_encoding"] == "gzip"
    assert body["decoded_bytes"] == 13000 and body["bytes"] < 1000
    assert body["text"].startswith("compressible compressible")
    plain = http("/gzip").json()["hops"][0]["body"]
    assert plain["content_encoding"] is None and plain["bytes"] == 13000


@pytest.mark.parametrize("code", [404, 503])
def test_error_status_is_unhealthy(http, code):
    r = http(f"/status/{code}")
    assert r.code == 1
    doc = r.json()
    assert doc["status"] == code and doc["error"]["kind"] == "status"


def test_expect_status(http):
    assert http("/status/404", "--expect-status", "404").code == 0
    assert http("/status/404", "--expect-status", "2xx,500-599").code == 1
    assert http("/", "--expect-status", "204").json()["error"]["kind"] == "status"


def test_chunked_body(http):
    doc = http("/chunked").json()
    assert doc["hops"][0]["body"]["bytes"] == 500
    assert ["Transfer-Encoding", "chunked"] in doc["hops"][0]["response_headers"]


def test_head(http):
    doc = http("/", "--head").json()
    hop = doc["hops"][0]
    assert hop["method"] == "HEAD" and hop["status"] == 200 and hop["body"]["bytes"] == 0


def test_http2(http):
    r = http("/h2", "--http2", base="h2")
    assert r.code == 0, r.out
    hop = r.json()["hops"][0]
    assert hop["http_version"] == "HTTP/2" and hop["tls"]["alpn"] == "h2"
    assert ["x-lab", "h2"] in hop["response_headers"]


def test_https_without_http2_uses_http1(http):
    hop = http("/", base="https").json()["hops"][0]
    assert hop["http_version"] == "HTTP/1.1" and hop["tls"]["alpn"] == "http/1.1"


def test_bad_certificate_stops_unless_insecure(cli, lab, tmp_path):
    from netdiag.lab.pki import make_ca, pem

    other = tmp_path / "other-ca.pem"
    other.write_bytes(pem(make_ca("some other root").cert))
    r = cli("http", lab.urls["https"] + "/", "--ca-file", str(other), "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "tls"
    hop = doc["hops"][0]
    assert hop["status"] is None and hop["tls"]["trusted"] is False
    r = cli("http", lab.urls["https"] + "/", "--ca-file", str(other), "--insecure", "--json")
    assert r.code == 0
    hop = r.json()["hops"][0]
    assert hop["status"] == 200 and hop["tls"]["trusted"] is False
    assert hop["tls"]["problems"][0]["kind"] == "untrusted_issuer"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/hostile/endless-headers", "header_too_large"),
        ("/hostile/huge-header", "header_too_large"),
        ("/hostile/garbage", "bad_response"),
        ("/hostile/close-mid", "bad_response"),
    ],
)
def test_hostile_servers(http, path, kind):
    r = http(path, "--timeout", "5")
    assert r.code == 1
    assert r.json()["error"]["kind"] == kind


def test_silent_server_bounded_by_timeout(http):
    t0 = time.monotonic()
    r = http("/hostile/silent", "--timeout", "0.5")
    assert time.monotonic() - t0 < 3
    assert r.json()["error"]["kind"] == "timeout"


def test_dripping_server_cannot_stretch_the_hop(http):
    # 140 bytes at one every 0.2 s would take 28 s; the hop as a whole is bounded.
    t0 = time.monotonic()
    r = http("/hostile/drip", "--timeout", "1")
    assert time.monotonic() - t0 < 3
    doc = r.json()
    assert doc["error"]["kind"] == "timeout"
    assert doc["hops"][0]["timing"]["total_ms"] < 2000


def test_body_is_bounded(http):
    doc = http("/big", "--body").json()
    body = doc["hops"][0]["body"]
    assert body["bytes"] == 2 << 20 and len(body["text"]) == 65536


def test_secrets_redacted_unless_asked(http):
    args = ("-H", "Authorization: Bearer s3cret", "-H", "Cookie: id=42", "-H", "X-Other: seen")
    r = http("/", *args)
    sent = dict(r.json()["hops"][0]["request_headers"])
    assert "s3cret" not in r.out and "id=42" not in r.out
    assert sent["X-Other"] == "seen" and sent["Authorization"].startswith("[redacted")
    text = http("/", *args, json=False).out
    assert "s3cret" not in text and "> Authorization: [redacted" in text
    shown = dict(http("/", *args, "--show-secrets").json()["hops"][0]["request_headers"])
    assert shown["Authorization"] == "Bearer s3cret" and shown["Cookie"] == "id=42"


def test_user_headers_override_defaults(http):
    sent = http("/", "-H", "User-Agent: probe/1").json()["hops"][0]["request_headers"]
    assert [v for n, v in sent if n.lower() == "user-agent"] == ["probe/1"]


def test_max_ms(http):
    r = http("/", "--max-ms", "0")
    assert r.code == 1 and r.json()["error"]["kind"] == "slow"


def test_refused(cli, lab):
    r = cli("http", f"http://{lab.endpoints['tcp_refused']}/", "--json")
    assert r.code == 1 and r.json()["error"]["kind"] == "refused"


def test_text_output(http):
    r = http("/redirect/301", "-L", json=False)
    assert r.code == 0
    out = r.out
    assert "hop 1: GET" in out and "hop 2: GET" in out
    assert "> Host: 127.0.0.1:" in out and "< HTTP/1.1 301 Moved Permanently" in out
    assert "server (ttfb)" in out and "reused connection" in out
    assert out.rstrip().endswith("healthy")


@pytest.mark.parametrize(
    "args",
    [
        ["http://127.0.0.1/", "-H", "no colon"],
        ["http://127.0.0.1/", "--expect-status", "abc"],
        ["ftp://127.0.0.1/"],
        ["http://127.0.0.1/", "-X", "G T"],
        ["http://127.0.0.1/", "--head", "-d", "x"],
        ["http://127.0.0.1:99999/"],
        ["http://127.0.0.1/", "-d", "@/nonexistent/file"],
    ],
)
def test_bad_input_exit_2(cli, args):
    r = cli("http", *args)
    assert r.code == 2, r.out
    assert len(r.err.strip().splitlines()) == 1


def test_ctrl_c_keeps_finished_hops(lab):
    r, _ = interrupt(
        "http", lab.urls["http"] + "/hostile/silent", "--timeout", "20", "--json", after_s=1.0
    )
    assert r.code == 130, r.err
    assert r.json()["interrupted"] is True
    assert r.json()["error"]["kind"] == "interrupted"


def test_max_time_bounds_the_whole_run(cli, slow_redirects):
    import time

    started = time.monotonic()
    r = cli("http", slow_redirects + "/0", "-L", "--max-time", "1", "--timeout", "5", "--json")
    took = time.monotonic() - started
    assert r.code == 1 and took < 2.5, took  # not 10 redirects of 0.3 s
    doc = r.json()
    assert doc["error"]["kind"] == "timeout" and "--max-time" in doc["error"]["message"]
    assert 2 <= len(doc["hops"]) <= 4  # the hops that fit in 1 s
    # equal bounds: on the first hop it is the hop's own --timeout that ends it
    r = cli("http", slow_redirects + "/0", "-m", "0.2", "--timeout", "0.2", "--json")
    assert "within the hop's 0.2 s (--timeout)" in r.json()["error"]["message"]
    # without it, each hop has its own --timeout: 10 redirects, then too many
    r = cli("http", slow_redirects + "/0", "-L", "--max-redirects", "3", "--json")
    assert r.json()["error"]["kind"] == "too_many_redirects"


def test_a_connect_timeout_names_the_limit_that_cut_it(cli, lab):
    # a SYN never answered: the message names --max-time or the hop's --timeout, not the
    # fraction of a second that happened to be left ("after 0.299845 s")
    where = lab.endpoints["tcp_silent"]
    r = cli("http", f"http://{where}/", "-m", "0.3", "--timeout", "5", "--json")
    assert r.code == 1
    err = r.json()["error"]
    assert err == {
        "kind": "timeout",
        "message": f"no answer to SYN from {where} within the 0.3 s of --max-time",
        "hint": None,
    }
    r = cli("http", f"http://{where}/", "--timeout", "0.3", "--json")
    assert r.json()["error"]["message"] == (
        f"no answer to SYN from {where} within the hop's 0.3 s (--timeout)"
    )


def test_an_ipv6_zone_is_read_as_rfc_6874_writes_it_and_never_sent(cli, lab):
    port = lab.urls["http"].rsplit(":", 1)[1]
    url = f"http://[fe80::1%25lo]:{port}/echo/headers"  # the zone is lo, written %25lo
    # --connect-to takes the connection to the lab on 127.0.0.1: the Host header is the URL's
    r = cli(
        "http", url, "--connect-to", f"[fe80::1%lo]:{port}:127.0.0.1:{port}", "--body", "--json"
    )
    assert r.code == 0, r.out
    echoed = r.json()["hops"][0]["body"]["text"]
    assert f"host: [fe80::1]:{port}" in echoed  # RFC 6874: a zone means nothing to the server
