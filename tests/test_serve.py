"""netdiag serve (issue 14): the exporter on loopback against the lab, scraped over HTTP,
every answer read by prometheus_client's parser (and HTTP answers by http.client); the
safety cases: malformed requests, slow clients, bounds, --allow-target, auth, TLS."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from conftest import requires_icmp, run_process
from prometheus_client.parser import text_string_to_metric_families

from netdiag.checks.spec import SpecError, parse_modules, prepare_module
from netdiag.lab import Lab
from netdiag.serve import modules as serve_modules
from netdiag.serve.allow import AllowError, parse_allow, target_host
from netdiag.serve.server import Running, ServeConfig

# --- helpers ------------------------------------------------------------------------------


def metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample by name, as prometheus_client's parser reads the text."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def value(parsed: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    [v] = [v for lab, v in parsed[name] if all(lab.get(k) == x for k, x in labels.items())]
    return v


def get(
    running: Running, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], str]:
    host, port = running.exporter.addresses[0][:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def probe(running: Running, target: str, module: str, **extra: str) -> tuple[int, str]:
    status, _, body = get(
        running, "/probe?" + urlencode({"target": target, "module": module, **extra})
    )
    return status, body


def raw(running: Running, data: bytes, timeout: float = 10) -> list[http.client.HTTPResponse]:
    """Send ``data`` as it is, then end the sending side; the responses until the server
    closes, read by http.client."""
    host, port = running.exporter.addresses[0][:2]
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                received += chunk
    stream = _Unclosed(received)
    responses = []
    while stream.tell() < len(received):
        resp = http.client.HTTPResponse(_Sock(stream))  # type: ignore[arg-type]
        resp.begin()
        resp.read()
        responses.append(resp)
    return responses


class _Unclosed(io.BytesIO):
    def close(self) -> None:  # http.client closes its file after each response
        pass


class _Sock:
    def __init__(self, stream: io.BytesIO) -> None:
        self._stream = stream

    def makefile(self, mode: str) -> io.BytesIO:
        return self._stream


def lab_modules(tmp: Path, lab: Lab, dnslab: dict[str, str] | None) -> Path:
    ca = lab.files["tls_ca_file"]
    text = f"""
[[module]]
name = "tcp_quick"
type = "tcp"
count = 1
timeout = 1

[[module]]
name = "tcp_plain"
type = "tcp"

[[module]]
name = "http_lab"
type = "http"
expect_status = "200-299"
timeout = 3

[[module]]
name = "https_lab"
type = "http"
ca_file = "{ca}"
timeout = 3

[[module]]
name = "tls_lab"
type = "tls"
sni = "good.lab.test"
ca_file = "{ca}"
timeout = 3

[[module]]
name = "icmp"
type = "ping"
count = 1
timeout = 1
"""
    if dnslab is not None:
        text += f"""
[[module]]
name = "dns_lab"
type = "dns"
server = ["{dnslab["example"]}"]
port = {dnslab["port"]}
types = ["A"]
timeout = 1

[[module]]
name = "dns_silent"
type = "dns"
server = ["{dnslab["silent"]}"]
port = {dnslab["port"]}
timeout = 0.3
query_retries = 0

