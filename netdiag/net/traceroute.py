"""Traceroute probes on the wire: one packet with a chosen TTL (IPv6 hop limit), and what
came back for it (Linux).

Three methods, each with the least privilege the kernel allows:

- ``icmp``: echo requests on the ICMP socket of :mod:`netdiag.net.icmp` (an unprivileged
  datagram socket where ``net.ipv4.ping_group_range`` allows it, else raw). On the datagram
  socket the time exceeded and unreachable errors arrive on the error queue (IP_RECVERR);
  on the raw one as ICMP messages quoting our request. The destination sends an echo reply.
- ``udp``: classic traceroute, datagrams to port 33434, 33435... on one unprivileged UDP
  socket with IP_RECVERR, as tracepath: every ICMP error lands on its error queue with the
  router's address and the port it was sent to (which names the probe). The destination
  answers "port unreachable".
- ``tcp``: a non-blocking connect per probe (a SYN with the probe's TTL) on an ordinary TCP
  socket with IP_RECVERR, as traceroute's ``-M tcpconn``: a router's time exceeded lands on
  that socket's error queue (and aborts the connect); the destination answers SYN-ACK (the
  connect completes; the RTT is the kernel's, from TCP_INFO) or RST (refused). Needs no
  privilege, and passes firewalls that drop ICMP and UDP. The connection is reset at once.

A socket with IP_RECVERR also keeps the last ICMP error as a pending socket error, which the
next ``sendto`` returns instead of sending (and so clears): such a send is made again.
Receive times come from the kernel (``SO_TIMESTAMPNS``).
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from netdiag.clock import now_ns
from netdiag.errors import ErrorKind
from netdiag.net import icmp
from netdiag.results import ProbeError

UDP_BASE_PORT = 33434
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_PROBE = getattr(socket, "IP_PMTUDISC_PROBE", 3)
IP_MTU = getattr(socket, "IP_MTU", 14)
IPV6_MTU_DISCOVER = getattr(socket, "IPV6_MTU_DISCOVER", 23)
IPV6_PMTUDISC_PROBE = getattr(socket, "IPV6_PMTUDISC_PROBE", 3)
IPV6_MTU = getattr(socket, "IPV6_MTU", 24)
TCP_SYNCNT = getattr(socket, "TCP_SYNCNT", 7)
HEADER = {4: 20, 6: 40}
"""IP header bytes (no options)."""
PAYLOAD = 32
"""Data bytes per probe (traceroute's default: a 60-byte ICMP or UDP packet over IPv4)."""

_PENDING_ERRORS = {
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ECONNREFUSED,
    errno.EHOSTDOWN,
    errno.EACCES,
    errno.EPROTO,
    errno.EMSGSIZE,
    errno.ECONNRESET,
}
"""Errors an ICMP error leaves pending on a socket with IP_RECVERR (returned by the next
send instead of sending)."""

# ICMP types and codes by IP version.
TIME_EXCEEDED = icmp.TIME_EXCEEDED
UNREACHABLE = icmp.UNREACHABLE
PORT_UNREACHABLE = {4: 3, 6: 4}
FRAG_NEEDED = {4: (3, 4), 6: (2, 0)}
"""IPv4 destination unreachable / fragmentation needed, IPv6 packet too big."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back for one probe."""

    key: int
    status: str
    """``hop`` (time exceeded), ``destination`` (echo reply, port unreachable, SYN-ACK, RST),
    ``unreachable`` (any other destination unreachable), ``too_big`` (fragmentation needed /
    packet too big, or this host refused a packet over the route's MTU: EMSGSIZE)."""
    address: str | None
    reply: str
    rx_ns: int | None = None
    """Kernel receive time, realtime nanoseconds."""
    rtt_ns: int | None = None
    """The RTT as the kernel measured it (TCP_INFO), when it did."""
    icmp_type: int | None = None
    icmp_code: int | None = None
    info: int = 0
    """The next-hop MTU of ``too_big``."""


class Prober(Protocol):
    """One method's socket(s): send a probe with a TTL, collect what came back."""

    kind: str
    """The socket the probes go out on (reported as ``socket``)."""

    def send(self, key: int, ttl: int, size: int | None = None) -> int:
        """Send probe ``key`` with ``ttl`` (and ``size`` bytes in all, IP header included,
        where the method allows it); return the realtime nanoseconds just before it left.
        Raises OSError when it could not be sent."""
        ...

    def poll(self, timeout: float | None) -> list[Answer]:
        """Wait at most ``timeout`` seconds for answers; return those that came."""
        ...

    def forget(self, key: int) -> None:
        """Probe ``key`` is no longer awaited (timed out, or beyond the destination)."""
        ...

    def close(self) -> None: ...


def unreachable_name(version: int, code: int | None) -> str:
    """An ICMP destination unreachable's code by name (``host unreachable``...)."""
    if code is None:
        return "unreachable"
    return icmp.UNREACH_CODES[version].get(code, f"unreachable (code {code})")


def _classify(
    version: int, icmp_type: int | None, code: int | None, final: tuple[int, int] | None
) -> tuple[str, str]:
    """(status, reply name) of an ICMP error; ``final`` is the (type, code) that means the
    destination answered (UDP's port unreachable)."""
    if icmp_type == TIME_EXCEEDED[version]:
        return "hop", "time exceeded"
    if (icmp_type, code) == FRAG_NEEDED[version]:
        return "too_big", "fragmentation needed" if version == 4 else "packet too big"
    if final is not None and (icmp_type, code) == final:
        return "destination", "port unreachable"
    if icmp_type == UNREACHABLE[version]:
        return "unreachable", unreachable_name(version, code)
    return "unreachable", f"ICMP type {icmp_type} code {code}"


def _send_clearing(sock: socket.socket, data: bytes, address: tuple[str, int]) -> int:
    """``sendto``, again when it returned the error an earlier probe's ICMP error left pending
    on the socket (returned instead of sending, and cleared by being returned); an error that
    persists is this send's own. Returns the realtime ns just before the send that went."""
    for attempt in range(3):
        try:
            sent = time.time_ns()  # as close to the system call as Python gets
            sock.sendto(data, address)
            return sent
        except OSError as exc:
            if exc.errno not in _PENDING_ERRORS or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _set_ttl(sock: socket.socket, version: int, ttl: int) -> None:
    if version == 4:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, icmp.IPV6_UNICAST_HOPS, ttl)


