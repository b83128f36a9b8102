"""A hostile review of the hardening (issue 10): what still broke, each against a real
hostile server in the lab or a real file or stream, asserting the exit status, the error kind
and, for deadlines, the wall time of the whole process."""

from __future__ import annotations

import json
import time

from conftest import run_process

TIMEOUT = 2.0
SLACK = 1.5
"""The whole process, start-up included, ends within ``--timeout`` plus this."""


def _timed(*args: str) -> tuple[dict, int, float]:
    t0 = time.monotonic()
    r = run_process(*args, "--json", timeout=60)
    took = time.monotonic() - t0
    assert "Traceback" not in r.err, r.err
    return json.loads(r.out), r.code, took


# TLS: OpenSSL never loops on the socket by itself -----------------------------------------


def test_tls_hello_request_flood_is_bounded_by_the_deadline(lab):
    """OpenSSL skips HelloRequest messages in a loop inside one call: with the socket under
    it, a server sending them without pause held the handshake far past --timeout."""
    doc, code, took = _timed(
        "tls", lab.endpoints["tls_hello_request_flood"], "--timeout", f"{TIMEOUT:g}"
    )
    assert code == 1
    assert doc["error"]["kind"] == "timeout", doc["error"]
    assert took < TIMEOUT + SLACK, f"{took:.2f} s"


def test_http_hello_request_flood_is_bounded_by_the_deadline(lab):
    url = "https://" + lab.endpoints["tls_hello_request_flood"] + "/"
    doc, code, took = _timed("http", url, "--timeout", f"{TIMEOUT:g}")
    assert code == 1
    assert doc["error"]["kind"] == "timeout", doc["error"]
    assert took < TIMEOUT + SLACK, f"{took:.2f} s"


def test_tls_error_after_the_handshake_is_a_reported_error(lab):
    """A record that cannot be decrypted, mid-exchange: an SSL.Error traceback before."""
    for extra in ((), ("--http2",)):
        doc, code, _ = _timed(
            "http",
            lab.urls["https_bad_record"] + "/",
            "--ca-file",
            lab.files["tls_ca_file"],
            "--timeout",
            f"{TIMEOUT:g}",
            *extra,
        )
        assert code == 1
        assert doc["error"]["kind"] == "bad_response", doc["error"]
        assert "TLS error" in doc["error"]["message"]
