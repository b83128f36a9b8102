"""Reading the kernel's neighbour table (ARP for IPv4, neighbour discovery for IPv6), as
``ip neigh`` does: one RTM_GETNEIGH dump on a NETLINK_ROUTE socket, binary answers.

The request and message layouts are the kernel's ABI (linux/neighbour.h, linux/rtnetlink.h).
An entry stays raw (:class:`RawNeighbour`) until a report keeps it: a probe may count a
hundred thousand of them and keep a few.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from typing import NamedTuple

from netdiag.net.netlink import NETLINK_ROUTE, Dump, attribute, attributes

RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30

NDMSG = struct.Struct("=BxxxiHBB")
"""struct ndmsg: family, 3 bytes of padding, ifindex, state (NUD_*), flags (NTF_*), type."""
NDA_DST = 1
NDA_LLADDR = 2
NDA_CACHEINFO = 3
NDA_PROBES = 4
NDA_IFINDEX = 8
CACHEINFO = struct.Struct("=IIII")
"""struct nda_cacheinfo: confirmed, used, updated (clock ticks ago), refcnt."""
U32 = struct.Struct("=I")

NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NUD_NONE = 0x00
STATES = {
    NUD_INCOMPLETE: "INCOMPLETE",
    NUD_REACHABLE: "REACHABLE",
    NUD_STALE: "STALE",
    NUD_DELAY: "DELAY",
    NUD_PROBE: "PROBE",
    NUD_FAILED: "FAILED",
    NUD_NOARP: "NOARP",
    NUD_PERMANENT: "PERMANENT",
}

NTF_PROXY = 0x08
NTF_ROUTER = 0x80
FLAGS = {NTF_PROXY: "proxy", 0x10: "extern_learn", 0x20: "offload", 0x40: "sticky"}
"""The flags ``ip neigh`` names (besides router), by their NTF_* bit."""

FAMILIES: dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 6}


class RawNeighbour(NamedTuple):
    family: int
    ifindex: int
    state: int
    flags: int
    dst: bytes
    lladdr: bytes | None
    probes: int | None
    cacheinfo: tuple[int, int, int, int] | None
    """confirmed, used, updated (clock ticks ago), refcnt."""


def state_name(state: int) -> str:
    """The kernel's name for a NUD_* state (several joined by ``|``; unknown bits in hex)."""
    if state == NUD_NONE:
        return "NONE"
    if state in STATES:
        return STATES[state]
    names = [name for bit, name in STATES.items() if state & bit]
    rest = state & ~sum(STATES)
    return "|".join([*names, *([f"0x{rest:x}"] if rest else [])])


def flag_names(flags: int) -> tuple[str, ...]:
    return tuple(name for bit, name in FLAGS.items() if flags & bit)


def address(family: int, raw: bytes) -> str:
    return socket.inet_ntop(family, raw)


def lladdr_text(raw: bytes | None) -> str | None:
    """A link-layer address as ``ip`` prints an Ethernet one: hex bytes joined by colons."""
    return raw.hex(":") if raw is not None else None


def ticks_ms(ticks: int) -> float:
    """Clock ticks (USER_HZ, 100 a second almost everywhere) as milliseconds."""
    return ticks * 1000.0 / _clock_ticks()


_CLK_TCK: list[int] = []


def _clock_ticks() -> int:
    if not _CLK_TCK:
        try:
            _CLK_TCK.append(int(os.sysconf("SC_CLK_TCK")) or 100)
        except (ValueError, OSError, AttributeError):
            _CLK_TCK.append(100)
    return _CLK_TCK[0]


def request(family: int = socket.AF_UNSPEC, ifindex: int = 0) -> bytes:
    """The body of an RTM_GETNEIGH dump request: one family (or both), one interface (or
    all: the kernel filters on NDA_IFINDEX, with or without strict checking)."""
    body = NDMSG.pack(family, 0, 0, 0, 0)
    if ifindex:
        body += attribute(NDA_IFINDEX, U32.pack(ifindex))
    return body


def parse(body: memoryview) -> RawNeighbour | None:
    """One RTM_NEWNEIGH message; None when it is not an IPv4 or IPv6 entry with an address."""
    if len(body) < NDMSG.size:
        return None
    family, ifindex, state, flags, _type = NDMSG.unpack_from(body)
    if family not in FAMILIES:
        return None
    attrs = attributes(body, NDMSG.size, len(body))
    dst = attrs.get(NDA_DST)
    if dst is None or len(dst) != (4 if family == socket.AF_INET else 16):
        return None
    probes = attrs.get(NDA_PROBES)
    info = attrs.get(NDA_CACHEINFO)
    return RawNeighbour(
        family,
        ifindex,
        state,
        flags,
        dst,
        attrs.get(NDA_LLADDR),
        U32.unpack(probes)[0] if probes is not None and len(probes) == 4 else None,
        CACHEINFO.unpack(info) if info is not None and len(info) == CACHEINFO.size else None,
    )


def table(family: int = socket.AF_UNSPEC, ifindex: int = 0, *, timeout: float = 5.0) -> Dump:
    """The dump of the neighbours of ``family`` on ``ifindex`` (0: every interface), read
    within ``timeout`` seconds::

        with table(socket.AF_INET) as dump:
            for entry in entries(dump):
                ...
        dump.interrupted  # the table changed while it was read
    """
    return Dump(NETLINK_ROUTE, RTM_GETNEIGH, request(family, ifindex), timeout=timeout)


def entries(dump: Dump) -> Iterator[RawNeighbour]:
    """Every IPv4 and IPv6 entry of the dump, in the kernel's order. OSError
    (PermissionError where netlink is refused) or TimeoutError when the table cannot be
    read; the entries yielded until then stand."""
    for mtype, body in dump:
        if mtype == RTM_NEWNEIGH:
            entry = parse(body)
            if entry is not None:
                yield entry
