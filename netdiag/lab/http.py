"""HTTP servers for the lab: plain HTTP/1.1, HTTPS (HTTP/1.1) and HTTPS with HTTP/2, on
127.0.0.1. Requests are parsed by h11 (HTTP/1.1) and h2; well-behaved responses are written
by them too, and the hostile ones as raw bytes, on purpose.

Paths (on every HTTP/1.1 server):

- ``/`` a small text page; ``/headers`` repeated ``Set-Cookie`` and mixed-case names;
  ``/status/NNN`` any status; ``/echo`` the method and body back; ``/chunked`` a chunked body;
  ``/gzip`` a gzip-encoded body (when the client accepts gzip); ``/big`` a 2 MiB body.
- Secrets: ``/echo/headers`` the request headers back (names in lower case);
  ``/redirect/other-port`` (to ``/echo/headers`` on the HTTP/2 server, which serves HTTP/1.1
  without h2 in ALPN: from the HTTPS server, the same scheme and host on another port),
  ``/redirect/http`` (to ``/echo/headers`` on plain HTTP: from HTTPS, a downgrade),
  ``/redirect/downgrade`` (to ``http://`` on the HTTPS server's own port: from HTTPS, only
  the scheme changes; the plain request then fails, as it should),
  ``/redirect/same-origin`` (to ``/echo/headers``), ``/redirect/userinfo`` (a ``Location``
  with ``user:password@``, same origin on plain HTTP), ``/links`` (``Refresh``, ``Link``,
  ``Content-Location`` and ``Content-Security-Policy`` with ``user:password@`` and ``token@``
  URLs), ``/cookies`` and ``/redirect/cookie`` (``Set-Cookie`` and ``Set-Cookie2`` holding
  ``LAB_COOKIE_SECRET``, the second a 302).
- ``/redirect/301`` (relative), ``/redirect/302`` (absolute), ``/redirect/307`` (to /echo,
  method kept), ``/redirect/308``, ``/redirect/https`` (to the HTTPS server),
  ``/redirect/elsewhere`` (to the same port on 127.0.0.2, where nothing listens), ``/loop/a`` <->
  ``/loop/b`` (a loop), ``/chain/N`` (N redirects in a row), ``/redirect/close`` (302 to
  ``/``, then the server closes the kept-alive connection without ``Connection: close``).
- Floods, that never stop sending until the client goes (bounded by ``FLOOD_SECONDS`` and
  ``FLOOD_LIMIT``): ``/hostile/continue-flood`` ``HTTP/1.1 100 Continue`` responses,
  ``/hostile/chunk-flood`` a chunked body of 1-byte chunks. On HTTP/2 the flood starts
  before any path is read, so those are listeners of their own (h2 in ALPN, any path):
  ``urls["h2_settings_flood"]`` SETTINGS frames, ``urls["h2_ping_flood"]`` PING frames,
  ``urls["h2_window_flood"]`` WINDOW_UPDATE frames.
- ``/hostile/big-header`` one 4,000-byte header in a single write, so that the whole header
  block arrives in one read.
- ``/canned/TOKEN`` (HTTP/1.1 and HTTP/2): exactly the bytes registered with :func:`can`,
  then close; for tests that feed the client's parsers arbitrary bytes.
- Hostile: ``/hostile/silent`` never answers, ``/hostile/endless-headers`` sends headers
  forever, ``/hostile/huge-header`` one 1 MiB header, ``/hostile/garbage`` a garbage status
  line, ``/hostile/close-mid`` closes mid-body, ``/hostile/drip`` one byte every 0.2 s,
  ``/hostile/escapes`` terminal control sequences (C1 controls) in the reason phrase and a
  header value.
"""

from __future__ import annotations

import contextlib
import gzip
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import h11

from netdiag.lab.listeners import IO_TIMEOUT, Handler, Listeners

