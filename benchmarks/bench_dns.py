"""Benchmarks for `netdiag dns`, on the lab's private hierarchy (in its own process).

    python benchmarks/bench_dns.py

Goals (issue 3): a lookup, whole process, at most 3.5x a bare interpreter start; a full trace
at most 4.5x; and the number of queries a trace sends, against the minimum the hierarchy needs
(one per zone cut, including nested glueless and CNAME traces). dig's lookup time is printed
beside netdiag's where dig is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd, time_process


def minimum_queries(trace: dict) -> int:
    """One query per zone cut, counting nested glueless traces."""
    total = 0
    for hop in trace["hops"]:
        total += 1
        for g in hop["glueless"]:
            total += minimum_queries(g["trace"])
    return total


def main() -> None:
    print(f"netdiag dns benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    table = Table("dns: whole process, lab hierarchy on loopback")
    bare = time_process([sys.executable, "-c", "pass"])
    with lab_process() as lab:
        root, port = lab["endpoints"]["dns_root"].rsplit(":", 1)
        example = lab["endpoints"]["dns_example"].rsplit(":", 1)[0]
        lookup = [*netdiag_cmd(), "dns", "host.example.test", "--server", example, "--port", port]
        ours = time_process(lookup)
        table.add("netdiag dns lookup (vs python -c pass)", ours, bare, "ms", "<= 3.5x")
        if have("dig"):
            dig = time_process(["dig", f"@{example}", "-p", port, "host.example.test", "A"])
            table.add("netdiag dns lookup (vs dig)", ours, dig, "ms", "reference")
        tracecmd = [
            *netdiag_cmd(),
            "dns",
            "host.example.test",
            "--trace",
            "--root",
            root,
            "--port",
            port,
        ]
        table.add(
            "netdiag dns --trace (vs python -c pass)", time_process(tracecmd), bare, "ms", "<= 4.5x"
        )
        table.print()
        print("\nqueries a trace sends against the minimum the hierarchy needs")
        for name in (
            "host.example.test",
            "www.example.test",
            "chain.example.test",
            "www.glueless.test",
        ):
            out = subprocess.run(
                [*netdiag_cmd(), "dns", name, "--trace", "--root", root, "--port", port, "--json"],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            doc = json.loads(out.stdout)
            need = minimum_queries(doc) + sum(minimum_queries(t) for t in doc["cname_traces"])
            print(
                f"  {name:<22} {doc['queries']:>3} queries, minimum {need:>3} "
                f"({doc['queries'] / need:.2f}x; every server of a zone is asked, up to 3)"
            )


if __name__ == "__main__":
    main()
