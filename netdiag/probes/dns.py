"""The ``dns`` lookup probe: queries as a stub resolver sends them, answers as they came.

One query per (server, type); each result carries the header (rcode, flags), the three
sections with TTLs, the server and transport, the query time and the message size. The
verdict follows CNAMEs inside the answer: a lookup is good when the rcode is NOERROR and a
record of the requested type is reached, or when the CNAME chain leaves the server's data
(it has said all it knows: ``cname_leaves_at``). A response with no answer, no SOA, NS records
in the authority section and no AA flag is a referral (the server does not serve the name and
does not recurse), not NODATA.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.concurrency import run_all
from netdiag.errors import ErrorKind
from netdiag.net.dnsquery import (
    answer_chain,
    authority_ns,
    authority_soa,
    exchange,
    flag_names,
    make_query,
    rcode_text,
    section_records,
)
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.dns import DnsLookupReport, DnsQueryResult
from netdiag.targets import format_hostport


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
class Verdict:
    """What a response means for the question: an error or None (healthy), and what the
    result shows beside the records."""

    error: ProbeError | None
    referral: str | None = None
    cname_leaves_at: str | None = None
    note: str | None = None


def _servers(names: list[str], shown: int = 4) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def verdict(
    response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> Verdict:
    """Healthy when the response answers the question (following CNAMEs in the answer);
    otherwise why not. A referral is not NODATA, and a CNAME chain that leaves the server's
    data is an answer, not NODATA: the server said all it knows."""
    rcode = response.rcode()
    tname = dns.rdatatype.to_text(rdtype)
    chain = answer_chain(response, qname, rdtype)
    alias = f"{qname} is an alias of {chain.end}, which" if chain.end != qname else None
    if rcode == dns.rcode.NXDOMAIN:
        # RFC 6604: after a CNAME, the rcode speaks of the last name of the chain
        what = f"{alias} does not exist" if alias else f"{qname} does not exist"
        return Verdict(ProbeError(ErrorKind.NXDOMAIN, f"{what} (NXDOMAIN)"))
    if rcode == dns.rcode.SERVFAIL:
        return Verdict(
            ProbeError(ErrorKind.SERVFAIL, f"the server failed to answer for {qname} (SERVFAIL)")
        )
    if rcode == dns.rcode.REFUSED:
        return Verdict(
            ProbeError(ErrorKind.REFUSED, f"the server refused to answer for {qname} (REFUSED)")
        )
    if rcode != dns.rcode.NOERROR:
        return Verdict(
            ProbeError(ErrorKind.ERROR, f"the server answered {dns.rcode.to_text(rcode)}")
        )
    if chain.reached:
        return Verdict(None)
    if chain.loop:
        names = " -> ".join(r.name for r in chain.records if r.type == "CNAME")
        return Verdict(
            ProbeError(ErrorKind.LOOP, f"a CNAME loop in the answer: {names} -> {chain.end}")
        )
    recursion = bool(response.flags & dns.flags.RA)
    aa = bool(response.flags & dns.flags.AA)
    soa = authority_soa(response, chain.end)
    ns = authority_ns(response)
    if soa is None and not aa and not chain.records and ns is not None:
        zone, names = ns
        where = f"it refers to {zone} ({_servers(names)})"
        if zone == dns.name.root:
            where += ", an upward referral to the root"
        elif not qname.is_subdomain(zone):
            where += f", which does not hold {qname}"
        if recursion:
            what = f"this server offers recursion (ra) but did not resolve {qname}: {where}"
        else:
            what = f"this server is not authoritative for {qname} and does not recurse; {where}"
        msg = f"{what}; use --trace, or a recursive server"
        return Verdict(ProbeError(ErrorKind.REFERRAL, msg), referral=zone.to_text())
    if chain.records and soa is None:
        # The chain goes where this server has no data (another zone, or a zone it
        # delegates), and no SOA says the end name has no such record: not NODATA.
        end = chain.end.to_text()
        if recursion:
            note = f"the CNAME chain leaves the answer at {end}: the server recurses, but "
            note += "did not follow it"
        else:
            note = f"the CNAME chain leaves this server's data at {end}, and it does not recurse"
        if ns is not None and chain.end.is_subdomain(ns[0]):
            note += f"; it refers to {ns[0]} ({_servers(ns[1])})"
        note += f"; ask a recursive server, or use --trace, for {end} {tname}"
        return Verdict(None, cname_leaves_at=end, note=note)
    via = f"{alias} has no {tname} record" if alias else f"{qname} exists but has no {tname} record"
    return Verdict(ProbeError(ErrorKind.NODATA, f"{via} (NODATA)"))


def query_one(
    qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, server: Server, opts: DnsOptions
) -> DnsQueryResult:
    query = make_query(qname, rdtype, recursion_desired=opts.recursion_desired)
    ex = exchange(
        query, server.address, server.port, tcp=opts.tcp, timeout=opts.timeout, retries=opts.retries
    )
    where = format_hostport(server.address, server.port)
    r = ex.response
    judged = Verdict(ex.error) if r is None else verdict(r, qname, rdtype)
    error = judged.error
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
        referral=judged.referral,
        cname_leaves_at=judged.cname_leaves_at,
        note=judged.note,
    )


def summarize(results: Sequence[DnsQueryResult]) -> ProbeError | None:
    """The report's error (see :func:`netdiag.results.summarize_errors`), each query named by
    its type and server."""
    return summarize_errors([(f"{r.type} @{r.server}", r.error) for r in results], "queries")


def lookup(
    qname: dns.name.Name,
    rdtypes: Sequence[dns.rdatatype.RdataType],
    servers: Sequence[Server],
    opts: DnsOptions,
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
    error = summarize(results)
    if interrupted and error is None:
        error = ProbeError(ErrorKind.INTERRUPTED, "interrupted before every query was answered")
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
