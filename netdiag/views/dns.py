"""Human output of ``netdiag dns``: dig-like sections for lookups, a tree for ``--trace``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, closing, fmt_ms

if TYPE_CHECKING:
    from netdiag.results.dns import (
        DnsLookupReport,
        DnsQueryResult,
        DnsTraceReport,
        Hop,
        Record,
        Trace,
    )

OUTCOME_STYLE = {
    "answer": OK_STYLE,
    "referral": "cyan",
    "nxdomain": "yellow",
    "nodata": "yellow",
}
"""Server and zone outcomes that are not failures; every other one is drawn as a failure."""


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 query``, ``2 queries``, ``1,234 servers``."""
    if n == 1:
        return f"1 {word}"
    if words is None:
        words = word[:-1] + "ies" if word.endswith("y") else word + "s"
    return f"{n:,} {words}"


def records_table(records: tuple[Record, ...]) -> Table:
    t = Table.grid(padding=(0, 2))
    for _ in range(4):
        t.add_column(no_wrap=False, overflow="fold")  # a long name or TXT is folded, never cut
    for r in records:
        t.add_row(
            Text(r.name),
            Text(str(r.ttl), style=DIM_STYLE),
            Text(r.type, style="bold"),
            Text(r.data),
        )
    return t


def _indent(renderable: RenderableType) -> RenderableType:
    from rich.padding import Padding

    return Padding(renderable, (0, 0, 0, 2), expand=False)


def query_block(r: DnsQueryResult) -> list[RenderableType]:
    head = Text(f"{r.name} {r.type} @{r.server} over {r.transport.upper()}: ", style="bold")
    if r.rcode is not None:
        ok_rcode = r.rcode == "NOERROR"
        head.append(r.rcode, style=OK_STYLE if ok_rcode else BAD_STYLE)
        head.append(
            f", flags {' '.join(r.flags) or '-'}, {fmt_ms(r.query_ms)} ms, {r.size} bytes", style=""
        )
    else:
        head.append("no answer", style=BAD_STYLE)
    out: list[RenderableType] = [head]
    if "rd" in r.flags and "ra" not in r.flags:
        # dig's warning: the server does not recurse, so it says only what it holds itself
        style = DIM_STYLE if r.ok else "yellow"
        out.append(Text("  recursion requested but not available (no ra flag)", style=style))
    if r.truncated:
        out.append(
            Text("  the UDP answer was truncated (TC set): retried over TCP", style="yellow")
        )
    for reason in r.rejected:
        out.append(Text(f"  rejected {reason}", style="yellow"))
    if r.rejected_count > len(r.rejected):
        more = r.rejected_count - len(r.rejected)
        out.append(Text(f"  … and {more:,} more rejected", style="yellow"))
    for title, records in (
        ("ANSWER", r.answer),
        ("AUTHORITY", r.authority),
        ("ADDITIONAL", r.additional),
    ):
        if records:
            out.append(Text(title, style=DIM_STYLE))
            out.append(_indent(records_table(records)))
    if r.note:
        out.append(Text(f"  note: {r.note}", style="cyan"))
    if r.error is not None:
        line = Text("  ")
        line.append(r.error.kind, style=f"bold {BAD_STYLE}")
        line.append(f": {r.error.message}")
        out.append(line)
    return out


def lookup_view(report: DnsLookupReport) -> list[RenderableType]:
    out: list[RenderableType] = []
    for i, r in enumerate(report.results):
        if i:
            out.append(Text(""))
        out.extend(query_block(r))
    out.append(Text(""))
    out.extend(closing(report))
    return out


def short_view(report: DnsLookupReport) -> list[RenderableType]:
    """``--short``: the answer data only, one record per line, as ``dig +short``."""
    return [Text(rec.data) for r in report.results for rec in r.answer]


def _hop_node(tree: Tree, hop: Hop, interrupted: bool = False) -> None:
    label = Text(hop.zone, style="bold")
    if hop.nameservers:
        shown = ", ".join(hop.nameservers[:4]) + (" ..." if len(hop.nameservers) > 4 else "")
        label.append(f"  NS {shown}", style=DIM_STYLE)
    node = tree.add(label)
    for g in hop.glueless:
        sub = Text(f"glueless {g.nameserver}: resolved from the root", style="magenta")
        sub.append(
            f" -> {', '.join(g.addresses)}" if g.addresses else " -> no address",
            style="" if g.addresses else BAD_STYLE,
        )
        branch = node.add(sub)
        trace_nodes(branch, g.trace, interrupted)
    for s in hop.servers:
        line = Text(f"{s.name} {s.address} ")
        line.append(f"[{s.source}] ", style=DIM_STYLE)
        if s.rtt_ms is not None:
            line.append(f"{fmt_ms(s.rtt_ms)} ms ")
        if s.rcode:
            line.append(f"{s.rcode} ")
        line.append(s.outcome, style=f"bold {OUTCOME_STYLE.get(s.outcome, BAD_STYLE)}")
        if s.outcome == "referral" and hop.referral:
            line.append(f" -> {hop.referral}", style="cyan")
        if s.truncated:
            line.append(" (truncated over UDP, retried over TCP)", style="yellow")
        if s.detail:
            line.append(f" ({s.detail})", style=DIM_STYLE)
        node.add(line)
    if hop.disagreement:
        node.add(Text(f"servers disagree: {hop.disagreement}", style="yellow"))
    if hop.outcome == "stopped":
        node.add(
            Text(
                f"stopped here ({'interrupted' if interrupted else 'by a trace bound'}); "
                f"{plural(len(hop.servers), 'server')} of this zone done",
                style=BAD_STYLE,
            )
        )


def trace_nodes(tree: Tree, trace: Trace, interrupted: bool = False) -> None:
    for hop in trace.hops:
        _hop_node(tree, hop, interrupted)
    if trace.error is not None:
        tree.add(Text(f"{trace.error.kind}: {trace.error.message}", style=BAD_STYLE))


def trace_view(report: DnsTraceReport) -> list[RenderableType]:
    title = Text(f"trace {report.name} {report.type}", style="bold")
    title.append(
        f"  from {plural(len(report.roots), 'root server address', 'root server addresses')}, "
        f"port {report.port}",
        style=DIM_STYLE,
    )
    tree = Tree(title)
    for hop in report.hops:
        _hop_node(tree, hop, report.interrupted)
    out: list[RenderableType] = [tree]
    for t in report.cname_traces:
        sub = Tree(Text(f"CNAME -> {t.name}: a new trace from the root", style="bold magenta"))
        trace_nodes(sub, t, report.interrupted)
        out.append(sub)
    if report.answer:
        out.append(Text("answer", style=DIM_STYLE))
        out.append(_indent(records_table(report.answer)))
    out.append(Text(f"{plural(report.queries, 'query')} in {report.duration_ms:.1f} ms"))
    out.extend(closing(report))
    return [Group(*out)]
