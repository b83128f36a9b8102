"""Start-up: every probe command, whole process, side by side with HTTPie's ``http --version``.

    python benchmarks/bench_startup.py [--runs N]

Goal (issue 12): every probe command (text and ``--json``) at most 0.6x HTTPie's
``http --version``, measured side by side on the same machine: a probe run against the lab on
loopback, query included, costs less than HTTPie takes to print its version. ``netdiag --help``
is printed too.

HTTPie is not a netdiag dependency; it is only the yardstick. Install it beside netdiag with
``pip install httpie`` (in a checkout: ``.venv/bin/pip install httpie``); without it the
figures are printed alone.

How it measures: the commands run in rounds (HTTPie, then every netdiag command, then again),
so that a busy machine slows both sides alike; each figure is the median of the rounds, after
warm-up rounds. The cache is warm: every child process reads and writes bytecode in one private
``PYTHONPYCACHEPREFIX`` for this run, as an installed package (pip compiles on install) would,
even where the environment sets ``PYTHONDONTWRITEBYTECODE`` or site-packages holds no
bytecode. CPU time (user + system, from ``wait4``) is printed beside the wall time: it moves
less than wall time when the machine is busy.

A last table gives the floors: processes that only import (the interpreter, typer and
netdiag's CLI, rich, dnspython, cryptography and pyOpenSSL) and run no netdiag code. A command
cannot start faster than the floor of the libraries its path needs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Table, bench_env, lab_process, machine_note, netdiag_cmd

GOAL = 0.6


def httpie() -> str | None:
    """HTTPie's ``http`` next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("http")
    if beside.exists():
        return str(beside)
    found = shutil.which("http")
    if found is None:
        return None
    out = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False, timeout=60
    )
    return found if out.returncode == 0 and out.stdout[:1].isdigit() else None


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall time and CPU time (user + system) in milliseconds, and the exit status."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = (time.perf_counter() - t0) * 1000
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, proc.returncode


def commands(lab: dict) -> dict[str, list[str]]:
    nd = netdiag_cmd()
    ep = lab["endpoints"]
    ca = lab["files"]["tls_ca_file"]
    server, port = ep["dns_example"].rsplit(":", 1)
    probes = {
        "tcp": ["tcp", ep["tcp_open"], "-c", "1"],
        "dns": ["dns", "host.example.test", "--server", server, "--port", port],
        "tls": ["tls", ep["tls_good"], "--sni", lab["tls_names"]["tls_good"], "--ca-file", ca],
        "http (http://)": ["http", lab["urls"]["http"] + "/"],
        "http (https://)": ["http", lab["urls"]["https"] + "/", "--ca-file", ca],
        "ping": ["ping", "127.0.0.1", "-c", "1"],
        "sockets": ["sockets"],
    }
    out = {"--version": [*nd, "--version"], "--help": [*nd, "--help"]}
    for name, args in probes.items():
        out[name] = [*nd, *args]
        out[f"{name} --json"] = [*nd, *args, "--json"]
    return out


_CLI = "import netdiag.cli"
_RICH = "import rich.console, rich.table"
_DNS = (
    "from netdiag.net.dnsfeatures import prepare; prepare(); "
    "import dns.message, dns.name, dns.rdatatype"
)
_TLS = (
    "import hashlib, ssl, cryptography.x509, cryptography.x509.verification, "
    "cryptography.hazmat.primitives.serialization, OpenSSL.SSL"
)
FLOORS = {
    "interpreter (python -c pass)": "pass",
    "CLI: interpreter + typer + netdiag.cli": _CLI,
    "CLI + rich (text output)": f"{_CLI}; {_RICH}",
    "CLI + dnspython (dns --json)": f"{_CLI}; {_DNS}",
    "CLI + rich + dnspython (dns)": f"{_CLI}; {_RICH}; {_DNS}",
    "CLI + cryptography, pyOpenSSL (tls --json)": f"{_CLI}; {_TLS}",
    "CLI + rich + cryptography, pyOpenSSL (tls)": f"{_CLI}; {_RICH}; {_TLS}",
}
"""Imports alone, no netdiag code run: the floor under each command (a probe command costs
at least the interpreter, typer, and the libraries its path needs)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="rounds not counted (default 3)")
    args = parser.parse_args()
    print(f"netdiag start-up benchmarks ({machine_note()}); netdiag = {' '.join(netdiag_cmd())}")
    ref_cmd = httpie()
    env = bench_env()
    with lab_process() as lab:
        cmds = commands(lab)
        floors = {k: [sys.executable, "-c", code] for k, code in FLOORS.items()}
        cmds = {**cmds, **floors}
        if ref_cmd is not None:
            cmds = {"HTTPie http --version": [ref_cmd, "--version"], **cmds}
        wall: dict[str, list[float]] = {k: [] for k in cmds}
        cpu: dict[str, list[float]] = {k: [] for k in cmds}
        status: dict[str, set[int]] = {k: set() for k in cmds}
        for i in range(args.warmup + args.runs):
            for name, argv in cmds.items():
                w, c, rc = run_once(argv, env)
                status[name].add(rc)
                if i >= args.warmup:
                    wall[name].append(w)
                    cpu[name].append(c)
    med = {k: statistics.median(v) for k, v in wall.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    ref = med.pop("HTTPie http --version", None)
    ref_cpu = cpu_med.pop("HTTPie http --version", None)
    title = f"whole process, medians of {args.runs} interleaved rounds, lab on loopback"
    for label, figures, reference in (("wall", med, ref), ("cpu", cpu_med, ref_cpu)):
        table = Table(f"{label} time: {title}")
        for name, ms in figures.items():
            if name in FLOORS:
                continue
            goal = f"<= {GOAL}x" if name not in ("--version", "--help") else "reference"
            note = "" if status[name] <= {0, 1} else f" (exit {sorted(status[name])})"
            table.add(f"netdiag {name}{note} (vs HTTPie --version)", ms, reference, "ms", goal)
        table.print()
    floor = Table(f"floors, cpu time: imports alone, no netdiag code run ({title})")
    for name in FLOORS:
        floor.add(name, cpu_med[name], ref_cpu, "ms", "floor")
    floor.print()
    if ref is None:
        print(
            "\nHTTPie is not installed, so no ratios: it is only the yardstick, not a netdiag "
            "dependency. Install it with `pip install httpie` (in a checkout: "
            "`.venv/bin/pip install httpie`) and run this again."
        )
        return
    probes = [k for k in med if k not in ("--version", "--help") and k not in FLOORS]
    over = [k for k in probes if med[k] > GOAL * ref]
    print(
        f"\nHTTPie http --version: {ref:.1f} ms wall, {ref_cpu:.1f} ms cpu; goal: every probe "
        f"command <= {GOAL}x ({GOAL * ref:.1f} ms wall)."
    )
    print("over the goal (wall): " + (", ".join(over) if over else "none"))


if __name__ == "__main__":
    main()
