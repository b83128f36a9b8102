"""One HTTP exchange over an open stream: HTTP/1.1 with h11, HTTP/2 with h2.

No HTTP parsing of our own: h11 and h2 read the wire. This module adds what a diagnostic
client needs: the time of the first response byte and of the last, the response headers in
wire order with their original case, and bounds on everything: the header block
(``max_header_bytes``), the body (``max_body_bytes``, then truncated), and one deadline for the
whole exchange, so a server that drips bytes cannot stretch it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Protocol

import h11

from netdiag.clock import now_ns
from netdiag.errors import ErrorKind
from netdiag.net.tcpconnect import check_deadline, wait_ready
from netdiag.results import ProbeError

READ_SIZE = 65536
MAX_H2_CONTROL_FRAMES = 1000
"""SETTINGS and PING frames a server may send during one HTTP/2 exchange. Each must be
acknowledged, and a server that sends them without end ("settings flood", "ping flood":
CVE-2019-9515, CVE-2019-9512) is attacking its client; nghttp2, curl's HTTP/2 library, gives up
at the same count of pending acknowledgements."""


def load_http2() -> None:
    """Import h2 and hpack now (about 10 ms), so that the first HTTP/2 connection does not
    pay for it inside a timed request: the probe calls this before its clock starts."""
    import importlib

    for name in ("h2.config", "h2.connection", "h2.events", "h2.exceptions", "hpack"):
        importlib.import_module(name)


class Stream(Protocol):
    """A connection read and written against a deadline (``now_ns()`` nanoseconds).

    ``recv`` and ``sendall`` raise TimeoutError once the deadline has passed, checked by the
    clock before every attempt: whether the peer is silent or never stops sending."""

    def recv(self, n: int, deadline_ns: int) -> bytes: ...
    def sendall(self, data: bytes, deadline_ns: int) -> None: ...
    def close(self) -> None: ...


class PlainStream:
    """A TCP socket with the same deadline-bounded interface as a TLS session."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)

    def _wait(self, deadline_ns: int, write: bool) -> None:
        wait_ready(self.sock, deadline_ns, write=write)

    def recv(self, n: int, deadline_ns: int) -> bytes:
        while True:
            check_deadline(deadline_ns)
            try:
                return self.sock.recv(n)
            except BlockingIOError:
                self._wait(deadline_ns, write=False)

    def sendall(self, data: bytes, deadline_ns: int) -> None:
        view = memoryview(data)
        while view:
            check_deadline(deadline_ns)
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                self._wait(deadline_ns, write=True)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Exchange:
    status: int | None = None
    reason: str = ""
    http_version: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    """The request's header fields as encoded on the wire: for HTTP/2 the pseudo-headers
    (``:method``, ``:scheme``, ``:authority``, ``:path``) first, names in lower case."""
    body: bytearray = field(default_factory=bytearray)
    """The body as received, at most ``max_body_bytes`` (grown in place, never copied)."""
    body_bytes: int = 0
    header_bytes: int = 0
    """Header bytes received: every informational (1xx) response, the final response's
    headers and any trailers, counted against ``max_header_bytes``."""
    informational: int = 0
    """How many informational (1xx) responses came before the final one."""
    truncated: bool = False
    request_sent_ns: int | None = None
    first_byte_ns: int | None = None
    """When the first byte of the response came (on HTTP/2: of the read that brought the first
    frame of this request's stream, not the server's SETTINGS or PING)."""
    last_byte_ns: int | None = None
    reusable: bool = False
    retryable: bool = False
    """The connection closed or failed before any byte of the response came: on a reused
    connection the request may be repeated on a new one (curl's rule)."""
    error: ProbeError | None = None


def _timeout_error(what: str, limit: str) -> ProbeError:
    return ProbeError(ErrorKind.TIMEOUT, f"{what} within {limit}")


class _HeaderTooLarge(Exception):
    """The header bytes received so far exceed ``max_header_bytes``."""


