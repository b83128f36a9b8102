"""Human output of ``netdiag neigh``: the table, what each state in it means, the addresses
asked for, and the verdict. Fits 80 columns: where the table does not, each entry is laid
out on two lines instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, WARN_STYLE, closing, fit, table

if TYPE_CHECKING:
    from netdiag.results.neigh import AddressCheck, Neighbour, NeighReport

STATE_STYLES = {
    "REACHABLE": OK_STYLE,
    "PERMANENT": OK_STYLE,
    "STALE": "",
    "DELAY": WARN_STYLE,
    "PROBE": WARN_STYLE,
    "INCOMPLETE": BAD_STYLE,
    "FAILED": f"bold {BAD_STYLE}",
    "NOARP": DIM_STYLE,
    "NONE": DIM_STYLE,
}


def _state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def _extra(n: Neighbour) -> str:
    return " ".join([*(["router"] if n.router else []), *n.flags])


def _wide(entries: tuple[Neighbour, ...], terminal: bool) -> RenderableType:
    extra = any(_extra(n) for n in entries)
    t = table(
        "address", "MAC", "interface", "state", *(["flags"] if extra else []), terminal=terminal
    )
    for n in entries:
        cells: list[RenderableType] = [n.address, n.lladdr or "-", n.interface, _state(n.state)]
        t.add_row(*cells, *([_extra(n)] if extra else []))
    return t


def _narrow(entries: tuple[Neighbour, ...]) -> RenderableType:
    lines: list[RenderableType] = []
    for n in entries:
        lines.append(Text(n.address, style="bold"))
        line = Text(f"  {n.lladdr or '-'}  {n.interface}  ")
        line.append_text(_state(n.state))
        if _extra(n):
            line.append(f"  {_extra(n)}")
        lines.append(line)
    return Group(*lines)


def _head(r: NeighReport) -> Text:
    what = {4: "ARP (IPv4)", 6: "NDP (IPv6)"}.get(r.ip_version or 0, "ARP and NDP")
    head = Text(f"neighbour table, {what}", style="bold")
    if r.interface:
        head.append(f", {r.interface}", style="bold")
    noun = "entry" if r.total == 1 else "entries"
    head.append(f": {r.total} {noun}")
    if r.truncated:
        head.append(f", the first {len(r.entries)} shown", style=WARN_STYLE)
    head.append(f"  (from {r.source})", style=DIM_STYLE)
    return head


def _check(c: AddressCheck) -> Text:
    where = f" on {c.interface}" if c.interface else ""
    line = Text(f"{c.address}{where}: ")
    style = {"healthy": OK_STYLE, "absent": WARN_STYLE}.get(c.verdict, f"bold {BAD_STYLE}")
    line.append(c.verdict, style=style)
    if c.states:
        found = ", ".join(f"{s} on {i}" for s, i in zip(c.states, c.interfaces, strict=True))
        line.append(f" ({found})")
    return line


def neigh_view(r: NeighReport, *, terminal: bool) -> list[RenderableType]:
    out: list[RenderableType] = [_head(r)]
    if r.entries:
        out.append(fit(_wide(r.entries, terminal), _narrow(r.entries)))
    elif r.error is None:
        out.append(Text("  no entries", style=DIM_STYLE))
    if r.hidden:
        out.append(
            Text(f"{r.hidden} NOARP and NONE entries not shown (--all shows them)", style=DIM_STYLE)
        )
    for name, s in r.states.items():
        line = Text(f"{name}", style=STATE_STYLES.get(name, ""))
        line.append(f": {s.meaning}", style=DIM_STYLE)
        out.append(line)
    for c in r.checks:
        out.append(_check(c))
    out.extend(closing(r))
    return out
