"""Mail servers that will not start TLS, one for each step at which a STARTTLS opening can
fail (``netdiag tls --starttls``): a greeting that is not one, a refused EHLO, no STARTTLS on
offer, a refused STARTTLS or STLS, an overlong line, a server that closes, one that says
nothing, and one that sends bytes after agreeing to start TLS.

Each server is a script: it sends its greeting, then answers each line the client sends with
the next reply (``None``: close instead), then reads until the client closes (bounded in size
and by :data:`netdiag.lab.listeners.IO_TIMEOUT`). The lab serves them as
``tls_starttls_<case>`` (see :data:`CASES`).
"""

from __future__ import annotations

import contextlib
import socket

from netdiag.lab.listeners import IO_TIMEOUT, Handler

SMTP_HELLO = b"220 mail.lab.test ESMTP netdiag lab\r\n"
SMTP_EHLO = b"250-mail.lab.test\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n"

CASES: dict[str, tuple[str, bytes, tuple[bytes | None, ...]]] = {
    # case: (protocol, greeting, replies to the client's lines in turn)
    "smtp_unavailable": ("smtp", b"554 5.3.2 mail.lab.test no service today\r\n", ()),
    "smtp_ehlo_refused": ("smtp", SMTP_HELLO, (b"550 5.7.1 EHLO refused here\r\n",)),
    "smtp_no_starttls": ("smtp", SMTP_HELLO, (b"250-mail.lab.test\r\n250 SIZE 1000000\r\n",)),
    "smtp_refused": ("smtp", SMTP_HELLO, (SMTP_EHLO, b"454 4.7.0 TLS not available\r\n")),
    "smtp_overlong": ("smtp", b"220-" + b"x" * 6000, ()),
    "smtp_closes": ("smtp", SMTP_HELLO, (None,)),
    "smtp_silent": ("smtp", b"", ()),
    "smtp_early_data": (
        "smtp",
        SMTP_HELLO,
        (SMTP_EHLO, b"220 2.0.0 Ready to start TLS\r\n\x16\x03\x01\x00\x05hello"),
    ),
    "imap_bye": ("imap", b"* BYE mail.lab.test is shutting down\r\n", ()),
    "imap_refused": (
        "imap",
        b"* OK [CAPABILITY IMAP4rev1] netdiag lab ready\r\n",
        (b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 BAD STARTTLS not supported\r\n",),
    ),
    "pop3_err": ("pop3", b"-ERR mail.lab.test is busy\r\n", ()),
    "pop3_refused": ("pop3", b"+OK netdiag lab POP3 ready\r\n", (b"-ERR STLS not here\r\n",)),
}
"""Each refusing server by case: its protocol, greeting and replies. The IMAP script answers
the tag netdiag sends (``a1``)."""


def scripted_handler(greeting: bytes, replies: tuple[bytes | None, ...]) -> Handler:
    """A server that sends ``greeting``, answers each client line with the next of
    ``replies`` (closing at ``None``), then reads until the client goes."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        with contextlib.suppress(OSError), conn.makefile("rb") as lines:
            if greeting:
                conn.sendall(greeting)
            for reply in replies:
                if not lines.readline(4096) or reply is None:
                    return
                conn.sendall(reply)
            total = 0
            while total < 1 << 16:
                data = conn.recv(4096)
                if not data:
                    return
                total += len(data)

    return handle


def refusing_servers() -> dict[str, Handler]:
    """``starttls_<case>`` -> its handler, for every case in :data:`CASES`."""
    return {
        f"starttls_{case}": scripted_handler(greeting, replies)
        for case, (_protocol, greeting, replies) in CASES.items()
    }
