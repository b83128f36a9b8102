"""Result types of ``netdiag ping``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope, ProbeError
from netdiag.stats import Stats


@dataclass(frozen=True, slots=True)
class PingProbe:
    seq: int
    time: str
    status: str
    """reply, timeout, or error (an ICMP error or a send failure)."""
    rtt_ms: float | None
    ttl: int | None
    bytes: int | None
    source: str | None
    error: ProbeError | None
    duplicates: int


@dataclass(frozen=True, slots=True)
class PingStats(Stats):
    """tcp's statistics (``sent``, ``received``, ``loss_pct``, min/avg/max/mdev, p50, p95),
    and what only ICMP echo has."""

    duplicates: int
    """Replies beyond the first to one request (ping's ``DUP!``): not counted in ``received``."""
    errors: int
    """Requests answered by an ICMP error (unreachable, time exceeded) or that failed to go out."""
    p99_ms: float | None
    jitter_ms: float | None
    """Mean absolute difference between consecutive RTTs."""


@dataclass(frozen=True, slots=True)
class PingHostResult:
    target: str
    address: str | None
    ok: bool
    error: ProbeError | None
    dns_ms: float | None
    socket: str | None
    """How the echo went out: ``dgram`` (unprivileged ICMP socket) or ``raw``."""
    probes: tuple[PingProbe, ...]
    stats: PingStats


@dataclass(frozen=True, slots=True, kw_only=True)
class PingReport(Envelope):
    count: int
    interval_s: float
    timeout_s: float
    size: int
    gap_ms: float
    foreign_replies: int
    """Echo replies that reached a raw socket but belong to someone else's ping."""
    results: tuple[PingHostResult, ...]
