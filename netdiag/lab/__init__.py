"""A local network lab on loopback: the servers that tests, benchmarks, ``netdiag demo`` and
``netdiag lab`` all use. Nothing here needs root or a network beyond loopback.

For ``netdiag dns``, the lab runs a private DNS hierarchy (:mod:`netdiag.lab.dns`) on
127.53.0.x, all servers on one port: ``dns_root`` is its root server, ``dns_tld`` a server of
``test.``, ``dns_example`` the authoritative server of ``example.test.``, ``dns_middlebox``
answers as a DNS-intercepting middlebox (NXDOMAIN without authority), ``dns_garbage``,
``dns_wrong_id``, ``dns_silent``, ``dns_refused``, ``dns_servfail`` and
``dns_wrong_question`` hostile servers, and two that
flood each UDP query with wrong-ID replies (bounded in count and time, and stopped when the
client closes its port): ``dns_flood_wrong_id`` never sends the right answer,
``dns_flood_then_answer`` sends it after the flood. (Linux only: other systems cannot bind
127.53.0.x without configuration.)

For ``netdiag tls``, servers with certificates from a private PKI made at start
(:mod:`netdiag.lab.tls`): ``tls_<case>`` with SNI name ``tls_names[...]``, trusting
``files["tls_ca_file"]``.

For ``netdiag tcp``:

- ``tcp_open`` (and ``tcp_open_v6`` on ::1): a TCP server that accepts and holds each
  connection until the client closes it, so the client closes first (and keeps TIME_WAIT);
- ``tcp_refused``: a port with nothing listening; the kernel answers a SYN with RST;
- ``tcp_silent``: a port that never answers a SYN: a listener whose accept queue is full
  (Linux drops new SYNs then, and the client retransmits until it gives up).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from netdiag.lab.listeners import bound
from netdiag.targets import format_hostport

IDLE_SECONDS = 30.0
"""A lab server closes a connection that has been idle this long."""
MAX_CONNECTIONS = 8192


def ipv6_available() -> bool:
    """Whether ::1 can be bound here (some containers disable IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class TcpServer:
    """Listeners on the given (host, port) pairs (port 0: any free port), served by one
    selector thread that accepts, discards what it reads, and closes when the peer does."""

    def __init__(self, binds: list[tuple[str, int]], backlog: int = 4096) -> None:
        self.backlog = backlog
        self.listeners: list[socket.socket] = []
        for host, port in binds:
            self.add_listener(host, port)
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="lab-tcp", daemon=True)
        self._stopping = False

    def add_listener(self, host: str, port: int = 0) -> tuple[str, int]:
        """Listen on one more address (before :meth:`start`); returns (host, port)."""
        s = socket.socket(_family(host), socket.SOCK_STREAM)
        try:
            if ":" in host:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.listen(self.backlog)
        except OSError:
            s.close()
            raise
        s.setblocking(False)
        self.listeners.append(s)
        return bound(s)

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        return [bound(s) for s in self.listeners]

    def start(self) -> TcpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for s in (*self.listeners, self._wake_r, self._wake_w):
            s.close()

    def _serve(self) -> None:
        import time

        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        for s in self.listeners:
            sel.register(s, selectors.EVENT_READ, "listen")
        conns: dict[socket.socket, float] = {}
        try:
            while not self._stopping:
                for key, _ in sel.select(timeout=1.0):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if key.data == "wake":
                        return
                    if key.data == "listen":
                        for _ in range(64):
                            try:
                                c, _addr = sock.accept()
                            except (BlockingIOError, InterruptedError):
                                break
                            except OSError:
                                break
                            if len(conns) >= MAX_CONNECTIONS:
                                c.close()
                                continue
                            c.setblocking(False)
                            conns[c] = time.monotonic()
                            sel.register(c, selectors.EVENT_READ, "conn")
                        continue
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if data:
                        conns[sock] = time.monotonic()
                    else:
                        sel.unregister(sock)
                        del conns[sock]
                        sock.close()
                now = time.monotonic()
                for c in [c for c, t in conns.items() if now - t > IDLE_SECONDS]:
                    sel.unregister(c)
                    del conns[c]
                    c.close()
        finally:
            for c in conns:
                c.close()
            sel.close()


