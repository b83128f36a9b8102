"""``netdiag dns``: lookups as a stub resolver sees them, and ``--trace`` from the root."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netdiag.commands.options import (
    IPv4Option,
    IPv6Option,
    JsonOption,
    finish,
    ip_version,
    timeout_option,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    import dns.name
    import dns.rdatatype

    from netdiag.output import TextOutput
    from netdiag.results.dns import DnsLookupReport, DnsTraceReport

HELP = """\
Look up NAME (record TYPEs default to A) the way a stub resolver does: one query with
recursion desired, sent to the system's configured resolver or to each --server (or
@SERVER, anywhere among the arguments, as with dig: @192.0.2.53, @192.0.2.53#5353). Shows the
rcode, the header flags (aa tc rd ra ad), the answer, authority and additional sections with
TTLs, the server and transport, the query time and the message size. A truncated UDP answer
is retried over TCP, and the output says so. Types: A AAAA CNAME MX NS TXT SOA PTR SRV CAA and
any other dnspython knows; -x makes a reverse (PTR) lookup of an address.

With --trace, netdiag resolves NAME itself, iteratively: from the root servers (built-in IANA
root hints, or --root/--root-hints) it follows referrals zone by zone down to the answer,
asking each zone's name servers concurrently, with recursion off, using glue where the parent
gives it and resolving glueless name servers from the root too. No recursive resolver is
used, so the trace works where the system resolver is broken or absent. Lame delegations
(servers that answer without authority for their zone), upward or sideways referrals,
delegation loops, responses that fail validation (garbage, wrong ID, wrong question) and
negative answers with neither the AA flag nor an SOA (not_authoritative: what a
DNS-intercepting middlebox sends) are reported; a server that cannot be reached is
unreachable, refused or timeout, not lame. --port applies to every server asked, as with dig.
The whole trace is bounded by the clock: --trace-timeout, by default 15 x --timeout (30 s at
the default --timeout of 2 s); each query also waits at most --timeout, and at most 200
queries are sent. A trace stopped by a bound shows what it measured, the zone it was working
on included, and fails with error kind timeout (or limit, for the query count).

Rejected responses are all counted (rejected_count in JSON) but only the first 10 are kept and
shown, so a server flooding replies cannot fill memory or the screen.

