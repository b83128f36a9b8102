"""TLS servers for the lab, on 127.0.0.1, each with one certificate chain from the lab's
private PKI (:mod:`netdiag.lab.pki`) and one defect.

Clients name the case with SNI ``<case>.lab.test`` (``good.lab.test``, ...) and trust the lab's
root with ``--ca-file``; the servers themselves present one chain whatever SNI says.
"""

from __future__ import annotations

import contextlib
import functools
import os
import selectors
import shutil
import socket
import ssl
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from netdiag.lab.listeners import IO_TIMEOUT, Handler, Listeners
from netdiag.lab.pki import DAY, Issued, escape_name, make_ca, make_leaf, pem, write_pair

ALPN = ["h2", "http/1.1"]
MALFORMED: dict[str, dict[x509.ObjectIdentifier, bytes]] = {
    # a dNSName said to be 9 bytes long, in a SEQUENCE said to be 5
    "bad-san": {ExtensionOID.SUBJECT_ALTERNATIVE_NAME: b"\x30\x05\x82\x09bad"},
    # an INTEGER said to be 5 bytes long, with none
    "bad-basic-constraints": {ExtensionOID.BASIC_CONSTRAINTS: b"\x30\x02\x02\x05"},
}
"""Lab cases whose leaf has an extension with malformed DER, by case name."""
_R = TypeVar("_R")


def _drain(sock: socket.socket | ssl.SSLSocket) -> None:
    """Read (and discard, bounded) until the client closes or goes quiet."""
    total = 0
    with contextlib.suppress(OSError, ssl.SSLError):
        while total < 1 << 20:
            data = sock.recv(65536)
            if not data:
                break
            total += len(data)


def tls_handler(ctx: ssl.SSLContext, after: Callable[[ssl.SSLSocket], None] = _drain) -> Handler:
    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        with (
            contextlib.suppress(OSError, ssl.SSLError),
            ctx.wrap_socket(conn, server_side=True) as tls,
        ):
            after(tls)

    return handle


def _not_tls(conn: socket.socket) -> None:
    conn.settimeout(IO_TIMEOUT)
    with contextlib.suppress(OSError):
        conn.sendall(b"SSH-2.0-netdiag-lab this port speaks no TLS\r\n")
        _drain(conn)


def _reset(conn: socket.socket) -> None:
    """Read the ClientHello, then abort the connection: the client sees a reset mid-handshake."""
    conn.settimeout(IO_TIMEOUT)
    with contextlib.suppress(OSError):
        conn.recv(16384)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


HELLO_REQUEST_RECORD = b"\x16\x03\x03\x40\x00" + b"\x00\x00\x00\x00" * 4096
"""A plaintext handshake record of 4,096 HelloRequest messages, which a TLS client skips
(OpenSSL in a loop, for as long as they keep coming)."""


def _hello_request_flood(conn: socket.socket) -> None:
    """Read the ClientHello, then send HelloRequest records as fast as the client takes them
    (bounded as every lab flood is: :func:`netdiag.lab.http.flood`), never a ServerHello."""
    from netdiag.lab.http import flood

    conn.settimeout(IO_TIMEOUT)
    with contextlib.suppress(OSError):
        conn.recv(16384)
        flood(conn, b"", HELLO_REQUEST_RECORD * 8)


def bad_record_after(tls: Any) -> None:
    """After the handshake, read the request, then send a record that cannot be decrypted
    (on the raw socket, past the TLS layer): the client's TLS layer fails mid-exchange."""
    tls.recv(65536)
    raw = socket.socket(fileno=os.dup(tls.fileno()))
    with raw, contextlib.suppress(OSError):
        raw.sendall(b"\x17\x03\x03\x00\x20" + b"\x11" * 32)
        raw.settimeout(IO_TIMEOUT)
        raw.recv(65536)


