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
from netdiag.result import ProbeError
from netdiag.tcpconnect import wait_ready

READ_SIZE = 65536


class Stream(Protocol):
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
            try:
                return self.sock.recv(n)
            except BlockingIOError:
                self._wait(deadline_ns, write=False)

    def sendall(self, data: bytes, deadline_ns: int) -> None:
        view = memoryview(data)
        while view:
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
    body: bytes = b""
    body_bytes: int = 0
    truncated: bool = False
    request_sent_ns: int | None = None
    first_byte_ns: int | None = None
    last_byte_ns: int | None = None
    reusable: bool = False
    error: ProbeError | None = None


def _timeout_error(what: str, timeout: float) -> ProbeError:
    return ProbeError("timeout", f"{what} within the hop's {timeout:g} s (--timeout)")


class Http1:
    """An HTTP/1.1 connection (h11) that can carry several requests in turn (keep-alive)."""

    version = "HTTP/1.1"

    def __init__(self, stream: Stream, max_header_bytes: int) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self.max_header_bytes = max_header_bytes

    def exchange(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        deadline_ns: int,
        timeout: float,
        max_body_bytes: int,
    ) -> Exchange:
        ex = Exchange()
        conn = self.conn
        try:
            data = conn.send(h11.Request(method=method, target=target, headers=headers))
            if body:
                data += conn.send(h11.Data(data=body))
            data += conn.send(h11.EndOfMessage())
            self.stream.sendall(data, deadline_ns)
        except TimeoutError:
            ex.error = _timeout_error("could not send the request", timeout)
            return ex
        except OSError as exc:
            ex.error = ProbeError("bad_response", f"the connection failed while sending: {exc}")
            return ex
        ex.request_sent_ns = now_ns()
        got_response = False
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    chunk = self.stream.recv(READ_SIZE, deadline_ns)
                    if ex.first_byte_ns is None and chunk:
                        ex.first_byte_ns = now_ns()
                    conn.receive_data(chunk)
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    got_response = True
                    ex.status = event.status_code
                    ex.reason = event.reason.decode("latin-1")
                    ex.http_version = f"HTTP/{event.http_version.decode()}"
                    ex.response_headers = [
                        (n.decode("latin-1"), v.decode("latin-1"))
                        for n, v in event.headers.raw_items()
                    ]
                elif isinstance(event, h11.Data):
                    ex.body_bytes += len(event.data)
                    room = max_body_bytes - len(ex.body)
                    if room > 0:
                        ex.body += bytes(event.data[:room])
                    if ex.body_bytes > max_body_bytes:
                        ex.truncated = True
                        ex.last_byte_ns = now_ns()
                        return ex  # stop reading: the connection is not reusable
                elif isinstance(event, h11.EndOfMessage):
                    ex.last_byte_ns = now_ns()
                    ex.reusable = conn.our_state is h11.DONE and conn.their_state is h11.DONE
                    if ex.reusable:
                        conn.start_next_cycle()
                    return ex
                elif isinstance(event, h11.ConnectionClosed):
                    ex.last_byte_ns = now_ns()
                    if not got_response:
                        ex.error = ProbeError(
                            "bad_response", "the server closed the connection without a response"
                        )
                    return ex
        except TimeoutError:
            what = "the response did not finish" if got_response else "no response came"
            ex.error = _timeout_error(what, timeout)
        except h11.RemoteProtocolError as exc:
            ex.last_byte_ns = now_ns()
            text = str(exc)
            if not got_response and ("exceeds" in text or "too long" in text or "maximum" in text):
                ex.error = ProbeError(
                    "header_too_large",
                    f"the response header block exceeds {self.max_header_bytes} bytes "
                    "(--max-header-bytes)",
                )
            elif got_response:
                ex.error = ProbeError("bad_response", f"the response body was cut short ({text})")
            else:
                ex.error = ProbeError("bad_response", f"not a valid HTTP response: {text}")
        except OSError as exc:
            ex.error = ProbeError("bad_response", f"the connection failed: {exc}")
        return ex


class Http2:
    """An HTTP/2 connection (h2); one request per exchange, the connection kept for more."""

    version = "HTTP/2"

    def __init__(self, stream: Stream, max_header_bytes: int) -> None:
        import h2.config
        import h2.connection

        self.stream = stream
        self.max_header_bytes = max_header_bytes
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings.max_header_list_size = max_header_bytes
        self.conn.initiate_connection()
        self.started = False

    def exchange(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        deadline_ns: int,
        timeout: float,
        max_body_bytes: int,
        authority: str = "",
        scheme: str = "https",
    ) -> Exchange:
        import h2.events
        import h2.exceptions

        ex = Exchange(http_version="HTTP/2")
        conn = self.conn
        sid = conn.get_next_available_stream_id()
        pseudo = [
            (":method", method),
            (":scheme", scheme),
            (":authority", authority),
            (":path", target),
        ]
        regular = [
            (n.lower(), v)
            for n, v in headers
            if n.lower() not in ("host", "connection", "keep-alive", "transfer-encoding")
        ]
        try:
            conn.send_headers(sid, pseudo + regular, end_stream=not body)
            if body:
                conn.send_data(sid, body, end_stream=True)
            self.stream.sendall(conn.data_to_send(), deadline_ns)
            ex.request_sent_ns = now_ns()
            while True:
                chunk = self.stream.recv(READ_SIZE, deadline_ns)
                if ex.first_byte_ns is None and chunk:
                    ex.first_byte_ns = now_ns()
                if not chunk:
                    ex.error = ProbeError("bad_response", "the server closed the HTTP/2 connection")
                    return ex
                for event in conn.receive_data(chunk):
                    if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                        for n, v in event.headers:
                            name = n.decode("latin-1") if isinstance(n, bytes) else n
                            value = v.decode("latin-1") if isinstance(v, bytes) else v
                            if name == ":status":
                                ex.status = int(value)
                            else:
                                ex.response_headers.append((name, value))
                    elif isinstance(event, h2.events.DataReceived) and event.stream_id == sid:
                        conn.acknowledge_received_data(event.flow_controlled_length, sid)
                        ex.body_bytes += len(event.data)
                        room = max_body_bytes - len(ex.body)
                        if room > 0:
                            ex.body += event.data[:room]
                        if ex.body_bytes > max_body_bytes:
                            ex.truncated = True
                            ex.last_byte_ns = now_ns()
                            return ex
                    elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                        ex.last_byte_ns = now_ns()
                        ex.reusable = True
                        self.stream.sendall(conn.data_to_send(), deadline_ns)
                        return ex
                    elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                        ex.error = ProbeError(
                            "bad_response", f"the server reset the stream ({event.error_code!r})"
                        )
                        return ex
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        ex.error = ProbeError(
                            "bad_response",
                            f"the server ended the HTTP/2 connection ({event.error_code!r})",
                        )
                        return ex
                pending = conn.data_to_send()
                if pending:
                    self.stream.sendall(pending, deadline_ns)
        except TimeoutError:
            what = "the response did not finish" if ex.status else "no response came"
            ex.error = _timeout_error(what, timeout)
        except h2.exceptions.ProtocolError as exc:
            if "header" in str(exc).lower() and "size" in str(exc).lower():
                ex.error = ProbeError(
                    "header_too_large", f"the response headers are too large: {exc}"
                )
            else:
                ex.error = ProbeError("bad_response", f"HTTP/2 protocol error: {exc}")
        except OSError as exc:
            ex.error = ProbeError("bad_response", f"the connection failed: {exc}")
        return ex
