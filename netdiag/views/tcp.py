"""Human output of ``netdiag tcp``: a line per connect as it completes, then statistics."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from netdiag.results import ProbeError
from netdiag.results.resolve import Resolution
from netdiag.results.tcp import AddressStats, TcpProbe, TcpReport, TcpTargetResult
from netdiag.stats import Stats
from netdiag.targets import Target, format_hostport
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
    stats_lines,
    table,
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


def _status(r: TcpTargetResult) -> Text:
    if r.ok:
        return Text("ok", style=OK_STYLE)
    return Text(r.error.kind if r.error else "fail", style=BAD_STYLE)


def _target_block(r: TcpTargetResult) -> list[RenderableType]:
    out: list[RenderableType] = [
        Text(f"--- {format_hostport(r.host, r.port)} tcp connect statistics ---", style="bold")
    ]
    if r.dns_ms is not None and r.addresses:
        out.append(Text(f"resolved to {', '.join(r.addresses)} in {fmt_ms(r.dns_ms)} ms"))
    out.extend(stats_lines(r.stats, r.error))
    if len(r.per_address) > 1:  # --all: each address on its own
        for a in r.per_address:
            out.extend(_address_block(a.address, a.stats, None))
    return out


def _indent(lines: list[Text], by: int = 4) -> list[RenderableType]:
    """Lines indented by ``by``, also where they wrap on a narrow terminal."""
    return [Padding(line, (0, 0, 0, by), expand=False) for line in lines]


def _address_lines(address: str, s: Stats, error: ProbeError | None) -> list[Text]:
    """One address's statistics in lines that fit 80 columns: counts, then times."""
    if s.sent == 0:
        return [nothing_sent(error)]
    head = Text(f"{address}: {s.sent} sent, {s.received} received, ")
    head.append(f"{fmt_pct(s.loss_pct)}% loss", style=BAD_STYLE if s.loss_pct else None)
    if not s.received:
        return [head]
    return [head, rtt_text(s), Text(f"p50 {fmt_ms(s.p50_ms)} ms, p95 {fmt_ms(s.p95_ms)} ms")]


def _address_block(address: str, s: Stats, error: ProbeError | None) -> list[RenderableType]:
    """An address's counts indented under its target, its times a little further."""
    head, *times = _address_lines(address, s, error)
    return [*_indent([head], 4), *_indent(times, 6)]


def _stacked(report: TcpReport) -> RenderableType:
    """Several targets where the table does not fit: a line per target with its status, then
    its addresses' statistics indented below it. Nothing is cut; long lines wrap."""
    out: list[RenderableType] = []
    for r in report.results:
        line = Text(f"{r.target}  ", style="bold")
        line.append_text(_status(r))
        out.append(line)
        if not r.per_address:
            out.extend(_address_block("-", r.stats, r.error))
        for a in r.per_address:
            out.extend(_address_block(a.address, a.stats, r.error))
    return Group(*out)


def _table(report: TcpReport, *, terminal: bool) -> Table:
    t = table(
        "target",
        "address",
        "sent",
        "recv",
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
        rows = r.per_address or (AddressStats("-", r.stats),)
        for i, a in enumerate(rows):
            s = a.stats
            t.add_row(  # Text: '[fe80::1]:22' is data, not rich markup
                Text(r.target if i == 0 else ""),
                Text(a.address),
                str(s.sent),
                str(s.received),
                fmt_pct(s.loss_pct),
                fmt_ms(s.min_ms),
                fmt_ms(s.avg_ms),
                fmt_ms(s.max_ms),
                fmt_ms(s.p50_ms),
                fmt_ms(s.p95_ms),
                _status(r),
            )
    return t


def summary(report: TcpReport, *, terminal: bool) -> list[RenderableType]:
    """Statistics at the end: a block for one target; for several, a table where it fits
    the terminal, and each target's statistics stacked where it does not."""
    out: list[RenderableType] = [Text("")]
    if len(report.results) == 1:
        out.extend(_target_block(report.results[0]))
    else:
        reasons = []  # the table has no room for why nothing was sent
        for r in report.results:
            if r.stats.sent == 0:
                reasons.append(Text(f"{r.target}: ").append_text(nothing_sent(r.error)))
        out.append(fit(_table(report, terminal=terminal), _stacked(report), *reasons))
        healthy = sum(1 for r in report.results if r.ok)
        out.append(
            Text(
                f"{healthy} of {len(report.results)} targets healthy"
                f" in {report.duration_ms / 1000:.2f} s"
            )
        )
    out.extend(closing(report))
    return out