def starttls_handler(protocol: str, ctx: ssl.SSLContext) -> Handler:
    """A minimal SMTP, IMAP or POP3 server that upgrades to TLS on request."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(IO_TIMEOUT)
        f = conn.makefile("rb")
        try:
            if protocol == "smtp":
                conn.sendall(b"220 mail.lab.test ESMTP netdiag lab\r\n")
                while True:
                    line = f.readline(4096).strip().upper()
                    if not line:
                        return
                    if line.startswith((b"EHLO", b"HELO")):
                        conn.sendall(b"250-mail.lab.test\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n")
                    elif line == b"STARTTLS":
                        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                        break
                    else:
                        conn.sendall(b"502 5.5.2 not here\r\n")
            elif protocol == "imap":
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] netdiag lab ready\r\n")
                line = f.readline(4096).strip()
                tag = line.split(b" ", 1)[0]
                conn.sendall(tag + b" OK Begin TLS negotiation now\r\n")
            else:
                conn.sendall(b"+OK netdiag lab POP3 ready\r\n")
                f.readline(4096)
                conn.sendall(b"+OK Begin TLS negotiation\r\n")
            f.close()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                _drain(tls)
        except (OSError, ssl.SSLError):
            return

    return handle


def ocsp_stapling_handler(cert_path: Path, key_path: Path, ocsp_der: bytes) -> Handler:
    """A TLS server (pyOpenSSL, which can staple) that staples ``ocsp_der``."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate_chain_file(str(cert_path))
    ctx.use_privatekey_file(str(key_path))
    ctx.set_ocsp_server_callback(lambda _conn, _data: ocsp_der)

    def handle(conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.settimeout(None)
        server = SSL.Connection(ctx, conn)
        server.set_accept_state()
        conn.settimeout(IO_TIMEOUT)
        with contextlib.suppress(SSL.Error, OSError):
            deadline = IO_TIMEOUT
            sel = selectors.DefaultSelector()
            while True:
                try:
                    server.do_handshake()
                    break
                except SSL.WantReadError:
                    sel.register(conn, selectors.EVENT_READ)
                    ready = sel.select(deadline)
                    sel.unregister(conn)
                    if not ready:
                        return
            while True:
                try:
                    if not server.recv(65536):
                        break
                except SSL.WantReadError:
                    sel.register(conn, selectors.EVENT_READ)
                    ready = sel.select(deadline)
                    sel.unregister(conn)
                    if not ready:
                        break
                except SSL.ZeroReturnError:
                    break
        conn.close()

    return handle


class OpenSSLStream:
    """A server-side pyOpenSSL connection with the ``recv``/``sendall`` of a socket, each wait
    bounded by IO_TIMEOUT. For what the ssl module refuses to serve: OpenSSL's ``ssl`` front
    end rejects a certificate whose extensions do not parse, pyOpenSSL's does not."""

    def __init__(self, conn: Any, sock: socket.socket) -> None:
        self.conn, self.sock = conn, sock

    def _wait(self, write: bool) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_WRITE if write else selectors.EVENT_READ)
            if not sel.select(IO_TIMEOUT):
                raise TimeoutError("the client went quiet")

    def _call(self, op: Callable[[], _R]) -> _R:
        from OpenSSL import SSL

        for _ in range(100_000):  # each turn waits for the socket, so this is only a backstop
            try:
                return op()
            except SSL.WantReadError:
                self._wait(write=False)
            except SSL.WantWriteError:
                self._wait(write=True)
            except SSL.Error as exc:
                raise OSError(str(exc)) from None
        raise TimeoutError("the client went quiet")

    def do_handshake(self) -> None:
        self._call(self.conn.do_handshake)

    def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes; OSError at the client's close or on any TLS error."""
        return bytes(self._call(functools.partial(self.conn.recv, n)))

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            sent = self._call(functools.partial(self.conn.send, bytes(view[:16384])))
            view = view[sent:]

    def selected_alpn_protocol(self) -> str | None:
        return None


