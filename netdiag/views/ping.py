"""Human output of ``netdiag ping``: iputils-style lines as replies arrive, then statistics."""

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
    nothing_sent,
    rtt_text,
    table,
)

if TYPE_CHECKING:
    from netdiag.results.ping import PingHostResult, PingProbe, PingReport, PingStats


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


def _status(r: PingHostResult) -> Text:
    if r.ok:
        return Text("ok", style=OK_STYLE)
    return Text(r.error.kind if r.error else "-", style=BAD_STYLE)


def _extras(s: PingStats) -> Text:
    """Duplicates and errors, as iputils adds them to its summary line."""
    text = Text()
    if s.duplicates:
        text.append(f"+{s.duplicates} duplicates, ")
    if s.errors:
        text.append(f"+{s.errors} errors, ", style=BAD_STYLE)
    return text


def _block(r: PingHostResult, report: PingReport) -> list[RenderableType]:
    s = r.stats
    out: list[RenderableType] = [Text(f"--- {r.target} ping statistics ---", style="bold")]
    if s.sent == 0:
        out.append(nothing_sent(r.error))
        return out
    line = Text(f"{s.sent} packets transmitted, {s.received} received, ")  # iputils' words
    line.append_text(_extras(s))
    line.append(f"{fmt_pct(s.loss_pct)}% packet loss", style=BAD_STYLE if s.loss_pct else None)
    line.append(f", {r.socket or 'no'} socket", style=DIM_STYLE)
    out.append(line)
    if s.received:
        out.append(rtt_text(s, "rtt "))
        out.append(
            Text(
                f"p50 {fmt_ms(s.p50_ms)} ms, p95 {fmt_ms(s.p95_ms)} ms, "
                f"p99 {fmt_ms(s.p99_ms)} ms, jitter {fmt_ms(s.jitter_ms)} ms"
            )
        )
    return out


def _host_lines(r: PingHostResult) -> list[RenderableType]:
    """One host where the table does not fit: its name, address and status, then its
    statistics indented in lines that fit 80 columns (and wrap, indented, below that)."""
    head = Text(r.target, style="bold")
    if r.address and r.address != r.target:
        head.append(f" ({r.address})")
    head.append("  ")
    head.append_text(_status(r))
    s = r.stats
    if s.sent == 0:
        return [head, Padding(nothing_sent(r.error), (0, 0, 0, 4), expand=False)]
    counts = Text(f"{s.sent} sent, {s.received} received, ")
    counts.append_text(_extras(s))
    counts.append(f"{fmt_pct(s.loss_pct)}% loss", style=BAD_STYLE if s.loss_pct else None)
    lines: list[Text] = [counts]
    if s.received:
        lines.append(rtt_text(s))
        lines.append(
            Text(
                f"p95 {fmt_ms(s.p95_ms)} ms, p99 {fmt_ms(s.p99_ms)} ms, "
                f"jitter {fmt_ms(s.jitter_ms)} ms"
            )
        )
    return [head, *(Padding(line, (0, 0, 0, 4), expand=False) for line in lines)]


def _table(report: PingReport, *, terminal: bool) -> Table:
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
        t.add_row(  # Text: 'fe80::1%eth0' is data, not rich markup
            Text(r.target),
            Text(r.address or "-"),
            str(s.sent),
            str(s.received),
            fmt_pct(s.loss_pct),
            fmt_ms(s.min_ms),
            fmt_ms(s.avg_ms),
            fmt_ms(s.max_ms),
            fmt_ms(s.p95_ms),
            _status(r),
        )
    return t


def summary(report: PingReport, *, terminal: bool) -> list[RenderableType]:
    """Statistics at the end: iputils' block for one host; for several, fping's table where
    it fits the terminal, and each host's statistics stacked where it does not."""
    out: list[RenderableType] = [Text("")]
    if len(report.results) == 1:
        out.extend(_block(report.results[0], report))
    else:
        reasons = []  # the table has no room for why nothing was sent
        for r in report.results:
            if r.stats.sent == 0:
                reasons.append(Text(f"{r.target}: ").append_text(nothing_sent(r.error)))
        stacked = Group(*(line for r in report.results for line in _host_lines(r)))
        out.append(fit(_table(report, terminal=terminal), stacked, *reasons))
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
    out.extend(closing(report))
    return out