LAB_COOKIE_SECRET = "lab-cookie-s3cret"
"""The cookie value ``/cookies`` sets: it must not appear in netdiag's output."""
LAB_LOCATION_SECRET = "lab-location-s3cret"
"""The password in ``/redirect/userinfo``'s Location: never shown, never sent."""

HOSTILE_LIMIT = 16 << 20
"""No hostile response sends more than this, whatever the client does (floods aside)."""
FLOOD_SECONDS = 15.0
"""A flood sends for at most this long; it stops sooner when the client closes, or does not
read for ``IO_TIMEOUT`` seconds, or after ``FLOOD_LIMIT`` bytes."""
FLOOD_LIMIT = 1 << 30
"""A flood must outlast the client's deadline however fast the client reads, so it is
bounded by time first; this byte bound is a backstop."""
MAX_CANNED = 64
"""Replies registered with :func:`can` and not yet requested; the oldest go first."""


@dataclass
class Site:
    """What the handlers need to know about the lab (filled in once the ports are known)."""

    urls: dict[str, str] = field(default_factory=dict)


Response = tuple[int, list[tuple[str, str]], bytes]


TEXT_PLAIN = ("Content-Type", "text/plain; charset=utf-8")


def _route(
    site: Site, method: str, path: str, headers: dict[str, str], body: bytes
) -> Response | Callable[[Any], None]:
    """What the lab answers to a request for ``path``: a response for h11 to write, or a
    function that writes raw bytes to the socket (and then the connection is closed)."""
    return (
        _page(method, path, headers, body)
        or _redirect(site, path)
        or _raw(path)
        or (404, [TEXT_PLAIN], b"not found\n")
    )


