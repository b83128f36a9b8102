"""What every netlink exchange shares (linux/netlink.h, linux/rtnetlink.h): the message header,
the flags of a dump request, attributes, and a bounded reader for a dump's answer.

``sockdiag.py`` (NETLINK_SOCK_DIAG) takes its header and flags from here and keeps its own
tight loop, tuned for 30,000 sockets; ``neigh.py`` (NETLINK_ROUTE, rtnetlink) reads its dump
through :class:`Dump`. Everything here is the kernel's ABI: native byte order, 4-byte alignment.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

NETLINK_ROUTE = 0
NETLINK_SOCK_DIAG = 4

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_DUMP_INTR = 0x10
"""Set by the kernel on a dump's messages when the table changed while it was read."""
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH

NLMSG_ERROR = 2
NLMSG_DONE = 3

NLMSGHDR = struct.Struct("=IHHII")
"""struct nlmsghdr: length, type, flags, sequence number, port id."""
NLMSG_HDRLEN = NLMSGHDR.size
RTATTR = struct.Struct("=HH")
"""struct rtattr (and struct nlattr): length (header included), type."""

RECV_BUFFER = 1 << 16
"""One read of a dump. The kernel sends a dump in datagrams of at most 32 KiB (the largest
read it has seen, capped), so each one fits whole; memory stays this one buffer however long
the dump is."""


def align(n: int) -> int:
    """Netlink's alignment: 4 bytes."""
    return (n + 3) & ~3


def request(msg_type: int, flags: int, seq: int, payload: bytes) -> bytes:
    """A netlink message: the header, then ``payload``."""
    return NLMSGHDR.pack(NLMSG_HDRLEN + len(payload), msg_type, flags, seq, 0) + payload


def attribute(attr_type: int, data: bytes) -> bytes:
    """One route attribute, padded to the alignment."""
    raw = RTATTR.pack(RTATTR.size + len(data), attr_type) + data
    return raw + b"\0" * (align(len(raw)) - len(raw))


def attributes(buf: bytes | bytearray | memoryview, start: int, end: int) -> dict[int, bytes]:
    """The attributes between ``start`` and ``end`` of ``buf``, by type (the last one of a
    type wins; a nested attribute's flag bits are dropped). A malformed one ends the list,
    as the kernel's own nla_for_each_attr does."""
    out: dict[int, bytes] = {}
    off = start
    while off + RTATTR.size <= end:
        length, attr_type = RTATTR.unpack_from(buf, off)
        if length < RTATTR.size or off + length > end:
            break
        out[attr_type & 0x3FFF] = bytes(buf[off + RTATTR.size : off + length])
        off += align(length)
    return out


class Dump:
    """One dump, read with bounds::

        with Dump(NETLINK_ROUTE, RTM_GETNEIGH, payload, timeout=5.0) as answer:
            for msg_type, body in answer:
                ...
        answer.interrupted

    Iterating sends the request on a socket of its own and yields each message of the
    answer (type, body) until NLMSG_DONE; an NLMSG_ERROR with a code is an OSError with that
    errno, a dump not complete by ``timeout`` seconds after the request a TimeoutError.
    ``interrupted`` tells afterwards whether the kernel flagged the dump as inconsistent (the
    table changed while it was read: NLM_F_DUMP_INTR). A body is a view into a buffer that the
    next read reuses: parse it before asking for the next message."""

    def __init__(self, protocol: int, msg_type: int, payload: bytes, *, timeout: float) -> None:
        self.protocol = protocol
        self.msg_type = msg_type
        self.payload = payload
        self.timeout = timeout
        self.interrupted = False
        self._sock: socket.socket | None = None

    def __enter__(self) -> Dump:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, self.protocol)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __iter__(self) -> Iterator[tuple[int, memoryview]]:
        nl = self._sock
        if nl is None:
            raise RuntimeError("Dump is read inside its with block")
        seq = 1
        deadline = time.monotonic() + self.timeout
        nl.settimeout(self.timeout)
        nl.send(request(self.msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, self.payload))
        buf = bytearray(RECV_BUFFER)
        view = memoryview(buf)
        unpack = NLMSGHDR.unpack_from
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the kernel did not finish the netlink dump in time")
            nl.settimeout(left)
            n = nl.recv_into(buf)
            if n == 0:
                raise OSError("netlink closed the dump early")
            off = 0
            while off + NLMSG_HDRLEN <= n:
                length, mtype, flags, mseq, _pid = unpack(buf, off)
                if length < NLMSG_HDRLEN or off + length > n:
                    raise OSError("malformed netlink message")
                if mseq == seq:
                    if flags & NLM_F_DUMP_INTR:
                        self.interrupted = True
                    if mtype == NLMSG_DONE:
                        return
                    if mtype == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", buf, off + NLMSG_HDRLEN)
                        if code:
                            raise OSError(-code, _strerror(-code))
                    else:
                        yield mtype, view[off + NLMSG_HDRLEN : off + length]
                off += align(length)


def _strerror(code: int) -> str:
    import os

    return f"netlink refused the request: {os.strerror(code)}"
