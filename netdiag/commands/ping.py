"""``netdiag ping``: ICMP echo with honest statistics, one host or hundreds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netdiag.commands.options import (
    IPv4Option,
    IPv6Option,
    JsonOption,
    count_option,
    interval_option,
    ip_version,
    timeout_option,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

HELP = """\
Send ICMP echo requests (ping's "are you there?") and time the echo replies. HOST is a name,
an IPv4 or IPv6 address, or a CIDR block (192.0.2.0/28: every host address in it); -f reads
more hosts from a file. Many hosts run at once in one process, as fping does: each host gets
a packet every INTERVAL seconds, never two packets closer than --gap-ms, so a sweep takes
about COUNT x INTERVAL however many hosts there are.

An unprivileged ICMP datagram socket is used where net.ipv4.ping_group_range allows it, a
raw socket otherwise (root or CAP_NET_RAW); the output says which. Where neither is possible
netdiag exits 3 and says how to fix it. RTTs come from the kernel's receive timestamps.
Duplicates, replies that are not ours, and ICMP errors (destination unreachable with its
code, time exceeded) are reported per probe.

Statistics per host (named as tcp names them): sent, received, loss, min/avg/max/mdev (as
iputils computes mdev), p50/p95/p99 and jitter, printed even at 100% loss and on Ctrl-C; a
host that got nothing sent (its name did not resolve) says so and why, and its loss is null
in JSON rather than 0%. A host is healthy
when at least one reply came back (as with ping and fping) and --max-loss/--max-rtt-ms hold."""

MAX_HOSTS = 65536


def _expand(text: str) -> list[str]:
    import ipaddress

    if "/" not in text:
        return [text]
    net = ipaddress.ip_network(text, strict=False)
    if net.num_addresses > MAX_HOSTS:
        raise ValueError(f"{text} holds {net.num_addresses} addresses; at most {MAX_HOSTS}")
    return [str(a) for a in (net.hosts() if net.num_addresses > 2 else net)]


def command(
    hosts: Annotated[
        list[str] | None,
        typer.Argument(metavar="HOST", help="Names, addresses or CIDR blocks.", show_default=False),
    ] = None,
    count: Annotated[int, count_option(max=100000, help="Echo requests per host.")] = 4,
    interval: Annotated[
        float,
        interval_option(min=0.001, max=3600.0, help="Seconds between requests to one host."),
    ] = 1.0,
    timeout: Annotated[
        float,
        timeout_option(short="-W", min=0.001, max=600.0, help="Seconds to wait for each reply."),
    ] = 1.0,
    size: Annotated[
        int,
        typer.Option(
            "-s",
            "--size",
            min=0,
            max=65000,
            metavar="SIZE",
            help="Data bytes per request (default 56: 64 with the ICMP header).",
        ),
    ] = 56,
    ttl: Annotated[
        int | None,
        typer.Option(
            "-t", "--ttl", min=1, max=255, metavar="TTL", help="IP time to live (IPv6 hop limit)."
        ),
    ] = None,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    max_loss: Annotated[
        float | None,
        typer.Option(
            "--max-loss",
            min=0.0,
            max=100.0,
            metavar="PCT",
            help="Unhealthy when loss exceeds PCT percent.",
        ),
    ] = None,
    max_rtt_ms: Annotated[
        float | None,
        typer.Option(
            "--max-rtt-ms",
            min=0.0,
            metavar="N",
            help="Unhealthy when the average RTT exceeds N ms.",
        ),
    ] = None,
    gap_ms: Annotated[
        float,
        typer.Option(
            "--gap-ms",
            min=0.0,
            max=10000.0,
            metavar="MS",
            help="Least time between any two packets sent.",
        ),
    ] = 2.0,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", metavar="FILE", help="Read hosts from FILE, one per line (# comments)."
        ),
    ] = None,
    socket_mode: Annotated[
        str, typer.Option("--socket", metavar="auto|dgram|raw", help="Which ICMP socket to use.")
    ] = "auto",
    json_output: JsonOption = False,
) -> None:
    from netdiag.targets import TargetError, parse_host

    if socket_mode not in ("auto", "dgram", "raw"):
        raise usage_error(f"--socket takes auto, dgram or raw, not '{socket_mode}'")
    texts = list(hosts or [])
    if file is not None:
        from netdiag.files import FileError, read_text_bounded

        try:
            lines = read_text_bounded(file).splitlines()
        except FileError as exc:
            raise usage_error(f"-f {exc}") from None
        texts += [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
    if not texts:
        raise usage_error("give at least one HOST (or -f FILE)")
    version = ip_version(ipv4, ipv6)
    from netdiag.targets import Target

    targets: list[Target] = []
    for text in texts:
        try:
            expanded = _expand(text.strip())
        except ValueError as exc:
            raise usage_error(f"'{text}': {exc}") from None
        for host in expanded:
            try:
                h, ip = parse_host(host.strip("[]"))
            except TargetError as exc:
                raise usage_error(str(exc)) from None
            if version is not None and ip not in (None, version):
                raise usage_error(f"'{host}' is an IPv{ip} address, but -{version} was given")
            targets.append(Target(host, h, None, ip))
        if len(targets) > MAX_HOSTS:
            raise usage_error(f"at most {MAX_HOSTS} hosts in one run")

    from netdiag.output import TextOutput, emit_json, terminal_safe
    from netdiag.probes.ping import PingOptions, probe_ping
    from netdiag.results import exit_status
    from netdiag.results.ping import PingProbe

    opts = PingOptions(
        count=count,
        interval=interval,
        timeout=timeout,
        size=size,
        ttl=ttl,
        version=version,
        max_loss=max_loss,
        max_rtt_ms=max_rtt_ms,
        gap_ms=gap_ms,
        mode=socket_mode,
    )
    if json_output:
        report = probe_ping(targets, opts)
        emit_json(report)
    else:
        from netdiag.views import ping as view

        out = TextOutput()
        many = len(targets) > 1
        if not many:
            out.print(view.header(targets[0].text, None, size, many))

        def on_reply(i: int, probe: PingProbe) -> None:
            out.print(view.probe_line(targets[i].text, terminal_safe(probe), many))

        report = probe_ping(targets, opts, on_reply=on_reply)
        out.print(*view.summary(terminal_safe(report), terminal=out.is_terminal))
    raise typer.Exit(exit_status(report))


def register(app: typer.Typer) -> None:
    app.command(
        "ping",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="ICMP echo with ping/fping statistics, one host or hundreds.",
    )(command)
