"""A real Prometheus scrapes ``netdiag serve`` (issue 14): the scrape configuration the README
documents (blackbox_exporter's relabeling), a 1 s scrape interval, and ``probe_success`` read
back from Prometheus's query API: 1 for the lab's healthy targets, 0 for the failing ones, and
``up`` 1 for all of them (Prometheus parsed every answer), and the exporter's own ``/metrics``
scraped beside them.

Needs the ``prometheus`` binary (Debian's package ``prometheus``; ``.ci/run`` installs it when
it runs as root); skipped without it. Everything listens on, and talks to, 127.0.0.1 only;
both processes are stopped by their pid. Takes about 3 s.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from netdiag.lab import Lab

PROMETHEUS = shutil.which("prometheus") or (
    "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
)
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="needs the prometheus binary (apt-get install prometheus); .ci/run installs it as root",
)

WAIT_S = 30.0  # at most this long for Prometheus to have every target's probe_success


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET from loopback, never through a proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


@contextmanager
def started(argv: Sequence[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until ``ready_url`` answers 200 (at most 20 s); stop it by its pid."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{argv[0]} exited with {proc.returncode}:\n{log.read_text()}")
                try:
                    if get(ready_url, timeout=1)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{ready_url} did not answer in 20 s:\n{log.read_text()}")
                time.sleep(0.05)
            yield proc
        finally:
            proc.terminate()  # SIGTERM: both shut down cleanly
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def scrape_config(exporter: str, jobs: dict[str, tuple[str, list[str]]]) -> str:
    """prometheus.yml: one job per module, blackbox_exporter's relabeling (the target becomes
    the ``target`` parameter and the ``instance`` label; the exporter is the address)."""
    lines = [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: netdiag",  # the exporter's own metrics
        "    static_configs:",
        f"      - targets: [{json.dumps(exporter)}]",
    ]
    for job, (module, targets) in jobs.items():
        lines += [
            f"  - job_name: {job}",
            "    metrics_path: /probe",
            "    params:",
            f"      module: [{module}]",
            "    static_configs:",
            f"      - targets: {json.dumps(targets)}",
            "    relabel_configs:",
            "      - source_labels: [__address__]",
            "        target_label: __param_target",
            "      - source_labels: [__param_target]",
            "        target_label: instance",
            "      - target_label: __address__",
            f"        replacement: {exporter}",
        ]
    return "\n".join(lines) + "\n"


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    status, body = get(
        f"http://{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    )
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def by_instance(results: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    return {(r["metric"]["job"], r["metric"]["instance"]): float(r["value"][1]) for r in results}


def test_prometheus_scrapes_netdiag_serve(lab: Lab, tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    ep, urls = lab.endpoints, lab.urls
    refused = ep["tcp_refused"]
    jobs = {
        "netdiag_tcp": ("tcp_connect", [ep["tcp_open"], refused]),
        "netdiag_http": ("http_2xx", [urls["http"] + "/", f"http://{refused}/"]),
    }
    expected = {
        ("netdiag_tcp", ep["tcp_open"]): 1.0,
        ("netdiag_tcp", refused): 0.0,
        ("netdiag_http", urls["http"] + "/"): 1.0,
        ("netdiag_http", f"http://{refused}/"): 0.0,
    }
    exporter = f"127.0.0.1:{free_port()}"
    prometheus = f"127.0.0.1:{free_port()}"
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(exporter, jobs))
    serve = [
        sys.executable,
        "-m",
        "netdiag",
        "serve",
        "--listen",
        exporter,
        "--allow-target",
        "127.0.0.0/8",
    ]
    prom = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={prometheus}",
        f"--web.external-url=http://{prometheus}/",
        "--log.level=warn",
    ]
    with (
        started(serve, f"http://{exporter}/", tmp_path / "serve.log"),
        started(prom, f"http://{prometheus}/-/ready", tmp_path / "prometheus.log"),
    ):
        deadline = time.monotonic() + WAIT_S
        seen: dict[tuple[str, str], float] = {}
        counted: dict[str, float] = {}
        while time.monotonic() < deadline:
            seen = by_instance(query(prometheus, "probe_success"))
            own = query(prometheus, 'netdiag_serve_probes_total{module="tcp_connect"}')
            counted = {r["metric"]["result"]: float(r["value"][1]) for r in own}
            # The exporter's /metrics is scraped on its own schedule: until it has counted a
            # probe of each result, wait.
            if set(expected) <= set(seen) and min(counted.values(), default=0) >= 1:
                break
            time.sleep(0.2)
        up = by_instance(query(prometheus, "up"))
        durations = by_instance(query(prometheus, "probe_duration_seconds"))
        logs = (tmp_path / "prometheus.log").read_text()
    assert set(expected) <= set(seen), f"after {WAIT_S:g} s Prometheus has {seen}\n{logs}"
    assert {k: seen[k] for k in expected} == expected
    # up 1: Prometheus parsed every answer, the failing probes' too (a failed probe is data).
    assert {k: up.get(k) for k in expected} == dict.fromkeys(expected, 1.0), logs
    assert all(k in durations for k in expected), durations
    # The exporter's own /metrics, scraped as any exporter's: its probe counters.
    assert up.get(("netdiag", exporter)) == 1.0, logs
    assert counted.get("success", 0) >= 1 and counted.get("failure", 0) >= 1, counted
