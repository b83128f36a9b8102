"""``netdiag route``: the path to a host hop by hop (TTL, ICMP time exceeded, path MTU)."""

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
    max_loss_option,
    max_rtt_option,
    timeout_option,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    from netdiag.probes.route import RouteOptions
    from netdiag.results.route import RouteProbe, RouteReport
    from netdiag.targets import Target

HELP = """\
Trace the path to HOST, as traceroute and mtr do: each probe leaves with a TTL (IPv6: hop
limit) one higher than the last, and the router where it runs out answers "time exceeded"
with its address; the destination answers the probe itself. Every TTL of a round is sent at
once, so a round takes about one round trip to the farthest hop; -c rounds start every -i
seconds (routers rate-limit their ICMP errors, Linux to 6 at once then one a second, so
closer rounds show loss that is not there), and each hop gets mtr's statistics (loss, last,
avg, best, worst, stdev). Loss at a hop whose later hops answer is the router declining to
answer, not loss on the path. Hops beyond the destination are not probed again.

--method icmp (echo requests, the default), udp (to port 33434 and up, as traceroute) or tcp
(SYNs to -p PORT, default 80: passes firewalls that drop ICMP and UDP; the destination
answers SYN-ACK or RST). udp and tcp need no privilege (IP_RECVERR, as tracepath); icmp uses
an unprivileged ICMP socket where net.ipv4.ping_group_range allows it, else a raw one (root
or CAP_NET_RAW), and exits 3 with the fix where neither is possible. The output says which
socket was used.

--pmtu then finds the path MTU as tracepath does (UDP with DF set, shrinking to the MTU each
"fragmentation needed" / "packet too big" names) and the hop where it shrinks.

Unhealthy (exit 1) when the destination is not reached: an ICMP unreachable (its code named:
net, host, protocol, admin prohibited...), a routing loop, the hop after which nothing
answers (path_stops), or --max-hops; or when --max-loss / --max-rtt-ms fail at the
destination. Reverse names are looked up (2 s at most) unless -n is given."""

METHODS = ("icmp", "udp", "tcp")


def command(
    host: Annotated[
        str,
        typer.Argument(
            metavar="HOST", help="A name or an IPv4 or IPv6 address.", show_default=False
        ),
    ],
    method: Annotated[
        str,
        typer.Option("--method", "-M", metavar="icmp|udp|tcp", help="What the probes are."),
    ] = "icmp",
    port: Annotated[
        int | None,
        typer.Option(
            "-p",
            "--port",
            min=1,
            max=65535,
            metavar="PORT",
            help="tcp: the destination port (80); udp: the first port (33434).",
        ),
    ] = None,
    count: Annotated[int, count_option(max=1000, help="Rounds (probes per hop).")] = 3,
    interval: Annotated[
        float, interval_option(min=0.01, max=3600.0, help="Seconds between rounds.")
    ] = 1.0,
    max_hops: Annotated[
        int,
        typer.Option("-m", "--max-hops", min=1, max=255, metavar="N", help="The highest TTL."),
    ] = 30,
    timeout: Annotated[
        float, timeout_option(min=0.01, max=60.0, help="Seconds to wait for each probe.")
    ] = 2.0,
    pmtu: Annotated[
        bool, typer.Option("--pmtu", help="Find the path MTU and the hop where it shrinks.")
    ] = False,
    numeric: Annotated[
        bool, typer.Option("-n", "--numeric", help="Do not look up reverse names.")
    ] = False,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    max_loss: Annotated[
        float | None,
        max_loss_option(help="Unhealthy when the destination's loss exceeds PCT percent."),
    ] = None,
    max_rtt_ms: Annotated[
        float | None,
        max_rtt_option(help="Unhealthy when the destination's average RTT exceeds MS."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        host=host,
        method=method,
        port=port,
        count=count,
        interval=interval,
        max_hops=max_hops,
        timeout=timeout,
        pmtu=pmtu,
        numeric=numeric,
        ipv4=ipv4,
        ipv6=ipv6,
        max_loss=max_loss,
        max_rtt_ms=max_rtt_ms,
    )
    from netdiag.output import TextOutput, emit_json, terminal_safe
    from netdiag.results import exit_status

    if json_output:
        report = call()
        emit_json(report)
        raise typer.Exit(exit_status(report))
    from netdiag.views import route as view

    out = TextOutput()
    on_hop = None
    if out.is_terminal:
        out.print(view.header(call.target.text, None, method, call.opts.port, max_hops))
        version = call.target.ip_version

        def on_hop(probe: RouteProbe) -> None:
            out.print(view.probe_line(terminal_safe(probe), version))
            out.console.file.flush()

    report = call(on_hop=on_hop)
    safe = terminal_safe(report)
    if not out.is_terminal:
        out.print(view.header(safe.target, safe.address, method, safe.port, max_hops))
    out.print(*view.summary(safe, terminal=out.is_terminal))
    raise typer.Exit(exit_status(report))


@dataclass(frozen=True, slots=True)
class RouteCall:
    """``netdiag route``, validated and ready to run: calling it traces (with the text
    view's callback, or none) and returns the report ``--json`` prints."""

    target: Target
    opts: RouteOptions

    def __call__(self, on_hop: Callable[[RouteProbe], None] | None = None) -> RouteReport:
        from netdiag.probes.route import probe_route

        return probe_route(self.target, self.opts, on_hop=on_hop)


def prepare(
    *,
    host: str,
    method: str,
    port: int | None,
    count: int,
    interval: float,
    max_hops: int,
    timeout: float,
    pmtu: bool,
    numeric: bool,
    ipv4: bool,
    ipv6: bool,
    max_loss: float | None,
    max_rtt_ms: float | None,
) -> RouteCall:
    """Validate the command's parameters into a ready call; sends nothing."""
    from netdiag.targets import Target, TargetError, parse_host

    if method not in METHODS:
        raise usage_error(f"--method takes icmp, udp or tcp, not '{method}'", param="method")
    if port is not None and method == "icmp":
        raise usage_error("-p/--port goes with --method udp or tcp", param="port")
    if method == "udp" and (port or 33434) + count * max_hops - 1 > 65535:
        raise usage_error(
            f"udp probes go to ports {port or 33434} and up, one per probe: -c {count} x "
            f"--max-hops {max_hops} would pass 65535",
            param="port",
        )
    version = ip_version(ipv4, ipv6)
    try:
        name, ip = parse_host(host.strip().strip("[]"))
    except TargetError as exc:
        raise usage_error(str(exc), param="host") from None
    if version is not None and ip not in (None, version):
        raise usage_error(f"'{host}' is an IPv{ip} address, but -{version} was given", param="host")
    from netdiag.probes.route import RouteOptions

    opts = RouteOptions(
        method=method,
        port=port,
        count=count,
        interval=interval,
        timeout=timeout,
        max_hops=max_hops,
        names=not numeric,
        version=version,
        pmtu=pmtu,
        max_loss=max_loss,
        max_rtt_ms=max_rtt_ms,
    )
    return RouteCall(Target(host, name, None, ip), opts)


def register(app: typer.Typer) -> None:
    app.command(
        "route",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="The path to a host hop by hop (traceroute/mtr), and its MTU.",
    )(command)
