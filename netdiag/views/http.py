"""Human output of ``netdiag http``: request and response headers as they crossed the wire,
and the per-hop timing waterfall drawn as bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, error_text, fmt_ms, verdict

if TYPE_CHECKING:
    from netdiag.probes.http import Hop, HttpReport

PHASES = (
    ("dns", "dns_ms", "blue"),
    ("tcp connect", "connect_ms", "cyan"),
    ("tls handshake", "tls_ms", "magenta"),
    ("server (ttfb)", "ttfb_ms", "yellow"),
    ("transfer", "transfer_ms", "green"),
)
BAR_WIDTH = 40


def waterfall(hop: Hop, *, terminal: bool) -> Table:
    """The phases one after the other, each bar starting where the previous one ended."""
    t = Table.grid(padding=(0, 2))
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(no_wrap=True)
    total = hop.timing.total_ms or 1e-9
    offset = 0.0
    for label, attr, colour in PHASES:
        value = getattr(hop.timing, attr)
        if value is None:
            reason = (
                "reused connection"
                if hop.reused and attr in ("dns_ms", "connect_ms", "tls_ms")
                else "-"
            )
            if attr == "tls_ms" and not hop.reused and not hop.url.lower().startswith("https"):
                reason = "plain http"
            if attr == "dns_ms" and not hop.reused:
                reason = "IP address: no lookup"
            t.add_row(Text(label), Text("-", style=DIM_STYLE), Text(reason, style=DIM_STYLE))
            continue
        start = round(offset / total * BAR_WIDTH)
        width = max(1, round(value / total * BAR_WIDTH))
        bar = Text(" " * start)
        bar.append(("█" if terminal else "#") * width, style=colour)
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
        title.append(
            f"  ({hop.remote_address}{', reused connection' if hop.reused else ''})",
            style=DIM_STYLE,
        )
    out.append(title)
    if hop.tls is not None:
        tls = hop.tls
        line = Text(f"  {tls.protocol}, {tls.cipher}, ALPN {tls.alpn or '-'}; certificate ")
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
        out.append(
            Text(
                f"\n{len(report.hops)} hops, {fmt_ms(report.duration_ms)} ms in all; final "
                f"status {report.status}"
            )
        )
    out.append(verdict(report.ok, report.error, report.interrupted))
    return out
