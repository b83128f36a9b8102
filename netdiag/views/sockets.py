"""Human output of ``netdiag sockets``: TIME_WAIT first, in the kernel's context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from netdiag.views.common import BAD_STYLE, DIM_STYLE, closing, table

if TYPE_CHECKING:
    from netdiag.results.sockets import SocketsReport


def _risk(pct: float) -> str:
    return BAD_STYLE if pct >= 50 else "yellow" if pct >= 20 else ""


def sockets_view(
    r: SocketsReport, *, terminal: bool, rate: float | None = None
) -> list[RenderableType]:
    out: list[RenderableType] = []
    head = Text(f"TCP sockets: {r.total}", style="bold")
    head.append(f"  (from {r.source})", style=DIM_STYLE)
    out.append(head)
    states = Text("  ")
    for i, (name, n) in enumerate(r.states.items()):
        if i:
            states.append("  ")
        states.append(f"{name} {n}", style="bold" if name == "TIME_WAIT" else "")
    out.append(states)
    k = r.kernel
    tw = Text(f"TIME_WAIT {r.time_wait.count}", style="bold")
    if rate is not None:
        tw.append(f"  ({rate:+.1f}/s)", style="yellow" if rate > 0 else DIM_STYLE)
    if k.tcp_max_tw_buckets:
        tw.append(
            f"  {k.tw_buckets_used_pct:.2f}% of tcp_max_tw_buckets ({k.tcp_max_tw_buckets})",
            style=_risk(k.tw_buckets_used_pct or 0),
        )
    out.append(tw)
    if k.ip_local_port_range:
        lo, hi = k.ip_local_port_range
        out.append(
            Text(
                f"ephemeral ports {lo}-{hi} ({k.ephemeral_ports}); tcp_tw_reuse="
                f"{k.tcp_tw_reuse}; tcp_fin_timeout={k.tcp_fin_timeout}",
                style=DIM_STYLE,
            )
        )
    for note in k.notes:
        out.append(Text(f"  - {note}", style=DIM_STYLE))
    if r.time_wait.by_remote:
        t = table("TIME_WAIT to", "count", terminal=terminal)
        for c in r.time_wait.by_remote:
            t.add_row(c.key, str(c.count))
        out.append(t)
    if r.ephemeral:
        t = table("destination", "in use", "TIME_WAIT", "% of ephemeral range", terminal=terminal)
        for e in r.ephemeral:
            t.add_row(
                e.remote,
                str(e.in_use),
                str(e.time_wait),
                Text(f"{e.range_used_pct:.1f}", style=_risk(e.range_used_pct)),
            )
        out.append(t)
    if r.by not in ("remote",) or not r.time_wait.by_remote:
        t = table(f"by {r.by}", "count", terminal=terminal)
        for c in r.breakdown:
            t.add_row(c.key, str(c.count))
        out.append(t)
    if r.processes is not None and r.processes.note:
        out.append(Text(r.processes.note, style="yellow"))
    out.extend(closing(r))
    return out
