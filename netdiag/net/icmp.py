"""ICMP echo sockets and packets, IPv4 and IPv6 (Linux).

Two kinds of socket can send an echo request:

- an ICMP *datagram* socket (``SOCK_DGRAM, IPPROTO_ICMP``), allowed without privileges for
  groups in ``net.ipv4.ping_group_range``; the kernel picks the echo identifier, fills in the
  checksum and hands this socket only its own replies (and, with ``IP_RECVERR``, the ICMP
  errors they caused, on the error queue);
- a *raw* socket (``SOCK_RAW``), for root or CAP_NET_RAW, which sees every ICMP message the
  host receives: replies are matched by identifier, sequence and a per-run nonce in the
  payload, and errors by the original datagram they quote.

Receive times come from the kernel (``SO_TIMESTAMPNS``), so an RTT is not inflated by Python
waking up. The few header fields read here (type, code, identifier, sequence, the quoted
datagram) are the ICMP and IP wire formats of RFC 792/4443/791/8200; no library for them is
part of a standard Python install.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

from netdiag.errors import ErrorKind
from netdiag.results import ProbeError

SO_TIMESTAMPNS = 35  # asm-generic/socket.h, 64-bit time_t (SO_TIMESTAMPNS_OLD)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = socket.IP_TTL
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_UNICAST_HOPS = getattr(socket, "IPV6_UNICAST_HOPS", 16)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
UNREACHABLE = {4: 3, 6: 1}
TIME_EXCEEDED = {4: 11, 6: 3}

UNREACH_CODES = {
    4: {
        0: "network unreachable",
        1: "host unreachable",
        2: "protocol unreachable",
        3: "port unreachable",
        4: "fragmentation needed",
        5: "source route failed",
        6: "destination network unknown",
        7: "destination host unknown",
        9: "network administratively prohibited",
        10: "host administratively prohibited",
        13: "communication administratively prohibited",
    },
    6: {
        0: "no route to destination",
        1: "communication administratively prohibited",
        2: "beyond scope of source address",
        3: "address unreachable",
        4: "port unreachable",
        5: "source address failed policy",
        6: "reject route to destination",
    },
}

PERMISSION_HINT = (
    "allow unprivileged ICMP sockets with "
    "`sysctl -w net.ipv4.ping_group_range='0 2147483647'`, or give the interpreter raw "
    "sockets with `setcap cap_net_raw+ep $(readlink -f $(command -v python3))`, or run as root"
)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


@dataclass
class IcmpSocket:
    sock: socket.socket
    version: int
    mode: str
    """``dgram`` (unprivileged ICMP socket) or ``raw``."""


def open_socket(version: int, mode: str = "auto") -> tuple[IcmpSocket | None, ProbeError | None]:
    """An ICMP socket for IPv4 (4) or IPv6 (6): datagram where allowed, else raw (``auto``),
    or exactly the ``mode`` asked for. The error, when neither is possible, says how to fix it."""
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    proto = socket.IPPROTO_ICMP if version == 4 else socket.IPPROTO_ICMPV6
    tried: list[str] = []
    for kind in ("dgram", "raw") if mode == "auto" else (mode,):
        stype = socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_RAW
        try:
            s = socket.socket(family, stype, proto)
        except PermissionError as exc:
            tried.append(f"{kind}: {os.strerror(exc.errno or errno.EPERM)}")
            continue
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                return None, ProbeError(
                    ErrorKind.UNSUPPORTED, f"IPv{version} ICMP sockets are not available here"
                )
            tried.append(f"{kind}: {exc.strerror}")
            continue
        _configure(s, version)
        return IcmpSocket(s, version, kind), None
    return None, ProbeError(
        ErrorKind.PERMISSION,
        f"cannot open an ICMP socket ({'; '.join(tried)})",
        hint=PERMISSION_HINT,
    )


def _configure(s: socket.socket, version: int) -> None:
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if version == 4:
        s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)


def set_ttl(s: IcmpSocket, ttl: int) -> None:
    if s.version == 4:
        s.sock.setsockopt(socket.IPPROTO_IP, IP_TTL, ttl)
    else:
        s.sock.setsockopt(socket.IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl)


def echo_request(version: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; the checksum is filled in for IPv4 (the kernel does it for ICMPv6)."""
    header = struct.pack("!BBHHH", ECHO_REQUEST[version], 0, 0, ident, seq)
    if version == 4:
        header = struct.pack(
            "!BBHHH", ECHO_REQUEST[version], 0, checksum(header + payload), ident, seq
        )
    return header + payload


