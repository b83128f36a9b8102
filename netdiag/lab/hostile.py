"""Servers that break the rules below HTTP, for the error paths of the TLS and HTTP clients:

- :func:`closes_in_handshake` reads the ClientHello, then closes cleanly (a FIN, no alert);
- :func:`alerts_in_handshake` answers the ClientHello with a fatal ``handshake_failure`` alert;
- :func:`deaf` accepts and never reads: a client's large request fills the socket buffers and
  can only wait (until its deadline);
- :func:`close_notify_http` answers one HTTP/1.1 request over TLS with a body delimited by the
  end of the connection, then ends TLS properly (close_notify) before closing.

Each is bounded by :data:`netdiag.lab.listeners.IO_TIMEOUT`.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl

from netdiag.lab.listeners import IO_TIMEOUT, Handler

HANDSHAKE_FAILURE_ALERT = b"\x15\x03\x03\x00\x02\x02\x28"
"""A TLS record: alert, TLS 1.2, 2 bytes, fatal (2), handshake_failure (40)."""


def closes_in_handshake(conn: socket.socket) -> None:
    conn.settimeout(IO_TIMEOUT)
    with contextlib.suppress(OSError):
        conn.recv(16384)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(16384)  # until the client closes too (or the timeout)


def alerts_in_handshake(conn: socket.socket) -> None:
    conn.settimeout(IO_TIMEOUT)
    with contextlib.suppress(OSError):
        conn.recv(16384)
        conn.sendall(HANDSHAKE_FAILURE_ALERT)
        conn.recv(16384)


def deaf(conn: socket.socket) -> None:
    """Hold the connection, reading nothing, until the client hangs up or IO_TIMEOUT passes."""
    rdhup = getattr(select, "POLLRDHUP", 0)  # Linux: the peer closed, seen without reading
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        if rdhup:
            poller = select.poll()
            poller.register(conn, rdhup)
            poller.poll(IO_TIMEOUT * 1000)
        else:
            select.select([], [], [], IO_TIMEOUT)


def close_notify_http(ctx: ssl.SSLContext) -> Handler:
    body = b"this body ends where TLS ends, with close_notify\n"

    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                data = tls.recv(65536)
                if not data:
                    return
                request += data
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
            tls.unwrap()  # close_notify, then the client's

    return handle
