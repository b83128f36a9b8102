"""The ``tls`` probe: connect, optionally STARTTLS, handshake, and judge the certificates.

The chain is shown exactly as served whenever a handshake happened, good or bad; the verdict
says whether it verifies now (``trusted``: a path to the trust store and every certificate
valid now), whether it builds to the trust store at all (``path_to_trust_anchor``), whether it
names the host (``hostname_match``), every problem found, most serious first, and warnings (a
certificate that expires soon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.files import MAX_LIST_BYTES, FileError, read_bounded
from netdiag.net.certs import (
    WARN_DAYS,
    assess,
    days_left,
    describe,
    load_pem_bundle,
    served_chain,
    system_trust_store,
)
from netdiag.net.resolve import resolve
from netdiag.net.tcpconnect import connect
from netdiag.results import ProbeError
from netdiag.results.tls import Expiry, Ocsp, TlsReport
from netdiag.targets import Target, format_hostport


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
        self, error: ProbeError | None, *, interrupted: bool = False, **found: object
    ) -> TlsReport:
        fields: dict[str, object] = {
            "protocol": None,
            "cipher": None,
            "cipher_bits": None,
            "alpn": None,
            "ocsp": None,
            "chain": (),
            "trusted": None,
            "path_to_trust_anchor": None,
            "trust_store": None,
            "hostname_match": None,
            "earliest_expiry": None,
            "problems": (error,) if error else (),
        }
        fields.update(found)
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
            min_days=self.opts.min_days,
            warn_days=self.opts.warn_days,
            duration_ms=elapsed_ms(self.start),
            **fields,  # type: ignore[arg-type]
        )


def probe_tls(target: Target, opts: TlsOptions) -> TlsReport:
    """Inspect one TLS endpoint. Never raises for network or certificate failures; on
    Ctrl-C returns the phases measured so far, marked interrupted."""
    assert target.port is not None
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
        verdict = judge(session.chain, out.verify_name, opts)
        first = verdict["problems"][0] if verdict["problems"] else None  # type: ignore[index]
        return out.build(
            first,
            protocol=session.protocol,
            cipher=session.cipher,
            cipher_bits=session.cipher_bits,
            alpn=session.alpn,
            ocsp=_ocsp(session.ocsp_response),
            **verdict,
        )
    finally:
        session.close()


def judge(
    chain: Sequence[bytes | x509.Certificate], verify_name: str, opts: TlsOptions
) -> dict[str, object]:
    """The verdict fields for a served chain (DER as sent, or parsed): its description, trust
    (``trusted``: verifies now; ``path_to_trust_anchor``), host name match, the earliest expiry,
    every problem (most serious first) and the warnings (``expiring_soon`` within
    ``opts.warn_days``). A certificate that cannot be read, wholly or in part, is a problem
    here, never an exception."""
    now = datetime.now(UTC)
    served = served_chain(chain)
    unreadable: str | None = None
    if opts.ca_file is not None:
        data = opts.ca_pem
        if data is None:
            try:
                data = read_bounded(opts.ca_file, MAX_LIST_BYTES)
            except FileError as exc:
                data, unreadable = b"", str(exc)
        roots = load_pem_bundle(data)
        store: str | None = str(opts.ca_file)
    else:
        roots, store = system_trust_store()
    v = assess(served, roots, verify_name, now, opts.min_days, opts.warn_days)
    found = list(v.problems)
    if not roots:
        why = unreadable or (f"none in {store}" if store else "no system CA bundle")
        found.insert(
            0,
            ProbeError(
                ErrorKind.CONFIG,
                f"no trust anchors ({why})",
                hint="give --ca-file PEM with the CAs to trust",
            ),
        )
    infos = tuple(describe(s, i, now, with_pem=opts.pem) for i, s in enumerate(served))
    dated = [(s.not_after, i) for i, s in enumerate(served) if s.not_after is not None]
    earliest = None
    if dated:
        _, i = min(dated)
        earliest = Expiry(i, infos[i].subject, infos[i].not_after, days_left(served[i], now))
    return {
        "chain": infos,
        "trusted": v.trusted,
        "path_to_trust_anchor": v.path_to_trust_anchor,
        "trust_store": store,
        "hostname_match": v.hostname_match,
        "earliest_expiry": earliest,
        "problems": tuple(found),
        "warnings": v.warnings,
    }
