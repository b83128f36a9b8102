"""netdiag serve --workers: several processes behind one address answer probes, /metrics and
/ tell the whole exporter's figures whichever worker answers, --max-concurrent bounds them
all together, and SIGTERM or SIGINT stops every worker (none is left behind)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netdiag.lab import Lab

WORKERS = 2


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int

    def children(self) -> set[int]:
        pids: set[int] = set()
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            pids |= {int(p) for p in (task / "children").read_text().split()}
        return pids

    def get(self, path: str) -> tuple[int, str]:
        """One request on a connection of its own (so the kernel picks a worker for it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8")
        finally:
            conn.close()

    def probe(self, target: str, module: str) -> tuple[int, str]:
        return self.get("/probe?" + urlencode({"target": target, "module": module}))


@contextlib.contextmanager
def serve(*args: str, tmp: Path | None = None) -> Iterator[Served]:
    env = dict(os.environ)
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdiag", "serve", "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        yield Served(proc, port)
    finally:
        if proc.poll() is None:  # stopped as a user would, so that it removes its directory
            proc.terminate()  # only the process this test started; its workers follow
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def one(text: str, name: str, **labels: str) -> float:
    [v] = [v for lab, v in samples(text, name) if all(lab.get(k) == x for k, x in labels.items())]
    return v


def test_workers_answer_and_metrics_and_page_are_the_whole_exporter_s(lab: Lab) -> None:
    with serve("--workers", str(WORKERS)) as s:
        assert len(s.children()) == WORKERS
        n = 24  # each on a new connection: with 2 workers, all on one has odds of 2**-23
        for _ in range(n):
            status, body = s.probe(lab.endpoints["tcp_open"], "tcp_connect")
            assert status == 200 and one(body, "probe_success") == 1
        status, body = s.probe("127.0.0.1:1", "tcp_connect")  # refused: a failure
        assert status == 200 and one(body, "probe_success") == 0
        for _ in range(8):  # whichever worker answers /metrics, it tells the totals
            status, text = s.get("/metrics")
            assert status == 200
            assert (
                one(text, "netdiag_serve_probes_total", module="tcp_connect", result="success") == n
            )
            assert (
                one(text, "netdiag_serve_probes_total", module="tcp_connect", result="failure") == 1
            )
            assert (
                one(text, "netdiag_serve_probe_errors_total", module="tcp_connect", kind="refused")
                == 1
            )
            assert (
                one(text, "netdiag_serve_probe_duration_seconds_count", module="tcp_connect")
                == n + 1
            )
            assert one(text, "netdiag_serve_probes_in_flight") == 0
            assert one(text, "process_cpu_seconds_total") > 0
            # the workers' and the supervisor's: more than any one process has
            assert one(text, "process_resident_memory_bytes") > 20e6 * (WORKERS + 1)
        status, page = s.get("/")
        assert status == 200
        assert page.count("tcp_connect</td>") == n + 1 + 1  # the probes, and the module row
        assert "failure (refused)" in page


def test_max_concurrent_bounds_every_worker_together(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[[module]]\nname = "slow"\ntype = "tcp"\ncount = 1\ntimeout = 2\n')
    with serve("--workers", str(WORKERS), "--config", str(path), "--max-concurrent", "1") as s:
        first: list[int] = []
        t = threading.Thread(
            target=lambda: first.append(s.probe(lab.endpoints["tcp_silent"], "slow")[0])
        )
        t.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if one(s.get("/metrics")[1], "netdiag_serve_probes_in_flight") == 1:
                break
            time.sleep(0.02)
        # every new connection, on whichever worker, finds the one slot taken
        statuses = [s.probe(lab.endpoints["tcp_open"], "slow")[0] for _ in range(8)]
        assert statuses == [503] * 8
        t.join(10)
        assert first == [200]
        assert s.probe(lab.endpoints["tcp_open"], "slow")[0] == 200  # the slot came back


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_stop_every_worker(lab: Lab, sig: int, code: int, tmp_path: Path) -> None:
    with serve("--workers", str(WORKERS), tmp=tmp_path) as s:
        assert s.probe(lab.endpoints["tcp_open"], "tcp_connect")[0] == 200
        workers = s.children()
        assert len(workers) == WORKERS
        [shared] = list(tmp_path.glob("netdiag-serve-*"))  # the workers' metrics, private
        assert shared.stat().st_mode & 0o777 == 0o700
        s.proc.send_signal(sig)
        s.proc.wait(15)
        assert s.proc.returncode == code
        assert s.proc.stderr is not None
        err = s.proc.stderr.read()
        assert "Traceback" not in err
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} left behind"
        assert not shared.exists()


def test_a_worker_that_dies_stops_the_exporter(lab: Lab) -> None:
    with serve("--workers", str(WORKERS)) as s:
        workers = sorted(s.children())
        os.kill(workers[0], signal.SIGKILL)  # a worker this test started, by its pid
        s.proc.wait(15)
        assert s.proc.returncode == 1
        assert s.proc.stderr is not None
        assert "ended on its own" in s.proc.stderr.read()
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} left behind"


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie that nobody has reaped yet (an orphan's parent is
    init, or a subreaper, which may not reap at once)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_remove_the_directory_when_the_supervisor_is_killed(
    lab: Lab, tmp_path: Path
) -> None:
    with serve("--workers", str(WORKERS), tmp=tmp_path) as s:
        assert s.probe(lab.endpoints["tcp_open"], "tcp_connect")[0] == 200
        workers = s.children()
        [shared] = list(tmp_path.glob("netdiag-serve-*"))
        assert any(shared.iterdir())
        s.proc.kill()  # the supervisor this test started, by its pid: it cannot clean up
        s.proc.wait(15)
        deadline = time.monotonic() + 15
        while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in workers), "a worker outlived its supervisor"
        assert not shared.exists(), sorted(p.name for p in shared.iterdir())


def test_workers_1_is_one_process(lab: Lab) -> None:
    with serve("--workers", "1") as s:
        assert s.children() == set()
        status, body = s.probe(lab.endpoints["tcp_open"], "tcp_connect")
        assert status == 200 and one(body, "probe_success") == 1
