"""Result types of ``netdiag tcp``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope, ProbeError
from netdiag.stats import Stats


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """The kernel's view of a connection (Linux ``TCP_INFO``), read right after the handshake.

    ``rtt_ms`` is the smoothed RTT (SRTT) and ``rttvar_ms`` its variance estimate, both seeded
    by the SYN -> SYN/ACK exchange; ``rto_ms`` the retransmission timeout derived from them;
    ``snd_mss`` the largest segment this side will send (from the peer's MSS option, less
    TCP options), ``advmss`` the MSS this side announced in its own SYN.
    """

    rtt_ms: float
    rttvar_ms: float
    rto_ms: float
    snd_mss: int
    advmss: int
    pmtu: int
    snd_cwnd: int


@dataclass(frozen=True, slots=True)
class TcpProbe:
    """One connect attempt."""

    seq: int
    address: str
    port: int
    ok: bool
    connect_ms: float | None
    error: ProbeError | None
    local_port: int | None
    tcp_info: TcpInfo | None
    time: str


@dataclass(frozen=True, slots=True)
class AddressStats:
    address: str
    stats: Stats


@dataclass(frozen=True, slots=True)
class TcpTargetResult:
    target: str
    host: str
    port: int
    ok: bool
    error: ProbeError | None
    dns_ms: float | None
    """Time to resolve the name; None for an IP literal (no lookup)."""
    addresses: tuple[str, ...]
    """Every address the name resolved to (in resolver order)."""
    probes: tuple[TcpProbe, ...]
    stats: Stats
    per_address: tuple[AddressStats, ...]
    """Statistics for each probed address: one entry, or one per address with ``--all``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpReport(Envelope):
    count: int
    interval_s: float
    timeout_s: float
    close: str
    """How connections were closed: ``fin`` (client keeps TIME_WAIT) or ``rst``."""
    results: tuple[TcpTargetResult, ...]