def _page(method: str, path: str, headers: dict[str, str], body: bytes) -> Response | None:
    """The well-behaved pages (no redirects)."""
    text = [TEXT_PLAIN]
    if path == "/":
        return 200, text, b"hello from the netdiag lab\n"
    if path == "/headers":
        return (
            200,
            [
                *text,
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; Path=/"),
                ("X-Lab-Case", "Mixed-Case"),
                ("x-lower", "lower"),
            ],
            b"headers\n",
        )
    if path.startswith("/status/") and path[8:].isdigit():
        code = int(path[8:])
        return code, text, f"status {code}\n".encode()
    if path == "/echo/headers":
        lines = "".join(f"{k}: {v}\n" for k, v in headers.items())
        return 200, text, lines.encode("utf-8", "replace")
    if path == "/echo":
        return 200, text, f"{method} {len(body)} bytes\n".encode() + body
    if path == "/chunked":
        return 200, [*text, ("Transfer-Encoding", "chunked")], b"chunk one\n" * 50
    if path == "/gzip":
        plain = b"compressible " * 1000
        if "gzip" in headers.get("accept-encoding", ""):
            return (
                200,
                [*text, ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                gzip.compress(plain),
            )
        return 200, text, plain
    if path == "/big":
        return 200, [("Content-Type", "application/octet-stream")], b"x" * (2 << 20)
    return None


def _redirect(site: Site, path: str) -> Response | None:
    """The redirects (and the page that sets cookies, beside the redirect that does)."""
    text = [TEXT_PLAIN]
    if path in ("/cookies", "/redirect/cookie"):
        cookies = [
            ("Set-Cookie", f"session={LAB_COOKIE_SECRET}; Path=/; HttpOnly; SameSite=Lax"),
            ("Set-Cookie", f"other={LAB_COOKIE_SECRET}; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
            ("Set-Cookie2", f'legacy="{LAB_COOKIE_SECRET}"; Version=1'),
        ]
        if path == "/cookies":
            return 200, [*text, *cookies], b"cookies set\n"
        return 302, [*text, *cookies, ("Location", "/echo/headers")], b"moved\n"
    if path == "/links":
        secret = f"lab-user:{LAB_LOCATION_SECRET}@127.0.0.1"
        return (
            200,
            [
                *text,
                ("Refresh", f"30; url=http://{secret}/echo/headers"),
                ("Link", f"<https://{secret}/a>; rel=next, <//{LAB_LOCATION_SECRET}@h.test/b>"),
                ("Content-Location", f"http://{secret}/links"),
                ("Content-Security-Policy", f"default-src 'self'; report-uri https://{secret}/r"),
            ],
            b"links\n",
        )
    if path.startswith("/chain/") and path[7:].isdigit():
        n = int(path[7:])
        if n == 0:
            return 200, text, b"end of the chain\n"
        return 302, [*text, ("Location", f"/chain/{n - 1}")], b"moved\n"
    redirect = _redirects(site).get(path)
    if redirect is None:
        return None
    code, location = redirect
    return code, [*text, ("Location", location)], b"moved\n"


def _redirects(site: Site) -> dict[str, tuple[int, str]]:
    """path -> (status, Location) of the plain redirects."""
    http, https = site.urls.get("http", ""), site.urls.get("https", "")
    return {
        "/redirect/301": (301, "/"),
        "/redirect/302": (302, http + "/"),
        "/redirect/307": (307, "/echo"),
        "/redirect/308": (308, "/"),
        "/redirect/https": (302, https + "/"),
        "/redirect/ftp": (302, "ftp://127.0.0.1/file"),
        "/redirect/other-port": (302, site.urls.get("h2", "") + "/echo/headers"),
        "/redirect/http": (302, http + "/echo/headers"),
        "/redirect/downgrade": (302, https.replace("https://", "http://", 1) + "/echo/headers"),
        "/redirect/same-origin": (302, "/echo/headers"),
        "/redirect/userinfo": (
            302,
            http.replace("://", f"://lab-user:{LAB_LOCATION_SECRET}@", 1) + "/echo/headers",
        ),
        "/redirect/elsewhere": (302, http.replace("://127.0.0.1:", "://127.0.0.2:", 1) + "/"),
        "/loop/a": (302, "/loop/b"),
        "/loop/b": (302, "/loop/a"),
    }


def _raw(path: str) -> Callable[[Any], None] | None:
    """The answers written as raw bytes: a redirect followed by a close, a canned reply, or a
    hostile one."""
    if path == "/redirect/close":  # then the handler returns, and the connection is closed
        return _send_raw(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 6\r\n\r\nmoved\n")
    canned = _take_canned(path)
    if canned is not None:
        return _send_raw(canned)
    if path.startswith("/hostile/"):
        return HOSTILE.get(path[9:])
    return None


def _silent(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.settimeout(30)
        sock.recv(1)


def _endless_headers(sock: Any) -> None:
    sent = 0
    with contextlib.suppress(OSError):
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        while sent < HOSTILE_LIMIT:
            line = b"X-Endless-%08d: %s\r\n" % (sent, b"y" * 100)
            sock.sendall(line)
            sent += len(line)


def _huge_header(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nX-Huge: " + b"z" * (1 << 20) + b"\r\nContent-Length: 0\r\n\r\n"
        )


def _garbage(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"\x00\x01NOT-HTTP garbage status line \xff\r\n\r\n")


def _close_mid(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b")


def _drip(sock: Any) -> None:
    payload = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"d" * 100
    with contextlib.suppress(OSError):
        for i in range(len(payload)):
            sock.sendall(payload[i : i + 1])
            time.sleep(0.2)


ESCAPE_BYTES = b"\x9b2J\x9d0;pwned\x9c"
"""C1 controls (CSI, OSC, ST) as Latin-1 bytes: HTTP/1.1 allows them in a reason phrase and in
header values (obs-text), and decoded they are terminal control sequences."""


def _escapes(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(
            b"HTTP/1.1 200 OK " + ESCAPE_BYTES + b"\r\n"
            b"X-Escape: before " + ESCAPE_BYTES + b" after\r\n"
            b"Content-Length: 3\r\n\r\nok\n"
        )


def _drain_now(sock: Any) -> bool:
    """Read and drop what the client has sent, without waiting; False once it has gone."""
    sock.settimeout(0.0)
    try:
        while True:
            if not sock.recv(65536):
                return False
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return True
    finally:
        sock.settimeout(IO_TIMEOUT)


def flood(sock: Any, head: bytes, unit: bytes, *, drain: bool = False) -> int:
    """Send ``head``, then ``unit`` over and over, as fast as the client takes it, until the
    client goes (or stops reading for ``IO_TIMEOUT``), ``FLOOD_SECONDS`` pass or
    ``FLOOD_LIMIT`` bytes are sent. With ``drain``, what the client sends meanwhile (HTTP/2
    acknowledgements) is read and dropped so that it never blocks. Returns the bytes sent."""
    batch = unit * max(1, 16384 // len(unit))
    end = time.monotonic() + FLOOD_SECONDS
    sent = 0
    with contextlib.suppress(OSError):
        sock.sendall(head)
        sent += len(head)
        while sent < FLOOD_LIMIT and time.monotonic() < end:
            sock.sendall(batch)
            sent += len(batch)
            if drain and not _drain_now(sock):
                break
    return sent


def _continue_flood(sock: Any) -> None:
    flood(sock, b"", b"HTTP/1.1 100 Continue\r\n\r\n")


def _chunk_flood(sock: Any) -> None:
    flood(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\nx\r\n")


H2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
H2_SETTINGS_FRAME = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00\x64"
"""A SETTINGS frame (SETTINGS_MAX_CONCURRENT_STREAMS = 100): each one must be acknowledged."""
H2_PING_FRAME = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"netdiag!"
"""A PING frame: each one must be answered with a PING ACK."""
H2_WINDOW_UPDATE_FRAME = b"\x00\x00\x04\x08\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x01"
"""A WINDOW_UPDATE frame for the connection, by one byte: legitimate one at a time, so only the
deadline can end an endless stream of them."""


def h2_flood_handler(ctx: ssl.SSLContext, frame: bytes) -> Handler:
    """A listener that negotiates h2, reads the client's preface and request, and then sends
    ``frame`` forever (see :func:`flood`), never a response."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
            if tls.selected_alpn_protocol() != "h2":
                return
            tls.recv(65536)  # the preface, the client's SETTINGS and (usually) its request
            flood(tls, H2_EMPTY_SETTINGS, frame, drain=True)

    return handle


_canned: dict[str, bytes] = {}
_canned_lock = threading.Lock()


def can(reply: bytes) -> str:
    """Register ``reply`` as the raw answer to one request and return the path to request it
    at, ``/canned/TOKEN``, on any lab HTTP server: HTTP/1.1 servers send exactly ``reply``
    after reading the request; the HTTP/2 server sends it after its own SETTINGS (and the
    acknowledgement of the client's). Then the connection is closed. One use per token."""
    if len(reply) > HOSTILE_LIMIT:
        raise ValueError(f"a canned reply is at most {HOSTILE_LIMIT} bytes")
    token = secrets.token_hex(8)
    with _canned_lock:
        while len(_canned) >= MAX_CANNED:
            del _canned[next(iter(_canned))]
        _canned[token] = reply
    return f"/canned/{token}"


def _take_canned(path: str) -> bytes | None:
    if not path.startswith("/canned/"):
        return None
    with _canned_lock:
        return _canned.pop(path[len("/canned/") :], None)


def _send_raw(data: bytes) -> Callable[[Any], None]:
    def send(sock: Any) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    return send


def _big_header(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 4000 + b"\r\nContent-Length: 0\r\n\r\n")


HOSTILE: dict[str, Callable[[Any], None]] = {
    "big-header": _big_header,
    "continue-flood": _continue_flood,
    "chunk-flood": _chunk_flood,
    "escapes": _escapes,
    "silent": _silent,
    "endless-headers": _endless_headers,
    "huge-header": _huge_header,
    "garbage": _garbage,
    "close-mid": _close_mid,
    "drip": _drip,
}


def serve_http1(sock: Any, site: Site) -> None:
    """Serve requests on one connection (plain or TLS) until the client closes."""
    conn = h11.Connection(h11.SERVER)
    while True:
        received = _read_request(conn, sock)
        if received is None:
            return
        request, body = received
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
        method = request.method.decode()
        outcome = _route(
            site, method, request.target.decode("latin-1").split("?")[0], headers, body
        )
        if callable(outcome):
            outcome(sock)
            return
        if not _respond(conn, sock, method, outcome):
            return
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            return


def _read_request(conn: h11.Connection, sock: Any) -> tuple[h11.Request, bytes] | None:
    """The next request and its body; None once the client has gone or switched protocols,
    or when the body exceeds 1 MiB."""
    request: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(65536)
            except (OSError, ssl.SSLError):
                return None
            conn.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > 1 << 20:
                return None
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            return request, body
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


def _respond(conn: h11.Connection, sock: Any, method: str, response: Response) -> bool:
    """Write ``response`` (its body in 100-byte chunks when it says Transfer-Encoding, none
    for HEAD, 204 and 304); False when it could not be sent."""
    status, headers, payload = response
    chunked = any(n.lower() == "transfer-encoding" for n, _ in headers)
    if not chunked and status not in (204, 304):
        headers = [*headers, ("Content-Length", str(len(payload)))]
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    try:
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        if method != "HEAD" and payload and status not in (204, 304):
            step = 100 if chunked else len(payload)
            for i in range(0, len(payload), step):
                data += conn.send(h11.Data(data=payload[i : i + step]))
        data += conn.send(h11.EndOfMessage())
        sock.sendall(data)
    except (OSError, ssl.SSLError, h11.LocalProtocolError):
        return False
    return True


def serve_http2(sock: Any) -> None:
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while True:
        try:
            data = sock.recv(65536)
        except (OSError, ssl.SSLError):
            return
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers).get(b":path", b"/")
                canned = _take_canned(path.decode("latin-1"))
                if canned is not None:
                    with contextlib.suppress(OSError):
                        sock.sendall(conn.data_to_send() + canned)
                    return
                body = b"hello over HTTP/2 from the netdiag lab, path " + path + b"\n"
                conn.send_headers(
                    event.stream_id,
                    [
                        (":status", "200"),
                        ("content-type", "text/plain; charset=utf-8"),
                        ("content-length", str(len(body))),
                        ("x-lab", "h2"),
                    ],
                )
                conn.send_data(event.stream_id, body, end_stream=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


def plain_handler(site: Site) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        serve_http1(conn, site)

    return handle


def tls_http_handler(ctx: ssl.SSLContext, site: Site) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            ctx.wrap_socket(conn, server_side=True) as tls,
        ):
            if tls.selected_alpn_protocol() == "h2":
                serve_http2(tls)
            else:
                serve_http1(tls, site)

    return handle


def start_http(
    listeners: Listeners, https_ctx: ssl.SSLContext, h2_ctx: ssl.SSLContext
) -> dict[str, str]:
    """Add the HTTP servers to ``listeners``; returns their base URLs by name."""
    site = Site()
    host, port = listeners.add(plain_handler(site))
    site.urls["http"] = f"http://{host}:{port}"
    host, port = listeners.add(tls_http_handler(https_ctx, site))
    site.urls["https"] = f"https://{host}:{port}"
    host, port = listeners.add(tls_http_handler(h2_ctx, site))
    site.urls["h2"] = f"https://{host}:{port}"
    for name, frame in (
        ("h2_settings_flood", H2_SETTINGS_FRAME),
        ("h2_ping_flood", H2_PING_FRAME),
        ("h2_window_flood", H2_WINDOW_UPDATE_FRAME),
    ):
        host, port = listeners.add(h2_flood_handler(h2_ctx, frame))
        site.urls[name] = f"https://{host}:{port}"
    return dict(site.urls)
