"""Certificates: what each one says, whether the chain is trusted, whether it names the host,
and what exactly is wrong when it is not good. X.509 parsing and chain building are
cryptography's (``cryptography.x509.verification``).

A served certificate is hostile data. cryptography parses names, extensions and the public key
lazily, on first access, and raises there when their DER is malformed; every such access is
made once, in :class:`Served`, where a part that cannot be read becomes a fault (reported as
a problem on that certificate) and the rest of the certificate and of the chain is still
shown. When cryptography cannot read the extensions (it parses them all or none), asn1crypto
lists them, and each one is parsed on its own to name the one at fault.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import ssl
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from netdiag.errors import ErrorKind
from netdiag.results import ProbeError
from netdiag.results.tls import CertInfo, Expiry


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading a served certificate, defensively --------------------------------------------------

UNREADABLE = "(unreadable)"
"""Shown in place of a field whose DER cannot be read (the problems say why)."""

_UNREADABLE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # malformed DER, bad string encodings (UnicodeError is one)
    TypeError,
    UnsupportedAlgorithm,  # a public key of a type or curve cryptography does not know
    x509.DuplicateExtension,
    x509.InvalidVersion,  # not an Exception of the above kinds
)
"""What cryptography raises for certificate DER it cannot read."""

_T = TypeVar("_T")


def _detail(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def _raw_extensions(tbs: bytes) -> list[tuple[x509.ObjectIdentifier, bool, bytes]]:
    """(OID, critical, value DER) of each extension of a TBSCertificate, the values unparsed.

    asn1crypto reads the list (its values are parsed only on access, and they are not): this
    runs only when cryptography could not read the extensions, to name the one at fault."""
    from asn1crypto import x509 as asn1_x509  # only on this error path

    try:
        exts = asn1_x509.TbsCertificate.load(tbs)["extensions"]
        return [
            (
                x509.ObjectIdentifier(e["extn_id"].dotted),
                bool(e["critical"].native),
                bytes(e["extn_value"].contents),
            )
            for e in exts
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"malformed extension list: {exc}") from None


@cache
def _scratch_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _parse_extension(
    oid: x509.ObjectIdentifier, critical: bool, value: bytes
) -> x509.Extension[x509.ExtensionType]:
    """One extension parsed on its own, by cryptography: it is carried in a throwaway
    certificate, since cryptography reads a certificate's extensions all at once or not at all."""
    key = _scratch_key()
    empty = x509.Name([])
    day = datetime(2000, 1, 1, tzinfo=UTC)
    scratch = (
        x509.CertificateBuilder()
        .subject_name(empty)
        .issuer_name(empty)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(day)
        .not_valid_after(day)
        .add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
        .sign(key, None)
    )
    return x509.Extension(oid, critical, scratch.extensions[0].value)


_BAD = ErrorKind.BAD_CERTIFICATE
_MALFORMED = ErrorKind.MALFORMED_EXTENSION


