"""The ``sockets`` probe: count local TCP sockets by state, TIME_WAIT first, and put the
numbers in the running kernel's context.

TIME_WAIT is the state of the side that closed first (it sent the first FIN): it waits 2MSL
so that late segments of the old connection die out and its last ACK can be repeated. Linux
keeps it for a fixed 60 s (``TCP_TIMEWAIT_LEN``); ``tcp_fin_timeout`` is a different timer,
for orphaned FIN_WAIT_2 sockets. Each TIME_WAIT socket keeps its 4-tuple busy, so a client
that opens many short connections to one destination can run out of ephemeral ports.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net.sockdiag import STATES, TIME_WAIT, Sock, address, read_table
from netdiag.results import ProbeError
from netdiag.results.sockets import Count, Ephemeral, Kernel, Processes, SocketsReport, TimeWait
from netdiag.targets import format_hostport

TIME_WAIT_SECONDS = 60
"""Linux's TCP_TIMEWAIT_LEN (include/net/tcp.h): fixed, not a sysctl."""
BY_CHOICES = ("state", "local-port", "remote", "process")


@dataclass(frozen=True, slots=True)
class SocketsOptions:
    states: tuple[int, ...] = ()
    port: int | None = None
    by: str = "remote"
    top: int = 10
    processes: bool = False
    max_time_wait: int | None = None


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys/net/ipv4", name).read_text().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def kernel_context(time_wait: int) -> Kernel:
    fin = _int(_sysctl("tcp_fin_timeout"))
    reuse = _int(_sysctl("tcp_tw_reuse"))
    buckets = _int(_sysctl("tcp_max_tw_buckets"))
    port_range = None
    raw = _sysctl("ip_local_port_range")
    if raw:
        lo, hi = (int(x) for x in raw.split()[:2])
        port_range = (lo, hi)
    notes = [
        f"TIME_WAIT lasts {TIME_WAIT_SECONDS} s on Linux, fixed in the kernel "
        "(TCP_TIMEWAIT_LEN, 2MSL); tcp_fin_timeout"
        + (f" ({fin} s)" if fin is not None else "")
        + " governs orphaned FIN_WAIT_2 sockets instead",
    ]
    if reuse is not None:
        notes.append(
            {
                0: "tcp_tw_reuse=0: new outgoing connections never reuse a TIME_WAIT 4-tuple",
                1: "tcp_tw_reuse=1: outgoing connections may reuse TIME_WAIT 4-tuples when TCP "
                "timestamps make it safe",
                2: "tcp_tw_reuse=2: reuse only for loopback connections (the kernel default)",
            }.get(reuse, f"tcp_tw_reuse={reuse}")
        )
    if buckets:
        notes.append(
            f"beyond tcp_max_tw_buckets ({buckets}) the kernel destroys TIME_WAIT "
            "sockets at once and logs 'time wait bucket table overflow'"
        )
    if not sys.platform.startswith("linux"):
        notes = ["kernel settings are read on Linux only"]
    return Kernel(
        time_wait_seconds=TIME_WAIT_SECONDS,
        tcp_fin_timeout=fin,
        tcp_tw_reuse=reuse,
        tcp_max_tw_buckets=buckets,
        tw_buckets_used_pct=100.0 * time_wait / buckets if buckets else None,
        ip_local_port_range=port_range,
        ephemeral_ports=port_range[1] - port_range[0] + 1 if port_range else None,
        notes=tuple(notes),
    )


Remote = tuple[int, bytes, int]
"""A remote endpoint as the kernel gives it: (family, raw address, port)."""
Owner = tuple[str, int, str | None, int | None]
"""A socket as psutil names it: (local address, local port, remote address, remote port)."""
K = TypeVar("K")


def _top(counter: Counter[K], n: int, show: Callable[[K], str] = str) -> tuple[Count, ...]:
    """The ``n`` largest counts; keys are turned into text only for the rows shown."""
    return tuple(Count(show(k), c) for k, c in counter.most_common(n))


def _remote_key(s: Sock) -> Remote:
    return (s.family, s.remote, s.rport)


def _show_remote(key: Remote) -> str:
    family, raw, port = key
    return format_hostport(address(family, raw), port)


def _unmap(text: str) -> str:
    return text[7:] if text.startswith("::ffff:") and "." in text else text


