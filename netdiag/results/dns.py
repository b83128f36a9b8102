"""Result types of ``netdiag dns``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope, ProbeError


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record, as text: ``data`` is the RDATA in zone-file form."""

    name: str
    type: str
    ttl: int
    data: str


@dataclass(frozen=True, slots=True)
class DnsQueryResult:
    name: str
    type: str
    server: str
    transport: str
    truncated: bool
    """The UDP answer was truncated (TC) and the query was repeated over TCP."""
    ok: bool
    error: ProbeError | None
    rcode: str | None
    flags: tuple[str, ...]
    query_ms: float | None
    size: int | None
    """The response's size in bytes."""
    attempts: int
    answer: tuple[Record, ...]
    authority: tuple[Record, ...]
    additional: tuple[Record, ...]
    rejected: tuple[str, ...]
    """Responses that were received but not trusted (garbage, wrong ID, wrong question): the
    first ten, with the reason."""
    rejected_count: int
    """How many responses were rejected in all (a flooding server may send thousands)."""
    referral: str | None
    """The zone the server referred to, when it answered with a referral instead of an
    answer (error kind ``referral``)."""
    cname_leaves_at: str | None
    """Where the answer's CNAME chain leaves the server's data (an answer, not NODATA: ask a
    recursive server, or ``--trace``, for the rest)."""
    note: str | None
    """What a person should know about a healthy answer (why it stops at a CNAME)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsLookupReport(Envelope):
    mode: str
    name: str
    types: tuple[str, ...]
    results: tuple[DnsQueryResult, ...]


@dataclass(frozen=True, slots=True)
class TraceServer:
    name: str
    address: str
    glue: bool
    source: str
    rtt_ms: float | None
    rcode: str | None
    outcome: str
    """What the server's response means: ``referral``, ``answer``, ``nxdomain``,
    ``nodata`` (usable); ``lame`` (it answered without authority for the zone: REFUSED,
    SERVFAIL, an upward or sideways referral, a negative answer with the zone's SOA but
    without AA);
    ``not_authoritative`` (a negative answer without the AA flag and without an SOA: not
    from a name server at all, as a DNS-intercepting middlebox sends); no valid response:
    ``timeout``, ``unreachable`` (ICMP unreachable), ``refused`` (a TCP reset),
    ``bad_response`` (every response rejected); ``error`` (another rcode)."""
    detail: str | None
    transport: str
    truncated: bool


@dataclass(frozen=True, slots=True)
class GluelessLookup:
    """A name server the parent named without glue, resolved from the root."""

    nameserver: str
    addresses: tuple[str, ...]
    trace: Trace


@dataclass(frozen=True, slots=True)
class Hop:
    """One zone cut: the zone, its name servers, and what each server asked said."""

    zone: str
    nameservers: tuple[str, ...]
    servers: tuple[TraceServer, ...]
    glueless: tuple[GluelessLookup, ...]
    outcome: str
    """The best server outcome (answer, nxdomain, nodata, referral); ``failed`` when no server
    gave a usable one; ``stopped`` when a trace bound (time or queries) ended the trace here."""
    referral: str | None
    disagreement: str | None


@dataclass(frozen=True, slots=True)
class Trace:
    name: str
    type: str
    outcome: str
    """answer, cname (the answer is a CNAME into another zone), nxdomain, nodata, failed."""
    error: ProbeError | None
    hops: tuple[Hop, ...]
    answer: tuple[Record, ...]
    cname: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsTraceReport(Envelope):
    mode: str
    name: str
    type: str
    port: int
    roots: tuple[str, ...]
    hops: tuple[Hop, ...]
    answer: tuple[Record, ...]
    cname_traces: tuple[Trace, ...]
    """New traces for CNAME targets outside the zone that answered, in order."""
    queries: int