class RefusedPort:
    """A port that is reserved (bound) but not listening: every SYN gets a RST."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.sock.bind((host, 0))

    @property
    def endpoint(self) -> tuple[str, int]:
        return bound(self.sock)

    def stop(self) -> None:
        self.sock.close()


class SilentPort:
    """A port that never answers a SYN: a listener with backlog 0 whose accept queue one
    connection of our own fills. Linux then drops new SYNs (``ListenOverflows``)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(_family(host), socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.fillers: list[socket.socket] = []
        sel = selectors.DefaultSelector()
        try:
            for _ in range(8):  # one is enough on Linux; a few more tolerate other kernels
                f = socket.socket(_family(host), socket.SOCK_STREAM)
                f.setblocking(False)
                f.connect_ex(self.endpoint)
                self.fillers.append(f)
                sel.register(f, selectors.EVENT_WRITE)
                ready = sel.select(timeout=0.2)
                sel.unregister(f)
                if not ready:  # this SYN was dropped: the queue is full
                    break
        finally:
            sel.close()

    @property
    def endpoint(self) -> tuple[str, int]:
        return bound(self.sock)

    def stop(self) -> None:
        for f in self.fillers:
            f.close()
        self.sock.close()


@dataclass
class Lab:
    """Every lab server, started together and stopped together (a context manager)."""

    host: str = "127.0.0.1"
    endpoints: dict[str, str] = field(default_factory=dict)
    """Name -> ``host:port`` of every service, for people and for tests."""
    tls_names: dict[str, str] = field(default_factory=dict)
    """TLS service -> the name to send as SNI (and to check the certificate against)."""
    urls: dict[str, str] = field(default_factory=dict)
    """Base URLs of the web servers: ``http``, ``https`` and ``h2`` (see netdiag.lab.http)."""
    files: dict[str, str] = field(default_factory=dict)
    """Files the lab made: ``tls_ca_file``, the lab root CA to trust."""
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> Lab:
        try:
            self._start_tcp()
            self._start_dns()
            self._start_tls()
        except BaseException:
            self.stop()
            raise
        return self

    def _add(self, name: str, endpoint: tuple[str, int]) -> None:
        self.endpoints[name] = format_hostport(endpoint[0], endpoint[1])

    def _start_tcp(self) -> None:
        server = TcpServer([])
        v4 = server.add_listener(self.host)
        self._add("tcp_open", v4)
        if ipv6_available():
            # The same port on ::1 where it is free, so one port number serves both families.
            try:
                v6 = server.add_listener("::1", v4[1])
            except OSError:
                v6 = server.add_listener("::1", 0)
            self._add("tcp_open_v6", v6)
        self._stops.append(server.stop)
        server.start()
        refused = RefusedPort(self.host)
        self._stops.append(refused.stop)
        self._add("tcp_refused", refused.endpoint)
        silent = SilentPort(self.host)
        self._stops.append(silent.stop)
        self._add("tcp_silent", silent.endpoint)

    def _start_dns(self) -> None:
        from netdiag.lab.dns import DnsLab

        try:
            dns_lab = DnsLab().start()
        except OSError:
            return  # 127.53.0.x cannot be bound here: the DNS part of the lab is absent
        self._stops.append(dns_lab.stop)
        port = dns_lab.port
        for name, n in (
            ("dns_root", 1),
            ("dns_tld", 2),
            ("dns_example", 4),
            ("dns_middlebox", 22),
            ("dns_garbage", 11),
            ("dns_wrong_id", 12),
            ("dns_silent", 9),
            ("dns_refused", 10),
            ("dns_servfail", 16),
            ("dns_wrong_question", 19),
            ("dns_flood_wrong_id", 20),
            ("dns_flood_then_answer", 21),
        ):
            self._add(name, (f"127.53.0.{n}", port))

    def _start_tls(self) -> None:
        from netdiag.lab.tls import TlsLab

        tls_lab = TlsLab().start()
        self._stops.append(tls_lab.stop)
        self.endpoints.update(tls_lab.endpoints)
        self.tls_names.update(tls_lab.names)
        self.urls.update(tls_lab.urls)
        self.files["tls_ca_file"] = str(tls_lab.ca_file)

    def add_tcp_listeners(self, count: int) -> list[str]:
        """Open ``count`` more TCP listeners on the lab's host (for load tests), stopped with
        the rest of the lab; their ``host:port``."""
        server = TcpServer([(self.host, 0)] * count).start()
        self._stops.append(server.stop)
        return [format_hostport(host, port) for host, port in server.endpoints]

    def stop(self) -> None:
        while self._stops:
            with contextlib.suppress(Exception):
                self._stops.pop()()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
