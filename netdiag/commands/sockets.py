"""``netdiag sockets``: TIME_WAIT counts and what they mean, fast at any scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import JsonOption, count_option, finish, usage_error
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    from netdiag.output import TextOutput
    from netdiag.probes.sockets import SocketsOptions
    from netdiag.results.sockets import SocketsReport

HELP = """\
Count this host's TCP sockets (IPv4 and IPv6) by state, TIME_WAIT first, with breakdowns by
remote endpoint, local port or (--processes) owning process, and the running kernel's
context: how long TIME_WAIT lasts (a fixed 60 s on Linux, not tcp_fin_timeout, which governs
orphaned FIN_WAIT_2 sockets), tcp_tw_reuse, tcp_max_tw_buckets and how close the count is to
it, ip_local_port_range, and per destination how much of the ephemeral range its sockets hold
(the risk of running out of ports).

The side that closes a connection first keeps it in TIME_WAIT for 2MSL, so that stray
segments of the old connection die out. The table is read from the kernel directly (netlink
sock_diag, as ss does; /proc/net/tcp as a fallback); owning processes are looked up only with
--processes or --by process, since that means visiting every process's file descriptors.

--watch S refreshes every S seconds (in place on a terminal) and shows how fast TIME_WAIT
grows; --max-time-wait N makes more than N TIME_WAIT sockets unhealthy (exit 1)."""


def command(
    states: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Only sockets in STATE (repeatable), e.g. time-wait, established.",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            metavar="N",
            help="Only sockets with local or remote port N.",
        ),
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="state|local-port|remote|process", help="The breakdown to show."
        ),
    ] = "remote",
    top: Annotated[
        int, typer.Option("--top", min=1, max=10000, metavar="N", help="Rows per breakdown.")
    ] = 10,
    processes: Annotated[
        bool, typer.Option("--processes", help="Attribute sockets to processes (psutil; slower).")
    ] = False,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            min=0.1,
            max=3600.0,
            metavar="S",
            help="Refresh every S seconds until Ctrl-C (or --count).",
        ),
    ] = None,
    count: Annotated[
        int | None,
        count_option(max=1_000_000, metavar="N", help="With --watch: stop after N refreshes."),
    ] = None,
    max_time_wait: Annotated[
        int | None,
        typer.Option(
            "--max-time-wait",
            min=0,
            metavar="N",
            help="Unhealthy when more than N sockets are in TIME_WAIT.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        states=states,
        port=port,
        by=by,
        top=top,
        processes=processes,
        max_time_wait=max_time_wait,
    )
    if watch is not None and json_output:
        raise usage_error("--watch prints a live view; use --json without it (one snapshot)")
    if count is not None and watch is None:
        raise usage_error("--count goes with --watch")

    if watch is None:
        report = call()

        def render(out: TextOutput, shown: SocketsReport) -> None:
            from netdiag.views.sockets import sockets_view

            out.print(*sockets_view(shown, terminal=out.is_terminal))

        finish(report, json_output, render)
    raise typer.Exit(_watch(call.opts, watch, count))


@dataclass(frozen=True, slots=True)
class SocketsCall:
    """``netdiag sockets``, validated and ready: calling it takes one snapshot, the report
    ``--json`` prints."""

    opts: SocketsOptions

    def __call__(self) -> SocketsReport:
        from netdiag.probes.sockets import snapshot

        return snapshot(self.opts)


def prepare(
    *,
    states: list[str] | None,
    port: int | None,
    by: str,
    top: int,
    processes: bool,
    max_time_wait: int | None,
) -> SocketsCall:
    """Validate the command's parameters (as the CLI parsed them; a usage error for what
    is wrong) into a ready call. Reads nothing yet: the table is read when it is called."""
    from netdiag.net.sockdiag import STATE_IDS
    from netdiag.probes.sockets import BY_CHOICES, SocketsOptions

    wanted: list[int] = []
    for s in states or []:
        key = s.strip().upper().replace("-", "_")
        key = {
            "FIN_WAIT_1": "FIN_WAIT1",
            "FIN_WAIT_2": "FIN_WAIT2",
            "SYN_RECEIVED": "SYN_RECV",
        }.get(key, key)
        if key not in STATE_IDS:
            names = ", ".join(n.lower().replace("_", "-") for n in STATE_IDS)
            raise usage_error(f"unknown TCP state '{s}' (one of {names})", param="states")
        wanted.append(STATE_IDS[key])
    if by not in BY_CHOICES:
        raise usage_error(f"--by takes {', '.join(BY_CHOICES)}, not '{by}'", param="by")
    opts = SocketsOptions(
        states=tuple(wanted),
        port=port,
        by=by,
        top=top,
        processes=processes or by == "process",
        max_time_wait=max_time_wait,
    )
    return SocketsCall(opts)


def _watch(opts: SocketsOptions, every: float, count: int | None) -> int:
    import time

    from rich.console import Group

    from netdiag.exitcodes import ExitStatus
    from netdiag.output import TextOutput, escaped, terminal_safe
    from netdiag.probes.sockets import snapshot
    from netdiag.results import exit_status
    from netdiag.views.sockets import sockets_view

    out = TextOutput()
    previous = None
    report = None
    n = 0
    live = None
    try:
        if out.is_terminal:
            from rich.live import Live

            live = Live(console=out.console, auto_refresh=False)
            live.start()
        while count is None or n < count:
            started = time.monotonic()
            report = snapshot(opts)
            rate = None
            if previous is not None:
                rate = (report.time_wait.count - previous[0]) / (started - previous[1])
            previous = (report.time_wait.count, started)
            # Process names are anyone's to choose: escaped as every view's strings are.
            view = sockets_view(terminal_safe(report), terminal=out.is_terminal, rate=rate)
            if live is not None:
                live.update(escaped(Group(*view)), refresh=True)
            else:
                from rich.text import Text

                line = Text(f"{report.started_at}  TIME_WAIT {report.time_wait.count}")
                if rate is not None:
                    line.append(f" ({rate:+.1f}/s)")
                line.append(
                    f"  total {report.total}  "
                    + " ".join(f"{k}={v}" for k, v in report.states.items())
                )
                out.print(line)
            n += 1
            if count is not None and n >= count:
                break
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        if live is not None:
            live.stop()
        return ExitStatus.INTERRUPTED
    if live is not None:
        live.stop()
    assert report is not None
    return exit_status(report)


def register(app: typer.Typer) -> None:
    app.command(
        "sockets",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="TCP socket states, TIME_WAIT above all, and what they mean.",
    )(command)
