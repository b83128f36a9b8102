"""Human output of ``netdiag tcp``: a line per connect as it completes, then statistics."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from netdiag.probes.tcp import TcpProbe, TcpReport, TcpTargetResult
from netdiag.resolve import Resolution
from netdiag.targets import Target, format_hostport
from netdiag.views.common import (
    BAD_STYLE,
    DIM_STYLE,
    OK_STYLE,
    fmt_ms,
    stats_lines,
    table,
    verdict,
)


def resolved_line(target: Target, res: Resolution, *, probe_all: bool) -> Text:
    """What the name resolved to, and how long that took."""
    line = Text(f"TCP {target.hostport()}: ", style="bold")
    if res.error is not None:
        line.append(f"{res.error.message}", style=BAD_STYLE)
        return line
    addrs = [e.address for e in res.endpoints]
    if target.is_ip:
        line.append(f"connecting to {addrs[0]}")
    else:
        line.append(f"{target.host} -> {', '.join(addrs)}")
        line.append(f" (resolved in {fmt_ms(res.dns_ms)} ms)", style=DIM_STYLE)
        if len(addrs) > 1 and not probe_all:
            line.append(f"; probing {addrs[0]} (--all for every address)", style=DIM_STYLE)
    return line


def probe_line(target: Target, probe: TcpProbe) -> Text:
    """One connect, as ping prints one reply."""
    where = format_hostport(probe.address, probe.port)
    if probe.ok:
        line = Text(f"connected to {where}: seq={probe.seq} time=")
        line.append(f"{fmt_ms(probe.connect_ms)} ms", style=OK_STYLE)
        info = probe.tcp_info
        if info is not None:
            line.append(
                f"  srtt={info.rtt_ms:.3f} ms rttvar={info.rttvar_ms:.3f} ms mss={info.snd_mss}",
                style=DIM_STYLE,
            )
        if probe.local_port is not None:
            line.append(f" local port {probe.local_port}", style=DIM_STYLE)
        return line
    line = Text(f"{where}: seq={probe.seq} ")
    assert probe.error is not None
    line.append(probe.error.kind, style=f"bold {BAD_STYLE}")
    line.append(f": {probe.error.message}")
    return line


def _target_block(r: TcpTargetResult) -> list[RenderableType]:
    out: list[RenderableType] = [
        Text(f"--- {format_hostport(r.host, r.port)} tcp connect statistics ---", style="bold")
    ]
    if r.dns_ms is not None and r.addresses:
        out.append(Text(f"resolved to {', '.join(r.addresses)} in {fmt_ms(r.dns_ms)} ms"))
    out.extend(stats_lines("connects", r.stats))
    return out


def summary(report: TcpReport, *, terminal: bool) -> list[RenderableType]:
    """Statistics at the end: a block per target for one target, a table for several."""
    out: list[RenderableType] = [Text("")]
    if len(report.results) == 1:
        out.extend(_target_block(report.results[0]))
    else:
        t = table(
            "target",
            "address",
            "sent",
            "ok",
            "loss%",
            "min ms",
            "avg ms",
            "max ms",
            "p50 ms",
            "p95 ms",
            "status",
            terminal=terminal,
        )
        for r in report.results:
            rows = r.per_address or ()
            if not rows:
                t.add_row(
                    r.target,
                    "-",
                    "0",
                    "0",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    Text(r.error.kind if r.error else "-", style=BAD_STYLE),
                )
            for i, a in enumerate(rows):
                s = a.stats
                status = (
                    Text("ok", style=OK_STYLE)
                    if r.ok
                    else Text(r.error.kind if r.error else "fail", style=BAD_STYLE)
                )
                t.add_row(
                    r.target if i == 0 else "",
                    a.address,
                    str(s.sent),
                    str(s.ok),
                    f"{s.loss_pct:.0f}",
                    fmt_ms(s.min_ms),
                    fmt_ms(s.avg_ms),
                    fmt_ms(s.max_ms),
                    fmt_ms(s.p50_ms),
                    fmt_ms(s.p95_ms),
                    status,
                )
        out.append(t)
        healthy = sum(1 for r in report.results if r.ok)
        out.append(
            Text(
                f"{healthy} of {len(report.results)} targets healthy"
                f" in {report.duration_ms / 1000:.2f} s"
            )
        )
    out.append(verdict(report.ok, report.error, report.interrupted))
    return out
