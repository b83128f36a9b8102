"""Result types of ``netdiag route``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope, ProbeError

PROBE_STATUSES = ("hop", "destination", "unreachable", "timeout", "error")
"""What became of one probe: ``hop`` (a router said time exceeded), ``destination`` (the
destination answered: echo reply, port unreachable, SYN-ACK or RST), ``unreachable`` (an
ICMP destination unreachable that ends the path), ``timeout`` (no answer within --timeout),
``error`` (it could not be sent)."""


@dataclass(frozen=True, slots=True)
class RouteProbe:
    """One probe: one TTL of one round."""

    round: int
    """1 for the first round."""
    ttl: int
    status: str
    """One of :data:`PROBE_STATUSES`."""
    address: str | None
    """Who answered."""
    rtt_ms: float | None
    reply: str | None
    """What the answer was: ``time exceeded``, ``echo reply``, ``port unreachable``,
    ``syn-ack``, ``rst``, or the unreachable's name (``host unreachable``...)."""
    icmp_type: int | None
    icmp_code: int | None


@dataclass(frozen=True, slots=True)
class HopAddress:
    address: str
    name: str | None
    """Its reverse name (PTR), None with -n or when there is none (looked up with a
    deadline)."""
    replies: int
    """How many probes of this hop it answered."""


@dataclass(frozen=True, slots=True)
class HopStats:
    """mtr's columns for one hop over every round."""

    sent: int
    received: int
    loss_pct: float | None
    last_ms: float | None
    """The RTT of the last answered probe."""
    avg_ms: float | None
    best_ms: float | None
    worst_ms: float | None
    stdev_ms: float | None
    """Sample standard deviation (n - 1), as mtr; 0 with one sample."""


@dataclass(frozen=True, slots=True)
class RouteHop:
    ttl: int
    addresses: tuple[HopAddress, ...]
    """Every address that answered at this TTL, the most frequent first (several when a
    load balancer spreads the probes over parallel paths)."""
    destination: bool
    """This hop is the destination (its answer ends the path)."""
    unreachable: str | None
    """The ICMP destination unreachable this hop answered with, named (``host
    unreachable``...), when it ends the path there."""
    stats: HopStats
    probes: tuple[RouteProbe, ...]


@dataclass(frozen=True, slots=True)
class MtuStep:
    """Where the path MTU shrinks."""

    hop: int | None
    """The hop whose next link is smaller: it answered "fragmentation needed" / "packet too
    big" (0: this host's own route; None when its address answered no probe of the
    trace)."""
    address: str | None
    mtu_before: int
    mtu: int
    """The MTU beyond this hop (the ICMP error's next-hop MTU)."""


@dataclass(frozen=True, slots=True)
class PathMtu:
    """``--pmtu``: the largest packet (IP header included) that crosses the path with DF
    set, found as tracepath finds it (UDP, IP_MTU_DISCOVER=IP_PMTUDISC_PROBE)."""

    method: str
    """Always ``udp`` (a UDP datagram socket with IP_RECVERR, as tracepath)."""
    first_mtu: int
    """Where the search started: the MTU of the interface the route leaves by."""
    mtu: int | None
    """The path MTU: the largest packet that passed to the last hop that answered."""
    reached: bool
    """The destination itself answered a packet of ``mtu`` bytes."""
    last_hop: int | None
    """The last hop that answered a packet of ``mtu`` bytes."""
    steps: tuple[MtuStep, ...]
    kernel_mtu: int | None
    """The kernel's path MTU for the destination afterwards (IP_MTU of a connected socket)."""
    probes: int
    """How many probes the search sent."""
    error: ProbeError | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteReport(Envelope):
    target: str
    address: str | None
    version: int | None
    method: str
    """``icmp``, ``udp`` or ``tcp``."""
    port: int | None
    """tcp: the destination port; udp: the first destination port (one more per probe)."""
    socket: str | None
    """The socket the probes went out on: ``icmp-dgram`` (unprivileged ICMP with
    IP_RECVERR), ``icmp-raw``, ``udp-dgram`` (unprivileged, IP_RECVERR), ``tcp-connect``
    (an unprivileged non-blocking connect per probe, IP_TTL and IP_RECVERR)."""
    dns_ms: float | None
    count: int
    interval_s: float
    timeout_s: float
    max_hops: int
    reached: bool
    """The destination answered."""
    destination_hop: int | None
    """The TTL at which the destination (or an unreachable that ends the path) answered."""
    hops: tuple[RouteHop, ...]
    """TTL 1 up to the destination (or, when it was not reached, up to --max-hops)."""
    round_ms: tuple[float, ...]
    """Each round's duration: from its first probe sent until every probe up to the
    destination was answered or timed out."""
    pmtu: PathMtu | None
