"""A private PKI made at lab start: a root CA, an intermediate, and leaves with chosen
defects. Everything is generated fresh (EC P-256 keys, quick to make), never shipped."""

from __future__ import annotations

import ipaddress
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
) -> Issued:
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.key if issuer else key
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    return Issued(builder.sign(signer, hashes.SHA256()), key)  # type: ignore[arg-type]


def make_leaf(
    issuer: Issued | None,
    cn: str,
    dns_names: list[str] = (),  # type: ignore[assignment]
    ips: list[str] = (),  # type: ignore[assignment]
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_kind: str = "ec",
    aia: bool = True,
) -> Issued:
    """A server certificate; ``issuer`` None makes it self-signed."""
    key = new_key(key_kind)
    now = datetime.now(UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
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
    return Issued(builder.sign(signer, hashes.SHA256()), key)  # type: ignore[arg-type]


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
