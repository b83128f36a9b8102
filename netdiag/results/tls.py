"""Result types of ``netdiag tls``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope, ProbeError


@dataclass(frozen=True, slots=True)
class CertInfo:
    position: int
    """0 for the leaf, then in the order the server sent them."""
    subject: str
    issuer: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    serial: str
    not_before: str
    not_after: str
    days_left: int
    """Whole days until not_after; once expired, minus the whole days since (-1 within the
    first day: negative exactly when expired)."""
    key_type: str
    key_size: int | None
    key_curve: str | None
    signature_algorithm: str
    sha256: str
    is_ca: bool
    self_signed: bool
    pem: str | None = None


@dataclass(frozen=True, slots=True)
class Ocsp:
    stapled: bool
    status: str | None = None
    """good, revoked or unknown, from the stapled response."""
    this_update: str | None = None
    next_update: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Expiry:
    """The certificate in the served chain that expires first."""

    position: int
    subject: str
    not_after: str
    days_left: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsReport(Envelope):
    target: str
    host: str
    port: int
    sni: str | None
    verify_name: str
    address: str | None
    dns_ms: float | None
    tcp_connect_ms: float | None
    starttls: str | None
    handshake_ms: float | None
    protocol: str | None
    cipher: str | None
    cipher_bits: int | None
    alpn: str | None
    ocsp: Ocsp | None
    chain: tuple[CertInfo, ...]
    trusted: bool | None
    """The chain verifies now, for this name or not: a path to a trust anchor, and every
    certificate on it within its validity period now (an expired chain is not trusted)."""
    path_to_trust_anchor: bool | None
    """The chain builds to a trust anchor, checked at a moment when every served certificate
    is valid: an expired chain from a trusted CA has a path, but is not trusted."""
    trust_store: str | None
    hostname_match: bool | None
    earliest_expiry: Expiry | None
    min_days: int | None
    """--min-days: a certificate expiring within this many days is a problem."""
    warn_days: int
    """--warn-days: a certificate expiring within this many days is a warning."""
    problems: tuple[ProbeError, ...]
