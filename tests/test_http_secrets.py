"""Secrets in ``netdiag http`` (credentials on redirects, URL user info, cookies) and the
bounded reading of the files ``http`` and ``tls`` are given, against the lab on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from netdiag.files import MAX_BODY_BYTES, MAX_LIST_BYTES

# -- files named on the command line -----------------------------------------------------


def _one_line_usage_error(r, *fragments: str) -> None:
    assert r.code == 2, (r.out, r.err)
    assert r.out == ""
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err
    for f in fragments:
        assert f in r.err, r.err


@pytest.mark.parametrize(
    "args",
    [
        ["http", "http://127.0.0.1:9/", "-d", "@/dev/zero"],
        ["http", "http://127.0.0.1:9/", "--ca-file", "/dev/zero"],
        ["tls", "127.0.0.1:9", "--ca-file", "/dev/zero"],
    ],
)
def test_devices_are_refused(cli, args):
    _one_line_usage_error(cli(*args), "/dev/zero", "not a regular file")


def test_body_file_over_the_limit_is_refused(cli, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as f:  # sparse: no disk space used
        f.truncate(MAX_BODY_BYTES + 1)
    r = cli("http", "http://127.0.0.1:9/", "-d", f"@{big}")
    _one_line_usage_error(r, "-d @", "more than the limit of 64 MiB")


@pytest.mark.parametrize("command", ["http", "tls"])
def test_ca_file_over_the_limit_is_refused(cli, tmp_path, command):
    big = tmp_path / "big.pem"
    with big.open("wb") as f:
        f.truncate(MAX_LIST_BYTES + 1)
    target = "https://127.0.0.1:9/" if command == "http" else "127.0.0.1:9"
    r = cli(command, target, "--ca-file", str(big))
    _one_line_usage_error(r, "--ca-file", "more than the limit of 4 MiB")


@pytest.mark.parametrize("command", ["http", "tls"])
def test_ca_file_missing_or_without_certificates(cli, tmp_path, command):
    target = "https://127.0.0.1:9/" if command == "http" else "127.0.0.1:9"
    r = cli(command, target, "--ca-file", str(tmp_path / "absent.pem"))
    _one_line_usage_error(r, "--ca-file", "No such file")
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificate here\n")
    _one_line_usage_error(cli(command, target, "--ca-file", str(empty)), "no PEM certificate")


def test_body_from_a_file_and_from_a_pipe(cli, lab, tmp_path):
    body = tmp_path / "body.txt"
    body.write_bytes(b"x" * 1000)
    doc = cli("http", lab.urls["http"] + "/echo", "-d", f"@{body}", "--body", "--json").json()
    assert doc["hops"][0]["body"]["text"].startswith("POST 1000 bytes\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # the writer end of the pipe, as <(command) would be
    code = f"open({str(fifo)!r}, 'wb').write(b'from a pipe')"
    writer = subprocess.Popen([sys.executable, "-c", code])
    try:
        doc = cli("http", lab.urls["http"] + "/echo", "-d", f"@{fifo}", "--body", "--json").json()
    finally:
        writer.wait(timeout=10)
    assert doc["hops"][0]["body"]["text"] == "POST 11 bytes\nfrom a pipe"


def test_ca_file_is_used_for_every_hop(cli, lab):
    # read once by the command; both https hops (a fresh connection each) trust it
    doc = cli(
        "http",
        lab.urls["http"] + "/redirect/https",
        "-L",
        "--ca-file",
        lab.files["tls_ca_file"],
        "--json",
    ).json()
    assert doc["ok"], doc["error"]
    assert doc["hops"][1]["tls"]["trusted"] is True
