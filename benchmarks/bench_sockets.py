"""Benchmarks for `netdiag sockets` with about 30,000 TIME_WAIT sockets on loopback.

    python benchmarks/bench_sockets.py

Goals (issue 7): whole-process `netdiag sockets --json` at most 3x
`ss -tan state time-wait | wc -l`, and faster than `psutil.net_connections()`. The TIME_WAIT
sockets are made here (bounded: 30,000 connections to the lab in its own process) and the
kernel drops them 60 s later.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd, time_process

TARGET = 30_000


def make_time_wait(endpoints: list[str], n: int) -> int:
    made = 0
    deadline = time.monotonic() + 120
    per = n // len(endpoints) + 1
    for ep in endpoints:
        host, port = ep.rsplit(":", 1)
        for _ in range(per):
            if made >= n or time.monotonic() > deadline:
                return made
            try:
                with socket.create_connection((host, int(port)), timeout=2):
                    pass
            except OSError:
                continue
            made += 1
    return made


def main() -> None:
    print(f"netdiag sockets benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    with lab_process("--extra-tcp", "3") as lab:
        made = make_time_wait(lab["extra_tcp"], TARGET)
    time.sleep(1)
    from netdiag.net.sockdiag import TIME_WAIT, read_netlink

    tw = sum(1 for s in read_netlink() if s.state == TIME_WAIT)
    print(f"made {made} connections; {tw} sockets in TIME_WAIT now")
    table = Table(f"sockets: whole process, {tw} TIME_WAIT sockets")
    ours = time_process([*netdiag_cmd(), "sockets", "--json"], runs=10)
    if have("ss"):
        ss = time_process(["sh", "-c", "ss -tan state time-wait | wc -l"], runs=10)
        table.add("netdiag sockets --json (vs ss | wc -l)", ours, ss, "ms", "<= 3x")
    psutil_proc = time_process(
        [sys.executable, "-c", "import psutil; psutil.net_connections(kind='tcp')"], runs=10
    )
    table.add("netdiag sockets --json (vs psutil process)", ours, psutil_proc, "ms", "< 1x")
    table.add(
        "python -c pass (for scale)", time_process([sys.executable, "-c", "pass"]), None, "ms", ""
    )
    table.print()
    inproc = Table("in-process: one snapshot")
    import psutil

    from netdiag.probes.sockets import SocketsOptions, snapshot

    t0 = time.perf_counter()
    snapshot(SocketsOptions())
    t1 = time.perf_counter()
    psutil.net_connections(kind="tcp")
    t2 = time.perf_counter()
    inproc.add(
        "netdiag snapshot (vs psutil.net_connections)",
        (t1 - t0) * 1000,
        (t2 - t1) * 1000,
        "ms",
        "< 1x",
    )
    inproc.print()


if __name__ == "__main__":
    main()
