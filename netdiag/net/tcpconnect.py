"""The TCP connect building block that ``tcp``, ``tls`` and ``http`` share.

A connect is started non-blocking and completes when the socket becomes writable, as curl
does it: the time between the ``connect()`` call (the SYN leaves) and writability (the SYN/ACK
arrived and the kernel sent the final ACK) is the three-way handshake. Many connects can wait
on one selector (:mod:`netdiag.probes.tcp`), or one can be waited for alone (:func:`connect`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import sys
from dataclasses import dataclass

from netdiag.clock import elapsed_ms, now_ns
from netdiag.errors import ErrorKind
from netdiag.results import ProbeError
from netdiag.results.resolve import Endpoint
from netdiag.results.tcp import TcpInfo
from netdiag.targets import format_hostport

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENONET}
_RESOURCE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


# struct tcp_info (linux/tcp.h): 8 one-byte fields, then 32-bit fields from tcpi_rto on.
_TCP_INFO = struct.Struct("8B24I")


def read_tcp_info(sock: socket.socket) -> TcpInfo | None:
    """``TCP_INFO`` for a connected socket, or None where the platform has no such option."""
    opt = getattr(socket, "TCP_INFO", None)
    if opt is None or not sys.platform.startswith("linux"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, opt, _TCP_INFO.size)
    except OSError:
        return None
    if len(raw) < _TCP_INFO.size:
        return None
    f = _TCP_INFO.unpack(raw)
    # After the 8 bytes: rto ato snd_mss rcv_mss unacked sacked lost retrans fackets
    # last_data_sent last_ack_sent last_data_recv last_ack_recv pmtu rcv_ssthresh rtt rttvar
    # snd_ssthresh snd_cwnd advmss ...
    rto, _ato, snd_mss, _rcv_mss = f[8:12]
    pmtu, _rcv_ssthresh, rtt, rttvar, _snd_ssthresh, snd_cwnd, advmss = f[21:28]
    return TcpInfo(rtt / 1000, rttvar / 1000, rto / 1000, snd_mss, advmss, pmtu, snd_cwnd)


def connect_error(err: int, endpoint: Endpoint, timeout: float | None = None) -> ProbeError:
    """Name a failed connect: ``refused`` (RST), ``timeout`` (no answer to the SYN),
    ``unreachable`` (no route / ICMP unreachable), ``resource`` (local limits), else ``error``."""
    where = format_hostport(endpoint.address, endpoint.port)
    if err == errno.ECONNREFUSED:
        return ProbeError(
            ErrorKind.REFUSED, f"connection to {where} refused (RST: nothing listening)"
        )
    if err == errno.ETIMEDOUT:
        after = f" after {timeout:g} s" if timeout is not None else ""
        return ProbeError(ErrorKind.TIMEOUT, f"no answer to SYN from {where}{after}")
    if err in _UNREACHABLE:
        return ProbeError(ErrorKind.UNREACHABLE, f"{where}: {os.strerror(err)}")
    if err in (errno.EACCES, errno.EPERM):
        return ProbeError(
            ErrorKind.BLOCKED,
            f"{where}: {os.strerror(err)} (a local firewall rule rejected the SYN)",
        )
    if err == errno.EADDRNOTAVAIL:
        if len(endpoint.sockaddr) == 4 and endpoint.sockaddr[3]:  # a scoped (link-local) one
            return ProbeError(
                ErrorKind.UNREACHABLE,
                f"{where}: {os.strerror(err)} (its interface has no usable address: is it down?)",
            )
        return ProbeError(
            ErrorKind.RESOURCE,
            f"{where}: {os.strerror(err)}",
            hint="no local port is free: ephemeral ports are used up (netdiag sockets shows "
            "TIME_WAIT), or probe fewer targets at once",
        )
    if err in _RESOURCE:
        return ProbeError(
            ErrorKind.RESOURCE,
            f"{where}: {os.strerror(err)}",
            hint="raise the open-files limit (ulimit -n) or probe fewer targets at once",
        )
    return ProbeError(ErrorKind.ERROR, f"{where}: {os.strerror(err)}")


class PendingConnect:
    """A connect in flight: the SYN has been sent, the socket is non-blocking.

    Construct, then wait until ``sock`` is writable (unless ``done`` already), then call
    :meth:`finish`. ``start_ns`` is taken immediately before the ``connect()`` system call.
    """

    __slots__ = ("done", "endpoint", "err", "sock", "start_ns")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.sock = socket.socket(endpoint.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setblocking(False)
        self.start_ns = now_ns()
        self.err = self.sock.connect_ex(endpoint.sockaddr)
        # 0: connected already (possible on loopback); EINPROGRESS: wait for writability.
        self.done = self.err != errno.EINPROGRESS

    def finish(self, end_ns: int) -> tuple[float, int]:
        """(milliseconds since the SYN was sent, errno or 0) once the socket is writable."""
        if not self.done:
            self.err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self.done = True
        return (end_ns - self.start_ns) / 1e6, self.err


def check_deadline(deadline_ns: int) -> None:
    """Raise TimeoutError once the ``now_ns()`` deadline has passed.

    Every bounded read and write calls this before each attempt, not only when it would
    block: a peer that never stops sending (so that no read ever blocks) is held to the
    deadline by the clock just as a silent one is."""
    if now_ns() >= deadline_ns:
        raise TimeoutError


MAX_WAIT_S = 86_400.0
"""The longest single wait (poll(2) takes at most 2**31 - 1 ms); every timeout is far less."""


class Waiter:
    """Waits for one socket to become readable (or writable): a ``poll(2)`` set of one.

    One socket needs no epoll instance, which costs three more system calls to create, fill
    and close (a selector's ``DefaultSelector``), and each system call lets the GIL go: in
    ``netdiag serve``, where probes run on threads beside the event loop, each of those is
    a thread switch. Where the platform has no ``poll``, ``select(2)`` does the same."""

    __slots__ = ("_poll", "_sock", "_write")

    def __init__(self, sock: socket.socket, *, write: bool = False) -> None:
        self._sock = sock
        self._write = write
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(sock, select.POLLOUT if write else select.POLLIN)

    def wait(self, timeout_s: float) -> bool:
        """Whether the socket became ready (or failed: the next call on it says how) within
        ``timeout_s`` (0 or less: only look)."""
        timeout_s = min(max(0.0, timeout_s), MAX_WAIT_S)
        if self._poll is not None:
            # Milliseconds, rounded up by CPython: never a wake-up just before the deadline.
            return bool(self._poll.poll(timeout_s * 1000))
        socks = [self._sock]  # pragma: no cover - every platform netdiag runs on has poll
        r, w, _ = select.select(  # pragma: no cover
            [] if self._write else socks, socks if self._write else [], [], timeout_s
        )
        return bool(r or w)  # pragma: no cover


def wait_ready(sock: socket.socket, deadline_ns: int, *, write: bool = False) -> None:
    """Wait until ``sock`` is readable (or writable) by the ``now_ns()`` deadline; raise
    TimeoutError when the deadline passes first. Every bounded read and write uses this."""
    left = (deadline_ns - now_ns()) / 1e9
    if left <= 0 or not Waiter(sock, write=write).wait(left):
        raise TimeoutError


def close(sock: socket.socket, *, rst: bool = False) -> None:
    """Close a connected socket: a normal FIN (the closing side then holds TIME_WAIT for 60 s
    on Linux), or with ``rst`` an abortive close (SO_LINGER 0) that sends RST and leaves no
    TIME_WAIT behind."""
    if rst:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass(slots=True)
class Connection:
    """The outcome of :func:`connect`: a connected blocking socket, or an error."""

    endpoint: Endpoint
    connect_ms: float
    sock: socket.socket | None
    error: ProbeError | None
    tcp_info: TcpInfo | None = None


def connect(endpoint: Endpoint, timeout: float) -> Connection:
    """Connect to one endpoint within ``timeout`` seconds, timing the handshake.

    On success the socket is returned in blocking mode with ``timeout`` set, for the caller's
    next phase (TLS, HTTP); the caller closes it.
    """
    try:
        pending = PendingConnect(endpoint)
    except OSError as exc:
        return Connection(endpoint, 0.0, None, connect_error(exc.errno or 0, endpoint, timeout))
    sock = pending.sock
    if not pending.done:
        waiter = Waiter(sock, write=True)
        ready = waiter.wait(timeout - elapsed_ms(pending.start_ns) / 1000)
        end = now_ns()
        if not ready:
            sock.close()
            took = (end - pending.start_ns) / 1e6
            return Connection(
                endpoint, took, None, connect_error(errno.ETIMEDOUT, endpoint, timeout)
            )
    else:
        end = now_ns()
    ms, err = pending.finish(end)
    if err:
        sock.close()
        return Connection(endpoint, ms, None, connect_error(err, endpoint, timeout))
    info = read_tcp_info(sock)
    # The next phases (TLS, HTTP) write small messages and wait for answers: without
    # TCP_NODELAY, Nagle's algorithm and delayed ACKs can add 40 ms to a round trip.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(True)
    sock.settimeout(timeout)
    return Connection(endpoint, ms, sock, None, info)
