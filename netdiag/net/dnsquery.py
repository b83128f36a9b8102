"""One DNS exchange (query -> validated response) over UDP or TCP, on dnspython.

dnspython builds and parses every message; this module owns only the transport: a connected
UDP socket (so ICMP port-unreachable is reported, and datagrams from other sources never reach
us) and a TCP connection from :mod:`netdiag.net.tcpconnect` with RFC 1035 two-byte length framing.
Every response is checked before it is trusted: bytes that do not parse, a wrong message ID,
or an answer to a different question are rejected and reported, and the wait goes on until a
valid answer or the deadline. A UDP answer with TC set is retried over TCP.

A hostile server may flood us with replies: rejected responses are counted, and only the first
:data:`MAX_REJECTED_KEPT` are kept with their reason, so nothing grows per packet; the deadline
is checked by the clock before every datagram, so a flood that never pauses cannot hold a query
past it.

Importing this module imports dnspython: only the ``dns`` command does.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netdiag.clock import now_ns
from netdiag.errors import ErrorKind
from netdiag.net.tcpconnect import Waiter, connect
from netdiag.results import ProbeError
from netdiag.results.dns import Record
from netdiag.results.resolve import Endpoint
from netdiag.targets import format_hostport

EDNS_PAYLOAD = 1232
"""The EDNS0 UDP payload size we advertise (the DNS Flag Day 2020 value): larger answers come
back truncated and are retried over TCP."""
MAX_MESSAGE = 65535
"""No DNS message is larger (TCP's two-byte length prefix); every read is bounded by it."""
MAX_REJECTED_KEPT = 10
"""Rejected responses are all counted, but only this many are kept (with the reason)."""


def section_records(section: Sequence[dns.rrset.RRset]) -> tuple[Record, ...]:
    return tuple(
        Record(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, rd.to_text())
        for rrset in section
        for rd in rrset
    )


def flag_names(message: dns.message.Message) -> tuple[str, ...]:
    """Header flags in dig's order and case: qr aa tc rd ra ad cd."""
    order = ("QR", "AA", "TC", "RD", "RA", "AD", "CD")
    present = set(dns.flags.to_text(message.flags).split())
    return tuple(f.lower() for f in order if f in present)


@dataclass(slots=True)
class _Fault:
    """One kind of rejection: how many, and the reason of the first."""

    count: int
    first: str


@dataclass(slots=True)
class Rejections:
    """Responses that were received but not trusted: every one counted (by kind of fault
    too), the first :data:`MAX_REJECTED_KEPT` kept with the reason."""

    count: int = 0
    first: list[str] = field(default_factory=list)
    by_fault: dict[str, _Fault] = field(default_factory=dict)
    """A handful of faults, each counted with its first reason: nothing grows per packet."""

    def add(self, fault: str, reason: str) -> None:
        self.count += 1
        if len(self.first) < MAX_REJECTED_KEPT:
            self.first.append(reason)
        seen = self.by_fault.get(fault)
        if seen is None:
            self.by_fault[fault] = _Fault(1, reason)
        else:
            seen.count += 1

    def add_again(self, fault: str) -> bool:
        """Count one more rejection of a fault already seen, without its reason, once no more
        reasons are kept (a flood: thousands a second); False when that cannot be done."""
        seen = self.by_fault.get(fault)
        if seen is None or not self.full:
            return False
        self.count += 1
        seen.count += 1
        return True

    @property
    def full(self) -> bool:
        """No more reasons are kept: further rejections are only counted."""
        return len(self.first) >= MAX_REJECTED_KEPT

    def summary(self) -> str:
        """``N responses: the first of each fault, and how many more like it``, for an error
        message: one clause per fault however many were rejected."""
        noun = "response" if self.count == 1 else "responses"
        clauses = []
        for f in self.by_fault.values():
            more = f" and {f.count - 1:,} more like it" if f.count > 1 else ""
            clauses.append(f"{f.first}{more}")
        return f"{self.count:,} {noun}: {'; '.join(clauses)}"


@dataclass(slots=True)
class Exchange:
    """The outcome of :func:`exchange`. ``response`` is a dnspython message (not JSON);
    probes turn it into records."""

    address: str
    port: int
    transport: str
    truncated: bool
    """A UDP answer came back with TC set and the query was repeated over TCP."""
    query_ms: float | None
    size: int | None
    attempts: int
    rejected: tuple[str, ...]
    """The first :data:`MAX_REJECTED_KEPT` rejected responses, with the reason."""
    rejected_count: int
    """Every rejected response, counted (``rejected`` keeps only the first few)."""
    response: dns.message.Message | None
    error: ProbeError | None


def make_query(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, recursion_desired: bool = True
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    if not recursion_desired:
        q.flags &= ~dns.flags.RD
    return q


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _check(
    query: dns.message.Message, data: bytes, rejected: Rejections
) -> dns.message.Message | None:
    """Parse and validate one response; on failure count it, and say why in ``rejected``."""
    if rejected.full and (len(data) < 12 or data[:2] != query.id.to_bytes(2, "big")):
        # a flood: the reason is no longer kept, so skip the parse
        fault = "garbage" if len(data) < 12 else "id"
        if rejected.add_again(fault):
            return None
        if fault == "id":  # the first of its fault: say why, once
            rejected.add(fault, _wrong_id(int.from_bytes(data[:2], "big"), query.id))
        else:
            rejected.add(fault, f"{len(data)} bytes that are not a DNS message")
        return None
    try:
        response = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError, struct.error) as exc:
        kind = type(exc).__name__
        rejected.add("garbage", f"{len(data)} bytes that are not a DNS message ({kind})")
        return None
    if response.id != query.id:
        rejected.add("id", _wrong_id(response.id, query.id))
        return None
    if not query.is_response(response):
        q = response.question[0] if response.question else None
        asked = f"{q.name} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else "nothing"
        rejected.add("question", f"a response to a different question ({asked})")
        return None
    return response


def _wrong_id(got: int, expected: int) -> str:
    return f"a response with the wrong ID ({got}, expected {expected})"


_Attempt = tuple[dns.message.Message | None, float | None, int | None, ProbeError | None]
"""One attempt: (response, query_ms, size, error); all None for a timeout."""


def _attempt_deadline(start: int, timeout: float, deadline: int | None) -> int:
    """When one attempt started at ``start`` must end: ``timeout`` later, or at the
    caller's overall ``deadline`` if that comes first."""
    own = start + int(timeout * 1e9)
    return own if deadline is None else min(own, deadline)


def _udp(
    query: dns.message.Message,
    address: str,
    port: int,
    timeout: float,
    rejected: Rejections,
    deadline: int | None = None,
) -> _Attempt:
    wire = query.to_wire()
    where = format_hostport(address, port)
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect((address, port))
            start = now_ns()
            sock.send(wire)
        except OSError as exc:
            return None, None, None, ProbeError(ErrorKind.UNREACHABLE, f"{where}: {exc.strerror}")
        waiter = Waiter(sock)
        until = _attempt_deadline(start, timeout, deadline)
        while True:
            left = (until - now_ns()) / 1e9
            if left <= 0 or not waiter.wait(left):
                return None, None, None, None  # timeout: the caller may retry
            # Read every datagram already queued; the clock is checked before each one, so
            # a flood that keeps the socket readable cannot hold us past the deadline.
            while now_ns() < until:
                try:
                    data = sock.recv(MAX_MESSAGE)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno == errno.ECONNREFUSED:
                        msg = f"nothing listens on UDP {where} (ICMP port unreachable)"
                        return None, None, None, ProbeError(ErrorKind.UNREACHABLE, msg)
                    return (
                        None,
                        None,
                        None,
                        ProbeError(ErrorKind.UNREACHABLE, f"{where}: {exc.strerror}"),
                    )
                end = now_ns()
                response = _check(query, data, rejected)
                if response is not None:
                    return response, (end - start) / 1e6, len(data), None


def _recv_exactly(sock: socket.socket, n: int, deadline: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        left = (deadline - now_ns()) / 1e9
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(n - len(buf), MAX_MESSAGE))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _tcp(
    query: dns.message.Message,
    address: str,
    port: int,
    timeout: float,
    rejected: Rejections,
    deadline: int | None = None,
) -> _Attempt:
    where = format_hostport(address, port)
    family = _family(address)
    sockaddr = (address, port) if family == socket.AF_INET else (address, port, 0, 0)
    begin = now_ns()
    until = _attempt_deadline(begin, timeout, deadline)
    conn = connect(Endpoint(family, sockaddr, address), max(0.001, (until - begin) / 1e9))
    if conn.sock is None:
        assert conn.error is not None
        if conn.error.kind == "timeout":
            return None, None, None, None
        # refused (a reset: nothing listens), unreachable, blocked...: as the connect said
        return None, None, None, ProbeError(conn.error.kind, f"TCP {conn.error.message}")
    wire = query.to_wire()
    start = now_ns()
    try:
        with conn.sock as sock:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            head = _recv_exactly(sock, 2, until)
            if head is None:
                rejected.add("closed", "the server closed the TCP connection without answering")
                return None, None, None, None
            (length,) = struct.unpack("!H", head)
            data = _recv_exactly(sock, length, until)
            end = now_ns()
    except TimeoutError:
        return None, None, None, None
    except OSError as exc:
        return None, None, None, ProbeError(ErrorKind.UNREACHABLE, f"TCP {where}: {exc.strerror}")
    if data is None:
        rejected.add("short", f"a TCP answer cut short (expected {length} bytes)")
        return None, None, None, None
    response = _check(query, data, rejected)
    if response is None:
        return None, None, None, None
    return response, (end - start) / 1e6, len(data), None


def exchange(
    query: dns.message.Message,
    address: str,
    port: int = 53,
    *,
    tcp: bool = False,
    timeout: float = 2.0,
    retries: int = 1,
    deadline_ns: int | None = None,
) -> Exchange:
    """Send ``query`` to ``address`` and return the first valid response.

    ``timeout`` bounds each attempt, by the clock; an attempt that got no response at all is
    repeated ``retries`` times (one whose responses were all rejected is not: the server is
    there and answers badly, and asking again only waits longer). A UDP answer with TC set is
    repeated once over TCP (the returned exchange says so). ``deadline_ns`` (a
    :func:`netdiag.clock.now_ns` reading) bounds the whole exchange, retries included.
    """
    rejected = Rejections()
    transport = "tcp" if tcp else "udp"
    truncated = False
    attempts = 0
    where = format_hostport(address, port)

    def done(
        response: dns.message.Message | None = None,
        ms: float | None = None,
        size: int | None = None,
        error: ProbeError | None = None,
    ) -> Exchange:
        return Exchange(
            address,
            port,
            transport,
            truncated,
            ms,
            size,
            attempts,
            tuple(rejected.first),
            rejected.count,
            response,
            error,
        )

    for _ in range(retries + 1):
        if attempts and deadline_ns is not None and now_ns() >= deadline_ns:
            break
        attempts += 1
        send = _tcp if transport == "tcp" else _udp
        response, ms, size, error = send(query, address, port, timeout, rejected, deadline_ns)
        if error is not None:
            return done(error=error)
        if response is None:
            if rejected.count:
                break  # the server answered, but nothing it sent could be trusted
            continue
        if transport == "udp" and response.flags & dns.flags.TC:
            truncated = True
            transport = "tcp"
            attempts += 1
            response, ms, size, error = _tcp(query, address, port, timeout, rejected, deadline_ns)
            if response is None:
                error = error or ProbeError(
                    ErrorKind.TIMEOUT,
                    f"the UDP answer from {where} was truncated and the TCP retry got no answer",
                )
                return done(error=error)
        return done(response, ms, size)
    if rejected.count:
        error = ProbeError(
            ErrorKind.BAD_RESPONSE, f"no valid answer from {where}: rejected {rejected.summary()}"
        )
    elif deadline_ns is not None and now_ns() >= deadline_ns:
        error = ProbeError(
            ErrorKind.TIMEOUT,
            f"no answer from {where} over {transport.upper()} before the time bound",
        )
    else:
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        error = ProbeError(
            ErrorKind.TIMEOUT,
            f"no answer from {where} over {transport.upper()} after {timeout:g} s{tries}",
        )
    return done(error=error)


def rcode_text(message: dns.message.Message) -> str:
    return dns.rcode.to_text(message.rcode())


def rdtype_of(text: str) -> dns.rdatatype.RdataType:
    """A record type from its name (``A``, ``mx``, ``TYPE65``); ValueError when unknown."""
    try:
        return dns.rdatatype.from_text(text.upper())
    except dns.rdatatype.UnknownRdatatype:
        raise ValueError(f"unknown record type '{text}'") from None


IN = dns.rdataclass.IN


MAX_CNAME_CHAIN = 16
"""CNAMEs followed inside one answer, at most."""


@dataclass(frozen=True, slots=True)
class Chain:
    """qname's records in an answer, along its CNAME chain."""

    records: tuple[Record, ...]
    """The CNAMEs followed, then the records of the type asked for (if reached)."""
    end: dns.name.Name
    """Where the chain ends: qname itself when the answer holds no CNAME for it."""
    reached: bool
    """A record of the type asked for was found at ``end``."""
    loop: bool = False
    """The chain comes back to a name it passed (or is longer than :data:`MAX_CNAME_CHAIN`)."""


def answer_chain(
    response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> Chain:
    """Follow qname's CNAMEs inside ``response``'s answer section, at most
    :data:`MAX_CNAME_CHAIN` of them, stopping where a loop closes."""
    name = qname
    kept: list[dns.rrset.RRset] = []
    seen = {qname}
    for _ in range(MAX_CNAME_CHAIN + 1):
        rr = response.get_rrset(response.answer, name, IN, rdtype)
        if rr is not None:
            kept.append(rr)
            return Chain(section_records(kept), name, True)
        cname = response.get_rrset(response.answer, name, IN, dns.rdatatype.CNAME)
        if cname is None:
            return Chain(section_records(kept), name, False)
        kept.append(cname)
        name = cname[0].target
        if name in seen:
            break
        seen.add(name)
    return Chain(section_records(kept), name, False, loop=True)


def authority_soa(response: dns.message.Message, name: dns.name.Name) -> dns.name.Name | None:
    """The zone of an SOA in the authority section that holds ``name`` (what a negative answer
    carries, RFC 2308), or None: no SOA, or one for a zone that has nothing to say on it."""
    for rr in response.authority:
        if rr.rdtype == dns.rdatatype.SOA and name.is_subdomain(rr.name):
            return rr.name
    return None


def authority_ns(response: dns.message.Message) -> tuple[dns.name.Name, list[str]] | None:
    """The first NS set of the authority section: its owner (the zone a referral points to)
    and the name servers' names, sorted (a stable order to show), or None."""
    for rr in response.authority:
        if rr.rdtype == dns.rdatatype.NS:
            return rr.name, sorted(rd.target.to_text() for rd in rr)
    return None