def _process_counts(socks: Sequence[Sock]) -> tuple[Counter[str], Processes]:
    """Owning processes (psutil walks every process's file descriptors: only when asked)."""
    import psutil

    owners: dict[Owner, int | None] = {}
    for c in psutil.net_connections(kind="tcp"):
        if c.laddr:
            key = (
                _unmap(c.laddr.ip),
                c.laddr.port,
                _unmap(c.raddr.ip) if c.raddr else None,
                c.raddr.port if c.raddr else None,
            )
            owners[key] = c.pid
    names: dict[int, str] = {}
    counts: Counter[str] = Counter()
    attributed = unattributed = unowned = 0
    for s in socks:
        if s.state == TIME_WAIT:
            unowned += 1  # closed by its process: the kernel alone holds it now
            counts["(no process: TIME_WAIT)"] += 1
            continue
        local = address(s.family, s.local)
        key = (local, s.lport, address(s.family, s.remote) if s.rport else None, s.rport or None)
        pid = owners.get(key)
        if pid is None and s.rport == 0:
            pid = owners.get((local, s.lport, None, None))
        if pid is None:
            unattributed += 1
            counts["(unknown)"] += 1
            continue
        if pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except (psutil.Error, OSError):
                names[pid] = "?"
        attributed += 1
        counts[f"{names[pid]} ({pid})"] += 1
    note = None
    if unattributed:
        note = f"{unattributed} sockets could not be attributed to a process" + (
            "" if _is_root() else ": run as root to see other users' processes"
        )
    if unowned:
        extra = f"{unowned} TIME_WAIT sockets belong to no process (the kernel keeps them)"
        note = f"{note}; {extra}" if note else extra
    return counts, Processes(attributed, unattributed, note)


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def snapshot(opts: SocketsOptions) -> SocketsReport:
    start = now_ns()
    taken_at = utc_now_iso()
    socks, source = read_table()
    if opts.states:
        wanted = set(opts.states)
        socks = [s for s in socks if s.state in wanted]
    if opts.port is not None:
        socks = [s for s in socks if opts.port in (s.lport, s.rport)]
    by_state = Counter(s.state for s in socks)
    order = [TIME_WAIT, *sorted(k for k in by_state if k != TIME_WAIT)]
    states = {STATES.get(k, str(k)): by_state.get(k, 0) for k in order}
    tw = [s for s in socks if s.state == TIME_WAIT]
    time_wait = TimeWait(
        count=len(tw),
        by_remote=_top(Counter(_remote_key(s) for s in tw), opts.top, _show_remote),
        by_local_port=_top(Counter(s.lport for s in tw), opts.top),
    )
    kernel = kernel_context(len(tw))
    ephemeral: tuple[Ephemeral, ...] = ()
    if kernel.ip_local_port_range and kernel.ephemeral_ports:
        lo, hi = kernel.ip_local_port_range
        client = [s for s in socks if lo <= s.lport <= hi and s.rport]
        in_use = Counter(_remote_key(s) for s in client)
        tw_by = Counter(_remote_key(s) for s in client if s.state == TIME_WAIT)
        ephemeral = tuple(
            Ephemeral(_show_remote(r), tw_by.get(r, 0), n, 100.0 * n / kernel.ephemeral_ports)
            for r, n in in_use.most_common(opts.top)
        )
    processes = None
    owners: Counter[str] = Counter()
    if opts.processes or opts.by == "process":
        owners, processes = _process_counts(socks)
    if opts.by == "state":
        breakdown = tuple(Count(k, v) for k, v in states.items() if v)
    elif opts.by == "local-port":
        breakdown = _top(Counter(s.lport for s in socks), opts.top)
    elif opts.by == "process":
        breakdown = _top(owners, opts.top)
    else:
        breakdown = _top(Counter(_remote_key(s) for s in socks if s.rport), opts.top, _show_remote)
    error = None
    if opts.max_time_wait is not None and len(tw) > opts.max_time_wait:
        error = ProbeError(
            ErrorKind.THRESHOLD,
            f"{len(tw)} TIME_WAIT sockets exceed --max-time-wait {opts.max_time_wait}",
        )
    return SocketsReport(
        command="sockets",
        ok=error is None,
        error=error,
        interrupted=False,
        started_at=taken_at,
        source=source,
        total=len(socks),
        states=states,
        time_wait=time_wait,
        kernel=kernel,
        ephemeral=ephemeral,
        by=opts.by,
        breakdown=breakdown,
        processes=processes,
        duration_ms=elapsed_ms(start),
    )
