"""Benchmarks for `netdiag ping` (needs root or ping_group_range, like ping itself).

    python benchmarks/bench_ping.py

Goals (issue 6): the median RTT on 127.0.0.1 within 20 microseconds of iputils ping's in the
same run, and a sweep of 254 loopback addresses x 3 echoes no slower than fping with the same
pacing (one packet per host per second, at least 2 ms between any two packets).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, machine_note, netdiag_cmd

COUNT = 50


def median_rtt_netdiag() -> float:
    out = subprocess.run(
        [*netdiag_cmd(), "ping", "127.0.0.1", "-c", str(COUNT), "-i", "0.01", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return json.loads(out.stdout)["results"][0]["stats"]["p50_ms"] * 1000


def median_rtt_iputils() -> float | None:
    if not have("ping"):
        return None
    out = subprocess.run(
        ["ping", "-n", "-c", str(COUNT), "-i", "0.01", "127.0.0.1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    times = [float(m) for m in re.findall(r"time=([0-9.]+) ms", out.stdout)]
    return statistics.median(times) * 1000 if times else None


def sweep(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=300
    )
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    print(f"netdiag ping benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    table = Table("ping on loopback")
    table.add(
        "median RTT 127.0.0.1 (vs iputils ping)",
        median_rtt_netdiag(),
        median_rtt_iputils(),
        "us",
        "within 20 us",
        diff=True,
    )
    ours = sweep(
        [
            *netdiag_cmd(),
            "ping",
            "127.0.3.0/24",
            "-c",
            "3",
            "-i",
            "1",
            "--gap-ms",
            "2",
            "-W",
            "1",
            "--json",
        ]
    )
    ref = None
    if have("fping"):
        ref = sweep(
            ["fping", "-q", "-c", "3", "-p", "1000", "-i", "2", "-t", "1000", "-g", "127.0.3.0/24"]
        )
    table.add("sweep 254 hosts x 3 (vs fping, same pacing)", ours, ref, "ms", "<= 1.00x")
    table.print()


if __name__ == "__main__":
    main()
