"""The TLS handshake building block that ``tls`` and ``http`` share, on pyOpenSSL.

pyOpenSSL is used rather than the ssl module because it also asks for and returns a stapled
OCSP response, and hands over the chain exactly as the server sent it. The handshake runs
on a non-blocking socket against a deadline, so a silent or slow server cannot hold it past
``timeout``. Certificates are *not* verified here (verification mode none): the handshake
must succeed so that a broken chain can still be shown; :mod:`netdiag.certs` judges it.

Importing this module imports pyOpenSSL and cryptography: only commands that speak TLS do.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
from dataclasses import dataclass, field

from OpenSSL import SSL, crypto

from netdiag.clock import now_ns
from netdiag.result import ProbeError
from netdiag.tcpconnect import check_deadline, wait_ready

_NOT_TLS_HINTS = (
    "wrong version number",
    "packet length too long",
    "record layer failure",
    "http request",
    "unknown protocol",
    "record_layer_failure",
)


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

    def _wait(self, deadline_ns: int, write: bool) -> None:
        wait_ready(self.sock, deadline_ns, write=write)

    def recv(self, n: int, deadline_ns: int) -> bytes:
        """Up to ``n`` bytes of application data (b"" at a clean close), by the deadline:
        TimeoutError once it has passed, even while data keeps arriving."""
        while True:
            check_deadline(deadline_ns)
            try:
                return self.conn.recv(n)
            except SSL.WantReadError:
                self._wait(deadline_ns, write=False)
            except SSL.WantWriteError:
                self._wait(deadline_ns, write=True)
            except SSL.ZeroReturnError:
                return b""
            except SSL.SysCallError as exc:
                if exc.args and exc.args[0] == -1:  # EOF without close_notify
                    return b""
                raise ConnectionResetError(str(exc)) from None

    def sendall(self, data: bytes, deadline_ns: int) -> None:
        view = memoryview(data)
        while view:
            check_deadline(deadline_ns)
            try:
                sent = self.conn.send(bytes(view[:16384]))
                view = view[sent:]
            except SSL.WantReadError:
                self._wait(deadline_ns, write=False)
            except SSL.WantWriteError:
                self._wait(deadline_ns, write=True)
            except SSL.SysCallError as exc:
                raise ConnectionResetError(str(exc)) from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(SSL.Error):
            self.conn.shutdown()  # send close_notify; don't wait for the peer's
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
    if isinstance(exc, SSL.SysCallError):
        code = exc.args[0] if exc.args else None
        if code in (errno.ECONNRESET, errno.EPIPE):
            return ProbeError(
                "handshake_failed", f"{where} reset the connection during the TLS handshake"
            )
        return ProbeError(
            "handshake_failed", f"{where} closed the connection during the TLS handshake"
        )
    text = str(exc).lower()
    if any(h in text for h in _NOT_TLS_HINTS):
        return ProbeError("not_tls", f"{where} does not speak TLS here ({_reason(exc)})")
    return ProbeError("handshake_failed", f"TLS handshake with {where} failed: {_reason(exc)}")


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
    conn = SSL.Connection(_context(alpn or [], ocsp), sock)
    conn.set_connect_state()
    if sni:
        conn.set_tlsext_host_name(sni.encode("ascii"))
    conn.request_ocsp()
    sock.setblocking(False)
    start = now_ns()
    deadline = start + int(timeout * 1e9)
    sel = selectors.DefaultSelector()
    try:
        while True:
            try:
                conn.do_handshake()
                break
            except (SSL.WantReadError, SSL.WantWriteError) as want:
                event = (
                    selectors.EVENT_READ
                    if isinstance(want, SSL.WantReadError)
                    else selectors.EVENT_WRITE
                )
                left = (deadline - now_ns()) / 1e9
                sel.register(sock, event)
                ready = sel.select(max(0.0, left)) if left > 0 else []
                sel.unregister(sock)
                if not ready:
                    sock.close()
                    return None, ProbeError(
                        "timeout", f"no TLS answer from {where} within {timeout:g} s"
                    )
            except (SSL.Error, OSError) as exc:
                sock.close()
                return None, classify_ssl_error(exc, where)
    finally:
        sel.close()
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
