"""Certificates: what each one says, whether the chain is trusted, whether it names the host,
and what exactly is wrong when it is not good. X.509 parsing and chain building are
cryptography's (``cryptography.x509.verification``); nothing here reads ASN.1.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from netdiag.result import ProbeError


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
    """Whole days until not_after (negative once expired)."""
    key_type: str
    key_size: int | None
    key_curve: str | None
    signature_algorithm: str
    sha256: str
    is_ca: bool
    self_signed: bool
    pem: str | None = None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [
        str(a) for a in ext.get_values_for_type(x509.IPAddress)
    ]


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, None, None


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, Exception):  # signature or algorithm mismatch
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def has_ca_issuers_url(cert: x509.Certificate) -> bool:
    """Whether the certificate says where its issuer can be fetched (AIA caIssuers)."""
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    except x509.ExtensionNotFound:
        return False
    return any(d.access_method == AuthorityInformationAccessOID.CA_ISSUERS for d in aia.value)


def days_left(cert: x509.Certificate, now: datetime) -> int:
    """Whole days until the certificate expires; once expired, minus the whole days since."""
    delta = cert.not_valid_after_utc - now
    return delta.days if delta.total_seconds() >= 0 else -((now - cert.not_valid_after_utc).days)


def describe(
    cert: x509.Certificate, position: int, now: datetime, with_pem: bool = False
) -> CertInfo:
    dns_names, ips = _sans(cert)
    key_type, key_size, curve = _key(cert)
    oid = cert.signature_algorithm_oid
    fp = cert.fingerprint(hashes.SHA256()).hex()
    return CertInfo(
        position=position,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        san_dns=tuple(dns_names),
        san_ip=tuple(ips),
        serial=format(cert.serial_number, "x"),
        not_before=_iso(cert.not_valid_before_utc),
        not_after=_iso(cert.not_valid_after_utc),
        days_left=days_left(cert, now),
        key_type=key_type,
        key_size=key_size,
        key_curve=curve,
        signature_algorithm=getattr(oid, "_name", None) or oid.dotted_string,
        sha256=":".join(fp[i : i + 2] for i in range(0, len(fp), 2)),
        is_ca=is_ca(cert),
        self_signed=is_self_signed(cert),
        pem=cert.public_bytes(serialization.Encoding.PEM).decode() if with_pem else None,
    )


# -- trust store ------------------------------------------------------------------------------

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle that parses (one bad entry does not lose the rest)."""
    out = []
    with warnings.catch_warnings():
        # System bundles hold a few old roots that cryptography parses with a deprecation
        # warning (e.g. a non-positive serial); they are data, not the user's problem.
        warnings.simplefilter("ignore")
        for block in _PEM.findall(data):
            try:
                out.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return out


def read_ca_file(path: str | os.PathLike[str]) -> bytes:
    """A ``--ca-file`` PEM bundle, read once and bounded (:data:`netdiag.files.MAX_LIST_BYTES`);
    :class:`netdiag.files.FileError` (one line) when it cannot be read, is too large, or holds
    no certificate."""
    from netdiag.files import MAX_LIST_BYTES, FileError, read_bounded

    data = read_bounded(path, MAX_LIST_BYTES)
    if not load_pem_bundle(data):
        raise FileError(f"{os.fspath(path)}: no PEM certificate in it")
    return data


def system_trust_store() -> tuple[list[x509.Certificate], str | None]:
    """The system's CA bundle, as OpenSSL would find it (SSL_CERT_FILE honoured)."""
    paths = ssl.get_default_verify_paths()
    candidates = [
        os.environ.get("SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    from netdiag.files import MAX_LIST_BYTES, FileError, read_bounded

    for c in candidates:
        if c and Path(c).is_file():
            try:
                certs = load_pem_bundle(read_bounded(c, MAX_LIST_BYTES))
            except FileError:
                continue
            if certs:
                return certs, c
    return [], None


# -- verdicts ---------------------------------------------------------------------------------


def _subject_for(name: str) -> x509.verification.Subject:  # type: ignore[name-defined]
    from cryptography.x509.verification import DNSName, IPAddress

    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name.rstrip("."))


def hostname_matches(cert: x509.Certificate, name: str) -> bool:
    """RFC 6125 / RFC 9525 matching of ``name`` against the certificate's SANs: IP addresses
    against IP SANs; DNS names exactly or by a wildcard covering the whole leftmost label.
    The subject CN is not consulted (as browsers and the RFC require)."""
    dns_names, ips = _sans(cert)
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in ips)
    host = name.rstrip(".").lower()
    for pattern in (d.rstrip(".").lower() for d in dns_names):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:] and "*" not in rest:
                return True
    return False