[[module]]
name = "dns_trace"
type = "dns"
trace = true
root = ["{dnslab["root"]}"]
port = {dnslab["port"]}
timeout = 0.5
"""
    path = tmp / "modules.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def exporter(lab: Lab, dnslab: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    path = lab_modules(tmp_path_factory.mktemp("serve"), lab, dnslab)
    config = ServeConfig("127.0.0.1", 0, serve_modules.load(str(path)))
    with Running(config) as running:
        yield running


# --- every module type, healthy and failing -----------------------------------------------


def test_tcp_healthy_and_failing(exporter: Running, lab: Lab) -> None:
    status, body = probe(exporter, lab.endpoints["tcp_open"], "tcp_quick")
    assert status == 200
    m = metrics(body)
    assert value(m, "probe_success") == 1
    assert value(m, "netdiag_tcp_connects_received") == 1
    assert value(m, "probe_ip_protocol") == 4
    assert value(m, "netdiag_tcp_info_snd_mss_bytes") > 0  # TCP_INFO (Linux)
    assert all(not labels for labels, _ in m["probe_success"])  # no check/target labels
    status, body = probe(exporter, lab.endpoints["tcp_refused"], "tcp_quick")
    m = metrics(body)
    assert status == 200 and value(m, "probe_success") == 0
    assert value(m, "netdiag_probe_error_info", kind="refused") == 1


def test_a_module_without_count_makes_one_attempt(exporter: Running, lab: Lab) -> None:
    # Not the command's 4 connects 1 s apart: a scrape is one attempt, as in blackbox_exporter.
    started = time.monotonic()
    status, body = probe(exporter, lab.endpoints["tcp_open"], "tcp_plain")
    assert status == 200 and time.monotonic() - started < 0.9
    m = metrics(body)
    assert value(m, "probe_success") == 1
    assert value(m, "netdiag_tcp_connects_sent") == 1


def test_http_healthy_and_failing(exporter: Running, lab: Lab) -> None:
    m = metrics(probe(exporter, lab.urls["http"] + "/", "http_lab")[1])
    assert value(m, "probe_success") == 1 and value(m, "probe_http_status_code") == 200
    assert {labels["phase"] for labels, _ in m["probe_http_duration_seconds"]} == {
        "resolve",
        "connect",
        "tls",
        "processing",
        "transfer",
    }
    m = metrics(probe(exporter, lab.urls["http"] + "/status/500", "http_lab")[1])
    assert value(m, "probe_success") == 0 and value(m, "probe_http_status_code") == 500
    m = metrics(probe(exporter, lab.urls["https"] + "/", "https_lab")[1])
    assert value(m, "probe_success") == 1 and value(m, "probe_http_ssl") == 1
    assert value(m, "probe_tls_version_info", version="TLS 1.3") == 1


def test_tls_healthy_and_failing(exporter: Running, lab: Lab) -> None:
    m = metrics(probe(exporter, lab.endpoints["tls_good"], "tls_lab")[1])
    assert value(m, "probe_success") == 1
    assert value(m, "netdiag_tls_verdict_info", kind="ok") == 1
    assert value(m, "probe_ssl_earliest_cert_expiry") > time.time()
    assert value(m, "netdiag_tls_cert_days_left", position="0") > 0
    m = metrics(probe(exporter, lab.endpoints["tls_expired"], "tls_lab")[1])
    assert value(m, "probe_success") == 0
    [(labels, _)] = m["netdiag_tls_verdict_info"]
    assert labels["kind"] != "ok"
    assert m["netdiag_tls_problem_info"]


def test_dns_healthy_and_failing(exporter: Running) -> None:
    m = metrics(probe(exporter, "host.example.test", "dns_lab")[1])
    assert value(m, "probe_success") == 1
    assert value(m, "probe_dns_answer_rrs", qtype="A") >= 1
    m = metrics(probe(exporter, "host.example.test", "dns_silent")[1])
    assert value(m, "probe_success") == 0
    assert value(m, "netdiag_probe_error_info", kind="timeout") == 1


def test_dns_trace(exporter: Running) -> None:
    m = metrics(probe(exporter, "host.example.test", "dns_trace")[1])
    assert value(m, "probe_success") == 1
    assert value(m, "netdiag_dns_trace_queries") >= 3
    assert value(m, "netdiag_dns_trace_disagreements") == 0
    assert value(m, "netdiag_dns_trace_servers", outcome="referral") >= 2


@requires_icmp
def test_icmp_healthy(exporter: Running) -> None:
    m = metrics(probe(exporter, "127.0.0.1", "icmp")[1])
    assert value(m, "probe_success") == 1
    assert value(m, "probe_icmp_duration_seconds", phase="rtt") >= 0


def test_debug_view_and_metrics_page_and_index(exporter: Running, lab: Lab) -> None:
    status, headers, body = get(
        exporter,
        "/probe?"
        + urlencode({"target": lab.endpoints["tcp_open"], "module": "tcp_quick"})
        + "&debug=true",
    )
    assert status == 200 and headers["content-type"].startswith("text/plain")
    head, _, exposition = body.partition("Metrics that would have been returned:\n")
    assert "tcp connect statistics" in head  # the command's own text view
    assert value(metrics(exposition), "probe_success") == 1

    status, headers, body = get(exporter, "/metrics")
    assert status == 200
    m = metrics(body)
    assert value(m, "netdiag_serve_probes_total", module="tcp_quick", result="success") >= 2
    assert value(m, "netdiag_serve_probes_in_flight") == 0
    assert "netdiag_serve_requests_refused_total" in m

    # A peer-supplied string on the page is escaped: a dns name with markup in it
    probe(exporter, "<script>x</script>.example.test", "dns_lab")
    status, headers, body = get(exporter, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    tags = _Tags()
    tags.feed(body)
    assert "script" not in tags.seen
    assert "<script>x</script>.example.test" in tags.text  # shown, as text
    assert any("debug=true" in href for href in tags.links)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.links: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        self.links += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text += data


# --- refusals: 400, 404, 405, 403, 503 ----------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "module=tcp_quick",  # no target
        "target=&module=tcp_quick",
        "target=127.0.0.1:1&module=nope",
        "target=127.0.0.1:1&target=127.0.0.2:1&module=tcp_quick",  # repeated
        "target=127.0.0.1%zz:1&module=tcp_quick",  # bad percent-encoding
        "target=%ff%fe&module=tcp_quick",  # not UTF-8
        "target=127.0.0.1&module=tcp_quick",  # no port
        "target=a%00b:1&module=tcp_quick",  # NUL
        "target=http://x/&module=tcp_quick",  # a URL to tcp
        "target=ftp://127.0.0.1/&module=http_lab",
        "&".join(f"p{i}=1" for i in range(40)),  # too many fields
        "target=" + "a" * 3000 + ":1&module=tcp_quick",  # a huge parameter
    ],
)
def test_bad_queries_are_400(exporter: Running, query: str) -> None:
    status, _, body = get(exporter, "/probe?" + query)
    assert status == 400, body
    assert "Traceback" not in body and len(body.splitlines()) == 1


def test_unknown_path_and_method(exporter: Running) -> None:
    assert get(exporter, "/nope")[0] == 404
    status, headers, _ = get(exporter, "/probe?target=127.0.0.1:1", method="POST")
    assert status == 405 and headers["allow"] == "GET"
    status, headers, _ = get(exporter, "/metrics", method="DELETE")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, body = get(exporter, "/metrics", method="HEAD")
    assert status == 200 and body == "" and int(headers["content-length"]) > 0


def test_bad_scrape_timeout_header(exporter: Running, lab: Lab) -> None:
    path = "/probe?" + urlencode({"target": lab.endpoints["tcp_open"], "module": "tcp_quick"})
    for bad in ("x", "-1", "nan", "inf"):
        assert get(exporter, path, {"X-Prometheus-Scrape-Timeout-Seconds": bad})[0] == 400


def test_scrape_timeout_bounds_the_probe(exporter: Running, lab: Lab) -> None:
    """The module's timeout is 1 s; Prometheus's 0.8 s less 0.5 s wins."""
    path = "/probe?" + urlencode(
        {"target": lab.endpoints["tcp_silent"], "module": "tcp_quick", "debug": "true"}
    )
    started = time.monotonic()
    status, _, body = get(exporter, path, {"X-Prometheus-Scrape-Timeout-Seconds": "0.8"})
    assert status == 200 and time.monotonic() - started < 0.9
    head, _, exposition = body.partition("Metrics that would have been returned:\n")
    assert "Timeout: 0.3 s" in head.splitlines()
    assert value(metrics(exposition), "probe_success") == 0


def test_probe_timeout_rules() -> None:
    module = prepare_module({"name": "m", "type": "tcp", "timeout": 2})
    assert serve_modules.probe_timeout(module, None) == 2
    assert serve_modules.probe_timeout(module, 10) == 2  # never more than the module's
    assert serve_modules.probe_timeout(module, 1.5) == 1.0
    assert serve_modules.probe_timeout(module, 0.4) == 0.2  # half of a tiny scrape timeout


def test_allow_target(lab: Lab) -> None:
    modules = serve_modules.load(None)
    config = ServeConfig(
        "127.0.0.1",
        0,
        modules,
        allow=parse_allow(["127.0.0.0/30", "lab.example.test", "*.allowed.test"]),
    )
    with Running(config) as running:
        port = lab.endpoints["tcp_open"].rsplit(":", 1)[1]
        assert probe(running, f"127.0.0.1:{port}", "tcp_connect")[0] == 200
        for target in (f"127.0.0.9:{port}", f"[::ffff:127.0.0.9]:{port}", f"other.test:{port}"):
            status, body = probe(running, target, "tcp_connect")
            assert status == 403 and "refused" in body
        status, body = probe(running, "http://127.0.0.9:1/", "http_2xx")
        assert status == 403
        m = metrics(get(running, "/metrics")[2])
        assert value(m, "netdiag_serve_requests_refused_total", reason="forbidden_target") == 4
        assert value(m, "netdiag_serve_probes_total", module="tcp_connect", result="failure") == 0


def test_redirects_are_followed_within_allow_target(lab: Lab) -> None:
    config = ServeConfig(
        "127.0.0.1", 0, serve_modules.load(None), allow=parse_allow(["127.0.0.1/32"])
    )
    with Running(config) as running:
        # http_2xx follows redirects, as blackbox_exporter's does: a 302 on the same host
        status, body = probe(running, lab.urls["http"] + "/redirect/302", "http_2xx")
        m = metrics(body)
        assert status == 200 and value(m, "probe_success") == 1
        assert value(m, "probe_http_redirects") == 1 and value(m, "probe_http_status_code") == 200
        # to a host --allow-target does not allow: the probe's failure, never a connect there
        url = lab.urls["http"] + "/redirect/elsewhere"
        status, body = probe(running, url, "http_2xx")
        m = metrics(body)
        assert status == 200 and value(m, "probe_success") == 0
        assert value(m, "netdiag_probe_error_info", kind="redirect") == 1
        status, text = probe(running, url, "http_2xx", debug="true")
        assert "refusing to follow a redirect to http://127.0.0.2:" in text
        assert "127.0.0.2 is in no --allow-target address block" in text


def test_a_probes_timeout_bounds_its_redirects_too(exporter: Running, slow_redirects: str) -> None:
    # 0.3 s a hop, endless: the probe's 1 s (the scrape's 1.5 s less 0.5 s) bounds them all
    started = time.monotonic()
    path = "/probe?" + urlencode({"target": slow_redirects + "/0", "module": "http_lab"})
    status, _, body = get(exporter, path, {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
    took = time.monotonic() - started
    m = metrics(body)
    assert status == 200 and value(m, "probe_success") == 0 and took < 1.4, took
    assert value(m, "netdiag_probe_error_info", kind="timeout") == 1
    path += "&debug=true"
    text = get(exporter, path, {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})[2]
    assert "the 1 s of the probe's timeout" in text and "--max-time" not in text
    time.sleep(0.2)  # the probe ended with its answer: no slot is held past it
    page = metrics(get(exporter, "/metrics")[2])
    assert value(page, "netdiag_serve_probes_in_flight") == 0


def test_without_allow_target_a_redirect_goes_anywhere(exporter: Running, lab: Lab) -> None:
    status, body = probe(exporter, lab.urls["http"] + "/redirect/elsewhere", "http_lab")
    m = metrics(body)  # followed to 127.0.0.2, where nothing listens
    assert status == 200 and value(m, "probe_success") == 0
    assert value(m, "netdiag_probe_error_info", kind="refused") == 1


def test_allow_semantics() -> None:
    allow = parse_allow(["10.0.0.0/8", "db.example.test", "*.svc.example.test", "2001:db8::1"])
    assert allow is not None
    assert allow.refusal("10.1.2.3") is None
    assert allow.refusal("::ffff:10.1.2.3") is None
    assert allow.refusal("11.0.0.1") is not None
    assert allow.refusal("2001:db8::1") is None and allow.refusal("2001:db8::2") is not None
    assert allow.refusal("DB.example.test.") is None
    assert allow.refusal("a.svc.example.test") is None
    assert allow.refusal("svc.example.test") is not None  # *. is under it, not it
    assert allow.refusal("db.example.test.evil.test") is not None
    only_blocks = parse_allow(["10.0.0.0/8"])
    assert only_blocks is not None
    assert "not resolved" in (only_blocks.refusal("ten.example.test") or "")  # no rebinding
    assert parse_allow([]) is None
    for bad in ("10.0.0.1/8", "*.10.0.0.1", "bad name", "300.1.1.1"):
        with pytest.raises(AllowError):
            parse_allow([bad])
    assert target_host("http", "https://[::1]:8443/x") == "::1"
    assert target_host("tcp", "Example.TEST:80") in ("Example.TEST", "example.test")


def test_over_max_concurrent_is_503(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[[module]]\nname = "slow"\ntype = "tcp"\ncount = 1\ntimeout = 1.5\n')
    config = ServeConfig("127.0.0.1", 0, serve_modules.load(str(path)), max_concurrent=1)
    with Running(config) as running:
        first: list[int] = []
        t = threading.Thread(
            target=lambda: first.append(probe(running, lab.endpoints["tcp_silent"], "slow")[0])
        )
        t.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = metrics(get(running, "/metrics")[2])
            if value(m, "netdiag_serve_probes_in_flight") == 1:
                break
            time.sleep(0.02)
        status, headers, body = get(
            running, "/probe?" + urlencode({"target": lab.endpoints["tcp_open"], "module": "slow"})
        )
        assert status == 503 and headers["retry-after"] == "1" and "--max-concurrent" in body
        t.join(10)
        assert first == [200]


# --- the wire: malformed requests, bounds, slow clients -----------------------------------


def test_malformed_requests_get_answers_not_crashes(exporter: Running) -> None:
    cases = {
        b"GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n": 400,
        b"GARBAGE\r\n\r\n": 400,
        b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n": 431,
        b"GET * HTTP/1.1\r\nHost: x\r\n\r\n": 400,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello": 413,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n": 413,
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n": 400,
    }
    for data, expected in cases.items():
        [resp] = raw(exporter, data)
        assert resp.status == expected, data[:40]
    assert get(exporter, "/-/healthy")[0] == 200  # still serving


def test_http10_absolute_form_and_pipelining(exporter: Running) -> None:
    [resp] = raw(exporter, b"GET /-/healthy HTTP/1.0\r\n\r\n")
    assert resp.status == 200 and resp.version == 11
    [resp] = raw(exporter, b"GET http://elsewhere.test/-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status == 200
    pipelined = (
        b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert [r.status for r in raw(exporter, pipelined)] == [200, 404, 200]


def test_a_slow_client_holds_nothing_and_is_cut_at_its_deadline(lab: Lab) -> None:
    config = ServeConfig("127.0.0.1", 0, serve_modules.load(None), request_deadline_s=1.0)
    with Running(config) as running:
        host, port = running.exporter.addresses[0][:2]
        slow = socket.create_connection((host, port), timeout=5)
        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        started = time.monotonic()
        cut_at = None
        try:
            for byte in request:  # a byte every 0.1 s: 3.5 s for the whole request
                try:
                    slow.sendall(bytes([byte]))
                except OSError:
                    break
                # meanwhile another client is answered at once
                t0 = time.monotonic()
                assert get(running, "/-/healthy")[0] == 200
                assert time.monotonic() - t0 < 0.5
                time.sleep(0.1)
                if time.monotonic() - started > 1.5:
                    break
            resp = http.client.HTTPResponse(slow)
            resp.begin()
            cut_at = time.monotonic() - started
            assert resp.status == 408
        finally:
            slow.close()
        assert cut_at is not None and cut_at < 3.0
        m = metrics(get(running, "/metrics")[2])
        assert value(m, "netdiag_serve_requests_refused_total", reason="slow_client") == 1


def test_connections_are_bounded() -> None:
    config = ServeConfig("127.0.0.1", 0, serve_modules.load(None), max_connections=2)
    with Running(config) as running:
        host, port = running.exporter.addresses[0][:2]
        held = [socket.create_connection((host, port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.2)
            with socket.create_connection((host, port), timeout=5) as extra:
                extra.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
                with contextlib.suppress(ConnectionResetError):
                    assert extra.recv(100) == b""  # closed at once, unanswered
        finally:
            for s in held:
                s.close()
        time.sleep(0.2)
        assert get(running, "/-/healthy")[0] == 200


# --- the module file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "a", "type": "tcp", "target": "x:1"}, "module 'a' (#1): target: not in a module"),
        ({"name": "a", "type": "sockets"}, "type: 'sockets' is not one of"),
        ({"name": "a", "type": "tcp", "count": 0}, "module 'a' (#1): count:"),
        ({"name": "a", "type": "tcp", "retries": 1}, "retries: not in a module"),
        ({"name": "a", "type": "http", "head": True, "data": "x"}, "head: --head sends no body"),
        ({"name": "a", "type": "http", "data": "@-"}, 'data: "@-" (standard input) is for'),
        ({"name": "a", "type": "http", "data": "@/dev/null"}, "must be a regular file"),
        ({"name": "a b", "type": "tcp"}, "name: 'a b': letters"),
        ({"name": "a", "type": "tls", "max_ms": 3}, "max_ms: not a tls option"),
        ({"name": "a", "type": "http", "ca_file": "/nonexistent/ca.pem"}, "ca_file: --ca-file"),
    ],
)
def test_bad_modules(table: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=None) as info:
        prepare_module(table)
    assert message in str(info.value)


def test_count_is_one_unless_a_module_or_its_defaults_say_otherwise() -> None:
    doc = {
        "defaults": {"count": 3},
        "module": [
            {"name": "inherits", "type": "tcp"},
            {"name": "own", "type": "ping", "count": 2},
            {"name": "http", "type": "http"},
        ],
    }
    modules = {m.name: m for m in parse_modules(doc)}
    assert modules["inherits"].options["count"] == 3
    assert modules["own"].options["count"] == 2
    assert "count" not in modules["http"].options  # http has no --count
    assert prepare_module({"name": "bare", "type": "tcp"}).options["count"] == 1
    assert prepare_module({"name": "bare", "type": "ping"}).options["count"] == 1


def test_a_modules_body_file_must_be_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "body.fifo"  # opening it would wait for a writer: it is never opened
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="must be a regular file"):
        prepare_module({"name": "a", "type": "http", "data": f"@{fifo}"})
    body = tmp_path / "body.json"
    body.write_text("{}")
    assert prepare_module({"name": "a", "type": "http", "data": f"@{body}"}).name == "a"


def test_default_modules_are_valid() -> None:
    modules = serve_modules.load(None)
    assert list(modules) == ["tcp_connect", "http_2xx", "dns", "tls", "icmp"]
    assert {m.type for m in modules.values()} == {"tcp", "http", "dns", "tls", "ping"}


# --- the command ----------------------------------------------------------------------------


def test_command_bad_config_is_2(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[[module]]\nname = "x"\ntype = "tcp"\ntimeout = "slow"\n')
    r = run_process("serve", "--config", str(path), "--listen", "127.0.0.1:0")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "module 'x' (#1): timeout:" in r.err
    r = run_process("serve", "--allow-target", "10.0.0.1/8", "--listen", "127.0.0.1:0")
    assert r.code == 2 and "--allow-target" in r.err


def test_command_cannot_bind_is_3() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_process("serve", "--listen", f"127.0.0.1:{port}")
    assert r.code == 3 and "cannot listen" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_command_serves_and_stops_on_signals(lab: Lab, sig: int, code: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdiag", "serve", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        target = quote(lab.endpoints["tcp_open"])
        conn.request("GET", f"/probe?target={target}&module=tcp_connect")
        resp = conn.getresponse()
        assert resp.status == 200
        assert value(metrics(resp.read().decode()), "probe_success") == 1
        conn.close()
        proc.send_signal(sig)
        proc.wait(15)
        assert proc.returncode == code
    finally:
        if proc.poll() is None:
            proc.kill()  # only the process this test started
            proc.wait(5)


# --- web config: TLS and basic auth -------------------------------------------------------


def _web_files(tmp: Path) -> tuple[Path, Path]:
    import bcrypt

    from netdiag.lab import pki

    ca = pki.make_ca("serve test CA")
    leaf = pki.make_leaf(ca, "localhost", ips=["127.0.0.1"])
    pki.write_pair(tmp, "server", [leaf.cert], leaf.key)
    (tmp / "ca.pem").write_bytes(pki.pem(ca.cert))
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web = tmp / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  prom: '{hashed}'\n"
    )
    return web, tmp / "ca.pem"


def test_web_config_tls_and_basic_auth(tmp_path: Path) -> None:
    from netdiag.serve.webconfig import load_web_config

    web, ca = _web_files(tmp_path)
    config = ServeConfig("127.0.0.1", 0, serve_modules.load(None), web=load_web_config(str(web)))
    with Running(config) as running:
        assert running.url.startswith("https://")
        host, port = running.exporter.addresses[0][:2]
        context = ssl.create_default_context(cafile=str(ca))

        def fetch(auth: str | None) -> tuple[int, dict[str, str]]:
            conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
            headers = {"Authorization": auth} if auth else {}
            conn.request("GET", "/metrics", headers=headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}

        def basic(user: str, password: str) -> str:
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        status, headers = fetch(None)
        assert status == 401 and headers["www-authenticate"].startswith("Basic")
        assert fetch(basic("prom", "wrong"))[0] == 401
        assert fetch(basic("nobody", "s3cret"))[0] == 401
        assert fetch("Basic !!!notbase64")[0] == 401
        assert fetch(basic("prom", "x" * 100))[0] == 401  # over bcrypt's 72 bytes
        assert fetch(basic("prom", "s3cret"))[0] == 200
        assert fetch(basic("prom", "s3cret"))[0] == 200  # remembered
        # plain HTTP on the TLS port gets no answer, and does not stop the server
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises((ConnectionError, TimeoutError, OSError)):
                while s.recv(100):
                    pass
                raise ConnectionResetError
        assert fetch(basic("prom", "s3cret"))[0] == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config:\n  cert_file: a.crt\n", "needs both cert_file and key_file"),
        ("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n", "not supported"),
        ("http_server_config:\n  http2: false\n", "not supported"),
        ("basic_auth_users:\n  prom: plaintext\n", "bcrypt hash"),
        ("[not, a, mapping]\n", "takes a mapping"),
        ("a: [unclosed\n", "not a YAML file"),
        ("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n", "cannot load"),
        ("!!python/object/apply:os.system ['true']\n", "not a YAML file"),
    ],
)
def test_bad_web_configs(tmp_path: Path, text: str, message: str) -> None:
    from netdiag.serve.webconfig import WebConfigError, load_web_config

    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(WebConfigError) as info:
        load_web_config(str(path))
    assert message in str(info.value)
    r = run_process("serve", "--web-config", str(path), "--listen", "127.0.0.1:0")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1


def test_nothing_in_a_request_reads_a_file(exporter: Running) -> None:
    """Module options come from the file; a query's extra parameters are not options."""
    before = set(os.listdir("/proc/self/fd"))
    status, body = probe(
        exporter, "127.0.0.1:1", "tcp_quick", ca_file="/etc/shadow", data="@/etc/passwd"
    )
    assert status == 200 and "shadow" not in body and "passwd" not in body
    assert len(set(os.listdir("/proc/self/fd")) - before) < 5
