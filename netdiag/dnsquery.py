"""One DNS exchange (query -> validated response) over UDP or TCP, on dnspython.

dnspython builds and parses every message; this module owns only the transport: a connected
UDP socket (so ICMP port-unreachable is reported, and datagrams from other sources never reach
us) and a TCP connection from :mod:`netdiag.tcpconnect` with RFC 1035 two-byte length framing.
Every response is checked before it is trusted: bytes that do not parse, a wrong message ID,
or an answer to a different question are rejected and reported, and the wait goes on until a
valid answer or the deadline. A UDP answer with TC set is retried over TCP.

Importing this module imports dnspython: only the ``dns`` command does.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from netdiag.clock import now_ns
from netdiag.resolve import Endpoint
from netdiag.result import ProbeError
from netdiag.targets import format_hostport
from netdiag.tcpconnect import connect

EDNS_PAYLOAD = 1232
"""The EDNS0 UDP payload size we advertise (the DNS Flag Day 2020 value): larger answers come
back truncated and are retried over TCP."""
MAX_MESSAGE = 65535
"""No DNS message is larger (TCP's two-byte length prefix); every read is bounded by it."""


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record, as text: ``data`` is the RDATA in zone-file form."""

    name: str
    type: str
    ttl: int
    data: str


def section_records(section: list) -> tuple[Record, ...]:
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
    rejected: list[str]
    response: dns.message.Message | None
    error: ProbeError | None


def make_query(
    name: dns.name.Name, rdtype: int, *, recursion_desired: bool = True
) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    if not recursion_desired:
        q.flags &= ~dns.flags.RD
    return q


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _check(
    query: dns.message.Message, data: bytes, rejected: list[str]
) -> dns.message.Message | None:
    """Parse and validate one response; on failure say why in ``rejected``."""
    try:
        response = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError, struct.error) as exc:
        kind = type(exc).__name__
        rejected.append(f"{len(data)} bytes that are not a DNS message ({kind})")
        return None
    if response.id != query.id:
        rejected.append(f"a response with the wrong ID ({response.id}, expected {query.id})")
        return None
    if not query.is_response(response):
        q = response.question[0] if response.question else None
        asked = f"{q.name} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else "nothing"
        rejected.append(f"a response to a different question ({asked})")
        return None
    return response


def _udp(
    query: dns.message.Message, address: str, port: int, timeout: float, rejected: list[str]
) -> tuple[dns.message.Message | None, float | None, int | None, ProbeError | None]:
    wire = query.to_wire()
    where = format_hostport(address, port)
    with (
        socket.socket(_family(address), socket.SOCK_DGRAM) as sock,
        selectors.DefaultSelector() as sel,
    ):
        sock.setblocking(False)
        try:
            sock.connect((address, port))
            start = now_ns()
            sock.send(wire)
        except OSError as exc:
            return None, None, None, ProbeError("unreachable", f"{where}: {exc.strerror}")
        sel.register(sock, selectors.EVENT_READ)
        deadline = start + int(timeout * 1e9)
        while True:
            left = (deadline - now_ns()) / 1e9
            if left <= 0 or not sel.select(left):
                return None, None, None, None  # timeout: the caller may retry
            try:
                data = sock.recv(MAX_MESSAGE)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.ECONNREFUSED:
                    msg = f"nothing listens on UDP {where} (ICMP port unreachable)"
                    return None, None, None, ProbeError("unreachable", msg)
                return None, None, None, ProbeError("unreachable", f"{where}: {exc.strerror}")
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
    query: dns.message.Message, address: str, port: int, timeout: float, rejected: list[str]
) -> tuple[dns.message.Message | None, float | None, int | None, ProbeError | None]:
    where = format_hostport(address, port)
    family = _family(address)
    sockaddr = (address, port) if family == socket.AF_INET else (address, port, 0, 0)
    conn = connect(Endpoint(family, sockaddr, address), timeout)
    if conn.sock is None:
        assert conn.error is not None
        if conn.error.kind == "timeout":
            return None, None, None, None
        return None, None, None, ProbeError("unreachable", f"TCP {conn.error.message}")
    wire = query.to_wire()
    start = now_ns()
    deadline = start + int(timeout * 1e9)
    try:
        with conn.sock as sock:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            head = _recv_exactly(sock, 2, deadline)
            if head is None:
                rejected.append("the server closed the TCP connection without answering")
                return None, None, None, None
            (length,) = struct.unpack("!H", head)
            data = _recv_exactly(sock, length, deadline)
            end = now_ns()
    except TimeoutError:
        return None, None, None, None
    except OSError as exc:
        return None, None, None, ProbeError("unreachable", f"TCP {where}: {exc.strerror}")
    if data is None:
        rejected.append(f"a TCP answer cut short (expected {length} bytes)")
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
) -> Exchange:
    """Send ``query`` to ``address`` and return the first valid response.

    ``timeout`` bounds each attempt; a timed-out attempt is repeated ``retries`` times. A UDP
    answer with TC set is repeated once over TCP (the returned exchange says so).
    """
    rejected: list[str] = []
    transport = "tcp" if tcp else "udp"
    truncated = False
    attempts = 0
    for _ in range(retries + 1):
        attempts += 1
        send = _tcp if transport == "tcp" else _udp
        response, ms, size, error = send(query, address, port, timeout, rejected)
        if error is not None:
            return Exchange(
                address, port, transport, truncated, None, None, attempts, rejected, None, error
            )
        if response is None:
            continue
        if transport == "udp" and response.flags & dns.flags.TC:
            truncated = True
            transport = "tcp"
            attempts += 1
            response, ms, size, error = _tcp(query, address, port, timeout, rejected)
            if response is None:
                error = error or ProbeError(
                    "timeout",
                    f"the UDP answer from {format_hostport(address, port)} was truncated and "
                    "the TCP retry got no answer",
                )
                return Exchange(
                    address, port, transport, truncated, None, None, attempts, rejected, None, error
                )
        return Exchange(
            address, port, transport, truncated, ms, size, attempts, rejected, response, None
        )
    where = format_hostport(address, port)
    if rejected:
        error = ProbeError(
            "bad_response",
            f"no valid answer from {where}; rejected {len(rejected)}: {'; '.join(rejected[:3])}",
        )
    else:
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        error = ProbeError(
            "timeout", f"no answer from {where} over {transport.upper()} after {timeout:g} s{tries}"
        )
    return Exchange(
        address, port, transport, truncated, None, None, attempts, rejected, None, error
    )


def rcode_text(message: dns.message.Message) -> str:
    return dns.rcode.to_text(message.rcode())


def rdtype_of(text: str) -> int:
    """A record type from its name (``A``, ``mx``, ``TYPE65``); ValueError when unknown."""
    try:
        return int(dns.rdatatype.from_text(text.upper()))
    except dns.rdatatype.UnknownRdatatype:
        raise ValueError(f"unknown record type '{text}'") from None


IN = dns.rdataclass.IN
