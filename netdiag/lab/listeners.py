"""TCP listeners on 127.0.0.1 for the lab's protocol servers: one accept thread for all of
them, a thread per connection (bounded), each connection handed to its listener's handler."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable

MAX_HANDLERS = 64
IO_TIMEOUT = 5.0
"""How long a lab server waits on a quiet client before it gives up on the connection."""

Handler = Callable[[socket.socket], None]


def bound(sock: socket.socket) -> tuple[str, int]:
    """The (host, port) a socket is bound to, for IPv4 and IPv6 alike."""
    name = sock.getsockname()
    return str(name[0]), int(name[1])


class Listeners:
    """TCP listeners on 127.0.0.1, one accept thread, a thread per connection (bounded)."""

    def __init__(self) -> None:
        self.handlers: dict[socket.socket, Handler] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="lab-tls", daemon=True)
        self._slots = threading.BoundedSemaphore(MAX_HANDLERS)

    def add(self, handler: Handler) -> tuple[str, int]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        s.setblocking(False)
        self.handlers[s] = handler
        return bound(s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for s in (*self.handlers, self._wake_r, self._wake_w):
            s.close()

    def _run(self, handler: Handler, conn: socket.socket) -> None:
        try:
            handler(conn)
        finally:
            conn.close()
            self._slots.release()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._wake_r, selectors.EVENT_READ)
            for s in self.handlers:
                sel.register(s, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    listener = key.fileobj
                    assert isinstance(listener, socket.socket)
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    conn.setblocking(True)
                    with contextlib.suppress(OSError):
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if not self._slots.acquire(blocking=False):
                        conn.close()
                        continue
                    threading.Thread(
                        target=self._run, args=(self.handlers[listener], conn), daemon=True
                    ).start()
