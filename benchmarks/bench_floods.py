"""Peak memory and wall time of netdiag against the lab's flooding servers (issue 10).

    python benchmarks/bench_floods.py

A peer that never stops sending must not grow netdiag's memory with it, nor outrun
``--timeout``. Each case runs netdiag as its own process against a lab server (itself in a
process of its own) and reads the process's peak resident set size (VmHWM); where the
reference tool is installed (dig, curl) it runs on the same flood with the same time bound.
Goals: peak RSS under 60 MB, wall time within the timeout plus 1.5 s.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd

TIMEOUT = 2.0
RSS_GOAL_MB = 60.0


def _hwm_mb(pid: int) -> float | None:
    """The process's peak resident set size so far (VmHWM), in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak(argv: Sequence[str], limit_s: float = 60) -> tuple[float, float, int]:
    """(peak RSS in MB, wall time in s, exit status) of running ``argv`` to completion.

    The peak is read from /proc (VmHWM, the high-water mark of the process's own memory,
    which only grows) until the process ends. ``wait4``'s ru_maxrss would be wrong here: a
    child forked from this Python inherits its high-water mark across exec, so every small
    tool would seem to use as much memory as the benchmark itself."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    best = 0.0
    try:
        while proc.poll() is None:
            hwm = _hwm_mb(proc.pid)
            if hwm is not None:
                best = max(best, hwm)
            if time.perf_counter() - t0 > limit_s:
                proc.kill()  # only the process this benchmark started
                break
            time.sleep(0.005)
    finally:
        proc.wait()
    return best, time.perf_counter() - t0, proc.returncode


def main() -> None:
    print(f"netdiag under floods ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    nd = netdiag_cmd()
    t = f"{TIMEOUT:g}"
    with lab_process() as lab:
        ep, urls = lab["endpoints"], lab["urls"]
        ca = lab["files"]["tls_ca_file"]
        cases: list[tuple[str, list[str], list[str] | None]] = []
        if "dns_flood_wrong_id" in ep:
            host, port = ep["dns_flood_wrong_id"].rsplit(":", 1)
            cases.append(
                (
                    "dns: wrong-ID UDP flood",
                    [*nd, "dns", "www.flood.test", "-s", host, "-p", port, "--timeout", t],
                    ["dig", f"@{host}", "-p", port, "www.flood.test", "+tries=1", f"+time={t}"]
                    if have("dig")
                    else None,
                )
            )
        http = urls["http"]
        curl = ["curl", "-s", "-o", "/dev/null", "--max-time", t]
        # 1xx responses count against --max-header-bytes, which ends the 100 Continue flood
        # in milliseconds by default; at its largest (16 MiB) the deadline has to end it.
        for name, path, extra in (
            (
                "http: 100 Continue forever, 16 MiB header bound",
                "/hostile/continue-flood",
                ["--max-header-bytes", str(16 << 20)],
            ),
            ("http: 1-byte chunks forever", "/hostile/chunk-flood", []),
        ):
            cases.append(
                (
                    name,
                    [*nd, "http", http + path, "--timeout", t, *extra],
                    [*curl, http + path] if have("curl") else None,
                )
            )
        for name, key in (
            ("h2: SETTINGS forever", "h2_settings_flood"),
            ("h2: PING forever", "h2_ping_flood"),
            ("h2: WINDOW_UPDATE forever", "h2_window_flood"),
        ):
            if key in urls:
                url = urls[key] + "/"
                cases.append(
                    (
                        name,
                        [*nd, "http", "--http2", url, "--ca-file", ca, "--timeout", t],
                        [*curl, "--http2", "--cacert", ca, url] if have("curl") else None,
                    )
                )
        rss = Table(f"peak RSS under a flood, --timeout {t} (goal: under {RSS_GOAL_MB:g} MB)")
        wall = Table(f"wall time under a flood (goal: within {TIMEOUT + 1.5:g} s)")
        worst = 0.0
        for name, ours, ref in cases:
            mb, secs, code = peak(ours)
            worst = max(worst, mb)
            ref_mb = ref_s = None
            if ref is not None:
                ref_mb, ref_s, _ = peak(ref)
            rss.add(f"{name} (exit {code})", mb, ref_mb, "MB", f"< {RSS_GOAL_MB:g} MB")
            wall.add(name, secs, ref_s, "s", f"<= {TIMEOUT + 1.5:g} s", diff=True)
        rss.print()
        wall.print()
        if not have("dig") or not have("curl"):
            print("dig or curl is missing (apt-get install dnsutils curl): no reference for some")
        print(f"worst peak RSS: {worst:.1f} MB ({'ok' if worst < RSS_GOAL_MB else 'OVER GOAL'})")


if __name__ == "__main__":
    main()