def openssl_handler(
    cert_path: Path, key_path: Path, after: Callable[[Any], None] = _drain
) -> Handler:
    """A TLS server on pyOpenSSL serving the chain in ``cert_path``, then ``after(stream)``."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.use_certificate_chain_file(str(cert_path))
    ctx.use_privatekey_file(str(key_path))

    def handle(conn: socket.socket) -> None:
        conn.settimeout(0)
        server = SSL.Connection(ctx, conn)
        server.set_accept_state()
        stream = OpenSSLStream(server, conn)
        try:
            stream.do_handshake()
            after(stream)
        except OSError:
            return
        with contextlib.suppress(SSL.Error, OSError):
            server.shutdown()

    return handle


def server_context(
    cert: Path,
    key: Path,
    *,
    min_v: ssl.TLSVersion | None = None,
    max_v: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    ctx.set_alpn_protocols(ALPN)
    return ctx


@dataclass
class TlsLab:
    """Every TLS case of the lab. ``endpoints`` maps ``tls_<case>`` to ``host:port``,
    ``names`` the case to the name to send as SNI, ``ca_file`` is the lab root to trust."""

    endpoints: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    """The lab's web servers: ``http``, ``https`` (HTTP/1.1) and ``h2`` (HTTP/2 via ALPN)."""
    ca_file: Path | None = None
    directory: Path | None = None
    root: Issued | None = None
    intermediate: Issued | None = None
    listeners: Listeners = field(default_factory=Listeners)

    def start(self) -> TlsLab:
        self.directory = Path(tempfile.mkdtemp(prefix="netdiag-lab-tls-"))
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        self.listeners.start()
        return self

    def _add(self, case: str, handler: Handler, name: str | None = None) -> None:
        host, port = self.listeners.add(handler)
        self.endpoints[f"tls_{case}"] = f"{host}:{port}"
        if name:
            self.names[f"tls_{case}"] = name

    def _build(self) -> None:
        d = self.directory
        assert d is not None
        now = datetime.now(UTC)
        root = self.root = make_ca("netdiag lab root CA")
        inter = self.intermediate = make_ca("netdiag lab intermediate CA", root, path_length=0)
        self.ca_file = d / "lab-root-ca.pem"
        self.ca_file.write_bytes(pem(root.cert))

        def leaf_files(case: str, name: str, **kw: object) -> tuple[Path, Path, Issued]:
            issuer = kw.pop("issuer", inter)
            dns_names = kw.pop("dns", [name])
            leaf = make_leaf(issuer, name, dns_names, **kw)  # type: ignore[arg-type]
            chain = [leaf.cert, inter.cert] if issuer is inter else [leaf.cert]
            if kw.get("served") == "leaf":
                chain = [leaf.cert]
            cert, key = write_pair(d, case, chain, leaf.key)
            return cert, key, leaf

        cases: list[tuple[str, dict[str, object], dict[str, ssl.TLSVersion]]] = [
            ("good", {}, {}),
            ("rsa", {"key_kind": "rsa"}, {}),
            ("expired", {"not_before": now - 100 * DAY, "not_after": now - DAY}, {}),
            ("not-yet-valid", {"not_before": now + 10 * DAY, "not_after": now + 100 * DAY}, {}),
            ("expiring", {"not_after": now + 5 * DAY + timedelta(hours=12)}, {}),
            ("wrong-host", {"dns": ["other.lab.test"]}, {}),
            ("self-signed", {"issuer": None}, {}),
            ("ip-san", {"dns": [], "ips": ["127.0.0.1"]}, {}),
            ("tls12", {}, {"max_v": ssl.TLSVersion.TLSv1_2}),
            ("tls13", {}, {"min_v": ssl.TLSVersion.TLSv1_3}),
        ]
        good_cert = good_key = None
        for case, leaf_kw, ctx_kw in cases:
            name = f"{case}.lab.test"
            cert, key, _ = leaf_files(case, name, **leaf_kw)
            if case == "good":
                good_cert, key_good = cert, key
                good_key = key_good
            self._add(
                case.replace("-", "_"), tls_handler(server_context(cert, key, **ctx_kw)), name
            )
        # The server that omits the intermediate: the leaf alone.
        leaf = make_leaf(inter, "no-intermediate.lab.test", ["no-intermediate.lab.test"])
        cert, key = write_pair(d, "no-intermediate", [leaf.cert], leaf.key)
        self._add(
            "no_intermediate", tls_handler(server_context(cert, key)), "no-intermediate.lab.test"
        )
        # A chain whose intermediate expires before its leaf (--min-days must see it).
        short = make_ca(
            "netdiag lab short-lived intermediate CA", root, path_length=0, not_after=now + 3 * DAY
        )
        leaf = make_leaf(short, "short-intermediate.lab.test", ["short-intermediate.lab.test"])
        cert, key = write_pair(d, "short-intermediate", [leaf.cert, short.cert], leaf.key)
        self._add(
            "short_intermediate",
            tls_handler(server_context(cert, key)),
            "short-intermediate.lab.test",
        )
        self._add_verdicts(root, inter)
        assert good_cert is not None and good_key is not None
        good_ctx = server_context(good_cert, good_key)
        self._add("not_tls", _not_tls)
        self._add("reset", _reset)
        self._add("hello_request_flood", _hello_request_flood)
        for proto in ("smtp", "imap", "pop3"):
            self._add(f"starttls_{proto}", starttls_handler(proto, good_ctx), "good.lab.test")
        from netdiag.lab.starttls import refusing_servers

        for case, handler in refusing_servers().items():
            self._add(case, handler)  # tls_starttls_<case>: refuses at one step
        from netdiag.lab import hostile

        self._add("closes_in_handshake", hostile.closes_in_handshake)
        self._add("alerts_in_handshake", hostile.alerts_in_handshake)
        self._add_ocsp(inter)
        self._add_web(inter)
        self._add_hostile(inter)

    def _add_verdicts(self, root: Issued, inter: Issued) -> None:
        """Chains that the verdict must name right: ``no_intermediate_no_aia``, the leaf alone
        with no AIA URL (still incomplete_chain); ``inter_not_ca``, sent up to the lab root, whose
        intermediate's basicConstraints says cA false; ``no_aki``, sent up to the lab root, whose
        leaf has no Authority Key Identifier (both chain_invalid: the root is trusted)."""
        d = self.directory
        assert d is not None
        name = "no-intermediate-no-aia.lab.test"
        leaf = make_leaf(inter, name, [name], aia=False)
        cert, key = write_pair(d, "no-intermediate-no-aia", [leaf.cert], leaf.key)
        self._add("no_intermediate_no_aia", tls_handler(server_context(cert, key)), name)
        not_ca = make_ca("netdiag lab not-a-CA intermediate", root, ca=False)
        name = "inter-not-ca.lab.test"
        leaf = make_leaf(not_ca, name, [name])
        chain = [leaf.cert, not_ca.cert, root.cert]
        cert, key = write_pair(d, "inter-not-ca", chain, leaf.key)
        self._add("inter_not_ca", tls_handler(server_context(cert, key)), name)
        name = "no-aki.lab.test"
        leaf = make_leaf(inter, name, [name], aki=False)
        cert, key = write_pair(d, "no-aki", [leaf.cert, inter.cert, root.cert], leaf.key)
        self._add("no_aki", tls_handler(server_context(cert, key)), name)

    def _add_web(self, inter: Issued) -> None:
        from netdiag.lab.http import start_http

        assert self.directory is not None
        leaf = make_leaf(inter, "www.lab.test", ["www.lab.test"], ["127.0.0.1"])
        cert, key = write_pair(self.directory, "www", [leaf.cert, inter.cert], leaf.key)
        https_ctx = server_context(cert, key)
        https_ctx.set_alpn_protocols(["http/1.1"])
        h2_ctx = server_context(cert, key)
        self.urls.update(start_http(self.listeners, https_ctx, h2_ctx))
        # Below HTTP (netdiag.lab.hostile): a server that never reads, and one that ends a
        # close-delimited body with close_notify.
        from netdiag.lab import hostile

        host, port = self.listeners.add(hostile.deaf)
        self.urls["http_deaf"] = f"http://{host}:{port}"
        host, port = self.listeners.add(hostile.close_notify_http(https_ctx))
        self.urls["https_close_notify"] = f"https://{host}:{port}"
        # ``https_expiring``: the same site with a leaf that expires in 5 days (a warning).
        from netdiag.lab.http import Site, tls_http_handler

        soon = datetime.now(UTC) + timedelta(days=5, hours=12)
        leaf = make_leaf(inter, "www.lab.test", ["www.lab.test"], ["127.0.0.1"], not_after=soon)
        cert, key = write_pair(self.directory, "www-expiring", [leaf.cert, inter.cert], leaf.key)
        ctx = server_context(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        host, port = self.listeners.add(tls_http_handler(ctx, Site()))
        self.urls["https_expiring"] = f"https://{host}:{port}"

    def _add_hostile(self, inter: Issued) -> None:
        """Certificates that attack the client: ``tls_bad_san`` and ``tls_bad_basic_constraints``
        serve a leaf whose extension DER does not parse (on pyOpenSSL: the ssl module refuses
        to load such a certificate), and ``tls_escape`` a good chain whose leaf subject (O and
        CN) holds terminal escape sequences. Web servers (HTTP/1.1) with the same
        certificates: ``urls["https_bad_san"]`` and ``urls["https_escape"]`` (whose leaf also
        names 127.0.0.1, so that it is trusted and matches there); ``urls["https_bad_record"]``
        answers a request with a record that cannot be decrypted."""
        from netdiag.lab.http import Site, serve_http1, tls_http_handler

        d = self.directory
        assert d is not None
        served: dict[str, tuple[Path, Path]] = {}
        for case, raw in MALFORMED.items():
            name = f"{case}.lab.test"
            leaf = make_leaf(inter, name, [name], ["127.0.0.1"], raw_extensions=raw)
            served[case] = write_pair(d, case, [leaf.cert, inter.cert], leaf.key)
            self._add(case.replace("-", "_"), openssl_handler(*served[case]), name)
        name = "escape.lab.test"
        leaf = make_leaf(inter, name, [name], ["127.0.0.1"], subject=escape_name(name))
        cert, key = write_pair(d, "escape", [leaf.cert, inter.cert], leaf.key)
        self._add("escape", tls_handler(server_context(cert, key)), name)

        site = Site()
        host, port = self.listeners.add(
            openssl_handler(*served["bad-san"], after=lambda s: serve_http1(s, site))
        )
        self.urls["https_bad_san"] = f"https://{host}:{port}"
        escape_ctx = server_context(cert, key)
        escape_ctx.set_alpn_protocols(["http/1.1"])
        host, port = self.listeners.add(tls_http_handler(escape_ctx, site))
        self.urls["https_escape"] = f"https://{host}:{port}"
        host, port = self.listeners.add(tls_handler(escape_ctx, bad_record_after))
        self.urls["https_bad_record"] = f"https://{host}:{port}"

    def _add_ocsp(self, inter: Issued) -> None:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509 import ocsp

        assert self.directory is not None
        name = "ocsp.lab.test"
        leaf = make_leaf(inter, name, [name])
        cert, key = write_pair(self.directory, "ocsp", [leaf.cert, inter.cert], leaf.key)
        now = datetime.now(UTC)
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=leaf.cert,
                issuer=inter.cert,
                algorithm=hashes.SHA256(),
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now - timedelta(hours=1),
                next_update=now + 7 * DAY,
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, inter.cert)
            .sign(inter.key, hashes.SHA256())
        )
        der = response.public_bytes(serialization.Encoding.DER)
        self._add("ocsp", ocsp_stapling_handler(cert, key, der), name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.listeners.stop()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
