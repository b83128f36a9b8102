"""The TLS handshake building block that ``tls`` and ``http`` share, on pyOpenSSL.

pyOpenSSL is used rather than the ssl module because it also asks for and returns a stapled
OCSP response, and hands over the chain exactly as the server sent it. The handshake runs
on a non-blocking socket against a deadline, so a silent or slow server cannot hold it past
``timeout``. OpenSSL never touches the socket: it works on memory BIOs that this module
fills from the socket, at most :data:`FEED_SIZE` bytes per turn, checking the deadline
between turns. A socket BIO would let OpenSSL loop inside one C call for as long as the peer
keeps data coming (endless HelloRequest messages during the handshake, which OpenSSL skips
in a loop; session tickets after it), where no deadline and no Ctrl-C can reach it.
Certificates are *not* verified here (verification mode none): the handshake
must succeed so that a broken chain can still be shown; :mod:`netdiag.net.certs` judges it.

Importing this module imports pyOpenSSL and cryptography: only commands that speak TLS do.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from dataclasses import dataclass, field

from OpenSSL import SSL, crypto

from netdiag.clock import now_ns
from netdiag.errors import ErrorKind
from netdiag.net.tcpconnect import check_deadline, wait_ready
from netdiag.results import ProbeError

_NOT_TLS_HINTS = (
    "wrong version number",
    "packet length too long",
    "record layer failure",
    "http request",
    "unknown protocol",
    "record_layer_failure",
)
FEED_SIZE = 16384 + 2048
"""Bytes handed to OpenSSL per turn: one full TLS record (16 KiB plus overhead)."""


def _pump_out(conn: SSL.Connection, sock: socket.socket, deadline_ns: int) -> None:
    """Send whatever OpenSSL has written to its outgoing memory BIO, by the deadline."""
    while True:
        try:
            data = conn.bio_read(65536)
        except SSL.WantReadError:
            return
        view = memoryview(data)
        while view:
            check_deadline(deadline_ns)
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                wait_ready(sock, deadline_ns, write=True)


def _feed(conn: SSL.Connection, sock: socket.socket, deadline_ns: int) -> None:
    """Send what OpenSSL has to say, then give it the next bytes from the socket (at most
    FEED_SIZE; at end of stream, tell it so). TimeoutError once the deadline has passed."""
    _pump_out(conn, sock, deadline_ns)
    while True:
        check_deadline(deadline_ns)
        try:
            data = sock.recv(FEED_SIZE)
            break
        except BlockingIOError:
            wait_ready(sock, deadline_ns)
    if data:
        conn.bio_write(data)
    else:
        conn.bio_shutdown()


class TlsClosed(ConnectionError):
    """The TLS layer failed after the handshake (a bad record, an alert): a connection error,
    so that callers handling OSError handle it too."""


@dataclass(slots=True)
class TlsSession:
    """A completed handshake: the connection, what was negotiated, and what was served."""

    conn: SSL.Connection
    sock: socket.socket
    handshake_ms: float
    protocol: str
    cipher: str
    cipher_bits: int | None
    alpn: str | None
    chain: list[bytes]
    """The certificates exactly as the server sent them (DER), leaf first: not parsed here,
    so that one that cryptography cannot read is judged (and reported) with the others."""
    ocsp_response: bytes | None
    """The stapled OCSP response (DER), or None when none was stapled."""
    sni: str | None = None
    _closed: bool = field(default=False, repr=False)

    def recv(self, n: int, deadline_ns: int) -> bytes:
        """Up to ``n`` bytes of application data (b"" at a clean close), by the deadline:
        TimeoutError once it has passed, even while data keeps arriving; TlsClosed when the
        TLS layer fails."""
        while True:
            check_deadline(deadline_ns)
            try:
                return self.conn.recv(n)
            except SSL.WantReadError:
                self._feed(deadline_ns)
            except SSL.ZeroReturnError:
                return b""
            except SSL.SysCallError as exc:
                if exc.args and exc.args[0] == -1:  # EOF without close_notify
                    return b""
                raise TlsClosed(str(exc)) from None
            except SSL.Error as exc:
                if "unexpected eof" in str(exc).lower():
                    return b""
                raise TlsClosed(f"TLS error: {_reason(exc)}") from None

    def _feed(self, deadline_ns: int) -> None:
        _feed(self.conn, self.sock, deadline_ns)

    def sendall(self, data: bytes, deadline_ns: int) -> None:
        view = memoryview(data)
        while view:
            check_deadline(deadline_ns)
            try:
                sent = self.conn.send(bytes(view[:16384]))
                view = view[sent:]
            except SSL.WantReadError:
                self._feed(deadline_ns)
            except SSL.Error as exc:
                raise TlsClosed(f"TLS error: {_reason(exc)}") from None
        _pump_out(self.conn, self.sock, deadline_ns)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(SSL.Error, OSError):
            self.conn.shutdown()  # close_notify, sent if the socket takes it now; no wait
            self.sock.send(self.conn.bio_read(65536))
        self.sock.close()


def _context(alpn: list[str], on_ocsp: list[bytes]) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE)
    # A diagnostic tool must be able to talk to old and weak servers to report on them.
    ctx.set_min_proto_version(SSL.TLS1_VERSION)
    ctx.set_cipher_list(b"ALL:@SECLEVEL=0")
    if alpn:
        ctx.set_alpn_protos([p.encode() for p in alpn])

    def ocsp_callback(_conn: SSL.Connection, data: bytes, _arg: object) -> bool:
        on_ocsp.append(data)
        return True  # judged later, never a reason to abort the handshake

    ctx.set_ocsp_client_callback(ocsp_callback)
    return ctx


def classify_ssl_error(exc: Exception, where: str) -> ProbeError:
    """Name a failed handshake: not TLS at all, reset, or refused by the server's TLS."""
    if isinstance(exc, SSL.SysCallError | OSError) or "unexpected eof" in str(exc).lower():
        code = exc.errno if isinstance(exc, OSError) else (exc.args[0] if exc.args else None)
        if code in (errno.ECONNRESET, errno.EPIPE):
            return ProbeError(
                ErrorKind.HANDSHAKE_FAILED, f"{where} reset the connection during the TLS handshake"
            )
        return ProbeError(
            ErrorKind.HANDSHAKE_FAILED, f"{where} closed the connection during the TLS handshake"
        )
    text = str(exc).lower()
    if any(h in text for h in _NOT_TLS_HINTS):
        return ProbeError(ErrorKind.NOT_TLS, f"{where} does not speak TLS here ({_reason(exc)})")
    return ProbeError(
        ErrorKind.HANDSHAKE_FAILED, f"TLS handshake with {where} failed: {_reason(exc)}"
    )