def _recverr(sock: socket.socket, version: int) -> None:
    sock.setsockopt(socket.SOL_SOCKET, icmp.SO_TIMESTAMPNS, 1)
    if version == 4:
        sock.setsockopt(socket.IPPROTO_IP, icmp.IP_RECVERR, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, icmp.IPV6_RECVERR, 1)


class IcmpProber:
    """Echo requests with a TTL on the ICMP socket ping uses."""

    def __init__(self, sock: icmp.IcmpSocket, address: str) -> None:
        self.s = sock
        self.version = sock.version
        self.address = address
        self.kind = f"icmp-{sock.mode}"
        self.nonce = os.urandom(8)
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.payload = self.nonce + bytes(range(0x10, 0x10 + PAYLOAD - len(self.nonce)))
        self.keys: dict[int, int] = {}
        """16-bit wire sequence -> probe key."""
        self.sel = selectors.DefaultSelector()
        self.sel.register(sock.sock, selectors.EVENT_READ)

    @classmethod
    def open(cls, version: int, address: str) -> tuple[IcmpProber | None, ProbeError | None]:
        sock, err = icmp.open_socket(version)
        if sock is None:
            assert err is not None
            if err.kind == ErrorKind.PERMISSION:
                hint = f"{err.hint}; or trace with --method udp or tcp, which need no privilege"
                err = ProbeError(err.kind, err.message, hint)
            return None, err
        return cls(sock, address), None

    def send(self, key: int, ttl: int, size: int | None = None) -> int:
        seq = key & 0xFFFF
        packet = icmp.echo_request(self.version, self.ident, seq, self.payload)
        _set_ttl(self.s.sock, self.version, ttl)
        self.keys[seq] = key
        sent = _send_clearing(self.s.sock, packet, (self.address, 0))
        if self.s.mode == "dgram":  # the kernel chose the identifier: the socket's port
            self.ident = self.s.sock.getsockname()[1]
        return sent

    def poll(self, timeout: float | None) -> list[Answer]:
        if not self.sel.select(timeout):
            return []
        out: list[Answer] = []
        for msg in icmp.receive(self.s):
            if self.s.mode == "raw" and msg.ident != self.ident:
                continue
            key = self.keys.get(msg.seq)
            if key is None:
                continue
            if msg.kind == "reply":
                if self.s.mode == "raw" and not msg.payload.startswith(self.nonce):
                    continue
                out.append(Answer(key, "destination", msg.source, "echo reply", msg.rx_ns))
                continue
            if msg.destination is not None and _norm(msg.destination) != _norm(self.address):
                continue
            if msg.icmp_type is None:
                continue  # a local error: the send itself failed, and said so
            status, reply = _classify(self.version, msg.icmp_type, msg.icmp_code, None)
            out.append(
                Answer(
                    key,
                    status,
                    msg.source,
                    reply,
                    msg.rx_ns,
                    None,
                    msg.icmp_type,
                    msg.icmp_code,
                    msg.info,
                )
            )
        return out

    def forget(self, key: int) -> None:
        self.keys.pop(key & 0xFFFF, None)

    def close(self) -> None:
        self.sel.close()
        self.s.sock.close()


