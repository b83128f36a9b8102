"""``netdiag tls``: certificate chain inspection that says exactly what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import (
    CaFileOption,
    IPv4Option,
    IPv6Option,
    JsonOption,
    finish,
    ip_version,
    read_ca_option,
    timeout_option,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    from pathlib import Path

    from netdiag.output import TextOutput
    from netdiag.results.tls import TlsReport

HELP = """\
Connect to HOST[:PORT] (port 443, or the protocol's port with --starttls), do a TLS
handshake, and show the certificate chain exactly as the server sent it, even when it is
broken: for each certificate the subject, issuer, names (DNS and IP SANs), serial, validity
and days left, key, signature algorithm, SHA-256 fingerprint, and whether it is a CA or
self-signed.

Then the verdict. trusted: the chain verifies now, for this name or not, as openssl verify
says: a path to the system trust store (or to --ca-file) and every certificate on it within
its validity period now; an expired chain is not trusted. path to trust anchor: the chain
builds to the trust store at all (checked at a moment when every certificate is valid), so
an expired chain from a trusted CA is "trusted: no, path to trust anchor: yes". hostname:
whether the certificate is valid for the name. Then every problem found: cert_expired,
cert_not_yet_valid, self_signed, untrusted_issuer (the chain was sent up to a root that is
not trusted), incomplete_chain (the server sent its leaf alone, and its issuer is neither
sent nor trusted: the server is missing its intermediate), chain_invalid (the path to a
trusted issuer or root does not verify; the verifier's reason is given, e.g. a CA
certificate without basicConstraints cA), malformed_extension or bad_certificate (DER that
cannot be read), hostname_mismatch, expiring_soon (--min-days); or, when no handshake
happened, handshake_failed, not_tls, timeout, refused. A certificate that expires within
--warn-days (14) is a warning, expiring_soon in yellow (in JSON: warnings), without
changing the exit status.

The name sent as SNI and checked against the certificate is HOST, or --sni NAME; an IP
address target without --sni is checked against the certificate's IP addresses. Also shown:
the TCP connect and handshake times, the protocol version, cipher, ALPN and whether an OCSP
response was stapled (and what it says). --starttls speaks SMTP, IMAP or POP3 first and then
upgrades the connection, as mail clients do. Healthy (exit 0) only when trusted, the name
matches and --min-days holds."""

STARTTLS = ("smtp", "imap", "pop3")


def command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="HOST[:PORT]",
            help="host, host:port, [v6]:port or an https:// URL.",
            show_default=False,
        ),
    ],
    sni: Annotated[
        str | None,
        typer.Option(
            "--sni", metavar="NAME", help="Send NAME as SNI and verify the certificate for it."
        ),
    ] = None,
    no_sni: Annotated[
        bool,
        typer.Option(
            "--no-sni", help="Send no SNI (the certificate is still checked against HOST)."
        ),
    ] = False,
    ca_file: CaFileOption = None,
    min_days: Annotated[
        int | None,
        typer.Option(
            "--min-days",
            min=0,
            max=100000,
            metavar="N",
            help="Unhealthy when a certificate in the chain expires within N days.",
        ),
    ] = None,
    warn_days: Annotated[
        int,
        typer.Option(
            "--warn-days",
            min=0,
            max=100000,
            metavar="N",
            help="Warn (exit status unchanged) when a certificate expires within N days; "
            "0 never warns.",
        ),
    ] = 14,
    alpn: Annotated[
        str | None,
        typer.Option(
            "--alpn",
            metavar="LIST",
            help="Offer these ALPN protocols, comma-separated (e.g. h2,http/1.1).",
        ),
    ] = None,
    starttls: Annotated[
        str | None,
        typer.Option(
            "--starttls",
            metavar="smtp|imap|pop3",
            help="Speak the protocol's plain-text opening, then upgrade.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        timeout_option(
            min=0.01,
            max=600.0,
            help="Seconds for each phase (resolve, connect, STARTTLS, handshake).",
        ),
    ] = 5.0,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    pem: Annotated[
        bool, typer.Option("--pem", help="Print each certificate's PEM (in JSON: a pem field).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        target=target,
        sni=sni,
        no_sni=no_sni,
        ca_file=ca_file,
        min_days=min_days,
        warn_days=warn_days,
        alpn=alpn,
        starttls=starttls,
        timeout=timeout,
        ipv4=ipv4,
        ipv6=ipv6,
        pem=pem,
    )
    report = call()

    def render(out: TextOutput, shown: TlsReport) -> None:
        from netdiag.views.tls import tls_view

        out.print(*tls_view(shown, show_pem=pem))

    finish(report, json_output, render)


def prepare(
    *,
    target: str,
    sni: str | None,
    no_sni: bool,
    ca_file: Path | None,
    min_days: int | None,
    warn_days: int,
    alpn: str | None,
    starttls: str | None,
    timeout: float,
    ipv4: bool,
    ipv6: bool,
    pem: bool,
) -> Callable[[], TlsReport]:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call of the probe. Sends nothing (``--ca-file`` is read now)."""
    from netdiag.targets import TargetError, parse_host, parse_target

    if sni is not None and no_sni:
        raise usage_error("--sni and --no-sni exclude each other")
    if starttls is not None and starttls.lower() not in STARTTLS:
        raise usage_error(
            f"--starttls takes smtp, imap or pop3, not '{starttls}'", param="starttls"
        )
    protocol = starttls.lower() if starttls else None
    from netdiag.net.starttls import DEFAULT_PORTS

    default_port = DEFAULT_PORTS[protocol] if protocol else 443
    try:
        t = parse_target(target, default_port=default_port, schemes={"https": 443})
    except TargetError as exc:
        raise usage_error(str(exc), param="target") from None
    version = ip_version(ipv4, ipv6)
    if version is not None and t.ip_version not in (None, version):
        raise usage_error(
            f"'{target}' is an IPv{t.ip_version} address, but -{version} was given",
            param="target",
        )
    sni_name = None
    if sni is not None:
        try:
            sni_name, ip = parse_host(sni)
        except TargetError as exc:
            raise usage_error(f"--sni: {exc}", param="sni") from None
        if ip is not None:
            raise usage_error("--sni carries a host name, not an IP address", param="sni")
    protocols: tuple[str, ...] = ()
    if alpn is not None:
        protocols = tuple(p.strip() for p in alpn.split(",") if p.strip())
        if not protocols or any(len(p) > 255 or not p.isascii() for p in protocols):
            raise usage_error("--alpn takes a comma-separated list of protocol names", param="alpn")
    ca_pem = read_ca_option(ca_file)

    from netdiag.probes.tls import TlsOptions, probe_tls

    opts = TlsOptions(
        sni=sni_name,
        no_sni=no_sni,
        ca_file=ca_file,
        ca_pem=ca_pem,
        min_days=min_days,
        warn_days=warn_days,
        alpn=protocols,
        starttls=protocol,
        timeout=timeout,
        version=version,
        pem=pem,
    )
    return partial(probe_tls, t, opts)


def register(app: typer.Typer) -> None:
    app.command(
        "tls",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="Inspect a TLS certificate chain: trust, names, expiry, handshake.",
    )(command)
