"""Benchmarks for `netdiag route` against traceroute and mtr, on the same path in network
namespaces (netdiag.lab.netns: client -> r1 -> r2 -> server; needs root and iproute2;
`apt-get install traceroute mtr-tiny` for the references).

    python benchmarks/bench_route.py

Goals (issue 15): the per-hop RTTs within 20 microseconds of traceroute's and mtr's for the
same kind of probe (ICMP echo, UDP, TCP SYN), and one round (every TTL at once) about one
round trip, not one per hop: netdiag's own round time is printed beside traceroute's whole
run (C, no interpreter to start) and netdiag's whole process.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import Table, bench_env, have, machine_note, netdiag_cmd

from netdiag.lab.netns import SERVER, RoutedPath

PROBES = 10  # traceroute's most queries per hop
RUNS = 5
LISTEN_PORT = 8080
LISTENER = f"""
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {LISTEN_PORT}))
s.listen(4096)
print("listening", flush=True)
time.sleep(600)
"""


def run(path: RoutedPath, argv: list[str]) -> tuple[str, float]:
    """stdout and wall time (ms) of ``argv`` run in the client namespace."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*path.exec_args("client"), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=bench_env(),
        stdin=subprocess.DEVNULL,
    )
    return proc.stdout, (time.perf_counter() - t0) * 1000


def netdiag_hops(path: RoutedPath, method: list[str]) -> list[list[float]]:
    """Every RTT of each hop (microseconds) over RUNS runs of PROBES rounds."""
    hops: list[list[float]] = [[], [], []]
    for _ in range(RUNS):
        out, _ = run(
            path,
            [
                *netdiag_cmd(),
                "route",
                "-n",
                SERVER,
                *method,
                "-c",
                str(PROBES),
                "-i",
                "0.02",
                "--json",
            ],
        )
        for i, hop in enumerate(json.loads(out)["hops"][:3]):
            hops[i] += [p["rtt_ms"] * 1000 for p in hop["probes"] if p["rtt_ms"] is not None]
    return hops


def traceroute_hops(path: RoutedPath, method: list[str]) -> list[list[float]] | None:
    if not have("traceroute"):
        return None
    hops: list[list[float]] = [[], [], []]
    for _ in range(RUNS):
        out, _ = run(path, ["traceroute", "-n", *method, "-q", str(PROBES), "-w", "1", SERVER])
        for line in out.splitlines()[1:4]:
            ttl = int(line.split()[0])
            hops[ttl - 1] += [float(t) * 1000 for t in re.findall(r"([0-9.]+) ms", line)]
    return hops


def mtr_hops(path: RoutedPath, method: list[str]) -> list[float] | None:
    """mtr's average per hop (its JSON has no single RTTs), over RUNS runs."""
    if not have("mtr"):
        return None
    sums: list[list[float]] = [[], [], []]
    for _ in range(RUNS):
        out, _ = run(
            path, ["mtr", "-n", "--json", *method, "-c", str(PROBES), "-i", "0.02", SERVER]
        )
        for i, hub in enumerate(json.loads(out)["report"]["hubs"][:3]):
            sums[i].append(hub["Avg"] * 1000)
    return [statistics.mean(s) for s in sums]


METHODS = {
    # name: (netdiag's options, traceroute's, mtr's)
    "icmp": ([], ["-I"], []),
    "udp": (["--method", "udp"], [], ["-u"]),
    "tcp": (["--method", "tcp", "-p", str(LISTEN_PORT)], ["-T", "-p", str(LISTEN_PORT)],
            ["-T", "-P", str(LISTEN_PORT)]),
}  # fmt: skip


def per_hop(path: RoutedPath) -> None:
    for name, (ours, trace, mtr) in METHODS.items():
        table = Table(f"per-hop RTT, {name} probes ({RUNS} runs x {PROBES} rounds)")
        mine = netdiag_hops(path, ours)
        theirs = traceroute_hops(path, trace)
        mtr_avg = mtr_hops(path, mtr)
        for i in range(3):
            table.add(
                f"hop {i + 1} median (vs traceroute {' '.join(trace) or '(udp)'})",
                statistics.median(mine[i]),
                statistics.median(theirs[i]) if theirs and theirs[i] else None,
                "us",
                "within 20 us",
                diff=True,
            )
            table.add(
                f"hop {i + 1} mean (vs mtr {' '.join(mtr) or '(icmp)'})",
                statistics.mean(mine[i]),
                mtr_avg[i] if mtr_avg else None,
                "us",
                "within 20 us",
                diff=True,
            )
        table.print()


def one_round(path: RoutedPath) -> None:
    table = Table("one round: every TTL (30 max) of one probe each, to hop 3")
    rounds, walls = [], []
    for _ in range(RUNS * 2):
        out, wall = run(path, [*netdiag_cmd(), "route", "-n", SERVER, "-c", "1", "--json"])
        rounds.append(json.loads(out)["round_ms"][0])
        walls.append(wall)
    trace = None
    if have("traceroute"):
        trace = statistics.median(
            run(path, ["traceroute", "-n", "-I", "-q", "1", "-N", "30", "-w", "1", SERVER])[1]
            for _ in range(RUNS * 2)
        )
    mtr = None
    if have("mtr"):
        mtr = statistics.median(
            run(path, ["mtr", "-n", "-r", "-c", "1", "-i", "0.1", SERVER])[1] for _ in range(3)
        )
    table.add("netdiag's round (in the process) vs traceroute -I -N 30", statistics.median(
        rounds), trace, "ms", "about one RTT")  # fmt: skip
    table.add("netdiag whole process vs traceroute -I -N 30", statistics.median(walls), trace,
              "ms", "(interpreter start-up)")  # fmt: skip
    table.add("netdiag whole process vs mtr -r -c 1", statistics.median(walls), mtr, "ms", "-")
    table.print()


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_route.py needs root (network namespaces)")
    print(f"netdiag route benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    for tool in ("traceroute", "mtr"):
        if not have(tool):
            print(f"{tool} is not installed (apt-get install traceroute mtr-tiny): n/a")
    with RoutedPath("bench") as path:
        listener = subprocess.Popen(
            [*path.exec_args("server"), sys.executable, "-c", LISTENER],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert listener.stdout is not None
            listener.stdout.readline()
            per_hop(path)
            one_round(path)
        finally:
            listener.kill()  # the listener this benchmark started, by its pid
            listener.wait(timeout=30)


if __name__ == "__main__":
    main()
