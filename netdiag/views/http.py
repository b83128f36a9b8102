"""Human output of ``netdiag http``: request and response headers as they crossed the wire,
and the per-hop timing waterfall drawn as bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, closing, error_text, fit, fmt_ms

if TYPE_CHECKING:
    from netdiag.results.http import Hop, HttpReport

PHASES = (
    ("dns", "dns_ms", "dns", "blue"),
    ("tcp connect", "connect_ms", "connect", "cyan"),
    ("tls handshake", "tls_ms", "tls", "magenta"),
    ("cert check (local)", "verify_ms", "verify", "bright_magenta"),
    ("server (ttfb)", "ttfb_ms", "ttfb", "yellow"),
    ("transfer", "transfer_ms", "transfer", "green"),
    ("other (local)", "local_ms", None, "bright_black"),
)
"""(label, Timing field, the Phase it measures, colour), in the order they happen; the last
row is what no phase holds, so that the rows add up to the total."""
BAR_WIDTH = 40
CONNECTION_PHASES = ("dns_ms", "connect_ms", "tls_ms", "verify_ms")


def _why_not(hop: Hop, attr: str) -> str:
    """Why a phase of a completed hop did not happen."""
    if hop.reused and attr in CONNECTION_PHASES:
        return "reused connection"
    if attr in ("tls_ms", "verify_ms") and not hop.url.lower().startswith("https"):
        return "plain http"
    if attr == "dns_ms":
        rules = [r.split()[0] for r in hop.routed_by]
        return f"{' and '.join(rules)}: no lookup" if rules else "IP address: no lookup"
    return "-"


def waterfall(hop: Hop, *, terminal: bool) -> RenderableType:
    """The phases one after the other, each bar starting where the previous one ended. A hop
    that failed shows only the phases it reached, the last one marked where it stopped. The
    bars are shorter where the terminal is too narrow for them."""
    return fit(_waterfall(hop, terminal, BAR_WIDTH), _waterfall(hop, terminal, BAR_WIDTH // 3))


def _waterfall(hop: Hop, terminal: bool, bar_width: int) -> Table:
    # The label and time columns keep their full width (never cut to 'tcp conne…'); on a
    # narrow terminal the bar column folds instead, 'stopped here' onto a line of its own.
    times = [getattr(hop.timing, attr) for _, attr, _, _ in PHASES] + [hop.timing.total_ms]
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True, min_width=max(len(label) for label, *_ in PHASES))
    t.add_column(
        justify="right",
        no_wrap=True,
        min_width=max(len(f"{fmt_ms(v)} ms") for v in times if v is not None),
    )
    t.add_column(overflow="fold")
    total = hop.timing.total_ms or 1e-9
    failed = hop.error is not None
    offset = 0.0
    for label, attr, phase, colour in PHASES:
        value = getattr(hop.timing, attr)
        if value is None:
            if not failed:
                reason = _why_not(hop, attr)
                t.add_row(Text(label), Text("-", style=DIM_STYLE), Text(reason, style=DIM_STYLE))
            continue
        start = round(offset / total * bar_width)
        width = max(1, round(value / total * bar_width))
        bar = Text(" " * start)
        stopped = phase is not None and phase == hop.stopped_in
        bar.append(("█" if terminal else "#") * width, style=BAD_STYLE if stopped else colour)
        if stopped and hop.error is not None:
            bar.append(f" stopped here: {hop.error.kind}", style=f"bold {BAD_STYLE}")
        t.add_row(Text(label), Text(f"{fmt_ms(value)} ms"), bar)
        offset += value
    t.add_row(
        Text("total", style="bold"),
        Text(f"{fmt_ms(hop.timing.total_ms)} ms", style="bold"),
        Text(""),
    )
    return t


def _headers(prefix: str, headers: tuple[tuple[str, str], ...], style: str) -> list[Text]:
    return [Text(f"{prefix} {n}: {v}", style=style) for n, v in headers]


def hop_view(i: int, hop: Hop, *, terminal: bool, many: bool) -> list[RenderableType]:
    out: list[RenderableType] = []
    title = Text(f"hop {i + 1}: " if many else "", style="bold")
    title.append(f"{hop.method} {hop.url}", style="bold")
    if hop.remote_address:
        where = hop.remote_address
        if hop.remote_port is not None:
            where = f"[{where}]" if ":" in where else where
            where += f" port {hop.remote_port}"
        via = f" via {', '.join(hop.routed_by)}" if hop.routed_by else ""
        reused = ", reused connection" if hop.reused else ""
        title.append(f"  ({where}{via}{reused})", style=DIM_STYLE)
    out.append(title)
    if hop.tls is not None:
        tls = hop.tls
        line = Text(f"  {tls.protocol}, {tls.cipher}, ALPN {tls.alpn or '-'}, ")
        line.append(f"SNI {tls.sni}" if tls.sni else "no SNI (an IP address)")
        if tls.verify_name != tls.sni:
            line.append(f", checked for {tls.verify_name}")
        line.append("; certificate ")
        if tls.problems:
            line.append(", ".join(p.kind for p in tls.problems), style=f"bold {BAD_STYLE}")
        else:
            line.append("good", style=OK_STYLE)
        if tls.subject:
            line.append(f" ({tls.subject}, {tls.days_left} days left)", style=DIM_STYLE)
        out.append(line)
    out.extend(_headers(">", hop.request_headers, "cyan"))
    if hop.status is not None:
        status = Text(
            f"< {hop.http_version} {hop.status} {hop.reason or ''}".rstrip(),
            style=f"bold {OK_STYLE if hop.status < 400 else BAD_STYLE}",
        )
        out.append(status)
        out.extend(_headers("<", hop.response_headers, ""))
    if hop.body is not None:
        b = hop.body
        desc = f"  body: {b.bytes} bytes"
        if b.content_encoding and b.decoded_bytes is not None:
            desc += f" ({b.content_encoding}; {b.decoded_bytes} decoded)"
        if b.content_type:
            desc += f", {b.content_type}"
        if b.truncated:
            desc += ", truncated: larger than the limit"
        out.append(Text(desc, style=DIM_STYLE))
        if b.text is not None:
            out.append(Text(b.text))
    if hop.redirect_to:
        out.append(Text(f"  redirect to {hop.redirect_to}", style="magenta"))
    out.append(waterfall(hop, terminal=terminal))
    if hop.error is not None:
        line = Text("  ")
        line.append_text(error_text(hop.error))
        out.append(line)
    return out


def http_view(report: HttpReport, *, terminal: bool) -> list[RenderableType]:
    out: list[RenderableType] = []
    many = len(report.hops) > 1
    for i, hop in enumerate(report.hops):
        if i:
            out.append(Text(""))
        out.extend(hop_view(i, hop, terminal=terminal, many=many))
    if many:
        last = report.hops[-1]
        end = (
            f"final status {report.status}"
            if report.status is not None
            else f"hop {len(report.hops)} stopped in {last.stopped_in}"
            if last.stopped_in
            else "no final status"
        )
        out.append(
            Text(f"\n{len(report.hops)} hops, {fmt_ms(report.duration_ms)} ms in all; {end}")
        )
    out.extend(closing(report))
    return out
