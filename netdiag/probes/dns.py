"""The ``dns`` lookup probe: queries as a stub resolver sends them, answers as they came.

One query per (server, type); each result carries the header (rcode, flags), the three
sections with TTLs, the server and transport, the query time and the message size. The
verdict follows CNAMEs inside the answer: a lookup is good when the rcode is NOERROR and a
record of the requested type is reached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.concurrency import run_all
from netdiag.dnsquery import (
    Record,
    exchange,
    flag_names,
    make_query,
    rcode_text,
    section_records,
)
from netdiag.result import Envelope, ProbeError, summarize_errors
from netdiag.targets import format_hostport

MAX_CNAME_CHAIN = 16


@dataclass(frozen=True, slots=True)
class Server:
    """A name server to ask: its address, port, and how the user named it."""

    address: str
    port: int
    label: str


@dataclass(frozen=True, slots=True)
class DnsOptions:
    tcp: bool = False
    timeout: float = 2.0
    retries: int = 1
    recursion_desired: bool = True


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


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsLookupReport(Envelope):
    mode: str
    name: str
    types: tuple[str, ...]
    results: tuple[DnsQueryResult, ...]


def verdict(response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> ProbeError | None:
    """None when the response answers the question (following CNAMEs in the answer)."""
    rcode = response.rcode()
    tname = dns.rdatatype.to_text(rdtype)
    if rcode == dns.rcode.NXDOMAIN:
        return ProbeError("nxdomain", f"{qname} does not exist (NXDOMAIN)")
    if rcode == dns.rcode.SERVFAIL:
        return ProbeError("servfail", f"the server failed to answer for {qname} (SERVFAIL)")
    if rcode == dns.rcode.REFUSED:
        return ProbeError("refused", f"the server refused to answer for {qname} (REFUSED)")
    if rcode != dns.rcode.NOERROR:
        return ProbeError("error", f"the server answered {dns.rcode.to_text(rcode)}")
    name = qname
    for _ in range(MAX_CNAME_CHAIN):
        if response.get_rrset(response.answer, name, dns.rdataclass.IN, rdtype) is not None:
            return None
        cname = response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
    via = f" (the CNAME chain ends at {name})" if name != qname else ""
    return ProbeError("nodata", f"{qname} exists but has no {tname} record{via} (NODATA)")


def query_one(
    qname: dns.name.Name, rdtype: int, server: Server, opts: DnsOptions
) -> DnsQueryResult:
    query = make_query(qname, rdtype, recursion_desired=opts.recursion_desired)
    ex = exchange(
        query, server.address, server.port, tcp=opts.tcp, timeout=opts.timeout, retries=opts.retries
    )
    where = format_hostport(server.address, server.port)
    r = ex.response
    error = ex.error if r is None else verdict(r, qname, rdtype)
    return DnsQueryResult(
        name=qname.to_text(),
        type=dns.rdatatype.to_text(rdtype),
        server=where,
        transport=ex.transport,
        truncated=ex.truncated,
        ok=error is None,
        error=error,
        rcode=rcode_text(r) if r is not None else None,
        flags=flag_names(r) if r is not None else (),
        query_ms=ex.query_ms,
        size=ex.size,
        attempts=ex.attempts,
        answer=section_records(r.answer) if r is not None else (),
        authority=section_records(r.authority) if r is not None else (),
        additional=section_records(r.additional) if r is not None else (),
        rejected=ex.rejected,
        rejected_count=ex.rejected_count,
    )


def lookup(
    qname: dns.name.Name, rdtypes: Sequence[int], servers: Sequence[Server], opts: DnsOptions
) -> DnsLookupReport:
    """Ask every server for every type (concurrently); results in (server, type) order."""
    started_at = utc_now_iso()
    start = now_ns()
    jobs = [(s, t) for s in servers for t in rdtypes]
    interrupted = False
    finished: dict[int, DnsQueryResult] = {}
    calls = [functools.partial(query_one, qname, t, s, opts) for s, t in jobs]
    try:
        run_all(calls, workers=8, on_result=finished.__setitem__)
    except KeyboardInterrupt:
        interrupted = True
    results = [finished[i] for i in sorted(finished)]
    error = summarize_errors([(f"{r.type} @{r.server}", r.error) for r in results], noun="queries")
    if interrupted and error is None:
        error = ProbeError("interrupted", "interrupted before every query was answered")
    return DnsLookupReport(
        command="dns",
        mode="lookup",
        ok=error is None and not interrupted,
        error=error,
        interrupted=interrupted,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        name=qname.to_text(),
        types=tuple(dns.rdatatype.to_text(t) for t in rdtypes),
        results=tuple(results),
    )