class Served:
    """One certificate as a server sent it, read once and defensively: every part that
    cryptography parses lazily is read here, and a part that cannot be read is left out
    (``None``, or an extension missing) and recorded in ``faults`` as (kind, what), never
    raised. Everything else in this module reads certificates through this class."""

    __slots__ = (
        "bad_extensions",
        "cert",
        "der",
        "extensions",
        "faults",
        "issuer",
        "key",
        "serial",
        "subject",
    )

    def __init__(self, item: bytes | x509.Certificate) -> None:
        self.faults: list[tuple[ErrorKind, str]] = []
        self.subject: x509.Name | None = None
        self.issuer: x509.Name | None = None
        self.extensions = x509.Extensions([])
        self.bad_extensions: set[x509.ObjectIdentifier] = set()
        """The extensions the certificate has but that could not be read."""
        self.key: tuple[str, int | None, str | None] = (UNREADABLE, None, None)
        self.serial: int | None = None
        if isinstance(item, x509.Certificate):
            self.cert: x509.Certificate | None = item
            self.der = item.public_bytes(serialization.Encoding.DER)
        else:
            self.der = bytes(item)
            self.cert = None
        with warnings.catch_warnings():
            # cryptography warns (lazily, on first access) about e.g. a negative serial
            # number: the certificate is shown as it is, and the warning is not the user's.
            warnings.simplefilter("ignore")
            self._read_all()

    def _read_all(self) -> None:
        if self.cert is None:
            self.cert = self._read(
                _BAD,
                "cannot be parsed",
                x509.load_der_x509_certificate,
                self.der,
            )
        cert = self.cert
        if cert is None:
            return
        self.subject = self._read(_BAD, "has an unreadable subject", _name_of, cert)
        self.issuer = self._read(_BAD, "has an unreadable issuer", _issuer_of, cert)
        key = self._read(_BAD, "has an unreadable public key", _key, cert)
        self.key = key or (UNREADABLE, None, None)
        self.serial = cert.serial_number
        self.extensions = self._read_extensions(cert)

    def _read(
        self,
        kind: ErrorKind,
        what: str,
        read: Callable[..., _T],
        *args: object,
    ) -> _T | None:
        try:
            return read(*args)
        except _UNREADABLE_ERRORS as exc:
            self.faults.append((kind, f"{what} ({_detail(exc)})"))
            return None

    def _read_extensions(self, cert: x509.Certificate) -> x509.Extensions:
        try:
            return cert.extensions
        except _UNREADABLE_ERRORS as whole:
            reason = _detail(whole)
        try:
            raw = _raw_extensions(cert.tbs_certificate_bytes)
        except ValueError:
            self.faults.append((_MALFORMED, f"has unreadable extensions ({reason})"))
            return x509.Extensions([])
        readable: list[x509.Extension[x509.ExtensionType]] = []
        seen: set[x509.ObjectIdentifier] = set()
        for oid, critical, value in raw:
            label = _oid_name(oid)
            if oid in seen:
                self.faults.append((_MALFORMED, f"has a duplicate {label} extension"))
                continue
            seen.add(oid)
            ext = self._read(
                _MALFORMED,
                f"has a malformed {label} extension",
                _parse_extension,
                oid,
                critical,
                value,
            )
            if ext is not None:
                readable.append(ext)
            else:
                self.bad_extensions.add(oid)
        if not any(kind is _MALFORMED for kind, _ in self.faults):
            self.faults.append((_MALFORMED, f"has unreadable extensions ({reason})"))
        return x509.Extensions(readable)

    def extension(self, kind: type[_E]) -> _E | None:
        """The value of a readable extension of this type, or None."""
        try:
            return self.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None

    def unreadable(self, oid: x509.ObjectIdentifier) -> bool:
        """Whether the certificate has this extension, but it could not be read."""
        return oid in self.bad_extensions

    @property
    def not_after(self) -> datetime | None:
        return self.cert.not_valid_after_utc if self.cert is not None else None

    @property
    def not_before(self) -> datetime | None:
        return self.cert.not_valid_before_utc if self.cert is not None else None

    def sans(self) -> tuple[list[str], list[str]]:
        """The DNS names and IP addresses of the subjectAltName (empty when unreadable)."""
        ext = self.extension(x509.SubjectAlternativeName)
        if ext is None:
            return [], []
        return ext.get_values_for_type(x509.DNSName), [
            str(a) for a in ext.get_values_for_type(x509.IPAddress)
        ]

    def is_ca(self) -> bool:
        bc = self.extension(x509.BasicConstraints)
        return bool(bc is not None and bc.ca)

    def has_ca_issuers_url(self) -> bool:
        """Whether the certificate says where its issuer can be fetched (AIA caIssuers)."""
        aia = self.extension(x509.AuthorityInformationAccess)
        return aia is not None and any(
            d.access_method == AuthorityInformationAccessOID.CA_ISSUERS for d in aia
        )

    def is_self_signed(self) -> bool:
        if self.cert is None or self.subject is None or self.issuer != self.subject:
            return False
        try:
            self.cert.verify_directly_issued_by(self.cert)
        except Exception:  # a bad signature, key or algorithm: not self-signed
            return False
        return True

    def name(self) -> str:
        """A short name for messages: the subject CN, else the whole subject."""
        if self.subject is None:
            return UNREADABLE
        cn = self.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else _rfc4514(self.subject) or "(empty subject)"

    def which(self, position: int) -> str:
        return (
            "the leaf certificate" if position == 0 else f"certificate {position} ({self.name()})"
        )


