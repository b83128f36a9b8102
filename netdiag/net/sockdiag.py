"""Reading the kernel's table of TCP sockets, as ss does.

On Linux the table is dumped over netlink (``NETLINK_SOCK_DIAG``, ``inet_diag``): one request
per address family, binary answers, no per-process walk; ``/proc/net/tcp`` and ``tcp6`` are
the fallback where netlink is refused. Elsewhere psutil gives the portable view. The
``inet_diag`` request and message layouts are the kernel's ABI (linux/inet_diag.h).
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import NamedTuple

from netdiag.net.netlink import (
    NETLINK_SOCK_DIAG,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from netdiag.net.netlink import NLMSGHDR as _NLMSGHDR

STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
STATE_IDS = {name: number for number, name in STATES.items()}
TIME_WAIT = 6

SOCK_DIAG_BY_FAMILY = 20
_REQ = struct.Struct("=BBBBI48s")  # inet_diag_req_v2: family, protocol, ext, pad, states, id
# inet_diag_msg: family, state, timer, retrans, then inet_diag_sockid: sport, dport (network
# order), src[16], dst[16], ...
_MSG = struct.Struct(">BBxxHH16s16s")


class Sock(NamedTuple):
    """One socket. Addresses stay raw (4 or 16 bytes) until a report shows them: decoding
    30,000 of them costs more than counting them."""

    family: int
    state: int
    lport: int
    rport: int
    local: bytes
    remote: bytes


def address(family: int, raw: bytes) -> str:
    """An address as text; IPv4-mapped IPv6 addresses as plain IPv4."""
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, raw[12:16])
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def read_netlink(states_mask: int = 0xFFF) -> list[Sock]:
    """Every TCP socket in the states of ``states_mask`` (bit n = state n), both families."""
    out: list[Sock] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(5.0)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), start=1):
            req = _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, states_mask, b"\0" * 48)
            hdr = _NLMSGHDR.pack(
                _NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
            )
            nl.send(hdr + req)
            _collect(nl, seq, out)
    return out


def _collect(nl: socket.socket, seq: int, out: list[Sock]) -> None:
    buf = bytearray(1 << 20)
    unpack_hdr = _NLMSGHDR.unpack_from
    unpack_msg = _MSG.unpack_from
    append = out.append
    while True:
        n = nl.recv_into(buf)
        if n == 0:
            raise OSError("netlink closed the dump early")
        off = 0
        while off + 16 <= n:
            length, mtype, _flags, mseq, _pid = unpack_hdr(buf, off)
            if length < 16:
                raise OSError("malformed netlink message")
            if mseq == seq:
                if mtype == NLMSG_DONE:
                    return
                if mtype == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", buf, off + 16)
                    if code:
                        raise OSError(-code, "sock_diag refused the request")
                elif mtype == SOCK_DIAG_BY_FAMILY and length >= 16 + 72:
                    family, state, lport, rport, src, dst = unpack_msg(buf, off + 16)
                    if family == socket.AF_INET:
                        src, dst = src[:4], dst[:4]
                    append(Sock(family, state, lport, rport, src, dst))
            off += (length + 3) & ~3


def read_proc() -> list[Sock]:
    """The same table from /proc/net/tcp and /proc/net/tcp6 (text, slower, always there)."""
    out: list[Sock] = []
    for path, family in (
        ("/proc/net/tcp", int(socket.AF_INET)),
        ("/proc/net/tcp6", int(socket.AF_INET6)),
    ):
        try:
            with open(path, "rb") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4:
                continue
            laddr, lport = fields[1].split(b":")
            raddr, rport = fields[2].split(b":")
            out.append(
                Sock(
                    family,
                    int(fields[3], 16),
                    int(lport, 16),
                    int(rport, 16),
                    _proc_addr(laddr),
                    _proc_addr(raddr),
                )
            )
    return out


def _proc_addr(hexaddr: bytes) -> bytes:
    """/proc prints an address as hex 32-bit words, each in host byte order."""
    raw = bytes.fromhex(hexaddr.decode())
    if sys.byteorder == "little":
        return b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return raw


def read_psutil() -> list[Sock]:
    """The portable path (other systems): psutil's view of the same table."""
    import psutil

    out = []
    for c in psutil.net_connections(kind="tcp"):
        family = int(c.family)
        zero = b"\0" * (4 if family == socket.AF_INET else 16)
        local = socket.inet_pton(family, c.laddr.ip.split("%")[0]) if c.laddr else zero
        remote = socket.inet_pton(family, c.raddr.ip.split("%")[0]) if c.raddr else zero
        out.append(
            Sock(
                family,
                STATE_IDS.get(c.status, 0),
                c.laddr.port if c.laddr else 0,
                c.raddr.port if c.raddr else 0,
                local,
                remote,
            )
        )
    return out


def read_table() -> tuple[list[Sock], str]:
    """The table and where it came from: ``netlink``, ``proc`` or ``psutil``."""
    if sys.platform.startswith("linux"):
        try:
            return read_netlink(), "netlink"
        except OSError:
            return read_proc(), "proc"
    return read_psutil(), "psutil"