def _reason(exc: Exception) -> str:
    """OpenSSL's reason strings from a pyOpenSSL error, e.g. 'tlsv1 alert protocol version'."""
    try:
        errors = exc.args[0]
        reasons = [e[2] for e in errors if len(e) >= 3 and e[2]]
        if reasons:
            return "; ".join(reasons)
    except (IndexError, TypeError):
        pass
    return str(exc) or type(exc).__name__


def handshake(
    sock: socket.socket,
    *,
    sni: str | None,
    alpn: list[str] | None = None,
    timeout: float,
    where: str,
) -> tuple[TlsSession | None, ProbeError | None]:
    """Run a TLS client handshake over a connected socket within ``timeout`` seconds.

    On success the socket is left non-blocking under the returned session (use its
    ``recv``/``sendall``); on failure the socket is closed.
    """
    ocsp: list[bytes] = []
    conn = SSL.Connection(_context(alpn or [], ocsp), None)  # memory BIOs: see the module
    conn.set_connect_state()
    if sni:
        conn.set_tlsext_host_name(sni.encode("ascii"))
    conn.request_ocsp()
    sock.setblocking(False)
    start = now_ns()
    deadline = start + int(timeout * 1e9)
    try:
        while True:
            check_deadline(deadline)
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                _feed(conn, sock, deadline)
        _pump_out(conn, sock, deadline)  # the client's Finished
    except TimeoutError:
        sock.close()
        return None, ProbeError(
            ErrorKind.TIMEOUT, f"no TLS answer from {where} within {timeout:g} s"
        )
    except (SSL.Error, OSError) as exc:
        sock.close()
        return None, classify_ssl_error(exc, where)
    took = (now_ns() - start) / 1e6
    chain = [
        crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in conn.get_peer_cert_chain() or []
    ]
    alpn_raw = conn.get_alpn_proto_negotiated()
    return TlsSession(
        conn=conn,
        sock=sock,
        handshake_ms=took,
        protocol=conn.get_protocol_version_name(),
        cipher=conn.get_cipher_name() or "",
        cipher_bits=conn.get_cipher_bits(),
        alpn=alpn_raw.decode("ascii", "replace") if alpn_raw else None,
        chain=list(chain),
        ocsp_response=ocsp[0] if ocsp and ocsp[0] else None,
        sni=sni,
    ), None
