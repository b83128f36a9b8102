"""``dns --trace``: iterative resolution from the root, asked by netdiag itself.

Starting from root hints, every zone's name servers are asked (a few at a time,
concurrently) with recursion off; referrals are followed down, glue is used where the parent
gave it (and only in-bailiwick glue is trusted), glueless name servers are resolved from the
root in a nested trace, and CNAMEs that leave a zone are followed with a new trace. No
recursive resolver is involved at any point: unlike ``dig +trace``, this works where the
system resolver is broken or absent.

Everything is bounded: zone cuts per trace, nested glueless depth, CNAME chain length, the
total number of queries and the total time (by the clock: :meth:`TraceOptions.total_bound`,
by default :data:`TOTAL_ROUNDS` times the per-query timeout). A trace stopped by a bound keeps
what it measured: the zone it was working on appears, with the servers asked so far. Lame
servers, upward and sideways referrals, delegation loops and responses that fail validation
are reported, not trusted.
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
import dns.zonefile

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.concurrency import run_all
from netdiag.errors import ErrorKind
from netdiag.net.dnsquery import (
    Exchange,
    answer_chain,
    authority_soa,
    exchange,
    make_query,
    rcode_text,
    section_records,
)
from netdiag.results import ProbeError
from netdiag.results.dns import DnsTraceReport, GluelessLookup, Hop, Trace, TraceServer

# IANA root hints (named.root), names with their IPv4 and IPv6 addresses.
ROOT_HINTS: tuple[tuple[str, str, str], ...] = (
    ("a.root-servers.net.", "198.41.0.4", "2001:503:ba3e::2:30"),
    ("b.root-servers.net.", "170.247.170.2", "2801:1b8:10::b"),
    ("c.root-servers.net.", "192.33.4.12", "2001:500:2::c"),
    ("d.root-servers.net.", "199.7.91.13", "2001:500:2d::d"),
    ("e.root-servers.net.", "192.203.230.10", "2001:500:a8::e"),
    ("f.root-servers.net.", "192.5.5.241", "2001:500:2f::f"),
    ("g.root-servers.net.", "192.112.36.4", "2001:500:12::d0d"),
    ("h.root-servers.net.", "198.97.190.53", "2001:500:1::53"),
    ("i.root-servers.net.", "192.36.148.17", "2001:7fe::53"),
    ("j.root-servers.net.", "192.58.128.30", "2001:503:c27::2:30"),
    ("k.root-servers.net.", "193.0.14.129", "2001:7fd::1"),
    ("l.root-servers.net.", "199.7.83.42", "2001:500:9f::42"),
    ("m.root-servers.net.", "202.12.27.33", "2001:dc3::35"),
)

USABLE = ("answer", "nxdomain", "nodata", "referral")
"""Server outcomes that move the trace on, best first."""

UNANSWERED = ("bad_response", "refused", "unreachable", "timeout")
"""Outcomes of a server that gave no valid response (the exchange's error kind): it could not
be reached, or what it sent was rejected. Such a server is not lame: nothing says it does not
serve the zone."""

FAILURES = ("lame", "not_authoritative", "error", *UNANSWERED)
"""Outcomes of a server that gave nothing usable, in the order a zone's failure is named by
(the kind of the trace's error when no server of a zone helped): a server that answered
without authority says more than one that could not be reached."""

TOTAL_ROUNDS = 15
"""Without an explicit total, a trace may last this many per-query timeouts (30 s at the
default 2 s, as dig's +trace would wait for 15 unanswered queries in a row). Each round of
queries (a zone's servers, asked concurrently) waits at most one timeout, and a trace takes
a round per zone cut, more for lame servers, glueless name servers and CNAMEs."""


@dataclass(frozen=True, slots=True)
class NameServer:
    """A server to ask: its name, address, and where the address came from (``hints``,
    ``glue`` from the parent's referral, ``resolved`` by a nested trace, or ``given``)."""

    name: str
    address: str
    source: str


@dataclass(frozen=True, slots=True)
class TraceOptions:
    port: int = 53
    timeout: float = 2.0
    tcp: bool = False
    version: int | None = None
    servers_per_zone: int = 3
    max_queries: int = 200
    max_zone_cuts: int = 32
    max_cnames: int = 8
    max_glueless_depth: int = 4
    total_seconds: float | None = None
    """The bound on the whole trace, by the clock; None: :data:`TOTAL_ROUNDS` x ``timeout``."""

    def total_bound(self) -> float:
        """Seconds the whole trace may take."""
        if self.total_seconds is not None:
            return self.total_seconds
        return TOTAL_ROUNDS * self.timeout


class _Stop(Exception):
    """A trace bound was reached, or Ctrl-C stopped the trace: unwinds to the top with the
    reason, and each level on the way adds what it had measured, so that the report keeps it."""

    def __init__(self, error: ProbeError, interrupted: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.interrupted = interrupted
        self.lookups: list[GluelessLookup] | None = None
        """The glueless lookups of the zone being worked on, the last one cut short."""
        self.hop: Hop | None = None
        """The zone being worked on, with the servers asked so far."""
        self.trace: Trace | None = None
        """The trace being worked on, ending with that zone."""
        self.followed: list[Trace] | None = None
        """The CNAME traces so far, the last one cut short."""


def load_root_hints(text: str) -> list[NameServer]:
    """Root servers from a root hints file (named.root, zone-file syntax)."""
    rrsets = dns.zonefile.read_rrsets(text, rdclass=None, default_ttl=3600000)
    names = [
        rd.target
        for rr in rrsets
        if rr.rdtype == dns.rdatatype.NS and rr.name == dns.name.root
        for rd in rr
    ]
    out: list[NameServer] = []
    for ns in names:
        for rr in rrsets:
            if rr.name == ns and rr.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                out.extend(NameServer(ns.to_text(), rd.address, "hints") for rd in rr)
    if not out:
        raise ValueError("no root NS records with addresses found")
    return out


def builtin_roots() -> list[NameServer]:
    return [NameServer(n, a, "hints") for n, v4, v6 in ROOT_HINTS for a in (v4, v6)]


def _family_ok(address: str, version: int | None) -> bool:
    return version is None or (version == 6) == (":" in address)


def _order(servers: Sequence[NameServer], version: int | None) -> list[NameServer]:
    """IPv4 first (it works on more networks), then IPv6; filtered by ``-4``/``-6``."""
    ok = [s for s in servers if _family_ok(s.address, version)]
    return [s for s in ok if ":" not in s.address] + [s for s in ok if ":" in s.address]


@dataclass
class _Asked:
    server: NameServer
    exchange: Exchange
    outcome: str
    detail: str | None
    referral: dns.name.Name | None


def classify(
    response: dns.message.Message,
    qname: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    zone: dns.name.Name,
) -> tuple[str, str | None, dns.name.Name | None]:
    """What one server's response means for the trace at ``zone``."""
    rcode = response.rcode()
    aa = bool(response.flags & dns.flags.AA)
    if rcode == dns.rcode.NXDOMAIN:
        return _negative("nxdomain", "NXDOMAIN", response, qname, zone)
    if rcode in (dns.rcode.REFUSED, dns.rcode.SERVFAIL, dns.rcode.NOTAUTH):
        return "lame", f"answered {dns.rcode.to_text(rcode)} for a zone it should serve", None
    if rcode != dns.rcode.NOERROR:
        return "error", f"answered {dns.rcode.to_text(rcode)}", None
    for rr in response.answer:
        if rr.name == qname and rr.rdtype in (rdtype, dns.rdatatype.CNAME):
            return "answer", None if aa else "an answer without the AA flag", None
    ns = next((rr for rr in response.authority if rr.rdtype == dns.rdatatype.NS), None)
    if ns is not None:
        ref = ns.name
        if ref == zone or zone.is_subdomain(ref):
            if ref == zone and aa:
                return "nodata", None, None
            how = "to the zone itself" if ref == zone else f"upward, to {ref}"
            return "lame", f"referral {how}: not authoritative for {zone}", None
        if not ref.is_subdomain(zone):
            return "lame", f"sideways referral to {ref}, outside {zone}", None
        if not qname.is_subdomain(ref):
            return "lame", f"referral to {ref}, which does not contain {qname}", None
        return "referral", None, ref
    return _negative("nodata", "an empty answer (NODATA)", response, qname, zone)


def _negative(
    outcome: str,
    what: str,
    response: dns.message.Message,
    qname: dns.name.Name,
    zone: dns.name.Name,
) -> tuple[str, str | None, dns.name.Name | None]:
    """A negative answer (NXDOMAIN, NODATA) claims the name, or the type, does not exist: only
    the zone's authority may say so. With the AA flag it is one; without it but with the zone's
    SOA it is a cached answer (the server is lame); with neither, it is not from a name server
    of the zone at all, but what a DNS-intercepting middlebox (or a filtering resolver) sends."""
    if response.flags & dns.flags.AA:
        return outcome, None, None
    soa = authority_soa(response, qname)
    if soa is not None and soa.is_subdomain(zone):
        return "lame", f"{what} without the AA flag: not authoritative for {zone}", None
    return (
        "not_authoritative",
        f"{what} without the AA flag or an SOA record: not from a name server of {zone} "
        "(a DNS-intercepting middlebox on the path?)",
        None,
    )


class Tracer:
    def __init__(self, roots: Sequence[NameServer], opts: TraceOptions) -> None:
        self.roots = _order(roots, opts.version)
        self.opts = opts
        self.queries = 0
        self.start = now_ns()
        self.total = opts.total_bound()
        self.deadline = self.start + int(self.total * 1e9)
        self.stack: list[tuple[str, str]] = []
        self.first_hops: list[Hop] | None = None

    # -- one exchange ---------------------------------------------------------------------
    def _ask(
        self,
        server: NameServer,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        zone: dns.name.Name,
    ) -> _Asked:
        query = make_query(qname, rdtype, recursion_desired=False)
        ex = exchange(
            query,
            server.address,
            self.opts.port,
            tcp=self.opts.tcp,
            timeout=self.opts.timeout,
            retries=0,
            deadline_ns=self.deadline,
        )
        if ex.response is None:
            assert ex.error is not None
            # a server that could not be reached is not lame: say how it failed
            kind = ex.error.kind.value if ex.error.kind.value in UNANSWERED else "error"
            return _Asked(server, ex, kind, ex.error.message, None)
        outcome, detail, ref = classify(ex.response, qname, rdtype, zone)
        return _Asked(server, ex, outcome, detail, ref)

    def _budget(self, wanted: int, zone: dns.name.Name) -> None:
        if self.queries + wanted > self.opts.max_queries:
            raise _Stop(
                ProbeError(
                    ErrorKind.LIMIT,
                    f"the trace would exceed {self.opts.max_queries} queries at {zone}; stopped",
                )
            )
        self._clock(zone)

    def _clock(self, zone: dns.name.Name) -> None:
        if now_ns() >= self.deadline:
            raise _Stop(
                ProbeError(
                    ErrorKind.TIMEOUT,
                    f"the trace reached its total time bound of {self.total:g} s while asking "
                    f"the name servers of {zone}; stopped",
                )
            )

    # -- one zone -------------------------------------------------------------------------
    def _resolve_glueless(
        self, names: Sequence[str], depth: int
    ) -> tuple[list[NameServer], list[GluelessLookup]]:
        found: list[NameServer] = []
        lookups: list[GluelessLookup] = []
        types = ["AAAA"] if self.opts.version == 6 else ["A"]
        for ns in names[: self.opts.servers_per_zone]:
            for t in types:
                key = (ns.lower(), t)
                if key in self.stack:
                    chain = (
                        " -> ".join(n for n, _ in self.stack[self.stack.index(key) :]) + f" -> {ns}"
                    )
                    err = ProbeError(ErrorKind.LOOP, f"delegation loop: resolving {chain}")
                    lookups.append(
                        GluelessLookup(ns, (), Trace(ns, t, "failed", err, (), (), None))
                    )
                    continue
                if depth >= self.opts.max_glueless_depth:
                    err = ProbeError(
                        ErrorKind.LIMIT, f"glueless name servers nested deeper than {depth}"
                    )
                    lookups.append(
                        GluelessLookup(ns, (), Trace(ns, t, "failed", err, (), (), None))
                    )
                    continue
                self.stack.append(key)
                try:
                    sub, _ = self._follow(
                        dns.name.from_text(ns), dns.rdatatype.from_text(t), depth + 1
                    )
                except _Stop as stop:
                    if stop.trace is not None:
                        lookups.append(GluelessLookup(ns, (), stop.trace))
                    stop.trace = stop.followed = None
                    stop.lookups = lookups
                    raise
                finally:
                    self.stack.pop()
                addrs = tuple(r.data for r in sub.answer if r.type == t)
                lookups.append(GluelessLookup(ns, addrs, sub))
                found.extend(NameServer(ns, a, "resolved") for a in addrs)
            if found:
                break
        return found, lookups

    def _zone(
        self,
        zone: dns.name.Name,
        nameservers: Sequence[str],
        addressed: Sequence[NameServer],
        glueless: Sequence[str],
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        depth: int,
    ) -> tuple[Hop, _Asked | None]:
        candidates = _order(addressed, self.opts.version)
        lookups: list[GluelessLookup] = []
        asked: list[_Asked] = []
        try:
            if not candidates and glueless:
                resolved, lookups = self._resolve_glueless(glueless, depth)
                candidates = _order(resolved, self.opts.version)
            step = max(1, self.opts.servers_per_zone)
            for i in range(0, len(candidates), step):
                batch = candidates[i : i + step]
                self._budget(len(batch), zone)
                calls = [functools.partial(self._ask, s, qname, rdtype, zone) for s in batch]
                done: list[_Asked] = []
                try:
                    results = run_all(
                        calls, workers=len(batch), on_result=functools.partial(_collect, done)
                    )
                except KeyboardInterrupt:  # keep the answers that came, and this zone
                    results = done
                    for a in results:
                        self.queries += a.exchange.attempts
                    asked.extend(results)
                    raise _Stop(
                        ProbeError(
                            ErrorKind.INTERRUPTED,
                            f"interrupted while asking the name servers of {zone}",
                        ),
                        interrupted=True,
                    ) from None
                for a in results:
                    self.queries += a.exchange.attempts
                asked.extend(results)
                if any(a.outcome in USABLE for a in results):
                    break
                self._clock(zone)  # the total bound cut these queries short: say so
        except _Stop as stop:
            if stop.lookups is not None:
                lookups, stop.lookups = stop.lookups, None
            stop.hop, _ = _hop(zone, nameservers, asked, lookups, stopped=True)
            raise
        return _hop(zone, nameservers, asked, lookups, stopped=False)

    # -- one name, from the root down -----------------------------------------------------
    def _trace(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, depth: int) -> Trace:
        tname = dns.rdatatype.to_text(rdtype)
        zone = dns.name.root
        nameservers = list(dict.fromkeys(s.name for s in self.roots))
        addressed: list[NameServer] = list(self.roots)
        glueless: list[str] = []
        hops: list[Hop] = []
        if self.first_hops is None:
            self.first_hops = hops  # kept, as it grows, for a trace that is cut short
        seen: set[dns.name.Name] = set()
        while True:
            if len(hops) >= self.opts.max_zone_cuts:
                err = ProbeError(ErrorKind.LIMIT, f"more than {self.opts.max_zone_cuts} zone cuts")
                return Trace(qname.to_text(), tname, "failed", err, tuple(hops), (), None)
            try:
                hop, chosen = self._zone(
                    zone, nameservers, addressed, glueless, qname, rdtype, depth
                )
            except _Stop as stop:
                if stop.hop is not None:
                    hops.append(stop.hop)
                    stop.hop = None
                err = stop.error
                stop.trace = Trace(qname.to_text(), tname, "failed", err, tuple(hops), (), None)
                raise
            hops.append(hop)
            if chosen is None:
                err = _zone_failure(hop)
                return Trace(qname.to_text(), tname, "failed", err, tuple(hops), (), None)
            response = chosen.exchange.response
            assert response is not None
            if chosen.outcome == "referral":
                assert chosen.referral is not None
                seen.add(zone)
                if chosen.referral in seen:
                    err = ProbeError(ErrorKind.LOOP, f"referral loop back to {chosen.referral}")
                    return Trace(qname.to_text(), tname, "failed", err, tuple(hops), (), None)
                nameservers, addressed, glueless = _delegation(response, chosen.referral, zone)
                zone = chosen.referral
                continue
            chain = answer_chain(response, qname, rdtype)
            records = chain.records
            alias = f"{qname} is an alias of {chain.end}, which" if chain.end != qname else None
            if chosen.outcome == "nxdomain":
                what = f"{alias} does not exist" if alias else f"{qname} does not exist"
                err = ProbeError(ErrorKind.NXDOMAIN, f"{what} (NXDOMAIN from {zone})")
                return Trace(qname.to_text(), tname, "nxdomain", err, tuple(hops), records, None)
            if chosen.outcome == "nodata":
                what = f"{alias} has no" if alias else f"{qname} has no"
                err = ProbeError(ErrorKind.NODATA, f"{what} {tname} record (NODATA from {zone})")
                return Trace(qname.to_text(), tname, "nodata", err, tuple(hops), records, None)
            if chain.end != qname and not chain.reached and not chain.loop:
                # the chain ends inside this server's data, and its SOA says there is no such
                # record there: NODATA after the CNAME, no need to trace the end name again
                soa = authority_soa(response, chain.end)
                if soa is not None and response.flags & dns.flags.AA:
                    msg = f"{alias} has no {tname} record (NODATA from {soa})"
                    err = ProbeError(ErrorKind.NODATA, msg)
                    return Trace(qname.to_text(), tname, "nodata", err, tuple(hops), records, None)
            if chain.loop:
                names = " -> ".join(r.name for r in records if r.type == "CNAME")
                err = ProbeError(
                    ErrorKind.LOOP, f"a CNAME loop in the answer: {names} -> {chain.end}"
                )
                return Trace(qname.to_text(), tname, "failed", err, tuple(hops), records, None)
            if chain.reached:
                return Trace(qname.to_text(), tname, "answer", None, tuple(hops), records, None)
            end = chain.end.to_text()
            return Trace(qname.to_text(), tname, "cname", None, tuple(hops), records, end)

    def _follow(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, depth: int
    ) -> tuple[Trace, list[Trace]]:
        """A trace, then a new trace for each CNAME target the answering zone did not resolve.

        Returns the first trace carrying the chain's final outcome, error and whole answer,
        and the follow-up traces in order."""
        first = self._trace(qname, rdtype, depth)
        answer = list(first.answer)
        current = first
        followed: list[Trace] = []
        seen = {qname}
        while current.outcome == "cname":
            assert current.cname is not None
            target = dns.name.from_text(current.cname)
            if target in seen or len(followed) >= self.opts.max_cnames:
                err = ProbeError(
                    ErrorKind.LOOP,
                    f"CNAME loop, or a chain longer than {self.opts.max_cnames}, at {target}",
                )
                whole = Trace(
                    first.name, first.type, "failed", err, first.hops, tuple(answer), None
                )
                return whole, followed
            seen.add(target)
            try:
                current = self._trace(target, rdtype, depth)
            except _Stop as stop:
                if stop.trace is not None:
                    followed.append(stop.trace)
                stop.trace = Trace(
                    first.name, first.type, "failed", stop.error, first.hops, tuple(answer), None
                )
                stop.followed = followed
                raise
            followed.append(current)
            answer.extend(current.answer)
        whole = Trace(
            first.name,
            first.type,
            current.outcome,
            current.error,
            first.hops,
            tuple(answer),
            current.cname,
        )
        return whole, followed

    def run(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> DnsTraceReport:
        started_at = utc_now_iso()
        interrupted = False
        error: ProbeError | None = None
        trace: Trace | None = None
        followed: list[Trace] = []
        try:
            trace, followed = self._follow(qname, rdtype, 0)
            error = trace.error
        except _Stop as stop:
            error = stop.error
            interrupted = stop.interrupted
            trace, followed = stop.trace, stop.followed or []
        except KeyboardInterrupt:
            interrupted = True
            error = ProbeError(ErrorKind.INTERRUPTED, "interrupted before the trace finished")
        if trace is not None and error is None and trace.outcome != "answer":
            error = ProbeError(
                ErrorKind.ERROR, f"the trace ended without an answer ({trace.outcome})"
            )
        return DnsTraceReport(
            command="dns",
            mode="trace",
            ok=error is None and not interrupted,
            error=error,
            interrupted=interrupted,
            started_at=started_at,
            name=qname.to_text(),
            type=dns.rdatatype.to_text(rdtype),
            port=self.opts.port,
            roots=tuple(s.address for s in self.roots),
            hops=trace.hops if trace is not None else tuple(self.first_hops or ()),
            answer=trace.answer if trace is not None else (),
            cname_traces=tuple(followed),
            queries=self.queries,
            duration_ms=elapsed_ms(self.start),
        )


def _delegation(
    response: dns.message.Message, child: dns.name.Name, parent: dns.name.Name
) -> tuple[list[str], list[NameServer], list[str]]:
    """The child zone's name servers from a referral: names, those with in-bailiwick glue
    (addresses the parent may vouch for), and those without."""
    ns_rrset = next(
        rr for rr in response.authority if rr.rdtype == dns.rdatatype.NS and rr.name == child
    )
    names = [rd.target for rd in ns_rrset]
    addressed: list[NameServer] = []
    glueless: list[str] = []
    for name in names:
        glue: list[NameServer] = []
        if name.is_subdomain(parent):
            for rr in response.additional:
                if rr.name == name and rr.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    glue.extend(NameServer(name.to_text(), rd.address, "glue") for rd in rr)
        if glue:
            addressed.extend(glue)
        else:
            glueless.append(name.to_text())
    addressed.sort(key=lambda s: (s.name, s.address))  # a stable order to ask and show
    return sorted(n.to_text() for n in names), addressed, sorted(glueless)


def _hop(
    zone: dns.name.Name,
    nameservers: Sequence[str],
    asked: list[_Asked],
    lookups: list[GluelessLookup],
    *,
    stopped: bool,
) -> tuple[Hop, _Asked | None]:
    """The hop for ``zone`` from the servers asked, and the answer the trace goes on with."""
    usable = [a for a in asked if a.outcome in USABLE]
    chosen = min(usable, key=lambda a: USABLE.index(a.outcome)) if usable else None
    servers = tuple(
        TraceServer(
            name=a.server.name,
            address=a.server.address,
            glue=a.server.source == "glue",
            source=a.server.source,
            rtt_ms=a.exchange.query_ms,
            rcode=rcode_text(a.exchange.response) if a.exchange.response is not None else None,
            outcome=a.outcome,
            detail=a.detail,
            transport=a.exchange.transport,
            truncated=a.exchange.truncated,
        )
        for a in asked
    )
    outcome = chosen.outcome if chosen else "stopped" if stopped else "failed"
    hop = Hop(
        zone=zone.to_text(),
        nameservers=tuple(nameservers),
        servers=servers,
        glueless=tuple(lookups),
        outcome=outcome,
        referral=chosen.referral.to_text() if chosen and chosen.referral else None,
        disagreement=_disagreement(usable),
    )
    return hop, chosen


def _disagreement(usable: list[_Asked]) -> str | None:
    def key(a: _Asked) -> str:
        if a.outcome == "referral":
            return f"referral to {a.referral}"
        if a.outcome == "answer" and a.exchange.response is not None:
            data = sorted(r.data for r in section_records(a.exchange.response.answer))
            return f"answer {', '.join(data)}"
        return a.outcome

    keys = {key(a) for a in usable}
    if len(keys) <= 1:
        return None
    return "; ".join(f"{a.server.name} ({a.server.address}) says {key(a)}" for a in usable)


_FAILED_AS = {
    "lame": "answered without authority for the zone",
    "not_authoritative": "sent a negative answer without authority",
    "error": "answered with an error",
    "bad_response": "sent only responses that were rejected",
    "refused": "refused the connection",
    "unreachable": "could not be reached",
    "timeout": "did not answer",
}
"""How each failure reads when every server of a zone failed the same way."""


def _collect(into: list[_Asked], _index: int, asked: _Asked) -> None:
    """``run_all``'s on_result: keep each answer as it arrives (an interrupted zone keeps
    those that came)."""
    into.append(asked)


def _zone_failure(hop: Hop) -> ProbeError:
    """Why no server of ``hop``'s zone helped. Every server is in the tree already: this says
    it once, with a count for each way they failed and the first server of each, so that 26
    root servers timing out is one short line, not 26 repeated ones."""
    zone = hop.zone
    if not hop.servers:
        return _no_address(hop)
    groups: dict[str, list[TraceServer]] = {}
    for s in hop.servers:
        groups.setdefault(s.outcome, []).append(s)
    outcome = min(groups, key=FAILURES.index)
    kind = ErrorKind(outcome)  # every outcome of a failed zone is an error kind too

    def who(s: TraceServer) -> str:
        return f"{s.name} ({s.address})" if s.name != s.address else s.address

    if set(groups) <= set(UNANSWERED) - {"bad_response"}:
        head = f"no name server of {zone} could be reached"
    elif outcome == "lame":
        head = f"lame delegation: no server of {zone} gave a usable answer"
    else:
        head = f"no server of {zone} gave a usable answer"
    if len(hop.servers) == 1:
        [only] = hop.servers
        return ProbeError(kind, f"{head}: {who(only)}: {only.detail or only.outcome}")
    if len(groups) == 1 and len(hop.servers) >= 3:
        first = hop.servers[0]
        how = _FAILED_AS.get(outcome, outcome)
        detail = f": {first.detail}" if first.detail else ""
        message = f"{head}: all {len(hop.servers)} {how}, the first {who(first)}{detail}"
        return ProbeError(kind, message)
    parts = []
    for o, servers in groups.items():
        if len(servers) < 3:  # a few: each one, as the tree shows it
            for s in servers:
                parts.append(f"{who(s)}: {o}" + (f" - {s.detail}" if s.detail else ""))
        else:  # many: once, with the count
            first = servers[0]
            detail = f": {first.detail}" if first.detail else ""
            parts.append(f"{len(servers)} {o}, the first {who(first)}{detail}")
    return ProbeError(kind, f"{head} ({len(hop.servers)} asked): {'; '.join(parts)}")


def _no_address(hop: Hop) -> ProbeError:
    """No server of the zone could be asked: the parent gave no glue, and resolving the name
    servers' names failed. A name that does not resolve makes the delegation lame; a failure
    to reach the servers on the way is told as itself."""
    zone = hop.zone
    names = ", ".join(hop.nameservers) or "none"
    failed = [(g.nameserver, g.trace.error) for g in hop.glueless if g.trace.error is not None]
    for _, err in failed:
        if err.kind in ("loop", "limit"):
            cause = err.message
            if "delegation loop:" in cause:  # say the root cause once, not nested
                cause = cause[cause.index("delegation loop:") :]
            return ProbeError(err.kind, f"no address for the name servers of {zone}: {cause}")
    if failed and all(e.kind in UNANSWERED for _, e in failed):
        ns, err = failed[0]
        return ProbeError(
            err.kind,
            f"no address for the name servers of {zone} ({names}): resolving {ns} failed: "
            f"{err.message}",
        )
    return ProbeError(
        ErrorKind.LAME, f"no reachable address for any name server of {zone} ({names})"
    )


def trace(
    qname: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    roots: Sequence[NameServer],
    opts: TraceOptions,
) -> DnsTraceReport:
    return Tracer(roots, opts).run(qname, rdtype)