A lookup is healthy when the rcode is NOERROR and the answer holds a record of the requested
type (following CNAMEs), or a CNAME chain that leaves the server's data (cname_leaves_at: an
authoritative server says no more; ask a recursive server, or --trace, for the rest).
NXDOMAIN, NODATA, a referral (no answer, no SOA, NS records and no AA flag: the server does
not serve the name and does not recurse), SERVFAIL, REFUSED and timeouts are unhealthy, and
error.kind says which. With --short, a failure prints nothing on stdout and one line on
stderr. A trace is healthy when it reaches an answer."""


def command(
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="[@SERVER] NAME [TYPE]...",
            help="The name to look up (an address with -x), then record types (default A; "
            "PTR with -x). @SERVER, anywhere among them as with dig, is --server SERVER.",
            show_default=False,
        ),
    ],
    servers: Annotated[
        list[str] | None,
        typer.Option(
            "--server",
            "-s",
            metavar="ADDR[:PORT]",
            help="Ask this server (repeatable); default: the system's resolvers.",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            metavar="PORT",
            help="Port for servers that give none (every server with --trace).",
        ),
    ] = 53,
    tcp: Annotated[bool, typer.Option("--tcp", help="Query over TCP from the start.")] = False,
    timeout: Annotated[
        float,
        timeout_option(
            min=0.01,
            max=120.0,
            help="Seconds to wait for each answer (with --trace: for each round of queries).",
        ),
    ] = 2.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=10,
            metavar="N",
            help="Repeat a query that got no response at all N times (lookups); a query "
            "whose responses were all rejected is not repeated.",
        ),
    ] = 1,
    reverse: Annotated[
        bool, typer.Option("-x", help="Reverse lookup: NAME is an IP address.")
    ] = False,
    short: Annotated[bool, typer.Option("--short", help="Print only the answer data.")] = False,
    do_trace: Annotated[
        bool, typer.Option("--trace", help="Resolve iteratively from the root.")
    ] = False,
    roots: Annotated[
        list[str] | None,
        typer.Option(
            "--root", metavar="ADDR", help="Start --trace from this root server (repeatable)."
        ),
    ] = None,
    root_hints: Annotated[
        Path | None,
        typer.Option(
            "--root-hints",
            metavar="FILE",
            help="Root hints file (named.root format) for --trace; at most 4 MiB.",
        ),
    ] = None,
    trace_timeout: Annotated[
        float | None,
        typer.Option(
            "--trace-timeout",
            min=0.01,
            max=3600.0,
            metavar="SECONDS",
            help="Bound on the whole --trace, by the clock  [default: 15 x --timeout]",
            show_default=False,
        ),
    ] = None,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    json_output: JsonOption = False,
) -> None:
    split_words(words)  # the words' errors first, as they always were
    if short and json_output:
        raise usage_error("--short and --json exclude each other")
    call = prepare(
        words=words,
        servers=servers,
        port=port,
        tcp=tcp,
        timeout=timeout,
        retries=retries,
        reverse=reverse,
        do_trace=do_trace,
        roots=roots,
        root_hints=root_hints,
        trace_timeout=trace_timeout,
        ipv4=ipv4,
        ipv6=ipv6,
    )
    report = call()

    def render(out: TextOutput, shown: Any) -> None:
        from netdiag.views import dns as view

        if shown.mode == "trace":
            out.print(*view.trace_view(shown))
        elif short:
            out.print(*view.short_view(shown))
            if shown.error is not None:
                # dig +short prints nothing on a failure; a script still gets the exit
                # status, and a person gets why, on stderr, away from the answer data
                from netdiag.output import error_line

                error_line("dns", f"{shown.error.kind}: {shown.error.message}")
        else:
            out.print(*view.lookup_view(shown))

    finish(report, json_output, render)


def prepare(
    *,
    words: list[str],
    servers: list[str] | None,
    port: int,
    tcp: bool,
    timeout: float,
    retries: int,
    reverse: bool,
    do_trace: bool,
    roots: list[str] | None,
    root_hints: Path | None,
    trace_timeout: float | None,
    ipv4: bool,
    ipv6: bool,
) -> Callable[[], DnsLookupReport | DnsTraceReport]:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call of the lookup or the trace. Sends nothing (``--root-hints``
    is read now); calling it may still raise a usage error: a ``--server`` given by a name
    that does not resolve."""
    at_servers, name, types = split_words(words)
    servers = at_servers + (servers or [])
    version = ip_version(ipv4, ipv6)
    if do_trace:
        if servers:
            raise usage_error(
                "--trace asks the authoritative servers itself; drop --server and @SERVER "
                "(--root ADDR starts the trace at another root server)",
                param="servers",
            )
    elif roots or root_hints or trace_timeout is not None:
        raise usage_error("--root, --root-hints and --trace-timeout go with --trace")

    from netdiag.net.dnsfeatures import prepare as prepare_dnspython

    prepare_dnspython()  # before dnspython's first import: spares it importlib.metadata
    qname, rdtypes = _question(name, types, reverse)
    if do_trace:
        if len(rdtypes) != 1:
            raise usage_error("--trace follows one record type at a time")
        return _trace(
            qname, rdtypes[0], roots or [], root_hints, port, timeout, trace_timeout, tcp, version
        )
    return _lookup(qname, rdtypes, servers or [], port, tcp, timeout, retries, version)


OTHER_CLASSES = {"CH", "CHAOS", "HS", "HESIOD", "CS", "CSNET"}

DIG_OPTIONS = {"+short": "--short", "+tcp": "--tcp", "+vc": "--tcp", "+trace": "--trace"}
"""dig's +options that netdiag has, spelled its way."""


def split_words(words: list[str]) -> tuple[list[str], str, list[str]]:
    """``[@SERVER] NAME [TYPE]...`` as dig and kdig take them: each ``@SERVER`` wherever it
    stands (``@ADDR``, ``@ADDR:PORT``, ``@[v6]:PORT`` or BIND's ``@ADDR#PORT``), then the
    name and the types; the class ``IN`` may stand among the types (the only class asked)."""
    servers: list[str] = []
    rest: list[str] = []
    for word in words:
        if word.startswith("@"):
            server = word[1:]
            if not server:
                raise usage_error("'@' needs a server address: @ADDR[:PORT]")
            if "#" in server:  # dig's way of writing a port: 192.0.2.53#5353, ::1#5353
                host, _, port = server.rpartition("#")
                host = host.removeprefix("[").removesuffix("]")
                server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            servers.append(server)
        elif word.startswith("+"):
            option = word.split("=", 1)[0].lower()
            instead = DIG_OPTIONS.get(option)
            hint = f"; netdiag spells it {instead}" if instead else ""
            raise usage_error(f"'{word}' is a dig option{hint}")
        else:
            rest.append(word)
    if not rest:
        raise usage_error("missing NAME: the name to look up")
    name, types = rest[0], rest[1:]
    for t in types:
        if t.upper() in OTHER_CLASSES:
            raise usage_error(f"class {t.upper()} is not supported: netdiag asks class IN")
    return servers, name, [t for t in types if t.upper() != "IN"]


