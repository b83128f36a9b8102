"""Human output of ``netdiag ping``: iputils-style lines as replies arrive, then statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, fmt_ms, table, verdict

if TYPE_CHECKING:
    from netdiag.probes.ping import PingHostResult, PingProbe, PingReport


def header(target: str, address: str | None, size: int, many: bool) -> Text:
    line = Text(f"PING {target}", style="bold")
    if address and address != target:
        line.append(f" ({address})")
    line.append(f": {size} data bytes", style=DIM_STYLE)
    return line


def probe_line(target: str, probe: PingProbe, many: bool) -> Text:
    prefix = f"{target}: " if many else ""
    if probe.status == "reply":
        line = Text(
            f"{prefix}{probe.bytes} bytes from {probe.source}: icmp_seq={probe.seq} "
            f"ttl={probe.ttl} time="
        )
        line.append(f"{fmt_ms(probe.rtt_ms)} ms", style=OK_STYLE)
        if probe.duplicates:
            line.append(" (DUP!)", style="yellow")
        return line
    line = Text(f"{prefix}icmp_seq={probe.seq} ")
    assert probe.error is not None
    line.append(probe.error.kind, style=f"bold {BAD_STYLE}")
    line.append(f": {probe.error.message}")
    return line


def _block(r: PingHostResult, report: PingReport) -> list[RenderableType]:
    s = r.stats
    out: list[RenderableType] = [Text(f"--- {r.target} ping statistics ---", style="bold")]
    line = Text(f"{s.transmitted} packets transmitted, {s.received} received, ")
    if s.duplicates:
        line.append(f"+{s.duplicates} duplicates, ")
    if s.errors:
        line.append(f"+{s.errors} errors, ", style=BAD_STYLE)
    line.append(f"{s.loss_pct:.0f}% packet loss", style=BAD_STYLE if s.loss_pct else None)
    line.append(f", {r.socket or 'no'} socket", style=DIM_STYLE)
    out.append(line)
    if s.received:
        out.append(
            Text(
                f"rtt min/avg/max/mdev = {fmt_ms(s.min_ms)}/{fmt_ms(s.avg_ms)}/{fmt_ms(s.max_ms)}/"
                f"{fmt_ms(s.mdev_ms)} ms, p50 {fmt_ms(s.p50_ms)}, p95 {fmt_ms(s.p95_ms)}, "
                f"p99 {fmt_ms(s.p99_ms)}, jitter {fmt_ms(s.jitter_ms)} ms"
            )
        )
    return out


def summary(report: PingReport, *, terminal: bool) -> list[RenderableType]:
    out: list[RenderableType] = [Text("")]
    if len(report.results) == 1:
        out.extend(_block(report.results[0], report))
    else:
        t = table(
            "host",
            "address",
            "sent",
            "recv",
            "loss%",
            "min ms",
            "avg ms",
            "max ms",
            "p95 ms",
            "status",
            terminal=terminal,
        )
        for r in report.results:
            s = r.stats
            status = (
                Text("ok", style=OK_STYLE)
                if r.ok
                else Text(r.error.kind if r.error else "-", style=BAD_STYLE)
            )
            t.add_row(
                r.target,
                r.address or "-",
                str(s.transmitted),
                str(s.received),
                f"{s.loss_pct:.0f}",
                fmt_ms(s.min_ms),
                fmt_ms(s.avg_ms),
                fmt_ms(s.max_ms),
                fmt_ms(s.p95_ms),
                status,
            )
        out.append(t)
        healthy = sum(r.ok for r in report.results)
        out.append(
            Text(
                f"{healthy} of {len(report.results)} hosts healthy in "
                f"{report.duration_ms / 1000:.2f} s"
            )
        )
    if report.foreign_replies:
        out.append(
            Text(
                f"{report.foreign_replies} echo replies were not ours (another ping on "
                "this host) and were ignored",
                style=DIM_STYLE,
            )
        )
    out.append(verdict(report.ok, report.error, report.interrupted))
    return out
