"""Benchmarks for `netdiag http`, on the lab's HTTPS server (in its own process).

    python benchmarks/bench_http.py

Prints netdiag's phases next to curl's `-w` timings on the same URL (medians of several
runs), and whole-process `netdiag http` against HTTPie's `http --headers` if HTTPie is
installed (goal, issue 5: at most 0.6x HTTPie).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd, time_process

RUNS = 15
CURL_FORMAT = (
    "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}"
)


def netdiag_phases(url: str, ca: str) -> dict[str, float]:
    samples: dict[str, list[float]] = {}
    for _ in range(RUNS):
        out = subprocess.run(
            [*netdiag_cmd(), "http", url, "--ca-file", ca, "--json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        timing = json.loads(out.stdout)["hops"][0]["timing"]
        for k in ("connect_ms", "tls_ms", "ttfb_ms", "total_ms"):
            samples.setdefault(k, []).append(timing[k])
    return {k: statistics.median(v) for k, v in samples.items()}


def curl_phases(url: str, ca: str) -> dict[str, float]:
    samples: dict[str, list[float]] = {}
    for _ in range(RUNS):
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "--cacert", ca, "-w", CURL_FORMAT, url],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        lookup, connect, app, start, total = (float(x) * 1000 for x in out.stdout.split())
        for k, v in (
            ("connect_ms", connect - lookup),
            ("tls_ms", app - connect),
            ("ttfb_ms", start - app),
            ("total_ms", total),
        ):
            samples.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    print(f"netdiag http benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    with lab_process() as lab:
        url = lab["urls"]["https"] + "/"
        ca = lab["files"]["tls_ca_file"]
        ours = netdiag_phases(url, ca)
        ref = curl_phases(url, ca) if have("curl") else {}
        phases = Table(f"http phases on {url} (medians of {RUNS} runs)")
        for k in ("connect_ms", "tls_ms", "ttfb_ms", "total_ms"):
            phases.add(k, ours[k], ref.get(k), "ms", "reference: curl -w", diff=True)
        phases.print()
        whole = Table("http: whole process")
        mine = time_process([*netdiag_cmd(), "http", url, "--ca-file", ca])
        httpie = None
        if have("http"):
            httpie = time_process(["http", "--headers", f"--verify={ca}", url])
        whole.add("netdiag http (vs HTTPie http --headers)", mine, httpie, "ms", "<= 0.6x")
        whole.add(
            "netdiag http (vs python -c pass)",
            mine,
            time_process([sys.executable, "-c", "pass"]),
            "ms",
            "reference",
        )
        whole.print()
        if httpie is None:
            print("HTTPie is not installed (pip install httpie) - no comparison made")


if __name__ == "__main__":
    main()
