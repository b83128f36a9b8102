"""Human output of ``netdiag route``: traceroute's lines as the first round completes (on a
terminal), then mtr's table per hop, the path MTU, and the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from netdiag.views.common import (
    BAD_STYLE,
    DIM_STYLE,
    OK_STYLE,
    closing,
    fit,
    fmt_ms,
    fmt_pct,
    table,
)

if TYPE_CHECKING:
    from netdiag.results.route import PathMtu, RouteHop, RouteProbe, RouteReport

FLAGS = {
    4: {0: "!N", 1: "!H", 2: "!P", 9: "!X", 10: "!X", 13: "!X"},
    6: {0: "!N", 1: "!X", 3: "!H", 5: "!X", 6: "!X"},
}
"""traceroute's marks for an ICMP destination unreachable, by code."""


def header(target: str, address: str | None, method: str, port: int | None, max_hops: int) -> Text:
    line = Text(f"route to {target}", style="bold")
    if address and address != target:
        line.append(f" ({address})")
    probes = f"{method} probes" + (f" to port {port}" if method == "tcp" and port else "")
    line.append(f", {max_hops} hops max, {probes}", style=DIM_STYLE)
    return line


def flag(probe: RouteProbe, version: int | None) -> str:
    """``!H``, ``!N``, ``!X``... for an unreachable (as traceroute marks it), else ''."""
    if probe.status != "unreachable":
        return ""
    if probe.icmp_code is None or version is None:
        return "!"
    return FLAGS[version].get(probe.icmp_code, f"!<{probe.icmp_code}>")


def probe_line(probe: RouteProbe, version: int | None) -> Text:
    """One hop of the first round, as traceroute prints it."""
    line = Text(f"{probe.ttl:>2}  ")
    if probe.status == "timeout":
        line.append("*", style=DIM_STYLE)
        return line
    if probe.status == "error":
        line.append(f"send failed: {probe.reply}", style=BAD_STYLE)
        return line
    line.append(probe.address or "?")
    line.append(f"  {fmt_ms(probe.rtt_ms)} ms", style=OK_STYLE)
    mark = flag(probe, version)
    if mark:
        line.append(f" {mark} {probe.reply}", style=f"bold {BAD_STYLE}")
    elif probe.status == "destination":
        line.append(f"  {probe.reply}", style=DIM_STYLE)
    return line


def _host(hop: RouteHop, version: int | None) -> Text:
    if not hop.addresses:
        return Text("*", style=DIM_STYLE)
    text = Text()
    for i, a in enumerate(hop.addresses):
        if i:
            text.append("\n")
        text.append(f"{a.name} ({a.address})" if a.name else a.address)
    if hop.unreachable is not None:
        probe = next(p for p in hop.probes if p.status == "unreachable")
        text.append(f" {flag(probe, version)}", style=f"bold {BAD_STYLE}")
    return text


def _silent_tail(report: RouteReport) -> tuple[list[RouteHop], tuple[int, int] | None]:
    """The hops to show one by one, and the range of silent hops at the end shown as one."""
    hops = list(report.hops)
    last = max((h.ttl for h in hops if h.addresses), default=0)
    tail = [h for h in hops if h.ttl > last]
    if len(tail) < 2:
        return hops, None
    return [h for h in hops if h.ttl <= last], (tail[0].ttl, tail[-1].ttl)


def _table(report: RouteReport, *, terminal: bool) -> Table:
    t = table(
        "hop",
        "host",
        "loss%",
        "sent",
        "last ms",
        "avg ms",
        "best ms",
        "worst ms",
        "stdev ms",
        terminal=terminal,
    )
    t.columns[0].justify = "right"
    shown, tail = _silent_tail(report)
    for hop in shown:
        s = hop.stats
        t.add_row(
            str(hop.ttl),
            _host(hop, report.version),
            Text(fmt_pct(s.loss_pct), style=BAD_STYLE if s.loss_pct else ""),
            str(s.sent),
            fmt_ms(s.last_ms),
            fmt_ms(s.avg_ms),
            fmt_ms(s.best_ms),
            fmt_ms(s.worst_ms),
            fmt_ms(s.stdev_ms),
        )
    if tail is not None:
        t.add_row(f"{tail[0]}-{tail[1]}", Text("* (no answer)", style=DIM_STYLE), "100")
    return t


def _stacked(report: RouteReport) -> Group:
    """The same data where the table does not fit: a hop per line, its statistics below."""
    lines: list[RenderableType] = []
    shown, tail = _silent_tail(report)
    for hop in shown:
        head = Text(f"{hop.ttl:>2}  ")
        head.append_text(_host(hop, report.version))
        lines.append(head)
        s = hop.stats
        stats = Text(f"{fmt_pct(s.loss_pct)}% loss of {s.sent}")
        if s.received:
            stats.append(
                f", last/avg/best/worst/stdev = {fmt_ms(s.last_ms)}/{fmt_ms(s.avg_ms)}/"
                f"{fmt_ms(s.best_ms)}/{fmt_ms(s.worst_ms)}/{fmt_ms(s.stdev_ms)} ms"
            )
        lines.append(Padding(stats, (0, 0, 0, 4), expand=False))
    if tail is not None:
        lines.append(Text(f"{tail[0]}-{tail[1]}  * (no answer)", style=DIM_STYLE))
    return Group(*lines)


def pmtu_lines(pmtu: PathMtu) -> list[Text]:
    """The path MTU, and each hop where it shrinks."""
    if pmtu.mtu is not None:
        where = "the destination" if pmtu.reached else f"hop {pmtu.last_hop}"
        line = Text(f"path MTU {pmtu.mtu}", style="bold")
        line.append(f" (to {where}; the interface's: {pmtu.first_mtu})")
    else:
        line = Text("path MTU unknown", style=f"bold {BAD_STYLE}")
    out = [line]
    for step in pmtu.steps:
        where = (
            "on this host's route"
            if step.hop == 0
            else f"after hop {step.hop} ({step.address})"
            if step.hop is not None
            else f"at {step.address}"
        )
        out.append(Text(f"  {step.mtu_before} -> {step.mtu} {where}"))
    if pmtu.error is not None:
        err = Text("  ")
        err.append(pmtu.error.kind, style=f"bold {BAD_STYLE}")
        err.append(f": {pmtu.error.message}")
        out.append(err)
    return out


def _summary_line(report: RouteReport) -> Text:
    if report.reached:
        line = Text(f"{report.address} reached at hop {report.destination_hop}", style=OK_STYLE)
    else:
        line = Text(f"{report.address or report.target} not reached", style=BAD_STYLE)
    rounds = len(report.round_ms)
    line.append(f"; {rounds} round{'s' if rounds != 1 else ''}")
    if report.round_ms:
        line.append(f", the first took {fmt_ms(report.round_ms[0])} ms")
    line.append(f"; {report.socket or 'no'} socket", style=DIM_STYLE)
    return line


def summary(report: RouteReport, *, terminal: bool) -> list[RenderableType]:
    """The table at the end (stacked where it does not fit), the path MTU, the verdict."""
    out: list[RenderableType] = []
    if report.hops:
        out += [Text(""), fit(_table(report, terminal=terminal), _stacked(report))]
        out.append(_summary_line(report))
    if report.pmtu is not None:
        out += pmtu_lines(report.pmtu)
    out.extend(closing(report))
    return out
