"""The plain-text openings of SMTP (RFC 3207), IMAP (RFC 2595/9051) and POP3 (RFC 2595)
that upgrade a connection to TLS. Lines are read with a size bound and a deadline."""

from __future__ import annotations

import socket
from collections.abc import Callable

from netdiag.clock import now_ns
from netdiag.errors import ErrorKind
from netdiag.net.tcpconnect import wait_ready
from netdiag.results import ProbeError

DEFAULT_PORTS = {"smtp": 25, "imap": 143, "pop3": 110}
MAX_LINE = 4096
MAX_TOTAL = 65536


class _Lines:
    def __init__(self, sock: socket.socket, deadline_ns: int) -> None:
        self.sock, self.deadline, self.buf, self.total = sock, deadline_ns, b"", 0

    def line(self) -> str:
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE or self.total > MAX_TOTAL:
                raise ValueError("the server sent an overlong line")
            wait_ready(self.sock, self.deadline)
            chunk = self.sock.recv(MAX_LINE)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.total += len(chunk)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("ascii") + b"\r\n")


def _smtp_reply(lines: _Lines) -> tuple[str, list[str]]:
    """A (possibly multi-line) SMTP reply: its code and its lines."""
    out = []
    while True:
        line = lines.line()
        if not (line[:3].isdigit() and line[3:4] in ("", " ", "-")):
            raise ValueError(f"not an SMTP reply: {line[:80]!r}")
        out.append(line)
        if len(line) < 4 or line[3] != "-":
            return line[:3], out


def _smtp(lines: _Lines) -> ProbeError | None:
    """RFC 3207: the greeting, EHLO (which must offer STARTTLS), STARTTLS."""
    code, greeting = _smtp_reply(lines)
    if code != "220":
        return ProbeError(ErrorKind.STARTTLS, f"SMTP greeting was not 220: {greeting[-1]}")
    lines.send("EHLO netdiag.invalid")
    code, ehlo = _smtp_reply(lines)
    if code != "250":
        return ProbeError(ErrorKind.STARTTLS, f"EHLO was refused: {ehlo[-1]}")
    if not any(x[4:].strip().upper().startswith("STARTTLS") for x in ehlo):
        return ProbeError(ErrorKind.STARTTLS, "the SMTP server does not offer STARTTLS")
    lines.send("STARTTLS")
    code, reply = _smtp_reply(lines)
    if code != "220":
        return ProbeError(ErrorKind.STARTTLS, f"STARTTLS was refused: {reply[-1]}")
    return None


def _imap(lines: _Lines) -> ProbeError | None:
    """RFC 2595/9051: the greeting, then STARTTLS, whose tagged reply must be OK (untagged
    lines before it are skipped)."""
    greeting = lines.line()
    if not greeting.upper().startswith("* OK"):
        return ProbeError(ErrorKind.STARTTLS, f"IMAP greeting was not OK: {greeting}")
    lines.send("a1 STARTTLS")
    while True:
        reply = lines.line()
        if reply.startswith("a1 "):
            break
    if not reply.upper().startswith("A1 OK"):
        return ProbeError(ErrorKind.STARTTLS, f"STARTTLS was refused: {reply}")
    return None


def _pop3(lines: _Lines) -> ProbeError | None:
    """RFC 2595: the greeting, then STLS."""
    greeting = lines.line()
    if not greeting.startswith("+OK"):
        return ProbeError(ErrorKind.STARTTLS, f"POP3 greeting was not +OK: {greeting}")
    lines.send("STLS")
    reply = lines.line()
    if not reply.startswith("+OK"):
        return ProbeError(ErrorKind.STARTTLS, f"STLS was refused: {reply}")
    return None


_OPENINGS: dict[str, Callable[[_Lines], ProbeError | None]] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
}


def upgrade(sock: socket.socket, protocol: str, timeout: float) -> ProbeError | None:
    """Speak ``protocol``'s opening on a connected blocking socket until the server agrees to
    start TLS; None then, else why not. The socket's buffer is empty afterwards."""
    opening = _OPENINGS.get(protocol)
    if opening is None:
        return ProbeError(ErrorKind.STARTTLS, f"unknown STARTTLS protocol {protocol}")
    sock.settimeout(None)
    sock.setblocking(True)
    lines = _Lines(sock, now_ns() + int(timeout * 1e9))
    try:
        refused = opening(lines)
    except TimeoutError:
        return ProbeError(
            ErrorKind.TIMEOUT, f"the {protocol.upper()} server did not answer within {timeout:g} s"
        )
    except (ConnectionError, OSError, ValueError) as exc:
        return ProbeError(ErrorKind.STARTTLS, f"{protocol.upper()} opening failed: {exc}")
    if refused is not None:
        return refused
    if lines.buf:
        return ProbeError(ErrorKind.STARTTLS, "the server sent data after agreeing to start TLS")
    return None