@dataclass
class Received:
    """One ICMP message that arrived, as far as this run cares."""

    kind: str
    """``reply`` or ``error`` (unreachable or time exceeded)."""
    source: str
    ident: int
    seq: int
    size: int
    """ICMP bytes (header and payload), as ping's "64 bytes from"."""
    ttl: int | None
    rx_ns: int | None
    payload: bytes = b""
    error_text: str | None = None
    destination: str | None = None
    """For errors: where the quoted original datagram was going."""
    icmp_type: int | None = None
    """For errors: the ICMP type and code (None for a local error on the error queue)."""
    icmp_code: int | None = None
    info: int = 0
    """For errors: the kernel's ``ee_info`` (the next-hop MTU of "fragmentation needed" /
    "packet too big", or of a local EMSGSIZE)."""


def _cmsgs(ancdata: list[tuple[int, int, bytes]]) -> tuple[int | None, int | None]:
    ttl = rx = None
    for level, ctype, data in ancdata:
        if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            rx = sec * 1_000_000_000 + nsec
        elif (level == socket.IPPROTO_IP and ctype in (IP_TTL, IP_RECVTTL)) or (
            level == socket.IPPROTO_IPV6 and ctype == IPV6_HOPLIMIT
        ):
            if len(data) >= 4:
                ttl = struct.unpack("i", data[:4])[0]
            elif data:
                ttl = data[0]
    return ttl, rx


def _describe_error(version: int, icmp_type: int, code: int) -> str:
    if icmp_type == UNREACHABLE[version]:
        return "destination unreachable: " + UNREACH_CODES[version].get(code, f"code {code}")
    if icmp_type == TIME_EXCEEDED[version]:
        return (
            "time to live exceeded in transit" if code == 0 else "fragment reassembly time exceeded"
        )
    return f"ICMP type {icmp_type} code {code}"


def receive(s: IcmpSocket) -> list[Received]:
    """Everything waiting on the socket (the error queue first); never blocks."""
    out: list[Received] = []
    out.extend(_receive_errors(s))
    while True:
        try:
            data, anc, _flags, addr = s.sock.recvmsg(65535, 256)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            out.extend(_receive_errors(s))
            break
        ttl, rx = _cmsgs(anc)
        msg = _parse(s, data, addr[0], ttl, rx)
        if msg is not None:
            out.append(msg)
    return out


def _parse(
    s: IcmpSocket, data: bytes, source: str, ttl: int | None, rx: int | None
) -> Received | None:
    v = s.version
    if v == 4 and s.mode == "raw":
        if len(data) < 20:
            return None
        ihl = (data[0] & 0x0F) * 4
        ttl = data[8]
        data = data[ihl:]
    if len(data) < 8:
        return None
    icmp_type, code, _ck, ident, seq = struct.unpack("!BBHHH", data[:8])
    if icmp_type == ECHO_REPLY[v]:
        return Received("reply", source, ident, seq, len(data), ttl, rx, data[8:])
    if icmp_type in (UNREACHABLE[v], TIME_EXCEEDED[v]):
        # The error quotes the original datagram: its IP header, then our echo request.
        quoted = data[8:]
        if v == 4:
            if len(quoted) < 28:
                return None
            qihl = (quoted[0] & 0x0F) * 4
            dest = socket.inet_ntop(socket.AF_INET, quoted[16:20])
            inner = quoted[qihl : qihl + 8]
        else:
            if len(quoted) < 48:
                return None
            dest = socket.inet_ntop(socket.AF_INET6, quoted[24:40])
            inner = quoted[40:48]
        if len(inner) < 8 or inner[0] != ECHO_REQUEST[v]:
            return None
        _t, _c, _k, oid, oseq = struct.unpack("!BBHHH", inner)
        return Received(
            "error",
            source,
            oid,
            oseq,
            len(data),
            ttl,
            rx,
            error_text=_describe_error(v, icmp_type, code),
            destination=dest,
            icmp_type=icmp_type,
            icmp_code=code,
            info=struct.unpack("!I", data[4:8])[0],
        )
    return None


