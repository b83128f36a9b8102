"""The ``tls`` probe: connect, optionally STARTTLS, handshake, and judge the certificates.

The chain is shown exactly as served whenever a handshake happened, good or bad; the verdict
says whether it verifies now (``trusted``: a path to the trust store and every certificate
valid now), whether it builds to the trust store at all (``path_to_trust_anchor``), whether it
names the host (``hostname_match``), every problem found, most serious first, and warnings (a
certificate that expires soon).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net.certs import WARN_DAYS, ChainVerdict, judge
from netdiag.net.resolve import resolve
from netdiag.net.tcpconnect import connect
from netdiag.results import ProbeError
from netdiag.results.tls import Ocsp, TlsReport
from netdiag.targets import Target, format_hostport

if TYPE_CHECKING:
    from netdiag.net.tlsconn import TlsSession


@dataclass(frozen=True, slots=True)
class TlsOptions:
    sni: str | None = None
    no_sni: bool = False
    ca_file: Path | None = None
    """The CAs to trust instead of the system store (its name is reported as trust_store)."""
    ca_pem: bytes | None = None
    """The contents of ``ca_file``, as the command read it (once, bounded); read here when
    None."""
    min_days: int | None = None
    warn_days: int = WARN_DAYS
    """A certificate expiring within this many days is a warning (0: never)."""
    alpn: tuple[str, ...] = ()
    starttls: str | None = None
    timeout: float = 5.0
    version: int | None = None
    pem: bool = False


def _ocsp(data: bytes | None) -> Ocsp:
    if not data:
        return Ocsp(stapled=False)
    from cryptography.x509 import ocsp

    try:
        resp = ocsp.load_der_ocsp_response(data)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return Ocsp(True, None, None, None, f"response status {resp.response_status.name}")
        nxt = resp.next_update_utc
        return Ocsp(
            True,
            resp.certificate_status.name.lower(),
            resp.this_update_utc.isoformat().replace("+00:00", "Z"),
            nxt.isoformat().replace("+00:00", "Z") if nxt else None,
        )
    except ValueError as exc:
        return Ocsp(True, None, None, None, f"unparsable OCSP response: {exc}")


class _Report:
    """Collects what a probe run learned, phase by phase, and builds the report."""

    def __init__(self, target: Target, opts: TlsOptions) -> None:
        self.target, self.opts = target, opts
        self.started_at = utc_now_iso()
        self.start = now_ns()
        self.sni = None if opts.no_sni else (opts.sni or (None if target.is_ip else target.host))
        self.verify_name = opts.sni or target.host
        self.address: str | None = None
        self.dns_ms: float | None = None
        self.tcp_connect_ms: float | None = None
        self.handshake_ms: float | None = None

    def build(
        self,
        error: ProbeError | None,
        *,
        interrupted: bool = False,
        session: TlsSession | None = None,
        verdict: ChainVerdict | None = None,
    ) -> TlsReport:
        """The report of what was measured: the handshake's outcome once there is a
        ``session``, the certificates' once there is a ``verdict``."""
        problems = verdict.problems if verdict else (error,) if error else ()
        return TlsReport(
            command="tls",
            ok=error is None and not interrupted,
            error=error,
            interrupted=interrupted,
            started_at=self.started_at,
            target=self.target.text,
            host=self.target.host,
            port=self.target.port or 0,
            sni=self.sni,
            verify_name=self.verify_name,
            address=self.address,
            dns_ms=self.dns_ms,
            tcp_connect_ms=self.tcp_connect_ms,
            starttls=self.opts.starttls,
            handshake_ms=self.handshake_ms,
            protocol=session.protocol if session else None,
            cipher=session.cipher if session else None,
            cipher_bits=session.cipher_bits if session else None,
            alpn=session.alpn if session else None,
            ocsp=_ocsp(session.ocsp_response) if session else None,
            chain=verdict.chain if verdict else (),
            trusted=verdict.trusted if verdict else None,
            path_to_trust_anchor=verdict.path_to_trust_anchor if verdict else None,
            trust_store=verdict.trust_store if verdict else None,
            hostname_match=verdict.hostname_match if verdict else None,
            earliest_expiry=verdict.earliest_expiry if verdict else None,
            min_days=self.opts.min_days,
            warn_days=self.opts.warn_days,
            problems=problems,
            warnings=verdict.warnings if verdict else (),
            duration_ms=elapsed_ms(self.start),
        )


def probe_tls(target: Target, opts: TlsOptions) -> TlsReport:
    """Inspect one TLS endpoint. Never raises for network or certificate failures; on
    Ctrl-C returns the phases measured so far, marked interrupted."""
    assert target.port is not None
    # pyOpenSSL and the OCSP parser load before the clock starts: start-up, not the probe
    # (a first run's duration_ms was 45-117 ms for a 2 ms handshake).
    import cryptography.x509.ocsp  # noqa: F401

    import netdiag.net.tlsconn  # noqa: F401

    out = _Report(target, opts)
    try:
        return _probe(target, opts, out)
    except KeyboardInterrupt:
        err = ProbeError(ErrorKind.INTERRUPTED, "interrupted before the inspection finished")
        return out.build(err, interrupted=True)


def _probe(target: Target, opts: TlsOptions, out: _Report) -> TlsReport:
    assert target.port is not None
    res = resolve(
        target.host, target.port, version=opts.version, timeout=opts.timeout, numeric=target.is_ip
    )
    if not target.is_ip:
        out.dns_ms = res.dns_ms
    if res.error is not None:
        return out.build(res.error)
    endpoint = res.endpoints[0]
    out.address = endpoint.address
    conn = connect(endpoint, opts.timeout)
    if conn.sock is None:
        assert conn.error is not None
        return out.build(conn.error)
    out.tcp_connect_ms = conn.connect_ms
    sock = conn.sock
    if opts.starttls:
        from netdiag.net.starttls import upgrade

        err = upgrade(sock, opts.starttls, opts.timeout)
        if err is not None:
            sock.close()
            return out.build(err)

    from netdiag.net.tlsconn import handshake

    where = format_hostport(endpoint.address, endpoint.port)
    session, err = handshake(
        sock, sni=out.sni, alpn=list(opts.alpn), timeout=opts.timeout, where=where
    )
    if session is None:
        assert err is not None
        return out.build(err)
    out.handshake_ms = session.handshake_ms
    try:
        verdict = judge(
            session.chain,
            out.verify_name,
            ca_file=opts.ca_file,
            ca_pem=opts.ca_pem,
            min_days=opts.min_days,
            warn_days=opts.warn_days,
            with_pem=opts.pem,
        )
        first = verdict.problems[0] if verdict.problems else None
        return out.build(first, session=session, verdict=verdict)
    finally:
        session.close()
