"""Benchmarks for `netdiag tls`, on the lab's good TLS server (in its own process).

    python benchmarks/bench_tls.py

Goal (issue 4): whole-process `netdiag tls` at most 5x a bare interpreter start; printed
beside `openssl s_client` on the same server (which only shakes hands and prints).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, have, lab_process, machine_note, netdiag_cmd, time_process


def main() -> None:
    print(f"netdiag tls benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    table = Table("tls: whole process, lab server on loopback")
    bare = time_process([sys.executable, "-c", "pass"])
    with lab_process() as lab:
        endpoint = lab["endpoints"]["tls_good"]
        sni = lab["tls_names"]["tls_good"]
        ca = lab["files"]["tls_ca_file"]
        ours = time_process([*netdiag_cmd(), "tls", endpoint, "--sni", sni, "--ca-file", ca])
        table.add("netdiag tls (vs python -c pass)", ours, bare, "ms", "<= 5x")
        if have("openssl"):
            ref = time_process(
                [
                    "sh",
                    "-c",
                    f"openssl s_client -connect {endpoint} -servername {sni} "
                    f"-CAfile {ca} -verify_return_error </dev/null",
                ]
            )
            table.add("netdiag tls (vs openssl s_client)", ours, ref, "ms", "reference")
    table.print()


if __name__ == "__main__":
    main()
