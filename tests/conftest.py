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

# Tests that need root carry the ``root`` marker (registered in pyproject); the hook below skips
# them elsewhere, so a module never has to be skipped whole for a few privileged tests.
# ``pytest -m "not root"`` leaves them out, ``pytest -m root`` runs only them.
requires_root = pytest.mark.root
ROOT_SKIP_REASON = "needs root (network namespaces / raw sockets); runs in CI as root"


def _unprivileged_icmp_allowed() -> bool:
    """Whether this process may open an ICMP datagram socket (net.ipv4.ping_group_range)."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return False
    return any(low <= gid <= high for gid in {os.getegid(), *os.getgroups()})


# ping's default socket: raw as root, else a datagram socket where ping_group_range allows it.
requires_icmp = pytest.mark.skipif(
    not (IS_ROOT or _unprivileged_icmp_allowed()),
    reason="needs root or an unprivileged ICMP socket (net.ipv4.ping_group_range)",
)
requires_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="IPv6 (::1) is disabled here")


_root_ids: set[str] = set()  # the root-marked tests of this session
_root_outcomes: dict[str, str] = {}  # their outcomes: passed, failed or skipped


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root_items = [item for item in items if item.get_closest_marker("root")]
    _root_ids.update(item.nodeid for item in root_items)
    if not IS_ROOT:
        for item in root_items:
            item.add_marker(pytest.mark.skip(reason=ROOT_SKIP_REASON))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember the outcome of each root-marked test (its call, or the setup that did not
    pass: a skip or an error)."""
    if report.nodeid in _root_ids and (
        report.when == "call" or (report.when == "setup" and not report.passed)
    ):
        _root_outcomes[report.nodeid] = report.outcome


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line that CI reads: how many root-marked tests ran (they are skipped unless the
    suite runs as root)."""
    if not _root_ids:
        return
    found = list(_root_outcomes.values())
    ran = found.count("passed") + found.count("failed")
    counts = ", ".join(f"{found.count(k)} {k}" for k in ("passed", "failed", "skipped"))
    who = "as root" if IS_ROOT else "not root"
    terminalreporter.write_line(f"root tests: {ran} of {len(_root_ids)} ran ({counts}; {who})")


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


SLOW_HOP_S = 0.3


@pytest.fixture(scope="session")
def slow_redirects() -> Iterator[str]:
    """A loopback server whose every answer takes :data:`SLOW_HOP_S`: ``/N`` is a 302 to
    ``/N+1`` (an endless chain of slow redirects, for --max-time); its base URL."""
    import http.server
    import threading
    import time

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(SLOW_HOP_S)
            n = int(self.path.strip("/") or 0)
            self.send_response(302)
            self.send_header("Location", f"/{n + 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


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
