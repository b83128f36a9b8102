"""``netdiag ping``: ICMP echo with honest statistics, one host or hundreds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import (
    IPv4Option,
    IPv6Option,
    JsonOption,
    count_option,
    interval_option,
    ip_version,
    max_loss_option,
    max_rtt_option,
    timeout_option,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    from netdiag.probes.ping import PingOptions
    from netdiag.results.ping import PingProbe, PingReport
    from netdiag.targets import Target

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
        float | None, max_loss_option(help="Unhealthy when loss exceeds PCT percent.")
    ] = None,
    max_rtt_ms: Annotated[
        float | None,
        max_rtt_option(help="Unhealthy when the average RTT exceeds N ms.", metavar="N"),
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
    call = prepare(
        hosts=hosts,
        count=count,
        interval=interval,
        timeout=timeout,
        size=size,
        ttl=ttl,
        ipv4=ipv4,
        ipv6=ipv6,
        max_loss=max_loss,
        max_rtt_ms=max_rtt_ms,
        gap_ms=gap_ms,
        file=file,
        socket_mode=socket_mode,
    )
    from netdiag.output import TextOutput, emit_json, terminal_safe
    from netdiag.results import exit_status

    targets = call.targets
    if json_output:
        report = call()
        emit_json(report)
    else:
        from netdiag.views import ping as view

        out = TextOutput()
        many = len(targets) > 1
        if not many:
            out.print(view.header(targets[0].text, None, size, many))

        def on_reply(i: int, probe: PingProbe) -> None:
            out.print(view.probe_line(targets[i].text, terminal_safe(probe), many))

        report = call(on_reply=on_reply)
        out.print(*view.summary(terminal_safe(report), terminal=out.is_terminal))
    raise typer.Exit(exit_status(report))


@dataclass(frozen=True, slots=True)
class PingCall:
    """``netdiag ping``, validated and ready to run: calling it runs the probe (with the text
    view's callback, or none) and returns the report ``--json`` prints."""

    targets: tuple[Target, ...]
    opts: PingOptions

    def __call__(self, on_reply: Callable[[int, PingProbe], None] | None = None) -> PingReport:
        from netdiag.probes.ping import probe_ping

        return probe_ping(self.targets, self.opts, on_reply=on_reply)


def prepare(
    *,
    hosts: list[str] | None,
    count: int,
    interval: float,
    timeout: float,
    size: int,
    ttl: int | None,
    ipv4: bool,
    ipv6: bool,
    max_loss: float | None,
    max_rtt_ms: float | None,
    gap_ms: float,
    file: Path | None,
    socket_mode: str,
) -> PingCall:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call. Sends nothing (``-f FILE`` is read now): the probe runs
    when the call is called."""
    from netdiag.targets import TargetError, parse_host

    if socket_mode not in ("auto", "dgram", "raw"):
        raise usage_error(
            f"--socket takes auto, dgram or raw, not '{socket_mode}'", param="socket_mode"
        )
    texts = list(hosts or [])
    if file is not None:
        from netdiag.files import FileError, read_text_bounded

        try:
            lines = read_text_bounded(file).splitlines()
        except FileError as exc:
            raise usage_error(f"-f {exc}", param="file") from None
        texts += [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
    if not texts:
        raise usage_error("give at least one HOST (or -f FILE)", param="hosts")
    version = ip_version(ipv4, ipv6)
    from netdiag.targets import Target

    targets: list[Target] = []
    for text in texts:
        try:
            expanded = _expand(text.strip())
        except ValueError as exc:
            raise usage_error(f"'{text}': {exc}", param="hosts") from None
        for host in expanded:
            try:
                h, ip = parse_host(host.strip("[]"))
            except TargetError as exc:
                raise usage_error(str(exc), param="hosts") from None
            if version is not None and ip not in (None, version):
                raise usage_error(
                    f"'{host}' is an IPv{ip} address, but -{version} was given", param="hosts"
                )
            targets.append(Target(host, h, None, ip))
        if len(targets) > MAX_HOSTS:
            raise usage_error(f"at most {MAX_HOSTS} hosts in one run", param="hosts")

    from netdiag.probes.ping import PingOptions

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
    return PingCall(tuple(targets), opts)


def register(app: typer.Typer) -> None:
    app.command(
        "ping",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="ICMP echo with ping/fping statistics, one host or hundreds.",
    )(command)