def verify_trust(
    chain: list[x509.Certificate], roots: list[x509.Certificate]
) -> tuple[bool, str | None]:
    """Whether the served chain builds to one of ``roots`` (ignoring the host name), checked
    at a moment when every served certificate is valid so that expiry, reported on its own,
    does not hide whether the issuer is trusted."""
    if not chain or not roots:
        return False, "no trust anchors" if not roots else "no certificate"
    leaf = chain[0]
    dns_names, ips = _sans(leaf)
    name = dns_names[0].replace("*", "wildcard") if dns_names else (ips[0] if ips else None)
    if name is None:
        return False, "the leaf certificate has no subjectAltName"
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    when = start if start <= end else datetime.now(UTC)
    builder = PolicyBuilder().store(Store(roots)).time(when).max_chain_depth(8)
    try:
        builder.build_server_verifier(_subject_for(name)).verify(leaf, chain[1:])
    except VerificationError as exc:
        return False, str(exc)
    except ValueError as exc:
        return False, str(exc)
    return True, None


def _name(cert: x509.Certificate) -> str:
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cn[0].value) if cn else cert.subject.rfc4514_string() or "(empty subject)"


def problems(
    chain: list[x509.Certificate],
    roots: list[x509.Certificate],
    name: str,
    now: datetime,
    min_days: int | None,
) -> tuple[bool, bool, list[ProbeError]]:
    """(trusted, hostname_match, problems), the problems most serious first."""
    found: list[ProbeError] = []
    if not chain:
        return False, False, [ProbeError("handshake_failed", "the server sent no certificate")]
    for i, c in enumerate(chain):
        which = "the leaf certificate" if i == 0 else f"certificate {i} ({_name(c)})"
        if c.not_valid_after_utc < now:
            ago = (now - c.not_valid_after_utc).days
            found.append(
                ProbeError(
                    "cert_expired",
                    f"{which} expired on {_iso(c.not_valid_after_utc)} "
                    f"({ago} day{'s' if ago != 1 else ''} ago)",
                )
            )
        elif c.not_valid_before_utc > now:
            found.append(
                ProbeError(
                    "cert_not_yet_valid",
                    f"{which} is not valid before {_iso(c.not_valid_before_utc)}",
                )
            )
    trusted, why = verify_trust(chain, roots)
    if not trusted:
        leaf, top = chain[0], chain[-1]
        root_names = {r.subject for r in roots}
        if is_self_signed(leaf):
            found.append(
                ProbeError(
                    "self_signed",
                    f"the leaf certificate is self-signed ({_name(leaf)}) and not trusted",
                )
            )
        elif is_self_signed(top):
            found.append(
                ProbeError(
                    "untrusted_issuer",
                    f"the chain ends at {_name(top)}, a root that is not trusted",
                )
            )
        elif top.issuer not in root_names and len(chain) == 1 and has_ca_issuers_url(leaf):
            found.append(
                ProbeError(
                    "incomplete_chain",
                    "the server sent only the leaf; its issuer "
                    f"{top.issuer.rfc4514_string()} is not in the trust store, so the server "
                    "must send the intermediate certificate",
                )
            )
        elif top.issuer not in root_names:
            found.append(
                ProbeError(
                    "untrusted_issuer", f"the issuer {top.issuer.rfc4514_string()} is not trusted"
                )
            )
        else:
            found.append(ProbeError("untrusted_issuer", f"the chain does not verify: {why}"))
    match = hostname_matches(chain[0], name)
    if not match:
        dns_names, ips = _sans(chain[0])
        names = ", ".join([*dns_names, *ips]) or "no subjectAltName"
        found.append(
            ProbeError(
                "hostname_mismatch", f"the certificate is not valid for {name} (it names {names})"
            )
        )
    if min_days is not None:
        soonest = min(chain, key=lambda c: c.not_valid_after_utc)
        left = days_left(soonest, now)
        if 0 <= left < min_days or (soonest.not_valid_after_utc >= now and left < min_days):
            pos = chain.index(soonest)
            which = "the leaf certificate" if pos == 0 else f"certificate {pos} ({_name(soonest)})"
            found.append(
                ProbeError(
                    "expiring_soon",
                    f"{which} expires on {_iso(soonest.not_valid_after_utc)}, in {left} days "
                    f"(--min-days {min_days})",
                )
            )
    return trusted, match, found