ORIGIN_LOCAL = 1
ORIGIN_ICMP = 2
ORIGIN_ICMP6 = 3


@dataclass
class QueuedError:
    """One entry of a socket's error queue (``IP_RECVERR``/``IPV6_RECVERR``): struct
    sock_extended_err, the offender's address, and what the kernel hands back of the
    datagram that caused it (from its transport payload on: the echo request of an ICMP
    socket, the payload of a UDP one, the TCP header of a TCP one)."""

    errno: int
    origin: int
    """``ORIGIN_LOCAL`` (this host refused to send: EMSGSIZE...), ``ORIGIN_ICMP(6)``."""
    icmp_type: int
    icmp_code: int
    info: int
    """The next-hop MTU for "fragmentation needed", "packet too big" and a local EMSGSIZE."""
    offender: str | None
    """Who sent the ICMP error (a router, or the destination)."""
    destination: tuple[str, int] | None
    """Where the datagram was going: address and port (the ``msg_name`` of the error)."""
    data: bytes
    rx_ns: int | None
    """Kernel receive time of the ICMP error, realtime nanoseconds (``SO_TIMESTAMPNS``)."""


def error_queue(sock: socket.socket, limit: int = 4096) -> list[QueuedError]:
    """Everything waiting on ``sock``'s error queue (at most ``limit`` entries); never
    blocks."""
    out: list[QueuedError] = []
    while len(out) < limit:
        try:
            data, anc, _flags, addr = sock.recvmsg(65535, 512, MSG_ERRQUEUE)
        except (BlockingIOError, InterruptedError, OSError):
            return out
        _ttl, rx = _cmsgs(anc)
        for level, ctype, cdata in anc:
            if (level, ctype) not in (
                (socket.IPPROTO_IP, IP_RECVERR),
                (socket.IPPROTO_IPV6, IPV6_RECVERR),
            ) or len(cdata) < 16:
                continue
            # struct sock_extended_err: errno, origin, type, code, pad, info, data; then the
            # offender's sockaddr.
            ee_errno, origin, etype, ecode, _pad, info = struct.unpack("IBBBBI", cdata[:12])
            offender = None
            if len(cdata) >= 16 + 8:
                fam = struct.unpack("H", cdata[16:18])[0]
                if fam == socket.AF_INET:
                    offender = socket.inet_ntop(socket.AF_INET, cdata[20:24])
                elif fam == socket.AF_INET6 and len(cdata) >= 16 + 24:
                    offender = socket.inet_ntop(socket.AF_INET6, cdata[24:40])
            dest = (str(addr[0]), int(addr[1])) if addr else None
            out.append(QueuedError(ee_errno, origin, etype, ecode, info, offender, dest, data, rx))
    return out


def _receive_errors(s: IcmpSocket) -> list[Received]:
    """ICMP errors the kernel queued for a datagram socket (IP_RECVERR)."""
    out: list[Received] = []
    for e in error_queue(s.sock):
        if len(e.data) < 8:
            continue
        _t, _c, _k, ident, seq = struct.unpack("!BBHHH", e.data[:8])
        icmp_origin = e.origin in (ORIGIN_ICMP, ORIGIN_ICMP6)
        text = (
            _describe_error(s.version, e.icmp_type, e.icmp_code)
            if icmp_origin
            else os.strerror(e.errno)
        )
        dest = e.destination[0] if e.destination else None
        out.append(
            Received(
                "error",
                e.offender or dest or "?",
                ident,
                seq,
                len(e.data),
                None,
                e.rx_ns,
                error_text=text,
                destination=dest,
                icmp_type=e.icmp_type if icmp_origin else None,
                icmp_code=e.icmp_code if icmp_origin else None,
                info=e.info,
            )
        )
    return out
