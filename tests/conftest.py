"""Shared fixtures: the lab on loopback, and ways to run the CLI (in-process and as a real
process). Tests send traffic only to 127.0.0.0/8, ::1, or namespaces they create."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from netdiag.cli import run
from netdiag.lab import Lab, ipv6_available

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

requires_root = pytest.mark.skipif(
    not IS_ROOT, reason="needs root (network namespaces / raw sockets); runs in CI as root"
)
requires_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="IPv6 (::1) is disabled here")


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as one JSON document, validated against its command's shipped schema."""
        from schema_util import loads

        return loads(self.out)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.fixture(scope="session")
def dnslab(lab: Lab) -> dict[str, str]:
    """The lab's DNS hierarchy: ``port``, ``root``, and each server's address by name
    (``example``, ``flood_wrong_id``...)."""
    if "dns_root" not in lab.endpoints:
        pytest.skip("the DNS lab needs 127.53.0.x on loopback (Linux)")
    root, port = lab.endpoints["dns_root"].rsplit(":", 1)
    return {
        "port": port,
        "root": root,
        **{k[4:]: v.rsplit(":", 1)[0] for k, v in lab.endpoints.items() if k.startswith("dns_")},
    }


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``netdiag ARGS`` in this process: exit status, stdout and stderr apart."""

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Outcome(int(code), captured.out, captured.err)

    return invoke


def run_process(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> Outcome:
    """Run ``python -m netdiag ARGS`` as a real process."""
    full_env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "NO_COLOR"}}
    full_env.update({"TERM": "xterm-256color", "COLUMNS": "120"}, **(env or {}))
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "netdiag", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def interrupt(
    *args: str, after_s: float = 0.0, after_lines: int = 0, timeout: float = 30
) -> tuple[Outcome, list[str]]:
    """Start ``python -m netdiag ARGS``, wait ``after_lines`` lines of output (returned) or
    ``after_s`` seconds, send SIGINT as Ctrl-C does, and collect what it printed."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "netdiag", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline() for _ in range(after_lines)]
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()  # only the process this helper started
    return Outcome(proc.returncode, "".join(seen) + out, err), seen