def _question(
    name: str, types: list[str], reverse: bool
) -> tuple[dns.name.Name, list[dns.rdatatype.RdataType]]:
    """The name to ask about (``-x``: the reverse name of an address) and the record types,
    each once (default A, or PTR with ``-x``)."""
    import dns.exception
    import dns.name
    import dns.reversename

    from netdiag.net.dnsquery import rdtype_of

    if any(c.isspace() for c in name) or not name:
        raise usage_error(f"'{name}' is not a valid domain name")
    if reverse:
        try:
            qname = dns.reversename.from_address(name)
        except (dns.exception.SyntaxError, ValueError):
            raise usage_error(f"-x needs an IP address, not '{name}'") from None
    else:
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            raise usage_error(f"'{name}' is not a valid domain name: {exc}") from None
    try:
        rdtypes = [rdtype_of(t) for t in (types or (["PTR"] if reverse else ["A"]))]
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    return qname, list(dict.fromkeys(rdtypes))


def _lookup(
    qname: dns.name.Name,
    rdtypes: list[dns.rdatatype.RdataType],
    server_texts: list[str],
    port: int,
    tcp: bool,
    timeout: float,
    retries: int,
    version: int | None,
) -> Callable[[], DnsLookupReport]:
    from netdiag.probes.dns import DnsOptions
    from netdiag.targets import TargetError, parse_target

    servers = []
    for text in server_texts:
        try:
            servers.append(parse_target(text, default_port=port))
        except TargetError as exc:
            raise usage_error(f"server {text}: {exc}", param="servers") from None
    opts = DnsOptions(tcp=tcp, timeout=timeout, retries=retries, port=port, version=version)

    def lookup() -> DnsLookupReport:
        from netdiag.probes.dns import ServerError, probe_dns

        try:
            return probe_dns(qname, rdtypes, servers, opts)
        except ServerError as exc:
            raise usage_error(str(exc), param="servers") from None

    return lookup


def _trace(
    qname: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    root_texts: list[str],
    root_hints: Path | None,
    port: int,
    timeout: float,
    trace_timeout: float | None,
    tcp: bool,
    version: int | None,
) -> Callable[[], DnsTraceReport]:
    from netdiag.files import FileError, read_text_bounded
    from netdiag.probes.dnstrace import (
        NameServer,
        TraceOptions,
        builtin_roots,
        load_root_hints,
        trace,
    )
    from netdiag.targets import TargetError, parse_host

    roots: list[NameServer] = []
    for text in root_texts:
        try:
            host, ip = parse_host(text.strip("[]"))
        except TargetError as exc:
            raise usage_error(f"--root: {exc}", param="roots") from None
        if ip is None:
            raise usage_error(f"--root takes an IP address, not '{text}'", param="roots")
        roots.append(NameServer(host, host, "given"))
    if root_hints is not None:
        try:
            text = read_text_bounded(root_hints)
        except FileError as exc:
            raise usage_error(f"--root-hints {exc}", param="root_hints") from None
        try:
            roots.extend(load_root_hints(text))
        except Exception as exc:  # dnspython's zone-file errors
            reason = " ".join(str(exc).split())  # one line
            raise usage_error(
                f"--root-hints {root_hints}: not a root hints file: {reason}", param="root_hints"
            ) from None
    if not roots:
        roots = builtin_roots()
    if version is not None and not any((":" in r.address) == (version == 6) for r in roots):
        raise usage_error(f"no IPv{version} root server address to start from")
    opts = TraceOptions(
        port=port, timeout=timeout, tcp=tcp, version=version, total_seconds=trace_timeout
    )
    return partial(trace, qname, rdtype, roots, opts)


def register(app: typer.Typer) -> None:
    app.command(
        "dns",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="DNS lookups, and --trace: iterative resolution from the root.",
    )(command)
