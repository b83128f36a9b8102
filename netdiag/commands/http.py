"""``netdiag http``: headers as they crossed the wire, and a per-phase timing waterfall."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
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
    from netdiag.output import TextOutput
    from netdiag.probes.http import ConnectToRule, ResolveRule
    from netdiag.results.http import HttpReport

HELP = """\
Request URL and show what happens when a client opens it, phase by phase: the DNS lookup,
the TCP handshake, the TLS handshake (https, as the server paced it), netdiag's check of the
certificate (local work, which curl counts inside its handshake), the server's time to the
first response byte, the transfer, and netdiag's own work between them ("other"), drawn as a
waterfall whose rows add up to the total. A request that fails shows the phases it reached
and where it stopped. The request headers as sent (on HTTP/2 with :method, :scheme,
:authority and :path), and the status line and response headers exactly as received (order,
case and repeats) are shown. With -L, every redirect hop has its own timings, and a hop that
reuses a kept-alive connection shows that no handshake was needed. The body is not printed,
only its size and type; --body prints it (bounded).

To test a name on a chosen server, as curl: --resolve NAME:PORT:ADDRESS connects to ADDRESS
(an IP address; the first of a list) instead of looking NAME up, and --connect-to
NAME:PORT:HOST2:PORT2 connects to HOST2:PORT2 instead (empty parts match any name or port,
or keep the URL's); both apply to every hop to that name and port, redirects included. The
URL's name is still the one sent in the TLS handshake (SNI) and Host, and the one the
certificate is checked against. -H 'Host: NAME' changes only the Host header (HTTP/2
:authority) of requests to URL's origin, never SNI nor the name checked (as in curl): on
https netdiag warns when it differs from URL's host.

On https the certificate gets netdiag tls's verdict; a bad certificate stops the request
unless --insecure, which reports it and goes on. Redirects go only to http and https, at
most --max-redirects, and loops are detected. Response headers are bounded by
--max-header-bytes, bodies by 10 MiB, -d @FILE by 64 MiB, --ca-file by 4 MiB; --timeout
bounds each hop as a whole, from the lookup to the last byte, and -m/--max-time (as curl's)
the whole run, every redirect included.

Secrets: as in curl, user:password@ in URL is sent as Basic auth (-H Authorization wins)
and shown as user:[redacted]@ (a user name alone, which may be a token, as [redacted]@);
Authorization, Proxy-Authorization and Cookie go only to URL's origin: a redirect to another
scheme, host or port drops them for the rest of the chain. Unlike curl, user info in a
redirect's Location is not used (the server chose it). Those request headers, the cookie
values of Set-Cookie response headers and the user info of every URL in a response header
(Location, Link, Refresh...) are shown redacted unless --show-secrets, which shows the
headers as they crossed the wire; the URLs netdiag prints (the hops, redirect targets,
errors) never show a password.

Healthy (exit 0) when the final status is in --expect-status (default: any below 400) and
--max-ms holds; otherwise 1, with error.kind such as status, too_many_redirects,
redirect_loop, timeout, header_too_large, bad_response, tls, refused, dns or slow."""


def command(
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL",
            help="http:// or https:// URL (http:// is assumed without a scheme).",
            show_default=False,
        ),
    ],
    method: Annotated[
        str | None,
        typer.Option(
            "-X",
            "--request",
            metavar="METHOD",
            help="Request method (default GET, or POST with -d).",
        ),
    ] = None,
    headers: Annotated[
        list[str] | None,
        typer.Option(
            "-H", "--header", metavar="'Name: value'", help="Add a request header (repeatable)."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "-d",
            "--data",
            metavar="DATA",
            help="Send DATA as the body (@FILE reads a file, @- standard input; at most 64 MiB).",
        ),
    ] = None,
    head: Annotated[bool, typer.Option("--head", "-I", help="Send HEAD instead of GET.")] = False,
    follow: Annotated[bool, typer.Option("-L", "--location", help="Follow redirects.")] = False,
    max_redirects: Annotated[
        int,
        typer.Option(
            "--max-redirects", min=0, max=100, metavar="N", help="Follow at most N redirects."
        ),
    ] = 10,
    http2: Annotated[
        bool, typer.Option("--http2", help="Offer HTTP/2 (ALPN h2) on https.")
    ] = False,
    compressed: Annotated[
        bool, typer.Option("--compressed", help="Ask for gzip/deflate and decode the body.")
    ] = False,
    ca_file: CaFileOption = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Report a bad certificate but go on.")
    ] = False,
    timeout: Annotated[
        float,
        timeout_option(min=0.01, max=600.0, help="Bound for each hop, from lookup to last byte."),
    ] = 10.0,
    max_time: Annotated[
        float | None,
        typer.Option(
            "-m",
            "--max-time",
            min=0.01,
            max=3600.0,
            metavar="S",
            help="Bound for the whole run, every redirect included (as curl's).",
            show_default=False,
        ),
    ] = None,
    max_header_bytes: Annotated[
        int,
        typer.Option(
            "--max-header-bytes",
            min=256,
            max=16 << 20,
            metavar="N",
            help="Largest response header block accepted.",
        ),
    ] = 65536,
    expect_status: Annotated[
        str | None,
        typer.Option(
            "--expect-status",
            metavar="LIST",
            help="Healthy statuses, e.g. 200,204,3xx,500-599 (default: below 400).",
        ),
    ] = None,
    max_ms: Annotated[
        float | None,
        typer.Option(
            "--max-ms",
            min=0.0,
            metavar="N",
            help="Unhealthy when the whole request takes more than N ms.",
        ),
    ] = None,
    body: Annotated[
        bool, typer.Option("--body", help="Print the response body (the first 64 KiB).")
    ] = False,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Show Authorization, Cookie and Set-Cookie headers as sent and received.",
        ),
    ] = False,
    resolve: Annotated[
        list[str] | None,
        typer.Option(
            "--resolve",
            metavar="NAME:PORT:ADDR",
            help="Connect to ADDR (an IP address) for NAME on PORT, without a lookup "
            "(NAME * for any name; repeatable).",
        ),
    ] = None,
    connect_to: Annotated[
        list[str] | None,
        typer.Option(
            "--connect-to",
            metavar="H1:P1:H2:P2",
            help="For requests to H1:P1, connect to H2:P2 instead (empty parts: any, or "
            "unchanged; IPv6 in brackets; repeatable, the first match wins).",
        ),
    ] = None,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        url=url,
        method=method,
        headers=headers,
        data=data,
        head=head,
        follow=follow,
        max_redirects=max_redirects,
        http2=http2,
        compressed=compressed,
        ca_file=ca_file,
        insecure=insecure,
        timeout=timeout,
        max_time=max_time,
        max_header_bytes=max_header_bytes,
        expect_status=expect_status,
        max_ms=max_ms,
        body=body,
        show_secrets=show_secrets,
        resolve=resolve,
        connect_to=connect_to,
        ipv4=ipv4,
        ipv6=ipv6,
    )
    report = call()

    def render(out: TextOutput, shown: HttpReport) -> None:
        from netdiag.views.http import http_view

        out.print(*http_view(shown, terminal=out.is_terminal))

    finish(report, json_output, render)


def prepare(
    *,
    url: str,
    method: str | None,
    headers: list[str] | None,
    data: str | None,
    head: bool,
    follow: bool,
    max_redirects: int,
    http2: bool,
    compressed: bool,
    ca_file: Path | None,
    insecure: bool,
    timeout: float,
    max_time: float | None,
    max_header_bytes: int,
    expect_status: str | None,
    max_ms: float | None,
    body: bool,
    show_secrets: bool,
    resolve: list[str] | None,
    connect_to: list[str] | None,
    ipv4: bool,
    ipv6: bool,
    max_time_source: str = "--max-time",
) -> Callable[[], HttpReport]:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call of the probe. Sends nothing (``-d @FILE`` and ``--ca-file``
    are read now): the request is made when the call is called."""
    from netdiag.probes.http import (
        SCHEMES,
        HttpOptions,
        parse_expect_status,
        probe_http,
    )
    from netdiag.targets import TargetError, parse_target

    version = ip_version(ipv4, ipv6)
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        t = parse_target(text, schemes=SCHEMES)
    except TargetError as exc:
        raise usage_error(str(exc), param="url") from None
    parsed_headers = _headers(headers or [])
    payload = _payload(data)
    if head and (payload is not None or (method and method.upper() != "HEAD")):
        raise usage_error("--head sends no body and no other method", param="head")
    verb = (method or ("HEAD" if head else "POST" if payload is not None else "GET")).upper()
    if not verb.isascii() or not verb.isalpha():
        raise usage_error(f"'{method}' is not an HTTP method", param="method")
    try:
        expect = parse_expect_status(expect_status) if expect_status else ((100, 399),)
    except ValueError as exc:
        raise usage_error(f"--expect-status: {exc}", param="expect_status") from None
    ca_pem = read_ca_option(ca_file)
    resolve_rules, connect_rules = _rules(resolve or [], connect_to or [])

    opts = HttpOptions(
        method=verb,
        headers=tuple(parsed_headers),
        data=payload,
        follow=follow,
        max_redirects=max_redirects,
        http2=http2,
        compressed=compressed,
        ca_file=str(ca_file) if ca_file else None,
        ca_pem=ca_pem,
        insecure=insecure,
        timeout=timeout,
        max_time=max_time,
        max_time_source=max_time_source,
        max_header_bytes=max_header_bytes,
        expect_status=expect,
        max_ms=max_ms,
        show_body=body,
        show_secrets=show_secrets,
        version=version,
        resolve=resolve_rules,
        connect_to=connect_rules,
    )
    return partial(probe_http, t, opts)


def _headers(texts: list[str]) -> list[tuple[str, str]]:
    """``-H 'Name: value'``, each as (name, value)."""
    parsed = []
    for h in texts:
        name, sep, value = h.partition(":")
        name = name.strip()
        if (
            not sep
            or not name
            or any(c in name for c in " \t\r\n")
            or any(c in value for c in "\r\n")
        ):
            raise usage_error(f"-H takes 'Name: value', not '{h}'", param="headers")
        parsed.append((name, value.strip()))
    return parsed


def _payload(data: str | None) -> bytes | None:
    """The body of ``-d DATA``: DATA itself, the file of ``-d @FILE``, or standard input for
    ``-d @-`` (bounded; as they are, newlines kept, as curl's --data-binary sends them)."""
    if data is None:
        return None
    if not data.startswith("@"):
        return data.encode()
    from netdiag.files import MAX_BODY_BYTES, FileError, read_bounded, read_stdin_bounded

    try:
        if data == "@-":
            return read_stdin_bounded(MAX_BODY_BYTES)
        return read_bounded(data[1:], MAX_BODY_BYTES)
    except FileError as exc:
        raise usage_error(f"-d @{exc}" if data != "@-" else f"-d @-: {exc}", param="data") from None


def _rules(
    resolve: list[str], connect_to: list[str]
) -> tuple[tuple[ResolveRule, ...], tuple[ConnectToRule, ...]]:
    """The ``--resolve`` and ``--connect-to`` rules; one name and port resolved twice is an
    error."""
    from netdiag.probes.http import parse_connect_to, parse_resolve
    from netdiag.targets import TargetError

    try:
        resolve_rules = tuple(parse_resolve(r) for r in resolve)
    except TargetError as exc:
        raise usage_error(f"--resolve: {exc}", param="resolve") from None
    try:
        connect_rules = tuple(parse_connect_to(r) for r in connect_to)
    except TargetError as exc:
        raise usage_error(f"--connect-to: {exc}", param="connect_to") from None
    seen: set[tuple[str, int]] = set()
    for rule in resolve_rules:
        if (rule.host, rule.port) in seen:
            raise usage_error(f"--resolve: {rule.host}:{rule.port} is given twice", param="resolve")
        seen.add((rule.host, rule.port))
    return resolve_rules, connect_rules


def register(app: typer.Typer) -> None:
    app.command(
        "http",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="HTTP headers and a per-phase timing waterfall, per redirect hop.",
    )(command)
