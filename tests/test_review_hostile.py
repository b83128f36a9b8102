"""A hostile review of the hardening (issue 10): what still broke, each against a real
hostile server in the lab or a real file or stream, asserting the exit status, the error kind
and, for deadlines, the wall time of the whole process."""

from __future__ import annotations

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
    return r.json(), r.code, took


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


# Escapes: what rich's Live draws ------------------------------------------------------------


WATCH = ("--watch", "0.2", "--count", "1", "--by", "process", "--state", "listen", "--top", "10000")


def test_sockets_watch_on_a_terminal_escapes_process_names(tmp_path):
    """Any local user names a process: `sockets --watch` on a terminal drew the name raw
    through rich's Live, past the escaping every other view gets."""
    import os
    import pty
    import select
    import subprocess
    import sys

    evil = tmp_path / "evil.py"
    evil.write_text(
        "import socket, sys, time\n"
        "open('/proc/self/comm', 'w').write('\\x1b[2J\\x1b]0;PWN\\x07')\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print('ready', flush=True); time.sleep(30)\n"
    )
    owner = subprocess.Popen([sys.executable, str(evil)], stdout=subprocess.PIPE, text=True)
    master, slave = pty.openpty()
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "ready\n"
        proc = subprocess.Popen(
            [sys.executable, "-m", "netdiag", "sockets", *WATCH],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "150", "LINES": "5000", "TERM": "xterm"},
        )
        os.close(slave)
        slave = -1
        seen = b""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if not select.select([master], [], [], 0.5)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other side is gone: all read
                break
            if not data:
                break
            seen += data
        assert proc.wait(timeout=10) == 0
    finally:
        owner.kill()  # only the processes this test started
        owner.wait()
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert b"PWN" in seen
    assert b"\x1b[2J" not in seen and b"\x1b]0;PWN" not in seen
    assert b"\\x1b[2J\\x1b]0;PWN\\x07" in seen


# Secrets ------------------------------------------------------------------------------------


def test_user_info_outside_a_url_is_never_echoed(cli):
    """`ping u:pass@host` quoted the password in its usage error (hosts and --sni go through
    parse_host, not parse_target)."""
    for args in (
        ("ping", "-c", "1", "u:s3cret@127.0.0.1"),
        ("ping", "-c", "1", "u:s3cret@[::1]"),
        ("tls", "127.0.0.1", "--sni", "u:s3cret@lab.test"),
    ):
        r = cli(*args)
        assert r.code == 2, (args, r)
        assert "s3cret" not in r.out + r.err, (args, r.err)
        assert "user info" in r.err


def test_http_tls_timeout_names_the_hops_timeout(lab):
    """The handshake gets what is left of the hop: its timeout message quoted that remainder
    (``within 1.99967 s``), not --timeout."""
    url = "https://" + lab.endpoints["tls_hello_request_flood"] + "/"
    doc, code, _ = _timed("http", url, "--timeout", "1")
    assert code == 1
    assert doc["error"]["kind"] == "timeout"
    assert "within the hop's 1 s (--timeout)" in doc["error"]["message"], doc["error"]
