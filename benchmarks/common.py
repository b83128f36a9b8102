"""Helpers for the benchmarks: timing whole processes, the lab in its own process, and a
side-by-side table with ratios. Benchmarks talk only to loopback."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_PYCACHE = tempfile.mkdtemp(prefix="netdiag-bench-pycache-")
atexit.register(shutil.rmtree, _PYCACHE, True)


def bench_env() -> dict[str, str]:
    """The environment of every timed process: a bytecode cache private to this run
    (``PYTHONPYCACHEPREFIX``), filled by the warm-up runs, as an installed package (pip compiles
    on install) would have, even where ``PYTHONDONTWRITEBYTECODE`` is set or site-packages holds
    no bytecode: else every run would compile rich, typer and cryptography again."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=_PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_netdiag() -> None:
    """Write netdiag's .pyc files, as installing a wheel does, so that an editable install
    (or PYTHONDONTWRITEBYTECODE) does not make every run compile the sources again."""
    import compileall

    import netdiag

    compileall.compile_dir(str(Path(netdiag.__file__).parent), quiet=1)


compile_netdiag()


def netdiag_cmd() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m netdiag``."""
    script = Path(sys.executable).with_name("netdiag")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "netdiag"]


def time_process(argv: Sequence[str], runs: int = 20, warmup: int = 2) -> float:
    """Median wall time of running ``argv`` to completion, in milliseconds."""
    samples = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        subprocess.run(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=60,
            env=bench_env(),
        )
        if i >= warmup:
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


@contextmanager
def lab_process(*extra: str, duration: float = 300) -> Iterator[dict[str, Any]]:
    """``netdiag lab --json`` in a process of its own (so servers do not share our GIL);
    yields its JSON document and stops it (by its pid) afterwards."""
    proc = subprocess.Popen(
        [*netdiag_cmd(), "lab", "--json", "--duration", str(duration), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"lab did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            lines.append(line)
            if line.startswith("}"):
                break
        yield json.loads("".join(lines))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


class Table:
    """Rows of (what, netdiag, reference, goal) printed with a ratio column."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(
        self,
        what: str,
        ours: float,
        ref: float | None,
        unit: str,
        goal: str,
        ratio: bool = True,
        diff: bool = False,
    ) -> None:
        if ref is None:
            rel = "n/a"
        elif diff:
            rel = f"{ours - ref:+.1f} {unit}"
        elif ratio and ref:
            rel = f"{ours / ref:.2f}x"
        else:
            rel = ""
        self.rows.append(
            (what, f"{ours:.3f} {unit}", "-" if ref is None else f"{ref:.3f} {unit}", rel, goal)
        )

    def print(self) -> None:
        head = ("measure", "netdiag", "reference", "netdiag vs ref", "goal")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(5)]
        print(f"\n{self.title}")
        for row in [head, *self.rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        sys.stdout.flush()


def machine_note() -> str:
    return f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {sys.platform}"
