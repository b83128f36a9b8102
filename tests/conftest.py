"""Shared fixtures: the lab on loopback, and ways to run the CLI (in-process and as a real
process). Tests send traffic only to 127.0.0.0/8, ::1, or namespaces they create."""

from __future__ import annotations

import json
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
        return json.loads(self.out)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


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
