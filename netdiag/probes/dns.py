"""The ``dns`` lookup probe: queries as a stub resolver sends them, answers as they came.

One query per (server, type); each result carries the header (rcode, flags), the three
sections with TTLs, the server and transport, the query time and the message size. The
verdict follows CNAMEs inside the answer: a lookup is good when the rcode is NOERROR and a
record of the requested type is reached, or when the CNAME chain leaves the server's data
(it has said all it knows: ``cname_leaves_at``). A response with no answer, no SOA, NS records
in the authority section and no AA flag is a referral (the server does not serve the name and
does not recurse), not NODATA.

:func:`probe_dns` is the probe as the ``dns`` command runs it: the servers the user named
(resolved here) or the system's resolvers, then :func:`lookup`.
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
from netdiag.net.resolve import resolve
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.dns import DnsLookupReport, DnsQueryResult
from netdiag.targets import Target, format_hostport


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
    port: int = 53
    """The port of the system's resolvers (:func:`probe_dns`; servers given carry their own)."""
    version: int | None = None
    """4 or 6: resolve server names, and pick system resolvers, in this family only."""


class ServerError(ValueError):
    """A server the user named cannot be asked (its name does not resolve); nothing was sent.
    The message is one line, meant for the user."""


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
        loop = " -> ".join(r.name for r in chain.records if r.type == "CNAME")
        return Verdict(
            ProbeError(ErrorKind.LOOP, f"a CNAME loop in the answer: {loop} -> {chain.end}")
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


def probe_dns(
    qname: dns.name.Name,
    rdtypes: Sequence[dns.rdatatype.RdataType],
    servers: Sequence[Target],
    opts: DnsOptions,
) -> DnsLookupReport:
    """Ask each of ``servers`` (as the user gave them, each with a port) for every type, or,
    when none is given, each of the system's resolvers (on ``opts.port``).

    A server given by name is resolved first (its first address, as ``opts.version`` allows);
    one that does not resolve raises :class:`ServerError` before any query is sent. When no
    system resolver is configured, the report says so (error kind config) and asks nothing."""
    asked: list[Server] = []
    for t in servers:
        assert t.port is not None, "servers must carry a port"
        if t.is_ip:
            asked.append(Server(t.host, t.port, t.text))
            continue
        res = resolve(t.host, t.port, version=opts.version, timeout=opts.timeout)
        if res.error is not None or not res.endpoints:
            raise ServerError(
                f"server {t.text}: {res.error.message if res.error else 'no address'}"
            )
        asked.append(Server(res.endpoints[0].address, t.port, t.text))
    if not asked:
        system, reason = system_resolvers(opts.version)
        if not system:
            return _no_resolver(qname, reason)
        asked = [Server(s, opts.port, s) for s in system]
    return lookup(qname, rdtypes, asked, opts)


def system_resolvers(version: int | None = None) -> tuple[list[str], str]:
    """The addresses of the system's resolvers (resolv.conf's nameserver lines) in
    ``version``'s family, and, when there are none, why."""
    try:
        import dns.resolver

        found = dns.resolver.Resolver(configure=True).nameservers
    except Exception as exc:  # any failure to read the configuration
        found = []
        reason = str(exc)
    else:
        reason = "no nameserver lines"
    addresses = [str(s) for s in found if "://" not in str(s)]
    return [a for a in addresses if version is None or (":" in a) == (version == 6)], reason


def _no_resolver(qname: dns.name.Name, reason: str) -> DnsLookupReport:
    err = ProbeError(
        ErrorKind.CONFIG,
        f"no system resolver is configured ({reason})",
        hint="name a server with --server ADDR, or use --trace, which needs none",
    )
    return DnsLookupReport(
        command="dns",
        ok=False,
        error=err,
        interrupted=False,
        started_at=utc_now_iso(),
        duration_ms=0.0,
        mode="lookup",
        name=qname.to_text(),
        types=(),
        results=(),
    )
