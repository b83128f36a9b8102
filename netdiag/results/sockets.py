"""Result types of ``netdiag sockets``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class TimeWait:
    count: int
    by_remote: tuple[Count, ...]
    by_local_port: tuple[Count, ...]


@dataclass(frozen=True, slots=True)
class Kernel:
    time_wait_seconds: int
    tcp_fin_timeout: int | None
    tcp_tw_reuse: int | None
    tcp_max_tw_buckets: int | None
    tw_buckets_used_pct: float | None
    ip_local_port_range: tuple[int, int] | None
    ephemeral_ports: int | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """How much of the ephemeral port range sockets towards one destination hold."""

    remote: str
    time_wait: int
    in_use: int
    """Sockets from an ephemeral local port to this destination, in any state."""
    range_used_pct: float


@dataclass(frozen=True, slots=True)
class Processes:
    attributed: int
    unattributed: int
    note: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketsReport(Envelope):
    source: str
    """Where the table came from: netlink (sock_diag), proc (/proc/net/tcp*) or psutil."""
    total: int
    states: dict[str, int]
    time_wait: TimeWait
    kernel: Kernel
    ephemeral: tuple[Ephemeral, ...]
    by: str
    breakdown: tuple[Count, ...]
    processes: Processes | None