def _count_headers(ex: Exchange, size: int, limit: int) -> None:
    ex.header_bytes += size
    if ex.header_bytes > limit:
        raise _HeaderTooLarge


def _header_error(ex: Exchange, limit: int, unit: str) -> ProbeError:
    extra = f", over {ex.informational} informational responses" if ex.informational else ""
    return ProbeError(
        ErrorKind.HEADER_TOO_LARGE,
        f"the response headers exceed {limit} bytes{extra} ({unit}; --max-header-bytes)",
    )


def _h1_block_size(status_line: int, headers: list[tuple[bytes, bytes]]) -> int:
    """Bytes of an HTTP/1.1 header block as it crossed the wire (less optional whitespace):
    the status line, ``Name: value`` lines, each with CRLF, and the closing CRLF."""
    return status_line + sum(len(n) + len(v) + 4 for n, v in headers) + 2


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, as every client takes it, with the bounds of its exchange.

    The authority and the scheme are the request's whatever the version: HTTP/1.1 sends the
    authority as the ``Host`` header (first), HTTP/2 as the ``:authority`` pseudo-header
    beside ``:scheme``. ``headers`` are the other header fields, without ``Host``."""

    method: str
    target: str
    """The request target: the path and query (``/``, ``/search?q=x``)."""
    headers: tuple[tuple[str, str], ...]
    body: bytes
    authority: str
    """``host[:port]`` (brackets around an IPv6 address; no port when it is the scheme's)."""
    scheme: str
    deadline_ns: int
    """When the whole exchange must be over (a :func:`netdiag.clock.now_ns` reading)."""
    limit: str
    """What set ``deadline_ns``, as timeout messages name it: "the hop's 10 s (--timeout)"."""
    max_body_bytes: int
    """Body bytes kept; beyond them the body is truncated and reading stops."""


class HttpClient(Protocol):
    """An HTTP connection of some version that carries one request at a time."""

    version: str

    def exchange(self, request: Request) -> Exchange:
        """Send ``request`` and read its response, never raising for what the network or the
        server does: failures are ``Exchange.error``."""
        ...


def _keep_body(ex: Exchange, data: bytes, max_body_bytes: int) -> bool:
    """Count ``data`` and keep it, up to ``max_body_bytes`` in all; True once the body is over
    that bound: it is truncated, and reading stops (the connection is not reusable)."""
    ex.body_bytes += len(data)
    room = max_body_bytes - len(ex.body)
    if room > 0:
        ex.body += data[:room]
    if ex.body_bytes > max_body_bytes:
        ex.truncated = True
        ex.last_byte_ns = now_ns()
        return True
    return False


class Http1:
    """An HTTP/1.1 connection (h11) that can carry several requests in turn (keep-alive)."""

    version = "HTTP/1.1"

    def __init__(self, stream: Stream, max_header_bytes: int) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self.max_header_bytes = max_header_bytes

    def exchange(self, request: Request) -> Exchange:
        headers = [("Host", request.authority), *request.headers]
        ex = Exchange(request_headers=headers)
        if self._send(request, headers, ex):
            ex.request_sent_ns = now_ns()
            self._receive(request, ex)
        return ex

    def _send(self, request: Request, headers: list[tuple[str, str]], ex: Exchange) -> bool:
        """Send the whole request; False (and ``ex.error``) when it could not be sent."""
        conn = self.conn
        try:
            data = conn.send(
                h11.Request(method=request.method, target=request.target, headers=headers)
            )
            if request.body:
                data += conn.send(h11.Data(data=request.body))
            data += conn.send(h11.EndOfMessage())
            self.stream.sendall(data, request.deadline_ns)
        except TimeoutError:
            ex.error = _timeout_error("could not send the request", request.limit)
            return False
        except OSError as exc:
            ex.retryable = True
            ex.error = ProbeError(
                ErrorKind.BAD_RESPONSE, f"the connection failed while sending: {exc}"
            )
            return False
        return True

    def _receive(self, request: Request, ex: Exchange) -> None:
        """Read the response into ``ex`` until it ends, or until why not is ``ex.error``."""
        limit = self.max_header_bytes
        try:
            while not self._on_event(self.conn.next_event(), request, ex):
                pass
        except TimeoutError:
            what = "the response did not finish" if ex.status is not None else "no response came"
            ex.error = _timeout_error(what, request.limit)
        except _HeaderTooLarge:
            ex.last_byte_ns = now_ns()
            ex.error = _header_error(ex, limit, "status and header lines")
        except h11.RemoteProtocolError as exc:
            ex.last_byte_ns = now_ns()
            ex.error = self._protocol_error(ex, str(exc))
        except OSError as exc:
            ex.retryable = ex.first_byte_ns is None
            ex.error = ProbeError(ErrorKind.BAD_RESPONSE, f"the connection failed: {exc}")

    def _protocol_error(self, ex: Exchange, text: str) -> ProbeError:
        """What h11's complaint about the response means: headers over the bound, a body cut
        short, or not HTTP at all."""
        if ex.status is not None:
            return ProbeError(ErrorKind.BAD_RESPONSE, f"the response body was cut short ({text})")
        if "exceeds" in text or "too long" in text or "maximum" in text:
            return _header_error(ex, self.max_header_bytes, "status and header lines")
        return ProbeError(ErrorKind.BAD_RESPONSE, f"not a valid HTTP response: {text}")

    def _on_event(self, event: object, request: Request, ex: Exchange) -> bool:
        """Take one h11 event into ``ex``; True when the exchange is over."""
        limit = self.max_header_bytes
        if event is h11.NEED_DATA:
            return self._read(request, ex)
        if isinstance(event, h11.InformationalResponse):
            # "HTTP/1.1 100 " + reason + CRLF: a flood of them counts as headers.
            ex.informational += 1
            size = _h1_block_size(15 + len(event.reason), event.headers.raw_items())
            _count_headers(ex, size, limit)
            return False
        if isinstance(event, h11.Response):
            raw = event.headers.raw_items()
            _count_headers(ex, _h1_block_size(15 + len(event.reason), raw), limit)
            ex.status = event.status_code
            ex.reason = event.reason.decode("latin-1")
            ex.http_version = f"HTTP/{event.http_version.decode()}"
            ex.response_headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
            return False
        if isinstance(event, h11.Data):
            return _keep_body(ex, event.data, request.max_body_bytes)
        ex.last_byte_ns = now_ns()
        if isinstance(event, h11.EndOfMessage):
            self._end(event, ex)
        elif isinstance(event, h11.ConnectionClosed):
            if ex.status is None:
                ex.retryable = ex.first_byte_ns is None
                ex.error = ProbeError(
                    ErrorKind.BAD_RESPONSE, "the server closed the connection without a response"
                )
        else:  # PAUSED: the server switched protocols, which was never asked for
            ex.error = ProbeError(
                ErrorKind.BAD_RESPONSE, "the server switched protocols without being asked"
            )
        return True

    def _read(self, request: Request, ex: Exchange) -> bool:
        """Hand h11 the next bytes from the stream; True when the server closed the connection
        before the first byte of a response."""
        chunk = self.stream.recv(READ_SIZE, request.deadline_ns)
        if ex.first_byte_ns is None:
            if not chunk:
                ex.retryable = True
                ex.error = ProbeError(
                    ErrorKind.BAD_RESPONSE,
                    "the server closed the connection before any response byte",
                )
                return True
            ex.first_byte_ns = now_ns()
        self.conn.receive_data(chunk)
        return False

    def _end(self, event: h11.EndOfMessage, ex: Exchange) -> None:
        """The response is complete: count its trailers, and keep the connection for the next
        request when both sides are done."""
        conn = self.conn
        if event.headers:  # trailers count as headers too
            size = _h1_block_size(0, event.headers.raw_items())
            _count_headers(ex, size, self.max_header_bytes)
        ex.reusable = conn.our_state is h11.DONE and conn.their_state is h11.DONE
        if ex.reusable:
            conn.start_next_cycle()


HOP_BY_HOP = frozenset({"host", "connection", "keep-alive", "transfer-encoding"})
"""Header fields that HTTP/2 does not carry (RFC 9113 8.2.2; the authority is ``:authority``)."""


@dataclass(slots=True)
class _H2Stream:
    """What one HTTP/2 exchange has seen of the connection so far."""

    sid: int
    heard: bool = False
    """Anything came for this stream (headers, data, reset)."""
    control: int = 0
    """SETTINGS and PING frames received during this exchange."""


class Http2:
    """An HTTP/2 connection (h2); one request per exchange, the connection kept for more.

    Header bytes are counted as HTTP/2 counts a header list (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE:
    name + value + 32 per field), over every informational response, the final response and
    trailers; the HPACK decoder is held to the same bound from the first frame (h2 would apply
    the advertised setting only once the server acknowledged it)."""

    version = "HTTP/2"

    def __init__(self, stream: Stream, max_header_bytes: int) -> None:
        import h2.config
        import h2.connection

        self.stream = stream
        self.max_header_bytes = max_header_bytes
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings.max_header_list_size = max_header_bytes
        self.conn.local_settings.enable_push = 0
        self.conn.decoder.max_header_list_size = max_header_bytes
        self.conn.initiate_connection()

    def exchange(self, request: Request) -> Exchange:
        import h2.exceptions
        from hpack import OversizedHeaderListError

        conn = self.conn
        limit = self.max_header_bytes
        s = _H2Stream(conn.get_next_available_stream_id())
        pseudo = [
            (":method", request.method),
            (":scheme", request.scheme),
            (":authority", request.authority),
            (":path", request.target),
        ]
        regular = [(n.lower(), v) for n, v in request.headers if n.lower() not in HOP_BY_HOP]
        ex = Exchange(http_version="HTTP/2", request_headers=pseudo + regular)
        try:
            conn.send_headers(s.sid, pseudo + regular, end_stream=not request.body)
            if request.body:
                conn.send_data(s.sid, request.body, end_stream=True)
            self.stream.sendall(conn.data_to_send(), request.deadline_ns)
            ex.request_sent_ns = now_ns()
            while not self._read(request, ex, s):
                pass
        except TimeoutError:
            what = "the response did not finish" if ex.status else "no response came"
            ex.error = _timeout_error(what, request.limit)
        except _HeaderTooLarge:
            ex.error = _header_error(ex, limit, "HTTP/2 header list size")
        except h2.exceptions.ProtocolError as exc:
            if isinstance(exc.__cause__, OversizedHeaderListError):
                ex.error = _header_error(ex, limit, "HTTP/2 header list size")
            else:
                ex.error = ProbeError(ErrorKind.BAD_RESPONSE, f"HTTP/2 protocol error: {exc}")
        except OSError as exc:
            ex.retryable = not s.heard
            ex.error = ProbeError(ErrorKind.BAD_RESPONSE, f"the connection failed: {exc}")
        return ex

    def _read(self, request: Request, ex: Exchange, s: _H2Stream) -> bool:
        """Read once from the stream and take every frame it brought; True when the exchange
        is over. What h2 has to say back (acknowledgements, window updates) is sent."""
        chunk = self.stream.recv(READ_SIZE, request.deadline_ns)
        received_ns = now_ns()
        if not chunk:
            ex.retryable = not s.heard
            ex.error = ProbeError(ErrorKind.BAD_RESPONSE, "the server closed the HTTP/2 connection")
            return True
        for event in self.conn.receive_data(chunk):
            if getattr(event, "stream_id", None) == s.sid:
                s.heard = True
                if ex.first_byte_ns is None:
                    # The server's own frames (its SETTINGS, sent at once after the
                    # handshake) are not the response: its first byte is our stream's.
                    ex.first_byte_ns = received_ns
                done = self._on_stream_event(event, request, ex)
            else:
                done = self._on_connection_event(event, ex, s)
            if done:
                return True
        pending = self.conn.data_to_send()
        if pending:
            self.stream.sendall(pending, request.deadline_ns)
        return False

    def _on_stream_event(self, event: object, request: Request, ex: Exchange) -> bool:
        """Take one event of our stream into ``ex``; True when the exchange is over."""
        import h2.events

        limit = self.max_header_bytes
        if isinstance(event, h2.events.InformationalResponseReceived):
            ex.informational += 1
            _count_headers(ex, _h2_list_size(event.headers), limit)
        elif isinstance(event, h2.events.ResponseReceived):
            _count_headers(ex, _h2_list_size(event.headers), limit)
            return not _h2_response(ex, event.headers)
        elif isinstance(event, h2.events.TrailersReceived):
            _count_headers(ex, _h2_list_size(event.headers), limit)
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            return _keep_body(ex, event.data, request.max_body_bytes)
        elif isinstance(event, h2.events.StreamEnded):
            ex.last_byte_ns = now_ns()
            if ex.status is None:
                ex.error = ProbeError(
                    ErrorKind.BAD_RESPONSE, "the server ended the stream without a response"
                )
                return True
            ex.reusable = True
            self.stream.sendall(self.conn.data_to_send(), request.deadline_ns)
            return True
        elif isinstance(event, h2.events.StreamReset):
            ex.error = ProbeError(
                ErrorKind.BAD_RESPONSE, f"the server reset the stream ({event.error_code!r})"
            )
            return True
        return False

    def _on_connection_event(self, event: object, ex: Exchange, s: _H2Stream) -> bool:
        """Take one event of the connection as a whole; True when it ends the exchange: a
        flood of control frames, or the server ending the connection."""
        import h2.events

        if isinstance(event, h2.events.RemoteSettingsChanged | h2.events.PingReceived):
            s.control += 1
            if s.control > MAX_H2_CONTROL_FRAMES:
                ex.error = ProbeError(
                    ErrorKind.BAD_RESPONSE,
                    f"the server sent more than {MAX_H2_CONTROL_FRAMES} HTTP/2 "
                    "SETTINGS and PING frames "
                    + ("before" if ex.status is None else "while sending")
                    + " its response: a control-frame flood (CVE-2019-9512/9515)",
                )
                return True
        elif isinstance(event, h2.events.ConnectionTerminated):
            last = event.last_stream_id
            # A GOAWAY below our stream: the request was never processed.
            ex.retryable = not s.heard and last is not None and last < s.sid
            ex.error = ProbeError(
                ErrorKind.BAD_RESPONSE,
                f"the server ended the HTTP/2 connection ({event.error_code!r})",
            )
            return True
        return False


def _h2_response(ex: Exchange, headers: list[tuple[bytes, bytes]]) -> bool:
    """Take an HTTP/2 response's header list into ``ex``; False (and ``ex.error``) when its
    ``:status`` is not a status code."""
    for n, v in headers:
        name = n.decode("latin-1") if isinstance(n, bytes) else n
        value = v.decode("latin-1") if isinstance(v, bytes) else v
        if name == ":status":
            if not (len(value) == 3 and value.isdigit()):
                ex.error = ProbeError(ErrorKind.BAD_RESPONSE, f"not an HTTP status: {value!r}")
                return False
            ex.status = int(value)
        else:
            ex.response_headers.append((name, value))
    return True


def _h2_list_size(headers: list[tuple[bytes, bytes]]) -> int:
    """The size of a header list as HTTP/2 counts it: name + value + 32 octets per field."""
    return sum(len(n) + len(v) + 32 for n, v in headers)