class UdpProber:
    """Datagrams to port ``base``, ``base + 1``... (one per probe) on one UDP socket with
    IP_RECVERR. With ``pmtu``, DF is set (IP_PMTUDISC_PROBE: DF, and the kernel's cached path
    MTU does not stop a larger probe, so every hop is measured) and probes take a size."""

    kind = "udp-dgram"

    def __init__(self, version: int, address: str, base: int, pmtu: bool = False) -> None:
        family = socket.AF_INET if version == 4 else socket.AF_INET6
        self.version = version
        self.address = address
        self.base = base
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            _recverr(self.sock, version)
            if pmtu:
                if version == 4:
                    self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
                else:
                    self.sock.setsockopt(
                        socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE
                    )
        except OSError:
            self.sock.close()
            raise
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.final = (UNREACHABLE[version], PORT_UNREACHABLE[version])

    def port(self, key: int) -> int:
        return self.base + key

    def device_mtu(self) -> int | None:
        """The MTU of the interface the route to the destination leaves by: a datagram too
        big for it is refused here, before anything is sent (EMSGSIZE, the MTU in the error
        queue), as tracepath finds it. Unlike IP_MTU, not lowered by a path MTU the kernel
        learned earlier. None when the interface takes even that (loopback)."""
        _set_ttl(self.sock, self.version, 1)
        try:
            self.sock.sendto(b"\x00" * 65000, (self.address, self.base))
        except OSError as exc:
            if exc.errno != errno.EMSGSIZE:
                return None
        else:
            return None
        for e in icmp.error_queue(self.sock):
            if e.origin == icmp.ORIGIN_LOCAL and e.errno == errno.EMSGSIZE and e.info:
                return e.info
        return None

    def send(self, key: int, ttl: int, size: int | None = None) -> int:
        length = PAYLOAD if size is None else max(0, size - HEADER[self.version] - 8)
        _set_ttl(self.sock, self.version, ttl)
        return _send_clearing(self.sock, b"\x40" * length, (self.address, self.port(key)))

    def poll(self, timeout: float | None) -> list[Answer]:
        if not self.sel.select(timeout):
            return []
        out: list[Answer] = []
        for e in icmp.error_queue(self.sock):
            if e.destination is None or _norm(e.destination[0]) != _norm(self.address):
                continue
            key = e.destination[1] - self.base
            if e.origin == icmp.ORIGIN_LOCAL:
                if e.errno == errno.EMSGSIZE:
                    out.append(
                        Answer(key, "too_big", None, "message too long", e.rx_ns, info=e.info)
                    )
                continue
            status, reply = _classify(self.version, e.icmp_type, e.icmp_code, self.final)
            out.append(
                Answer(
                    key, status, e.offender, reply, e.rx_ns, None, e.icmp_type, e.icmp_code, e.info
                )
            )
        return out

    def forget(self, key: int) -> None:
        pass

    def close(self) -> None:
        self.sel.close()
        self.sock.close()


