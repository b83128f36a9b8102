"""Human output of ``netdiag tls``: the connection, the chain as served, the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from netdiag.targets import format_hostport
from netdiag.views.common import (
    BAD_STYLE,
    DIM_STYLE,
    OK_STYLE,
    WARN_STYLE,
    closing,
    error_text,
    fit,
    fmt_ms,
)

if TYPE_CHECKING:
    from netdiag.results.tls import CertInfo, TlsReport


def _yes_no(value: bool | None, yes: str, no: str) -> Text:
    if value is None:
        return Text("unknown", style=DIM_STYLE)
    return Text(yes, style=OK_STYLE) if value else Text(no, style=f"bold {BAD_STYLE}")


def _days_style(days_left: int, r: TlsReport) -> str:
    """Red within --min-days, yellow within --warn-days, green beyond."""
    if r.min_days is not None and days_left < r.min_days:
        return BAD_STYLE
    return WARN_STYLE if days_left < r.warn_days else OK_STYLE


def _cert_lines(c: CertInfo, r: TlsReport) -> list[RenderableType]:
    head = Text(f"{c.position}  ", style="bold")
    head.append(c.subject, style="bold")
    tags = []
    if c.is_ca:
        tags.append("CA")
    if c.self_signed:
        tags.append("self-signed")
    if tags:
        head.append(f"  [{', '.join(tags)}]", style="magenta")
    days = Text(f"{c.days_left} days left", style=_days_style(c.days_left, r))
    if c.days_left < 0:
        ago = -c.days_left
        days = Text(f"expired {ago} day{'s' if ago != 1 else ''} ago", style=f"bold {BAD_STYLE}")
    validity = Text(f"   valid {c.not_before} .. {c.not_after}, ")
    validity.append_text(days)
    key = f"{c.key_type} {c.key_size or ''}{f' ({c.key_curve})' if c.key_curve else ''}".strip()
    lines: list[RenderableType] = [head, Text(f"   issuer {c.issuer}", style=DIM_STYLE), validity]
    names = [*c.san_dns, *c.san_ip]
    if names:
        lines.append(Text(f"   names {', '.join(names)}"))
    lines.append(
        Text(f"   key {key}, signed {c.signature_algorithm}, serial {c.serial}", style=DIM_STYLE)
    )
    lines.append(_fingerprint(c.sha256))
    return lines


def _fingerprint(sha256: str) -> RenderableType:
    """``   sha256 AB:CD:...`` on one line where it fits, else folded between bytes, 16 or 8
    to a line: never inside a byte."""

    def folded(per_line: int) -> Text:
        parts = sha256.split(":")
        rows = [":".join(parts[i : i + per_line]) for i in range(0, len(parts), per_line)]
        text = "\n".join(
            ("   sha256 " if i == 0 else " " * 10) + row + (":" if i < len(rows) - 1 else "")
            for i, row in enumerate(rows)
        )
        return Text(text, style=DIM_STYLE)

    wide = Text(f"   sha256 {sha256}", style=DIM_STYLE)
    return fit(wide, fit(folded(16), folded(8)))


def _trust_lines(r: TlsReport) -> list[Text]:
    """``trusted`` (verifies now) and why not, the path to a trust anchor, the host name."""
    trust = Text("trusted: ")
    trust.append_text(_yes_no(r.trusted, "yes", "no"))
    if r.trusted is False and r.path_to_trust_anchor:
        kinds = {p.kind for p in r.problems}
        why = (
            "a certificate has expired"
            if "cert_expired" in kinds
            else "a certificate is not valid yet"
            if "cert_not_yet_valid" in kinds
            else "it does not verify now"
        )
        trust.append(f", because {why}", style=f"bold {BAD_STYLE}")
    trust.append("   path to trust anchor: ")
    trust.append_text(_yes_no(r.path_to_trust_anchor, "yes", "no"))
    host = Text("hostname: ")
    host.append_text(
        _yes_no(r.hostname_match, f"matches {r.verify_name}", f"does not match {r.verify_name}")
    )
    host.append(f"   trust store {r.trust_store}" if r.trust_store else "", style=DIM_STYLE)
    return [trust, host]


def _title(r: TlsReport) -> Text:
    """What was asked: the target, the address, the SNI and the STARTTLS protocol."""
    title = Text(f"TLS {r.target}", style="bold")
    if r.address and r.address != r.host:
        title.append(f"  {format_hostport(r.address, r.port)}", style=DIM_STYLE)
    title.append(f"  SNI {r.sni}" if r.sni else "  no SNI", style=DIM_STYLE)
    if r.starttls:
        title.append(f"  STARTTLS {r.starttls}", style=DIM_STYLE)
    return title


def _phase_lines(r: TlsReport) -> list[Text]:
    """The times of the phases that happened (dns, tcp connect, tls handshake), on one line."""
    phases = []
    if r.dns_ms is not None:
        phases.append(f"dns {fmt_ms(r.dns_ms)} ms")
    if r.tcp_connect_ms is not None:
        phases.append(f"tcp connect {fmt_ms(r.tcp_connect_ms)} ms")
    if r.handshake_ms is not None:
        phases.append(f"tls handshake {fmt_ms(r.handshake_ms)} ms")
    return [Text("  " + ", ".join(phases))] if phases else []


def _session_lines(r: TlsReport) -> list[Text]:
    """What the handshake negotiated (protocol, cipher, ALPN) and the OCSP staple."""
    if not r.protocol:
        return []
    line = Text(
        f"  {r.protocol}, {r.cipher}" + (f" ({r.cipher_bits} bits)" if r.cipher_bits else "")
    )
    line.append(f", ALPN {r.alpn}" if r.alpn else ", no ALPN")
    if r.ocsp is not None:
        if r.ocsp.stapled:
            line.append(f", OCSP stapled: {r.ocsp.status or r.ocsp.detail}")
        else:
            line.append(", no OCSP staple", style=DIM_STYLE)
    return [line]


def _chain_lines(r: TlsReport, show_pem: bool) -> list[RenderableType]:
    """The chain as served, certificate by certificate, then the trust verdict and the first
    certificate to expire."""
    if not r.chain:
        return []
    count = f"{len(r.chain)} certificate{'s' if len(r.chain) != 1 else ''}"
    out: list[RenderableType] = [Text(f"chain as served ({count})", style="bold")]
    for c in r.chain:
        out.extend(_cert_lines(c, r))
        if show_pem and c.pem:
            out.append(Text(c.pem.rstrip(), style=DIM_STYLE))
    out.extend(_trust_lines(r))
    if r.earliest_expiry is not None:
        e = r.earliest_expiry
        if e.days_left < 0:
            ago = -e.days_left
            when = f"expired on {e.not_after}, {ago} day{'s' if ago != 1 else ''} ago"
        else:
            when = f"on {e.not_after} ({e.days_left} day{'s' if e.days_left != 1 else ''} left)"
        out.append(Text(f"first to expire: certificate {e.position}, {when}", style=DIM_STYLE))
    return out


def _problem_lines(r: TlsReport) -> list[Text]:
    """Every problem, when there is more than one (one is said by the closing verdict)."""
    if len(r.problems) <= 1:
        return []
    out = [Text("problems", style="bold")]
    for p in r.problems:
        line = Text("  ")
        line.append_text(error_text(p))
        out.append(line)
    return out


def tls_view(r: TlsReport, *, show_pem: bool = False) -> list[RenderableType]:
    return [
        _title(r),
        *_phase_lines(r),
        *_session_lines(r),
        *_chain_lines(r, show_pem),
        *_problem_lines(r),
        *closing(r),
    ]