_E = TypeVar("_E", bound=x509.ExtensionType)


def _name_of(cert: x509.Certificate) -> x509.Name:
    name = cert.subject
    name.rfc4514_string()  # decodes every attribute value
    return name


def _issuer_of(cert: x509.Certificate) -> x509.Name:
    name = cert.issuer
    name.rfc4514_string()
    return name


def _rfc4514(name: x509.Name | None) -> str:
    return UNREADABLE if name is None else name.rfc4514_string()


def served_chain(chain: Sequence[Served | x509.Certificate | bytes]) -> list[Served]:
    """The certificates as served (DER or parsed), each read defensively."""
    return [c if isinstance(c, Served) else Served(c) for c in chain]


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
    return Served(cert).is_self_signed()


def is_ca(cert: x509.Certificate) -> bool:
    return Served(cert).is_ca()


def has_ca_issuers_url(cert: x509.Certificate) -> bool:
    """Whether the certificate says where its issuer can be fetched (AIA caIssuers)."""
    return Served(cert).has_ca_issuers_url()


def days_left(cert: x509.Certificate | Served, now: datetime) -> int:
    """Whole days until the certificate expires; once expired, minus the whole days since,
    and -1 within its first day (negative exactly when it has expired; 0 for a certificate
    that cannot be parsed at all)."""
    end = cert.not_after if isinstance(cert, Served) else cert.not_valid_after_utc
    if end is None:
        return 0
    delta = end - now
    return delta.days if delta.total_seconds() >= 0 else -max(1, (now - end).days)


def describe(
    cert: x509.Certificate | Served, position: int, now: datetime, with_pem: bool = False
) -> CertInfo:
    """What the certificate says, each part that cannot be read shown as ``(unreadable)``."""
    s = cert if isinstance(cert, Served) else Served(cert)
    dns_names, ips = s.sans()
    key_type, key_size, curve = s.key
    fp = hashlib.sha256(s.der).hexdigest()
    c = s.cert
    return CertInfo(
        position=position,
        subject=_rfc4514(s.subject),
        issuer=_rfc4514(s.issuer),
        san_dns=tuple(dns_names),
        san_ip=tuple(ips),
        serial=format(s.serial, "x") if s.serial is not None else UNREADABLE,
        not_before=_iso(s.not_before) if s.not_before else UNREADABLE,
        not_after=_iso(s.not_after) if s.not_after else UNREADABLE,
        days_left=days_left(s, now),
        key_type=key_type,
        key_size=key_size,
        key_curve=curve,
        signature_algorithm=_oid_name(c.signature_algorithm_oid) if c is not None else UNREADABLE,
        sha256=":".join(fp[i : i + 2] for i in range(0, len(fp), 2)),
        is_ca=s.is_ca(),
        self_signed=s.is_self_signed(),
        pem=ssl.DER_cert_to_PEM_cert(s.der) if with_pem else None,
    )