class TcpProber:
    """A non-blocking connect per probe, its SYN sent with the probe's TTL."""

    kind = "tcp-connect"

    def __init__(self, version: int, address: str, port: int) -> None:
        self.version = version
        self.family = socket.AF_INET if version == 4 else socket.AF_INET6
        self.address = address
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks: dict[int, socket.socket] = {}
        """Probe key -> its socket."""
        # The kernel stamps received packets only while some socket asks for it, and turns
        # stamping on lazily (a deferred work item): a socket held open for the whole run
        # keeps it on between one probe's socket and the next.
        self.stamps = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.stamps.setsockopt(socket.SOL_SOCKET, icmp.SO_TIMESTAMPNS, 1)

    def send(self, key: int, ttl: int, size: int | None = None) -> int:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            _recverr(sock, self.version)
            _set_ttl(sock, self.version, ttl)
            # Reset, not FIN, when closed: no TIME_WAIT left behind, nothing for the peer to
            # hold open; and one SYN retransmission at most.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.setsockopt(socket.IPPROTO_TCP, TCP_SYNCNT, 1)
            # The local port is taken now, not by connect(): less between the time stamp and
            # the SYN leaving.
            sock.bind(("0.0.0.0" if self.version == 4 else "::", 0))
            sent = time.time_ns()
            rc = sock.connect_ex((self.address, self.port))
        except OSError:
            sock.close()
            raise
        if rc not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(rc, os.strerror(rc))
        self.socks[key] = sock
        self.sel.register(sock, selectors.EVENT_WRITE, key)
        return sent

    def poll(self, timeout: float | None) -> list[Answer]:
        if not self.socks:
            if timeout:
                time.sleep(timeout)
            return []
        out: list[Answer] = []
        for skey, _ev in self.sel.select(timeout):
            key = skey.data
            answer = self._outcome(key)
            if answer is not None:
                out.append(answer)
            self.forget(key)
        return out

    def _outcome(self, key: int) -> Answer | None:
        sock = self.socks[key]
        for e in icmp.error_queue(sock):
            if e.origin in (icmp.ORIGIN_ICMP, icmp.ORIGIN_ICMP6):
                status, reply = _classify(self.version, e.icmp_type, e.icmp_code, None)
                return Answer(
                    key, status, e.offender, reply, e.rx_ns, None, e.icmp_type, e.icmp_code, e.info
                )
        now = time.time_ns()
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            from netdiag.net.tcpconnect import read_tcp_info

            info = read_tcp_info(sock)
            rtt = int(info.rtt_ms * 1e6) if info is not None and info.rtt_ms > 0 else None
            return Answer(key, "destination", self.address, "syn-ack", now, rtt)
        if err == errno.ECONNREFUSED:
            return Answer(key, "destination", self.address, "rst", now)
        return Answer(key, "unreachable", None, os.strerror(err).lower(), now)

    def forget(self, key: int) -> None:
        sock = self.socks.pop(key, None)
        if sock is not None:
            self.sel.unregister(sock)
            sock.close()

    def close(self) -> None:
        for key in list(self.socks):
            self.forget(key)
        self.sel.close()
        self.stamps.close()


def open_prober(
    method: str, version: int, address: str, port: int | None
) -> tuple[Prober | None, ProbeError | None]:
    """The prober for ``method``, or why it cannot be had here (``permission`` with the fix,
    ``unsupported`` where the address family is missing, ``resource``)."""
    try:
        if method == "icmp":
            return IcmpProber.open(version, address)
        if method == "udp":
            return UdpProber(version, address, port or UDP_BASE_PORT), None
        return TcpProber(version, address, port or 80), None
    except OSError as exc:
        if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
            return None, ProbeError(ErrorKind.UNSUPPORTED, f"IPv{version} is not available here")
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            return None, ProbeError(ErrorKind.RESOURCE, f"cannot open a socket: {exc.strerror}")
        return None, ProbeError(ErrorKind.ERROR, f"cannot open a socket: {exc.strerror}")


def route_mtu(address: str, version: int) -> int | None:
    """The MTU of this host's route to ``address`` (the kernel's path MTU where it learned
    one): IP_MTU of a connected UDP socket. Sends nothing."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((address, 9))
            if version == 4:
                return int(s.getsockopt(socket.IPPROTO_IP, IP_MTU))
            return int(s.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU))
    except OSError:
        return None


def reverse_names(addresses: list[str], timeout: float) -> dict[str, str | None]:
    """The reverse name (PTR, through the system's resolver) of each address, looked up at
    once on daemon threads; whatever has not answered within ``timeout`` seconds is None."""
    found: dict[str, str | None] = dict.fromkeys(addresses)
    lock = threading.Lock()
    done = threading.Semaphore(0)

    def lookup(address: str) -> None:
        try:
            name, _ = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)
        except (OSError, UnicodeError):
            name = None
        with lock:
            found[address] = name if name and name != address else None
        done.release()

    for address in addresses:
        threading.Thread(target=lookup, args=(address,), name="rdns", daemon=True).start()
    deadline = now_ns() + int(timeout * 1e9)
    for _ in addresses:
        left = (deadline - now_ns()) / 1e9
        if left <= 0 or not done.acquire(timeout=left):
            break
    with lock:
        return dict(found)


def _norm(address: str) -> str:
    return address.split("%")[0].lower()
