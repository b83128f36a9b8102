"""``netdiag tcp``: the three-way handshake, measured."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from netdiag.probes.tcp import TcpOptions
    from netdiag.results.resolve import Resolution
    from netdiag.results.tcp import TcpProbe, TcpReport
    from netdiag.targets import Target

HELP = """\
Time TCP connects: how long connect() takes, from the SYN leaving to the SYN/ACK arriving
(the kernel answers with the final ACK at once). Each TARGET is resolved first (timed as
dns_ms), then connected COUNT times, one attempt every INTERVAL seconds. Several targets are
probed concurrently. On Linux each connect also reports the kernel's own view from TCP_INFO:
smoothed RTT, RTT variance and MSS.

Statistics per target and address, named as ping names them: sent (connects started),
received (SYN/ACKs: connects that completed), loss, min/avg/max/mdev, p50 and p95. A target
that got nothing sent (its name did not resolve) says so and why; its loss is null in JSON
rather than 0%.

TARGET is host, host:port, [IPv6]:port, or an IPv4/IPv6 literal; -p gives the port for
targets without one.

netdiag closes each connection right after the handshake with a normal FIN, so the client
side (this machine) holds the socket in TIME_WAIT for 60 s on Linux; --rst closes with a RST
instead and leaves no TIME_WAIT behind."""


def command(
    ctx: typer.Context,
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET", help="host[:port], [v6addr]:port, IP literal.", show_default=False
        ),
    ],
    port: Annotated[
        int | None,
        typer.Option(
            "-p",
            "--port",
            min=1,
            max=65535,
            metavar="PORT",
            help="Port for targets that give none.",
        ),
    ] = None,
    count: Annotated[int, count_option(max=1_000_000, help="Connects per address.")] = 4,
    interval: Annotated[
        float,
        interval_option(min=0.0, max=3600.0, help="Seconds between connects to one address."),
    ] = 1.0,
    timeout: Annotated[
        float,
        timeout_option(
            min=0.001,
            max=600.0,
            help="Seconds to wait for a handshake (and for name resolution).",
        ),
    ] = 2.0,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    all_addresses: Annotated[
        bool, typer.Option("--all", help="Probe every resolved address, not just the first.")
    ] = False,
    rst: Annotated[
        bool, typer.Option("--rst", help="Close with RST (no TIME_WAIT left behind).")
    ] = False,
    max_connect_ms: Annotated[
        float | None,
        typer.Option(
            "--max-connect-ms",
            min=0.0,
            metavar="N",
            help="Unhealthy when a target's median connect time exceeds N ms.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        targets=targets,
        port=port,
        count=count,
        interval=interval,
        timeout=timeout,
        ipv4=ipv4,
        ipv6=ipv6,
        all_addresses=all_addresses,
        rst=rst,
        max_connect_ms=max_connect_ms,
    )
    from netdiag.output import TextOutput, emit_json, terminal_safe
    from netdiag.results import exit_status

    if json_output:
        report = call()
        emit_json(report)
    else:
        from netdiag.views import tcp as view

        out = TextOutput()

        def on_resolved(i: int, res: Resolution) -> None:
            out.print(
                view.resolved_line(call.targets[i], terminal_safe(res), probe_all=all_addresses)
            )

        def on_probe(i: int, probe: TcpProbe) -> None:
            out.print(view.probe_line(call.targets[i], terminal_safe(probe)))

        report = call(on_probe=on_probe, on_resolved=on_resolved)
        out.print(*view.summary(terminal_safe(report), terminal=out.is_terminal))
    raise typer.Exit(exit_status(report))


@dataclass(frozen=True, slots=True)
class TcpCall:
    """``netdiag tcp``, validated and ready to run: calling it runs the probe (with the text
    view's callbacks, or none) and returns the report ``--json`` prints."""

    targets: tuple[Target, ...]
    opts: TcpOptions

    def __call__(
        self,
        on_probe: Callable[[int, TcpProbe], None] | None = None,
        on_resolved: Callable[[int, Resolution], None] | None = None,
    ) -> TcpReport:
        from netdiag.probes.tcp import probe_tcp

        return probe_tcp(self.targets, self.opts, on_probe=on_probe, on_resolved=on_resolved)


def prepare(
    *,
    targets: list[str],
    port: int | None,
    count: int,
    interval: float,
    timeout: float,
    ipv4: bool,
    ipv6: bool,
    all_addresses: bool,
    rst: bool,
    max_connect_ms: float | None,
) -> TcpCall:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call. Sends nothing: the probe runs when the call is called."""
    from netdiag.probes.tcp import TcpOptions
    from netdiag.targets import TargetError, parse_target

    version = ip_version(ipv4, ipv6)
    parsed = []
    for text in targets:
        try:
            t = parse_target(text, default_port=port)
        except TargetError as exc:
            raise usage_error(str(exc), param="targets") from None
        if t.port is None:
            raise usage_error(f"no port for '{text}': give host:port or -p PORT", param="targets")
        if version is not None and t.ip_version not in (None, version):
            raise usage_error(
                f"'{text}' is an IPv{t.ip_version} address, but -{version} was given",
                param="targets",
            )
        parsed.append(t)
    opts = TcpOptions(
        count=count,
        interval=interval,
        timeout=timeout,
        version=version,
        all_addresses=all_addresses,
        rst=rst,
        max_connect_ms=max_connect_ms,
    )
    return TcpCall(tuple(parsed), opts)


def register(app: typer.Typer) -> None:
    app.command(
        "tcp",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="Time TCP connects (the three-way handshake).",
    )(command)
