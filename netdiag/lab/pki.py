"""A private PKI made at lab start: a root CA, an intermediate, and leaves with chosen
defects. Everything is generated fresh (EC P-256 keys, quick to make), never shipped."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
DAY = timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netdiag lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def new_key(kind: str = "ec") -> Key:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Issued:
    cert: x509.Certificate
    key: Key


def make_ca(
    cn: str,
    issuer: Issued | None = None,
    path_length: int | None = None,
    not_after: datetime | None = None,
    *,
    ca: bool = True,
) -> Issued:
    """A CA certificate; ``ca`` False makes a bad one, whose basicConstraints says cA false
    (its keyUsage still says keyCertSign)."""
    key = new_key()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(not_after or now + 3650 * DAY)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.key if issuer else key
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(
    issuer: Issued | None,
    cn: str,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_kind: str = "ec",
    aia: bool = True,
    aki: bool = True,
    subject: x509.Name | None = None,
    raw_extensions: dict[x509.ObjectIdentifier, bytes] | None = None,
) -> Issued:
    """A server certificate; ``issuer`` None makes it self-signed. ``subject`` replaces the
    usual one (O=netdiag lab, CN=``cn``); ``raw_extensions`` replaces the value of an
    extension (or adds one) with the given DER, taken as is: malformed on purpose. ``aia``
    False leaves out where the issuer can be fetched, ``aki`` False the Authority Key
    Identifier (which RFC 5280 and the Baseline Requirements require)."""
    key = new_key(key_kind)
    now = datetime.now(UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectAlternativeName(sans), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ]
    for oid, der in (raw_extensions or {}).items():
        kept = [(e, c) for e, c in extensions if e.oid != oid]
        critical = next((c for e, c in extensions if e.oid == oid), False)
        extensions = [*kept, (x509.UnrecognizedExtension(oid, der), critical)]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or _name(cn))
        .issuer_name(issuer.cert.subject if issuer else (subject or _name(cn)))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 90 * DAY)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    if issuer is not None:
        if aki:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
        if aia:
            url = "http://ca.lab.test/intermediate.crt"  # never fetched: shows where it would be
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(url),
                        )
                    ]
                ),
                critical=False,
            )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


TERMINAL_ESCAPES = "evil\x1b[2J\x1b]0;pwned\x07\x1b[1A\x1b[2K"
"""Clear the screen, set the window title, erase the line above: what a hostile CN may hold."""


def escape_name(cn: str) -> x509.Name:
    """A subject whose O and CN hold terminal escape sequences (as UTF8String, which may
    carry control characters; a PrintableString may not)."""
    from cryptography.x509.name import _ASN1Type

    return x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, TERMINAL_ESCAPES + " org", _type=_ASN1Type.UTF8String
            ),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{TERMINAL_ESCAPES} {cn}", _type=_ASN1Type.UTF8String
            ),
        ]
    )


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_pair(
    directory: Path, name: str, chain: list[x509.Certificate], key: Key
) -> tuple[Path, Path]:
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(pem(*chain))
    key_path.write_bytes(key_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path