# -- trust store ------------------------------------------------------------------------------

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle that parses (one bad entry does not lose the rest).

    Parsed once per process for the same bytes (a bundle of 150 roots takes milliseconds to
    parse, and ``http -L`` judges a chain on every new connection)."""
    return list(_parse_pem_bundle(data))


@lru_cache(maxsize=8)
def _parse_pem_bundle(data: bytes) -> tuple[x509.Certificate, ...]:
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
    return tuple(out)


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
    """The system's CA bundle, as OpenSSL would find it (SSL_CERT_FILE honoured).

    Read and parsed once per process: the file is looked for on every call (cheap), and
    parsed again only when another file is chosen or the file changed (size, mtime)."""
    paths = ssl.get_default_verify_paths()
    candidates = [
        os.environ.get("SSL_CERT_FILE"),
        paths.cafile,
        paths.openssl_cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    for c in candidates:
        if c and Path(c).is_file():
            try:
                st = os.stat(c)
            except OSError:
                continue
            certs = _read_store_file(c, st.st_mtime_ns, st.st_size)
            if certs:
                return list(certs), c
    return [], None


@lru_cache(maxsize=4)
def _read_store_file(path: str, _mtime_ns: int, _size: int) -> tuple[x509.Certificate, ...]:
    """The certificates of a CA bundle file (none when it cannot be read); cached by path,
    modification time and size."""
    from netdiag.files import MAX_LIST_BYTES, FileError, read_bounded

    try:
        return _parse_pem_bundle(read_bounded(path, MAX_LIST_BYTES))
    except FileError:
        return ()


# -- verdicts ---------------------------------------------------------------------------------


def _subject_for(name: str) -> x509.DNSName | x509.IPAddress:
    from cryptography.x509 import DNSName, IPAddress

    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name.rstrip("."))


def hostname_matches(cert: x509.Certificate | Served, name: str) -> bool:
    """RFC 6125 / RFC 9525 matching of ``name`` against the certificate's SANs: IP addresses
    against IP SANs; DNS names exactly or by a wildcard covering the whole leftmost label.
    The subject CN is not consulted (as browsers and the RFC require)."""
    dns_names, ips = (cert if isinstance(cert, Served) else Served(cert)).sans()
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


@dataclass(frozen=True, slots=True)
class Trust:
    """What the verifier says of a served chain, whatever the host name."""

    now: bool
    """The chain verifies now: a path to a trust anchor, every certificate on it within its
    validity period at this moment (what ``openssl verify`` says)."""
    path: bool
    """The chain builds to a trust anchor, checked at a moment when every served certificate
    is valid, so that expiry, reported on its own, does not hide whether the issuer is
    trusted."""
    why: str | None = None
    """Why the path does not verify (the verifier's reason), when it does not."""


_OID_IN_REASON = re.compile(r"\b(\d+(?:\.\d+){3,})\b")
_CERT_IN_REASON = re.compile(
    r"\s*\(encountered processing <Certificate\(subject=<Name\((.*?)\)>, \.\.\.\)>\)"
)


def _verifier_reason(exc: Exception) -> str:
    """The verifier's reason, readable: extensions by name, the certificate by its subject."""

    def oid(m: re.Match[str]) -> str:
        try:
            name = _oid_name(x509.ObjectIdentifier(m.group(1)))
        except ValueError:  # not an OID after all
            return m.group(1)
        return m.group(1) if name == m.group(1) else f"{name} ({m.group(1)})"

    text = _CERT_IN_REASON.sub(lambda m: f" (in {m.group(1)})", str(exc))
    text = _OID_IN_REASON.sub(oid, text)
    for jargon in ("validation failed: ", "candidates exhausted: "):
        text = text.removeprefix(jargon)
    return _detail(ValueError(text))


def verify_trust(
    chain: Sequence[Served | x509.Certificate | bytes],
    roots: list[x509.Certificate],
    now: datetime | None = None,
) -> Trust:
    """Whether the served chain verifies ``now`` (default: this moment) and whether it builds
    to one of ``roots`` at all (:class:`Trust`), the host name ignored."""
    served = served_chain(chain)
    if not served or not roots:
        return Trust(False, False, "no trust anchors" if not roots else "no certificate")
    unparsed = [i for i, s in enumerate(served) if s.cert is None]
    if unparsed:
        return Trust(False, False, f"certificate {unparsed[0]} cannot be parsed")
    certs = [s.cert for s in served if s.cert is not None]
    leaf = served[0]
    dns_names, ips = leaf.sans()
    name = dns_names[0].replace("*", "wildcard") if dns_names else (ips[0] if ips else None)
    if name is None:
        if leaf.unreadable(ExtensionOID.SUBJECT_ALTERNATIVE_NAME):
            return Trust(False, False, "the leaf certificate's subjectAltName cannot be read")
        return Trust(False, False, "the leaf certificate has no subjectAltName")
    subject = _subject_for(name)
    at = now or datetime.now(UTC)

    def fails(when: datetime) -> str | None:
        try:
            builder = PolicyBuilder().store(Store(roots)).time(when).max_chain_depth(8)
            builder.build_server_verifier(subject).verify(certs[0], certs[1:])
        except VerificationError as exc:
            return _verifier_reason(exc)
        except _UNREADABLE_ERRORS as exc:
            return _detail(exc)
        return None

    why = fails(at)
    if why is None:
        return Trust(True, True)
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start <= end and not start <= at <= end:
        # The moment must suit the trust anchor too (one that the top certificate names).
        top = certs[-1]
        for root in roots:
            try:
                if root.subject not in (top.issuer, top.subject):
                    continue
                narrower = max(start, root.not_valid_before_utc)
                if narrower <= min(end, root.not_valid_after_utc):
                    start, end = narrower, min(end, root.not_valid_after_utc)
                    break
            except _UNREADABLE_ERRORS:
                continue
    if start <= at <= end or start > end:
        # Every served certificate is valid now (the verdict of now is the path's), or there
        # is no moment when they all are (the path is judged now).
        return Trust(False, False, why)
    why = fails(start)
    return Trust(False, why is None, why)


WARN_DAYS = 14
"""A certificate that expires within this many days is warned of (``tls --warn-days``)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What is wrong with a served chain, for a name, at a moment."""

    trusted: bool
    """Verifies now, for this name or not: a path to a trust anchor and every certificate on
    it within its validity period now."""
    path_to_trust_anchor: bool
    """The chain builds to a trust anchor (checked at a moment when every served certificate
    is valid): an expired chain from a trusted CA has a path, but is not trusted."""
    hostname_match: bool
    problems: tuple[ProbeError, ...]
    """Most serious first; any problem makes the chain unhealthy."""
    warnings: tuple[ProbeError, ...] = ()
    """What deserves attention without making it unhealthy (``expiring_soon`` within
    ``warn_days``, unless ``min_days`` already makes it a problem)."""


def problems(
    chain: Sequence[Served | x509.Certificate | bytes],
    roots: list[x509.Certificate],
    name: str,
    now: datetime,
    min_days: int | None,
) -> tuple[bool, bool, list[ProbeError]]:
    """(trusted, hostname_match, problems) of :func:`assess`."""
    v = assess(chain, roots, name, now, min_days)
    return v.trusted, v.hostname_match, list(v.problems)


def assess(
    chain: Sequence[Served | x509.Certificate | bytes],
    roots: list[x509.Certificate],
    name: str,
    now: datetime,
    min_days: int | None,
    warn_days: int = WARN_DAYS,
) -> Verdict:
    """The verdict on a served chain, the problems most serious first: certificates that
    cannot be read come first, since they explain the problems that follow."""
    served = served_chain(chain)
    if not served:
        error = ProbeError(ErrorKind.HANDSHAKE_FAILED, "the server sent no certificate")
        return Verdict(False, False, False, (error,))
    found = _unreadable_problems(served) + _validity_problems(served, now)
    trust = verify_trust(served, roots, now)
    if not trust.path:
        found.append(_untrusted_problem(served, roots, trust.why))
    match = hostname_matches(served[0], name)
    if not match:
        found.append(_hostname_problem(served[0], name))
    expiring, warning = _expiry_notice(served, now, min_days, warn_days)
    if expiring is not None:
        found.append(expiring)
    return Verdict(
        # The verifier's word: a served copy of a trusted root that cannot be read does not
        # stop a client, which uses its own copy (the copy is still reported as a problem).
        trusted=trust.now,
        path_to_trust_anchor=trust.path,
        hostname_match=match,
        problems=tuple(found),
        warnings=(warning,) if warning is not None else (),
    )


def _unreadable_problems(served: Sequence[Served]) -> list[ProbeError]:
    """Each part of each certificate that cannot be read."""
    return [
        ProbeError(kind, f"{s.which(i)} {what}")
        for i, s in enumerate(served)
        for kind, what in s.faults
    ]


def _validity_problems(served: Sequence[Served], now: datetime) -> list[ProbeError]:
    """Each certificate that has expired, or is not valid yet, at ``now``."""
    found = []
    for i, s in enumerate(served):
        after, before = s.not_after, s.not_before
        if after is None or before is None:
            continue
        if after < now:
            ago = (now - after).days
            since = f"{ago} day{'s' if ago != 1 else ''} ago" if ago else "less than a day ago"
            found.append(
                ProbeError(
                    ErrorKind.CERT_EXPIRED, f"{s.which(i)} expired on {_iso(after)} ({since})"
                )
            )
        elif before > now:
            found.append(
                ProbeError(
                    ErrorKind.CERT_NOT_YET_VALID, f"{s.which(i)} is not valid before {_iso(before)}"
                )
            )
    return found


def _untrusted_problem(
    served: Sequence[Served], roots: list[x509.Certificate], why: str | None
) -> ProbeError:
    """Why a chain that does not build to a trust anchor fails (``why``: the verifier's
    reason): its root is trusted but the path is broken, it is self-signed, it ends at an
    untrusted root, an intermediate is missing, or its issuer is unknown."""
    leaf, top = served[0], served[-1]
    root_names = {r.subject for r in served_chain(roots) if r.subject is not None}
    if _in_store(top, roots) is not None:
        # The chain was sent up to a root that is in the trust store: the verifier's
        # reason (constraints, a missing extension, a signature) is the fault.
        return ProbeError(
            ErrorKind.CHAIN_INVALID,
            f"the chain ends at {top.name()}, a trusted root, but does not verify: {why}",
        )
    if leaf.is_self_signed():
        return ProbeError(
            ErrorKind.SELF_SIGNED,
            f"the leaf certificate is self-signed ({leaf.name()}) and not trusted",
        )
    if top.is_self_signed():
        namesake = " (a trusted root has its name, but not its key)"
        return ProbeError(
            ErrorKind.UNTRUSTED_ISSUER,
            f"the chain ends at {top.name()}, a root that is not trusted"
            + (namesake if top.subject in root_names else ""),
        )
    if top.issuer is None or any(s.cert is None for s in served):
        return ProbeError(ErrorKind.CHAIN_INVALID, f"the chain does not verify: {why}")
    if top.issuer not in root_names and len(served) == 1 and top.issuer != top.subject:
        # The Baseline Requirements forbid issuing a leaf from a root: a lone leaf whose
        # issuer is unknown lacks its intermediate, whether or not it says where it is.
        return ProbeError(
            ErrorKind.INCOMPLETE_CHAIN,
            f"the server sent 1 certificate; its issuer {_rfc4514(top.issuer)} was "
            "not sent and is not in the trust store: the server is most likely "
            "missing its intermediate certificate (or the issuer is a private root "
            "that signs leaves itself, and is not trusted)",
        )
    if top.issuer not in root_names:
        return ProbeError(
            ErrorKind.UNTRUSTED_ISSUER, f"the issuer {_rfc4514(top.issuer)} is not trusted"
        )
    # the issuer is trusted, yet the path does not verify (signature, SAN, usage)
    return ProbeError(ErrorKind.CHAIN_INVALID, f"the chain does not verify: {why}")


def _hostname_problem(leaf: Served, name: str) -> ProbeError:
    """The leaf does not name ``name``: say what it names instead."""
    dns_names, ips = leaf.sans()
    names = ", ".join([*dns_names, *ips]) or (
        "nothing that can be read"
        if leaf.cert is None
        else "a subjectAltName that cannot be read"
        if leaf.unreadable(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        else "no subjectAltName"
    )
    return ProbeError(
        ErrorKind.HOSTNAME_MISMATCH,
        f"the certificate is not valid for {name} (it names {names})",
    )


def _expiry_notice(
    served: Sequence[Served], now: datetime, min_days: int | None, warn_days: int
) -> tuple[ProbeError | None, ProbeError | None]:
    """(a problem, a warning) for the certificate still valid that expires first: a problem
    within ``min_days``, else a warning within ``warn_days``; at most one of them."""
    live = [(i, s, s.not_after) for i, s in enumerate(served) if s.not_after and s.not_after >= now]
    if not live:
        return None, None
    pos, soonest, end = min(live, key=lambda d: d[2])
    left = days_left(soonest, now)
    when = f"{soonest.which(pos)} expires on {_iso(end)}, in {left} day{'s' if left != 1 else ''}"
    if min_days is not None and left < min_days:
        return ProbeError(ErrorKind.EXPIRING_SOON, f"{when} (--min-days {min_days})"), None
    if left < warn_days:
        return None, ProbeError(
            ErrorKind.EXPIRING_SOON,
            f"{when} (a warning within {warn_days} days; --min-days makes it a problem)",
        )
    return None, None


def _in_store(cert: Served, roots: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The trust anchor that ``cert`` is (the same subject and public key), if any."""
    if cert.cert is None or cert.subject is None:
        return None
    try:
        key = cert.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except _UNREADABLE_ERRORS:
        return None
    for root in roots:
        try:
            if root.subject == cert.subject and (
                root.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                == key
            ):
                return root
        except _UNREADABLE_ERRORS:
            continue
    return None


# -- the verdict that ``tls`` and ``http`` report ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The verdict on a served chain, as ``tls`` reports it and ``http`` sums it up: what
    each certificate says, trust, host name match, the earliest expiry, the problems (most
    serious first) and the warnings."""

    chain: tuple[CertInfo, ...]
    """Every certificate as served, leaf first (each part that cannot be read shown so)."""
    trusted: bool
    """Verifies now (:attr:`Verdict.trusted`)."""
    path_to_trust_anchor: bool
    """Builds to a trust anchor (:attr:`Verdict.path_to_trust_anchor`)."""
    trust_store: str | None
    """The CA bundle used: ``--ca-file``, or the system's (None when none was found)."""
    hostname_match: bool
    earliest_expiry: Expiry | None
    problems: tuple[ProbeError, ...]
    """Most serious first; an empty trust store comes first of all."""
    warnings: tuple[ProbeError, ...]

    @property
    def leaf(self) -> CertInfo | None:
        return self.chain[0] if self.chain else None


def _trust_anchors(
    ca_file: Path | None, ca_pem: bytes | None
) -> tuple[list[x509.Certificate], str | None, str | None]:
    """(roots, the store's name, why the file could not be read): ``ca_file``'s certificates
    (``ca_pem`` when the caller already read it), else the system store."""
    if ca_file is None:
        roots, store = system_trust_store()
        return roots, store, None
    from netdiag.files import MAX_LIST_BYTES, FileError, read_bounded

    unreadable = None
    if ca_pem is None:
        try:
            ca_pem = read_bounded(ca_file, MAX_LIST_BYTES)
        except FileError as exc:
            ca_pem, unreadable = b"", str(exc)
    return load_pem_bundle(ca_pem), str(ca_file), unreadable


def _earliest_expiry(
    served: Sequence[Served], infos: Sequence[CertInfo], now: datetime
) -> Expiry | None:
    dated = [(s.not_after, i) for i, s in enumerate(served) if s.not_after is not None]
    if not dated:
        return None
    _, i = min(dated)
    return Expiry(i, infos[i].subject, infos[i].not_after, days_left(served[i], now))


def judge(
    chain: Sequence[bytes | x509.Certificate],
    verify_name: str,
    *,
    ca_file: Path | None = None,
    ca_pem: bytes | None = None,
    min_days: int | None = None,
    warn_days: int = WARN_DAYS,
    with_pem: bool = False,
) -> ChainVerdict:
    """The verdict on a served chain (DER as sent, or parsed) for ``verify_name``, against
    ``ca_file``'s CAs (its contents ``ca_pem`` when already read) or the system store: trust,
    host name match, expiry within ``min_days`` (a problem) or ``warn_days`` (a warning). A
    certificate that cannot be read, wholly or in part, is a problem here, never an
    exception."""
    now = datetime.now(UTC)
    served = served_chain(chain)
    roots, store, unreadable = _trust_anchors(ca_file, ca_pem)
    v = assess(served, roots, verify_name, now, min_days, warn_days)
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
    infos = tuple(describe(s, i, now, with_pem=with_pem) for i, s in enumerate(served))
    return ChainVerdict(
        chain=infos,
        trusted=v.trusted,
        path_to_trust_anchor=v.path_to_trust_anchor,
        trust_store=store,
        hostname_match=v.hostname_match,
        earliest_expiry=_earliest_expiry(served, infos, now),
        problems=tuple(found),
        warnings=v.warnings,
    )
