"""Benchmarks for `netdiag tcp` and start-up, side by side with the reference tools.

    python benchmarks/bench_tcp.py

Goals (issue 2): `netdiag --version` at most 2x a bare `python -c pass`; median connect time
within 20 microseconds of curl's time_connect - time_namelookup on the same loopback server;
500 loopback endpoints in one `netdiag tcp` call in under 1 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd, time_process


def startup(table: Table) -> None:
    bare = time_process([sys.executable, "-c", "pass"])
    version = time_process([*netdiag_cmd(), "--version"])
    helptext = time_process([*netdiag_cmd(), "--help"])
    table.add("netdiag --version (vs python -c pass)", version, bare, "ms", "<= 2x")
    table.add("netdiag --help (vs python -c pass)", helptext, bare, "ms", "<= 2.5x")


def connect_time(table: Table, endpoint: str) -> None:
    out = subprocess.run(
        [*netdiag_cmd(), "tcp", endpoint, "-c", "200", "-i", "0.002", "--rst", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    ours = json.loads(out.stdout)["results"][0]["stats"]["p50_ms"] * 1000
    ref = None
    if have("curl"):
        samples = []
        for _ in range(100):
            r = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "--max-time",
                    "2",
                    "-w",
                    "%{time_namelookup} %{time_connect}",
                    f"http://{endpoint}/",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
            lookup, connect = (float(x) for x in r.stdout.split())
            samples.append((connect - lookup) * 1e6)
        ref = statistics.median(samples)
    table.add("median connect (vs curl time_connect)", ours, ref, "us", "within 20 us", diff=True)


def many_endpoints(table: Table, endpoints: list[str]) -> None:
    argv = [*netdiag_cmd(), "tcp", *endpoints, "-c", "1", "--rst", "--json"]
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        runs.append((time.perf_counter() - t0) * 1000)
        doc = json.loads(out.stdout)
        assert doc["ok"], doc["error"]
    table.add(
        f"netdiag tcp, {len(endpoints)} endpoints, whole process",
        statistics.median(runs),
        None,
        "ms",
        "< 1000 ms",
    )


def main() -> None:
    print(f"netdiag tcp benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    table = Table("start-up and TCP connect")
    startup(table)
    with lab_process("--extra-tcp", "500") as lab:
        connect_time(table, lab["endpoints"]["tcp_open"])
        many_endpoints(table, lab["extra_tcp"])
    table.print()


if __name__ == "__main__":
    main()
