"""Pieces of human output shared by every command's view."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from netdiag.results import Envelope, ProbeError
from netdiag.stats import Stats

OK_STYLE = "green"
BAD_STYLE = "red"
DIM_STYLE = "dim"
WARN_STYLE = "yellow"


def fmt_ms(value: float | None) -> str:
    """Milliseconds as ping prints them: three decimals (microseconds), '-' when absent."""
    return "-" if value is None else f"{value:.3f}"


def fmt_pct(value: float | None) -> str:
    """A loss percentage as iputils ping prints it (``%g``: 0, 25, 33.3333, 100), so 1 lost in
    1,000 is never rounded to 0 nor 999 to 100; '-' when nothing was sent."""
    return "-" if value is None else f"{value:g}"


def nothing_sent(error: ProbeError | None) -> Text:
    """The statistics line of a target that got nothing sent, with the reason."""
    line = Text("nothing sent", style=BAD_STYLE)
    if error is not None:
        line.append(": ")
        line.append(error.kind, style=f"bold {BAD_STYLE}")
        line.append(f": {error.message}")
    return line


def error_text(error: ProbeError) -> Text:
    text = Text()
    text.append(error.kind, style=f"bold {BAD_STYLE}")
    text.append(f": {error.message}")
    if error.hint:
        text.append(f"\n  hint: {error.hint}", style="yellow")
    return text


def closing(report: Envelope) -> list[Text]:
    """The last lines of every command: its warnings, in yellow, then the verdict."""
    lines = []
    for w in report.warnings:
        line = Text("warning: ", style=f"bold {WARN_STYLE}")
        line.append(str(w.kind), style=f"bold {WARN_STYLE}")
        line.append(f": {w.message}", style=WARN_STYLE)
        lines.append(line)
    lines.append(verdict(report.ok, report.error, report.interrupted))
    return lines


def verdict(ok: bool, error: ProbeError | None, interrupted: bool = False) -> Text:
    """The last line of every command: healthy, unhealthy (why), or interrupted."""
    if interrupted:
        return Text("interrupted: results above are partial", style="yellow")
    if ok or error is None:
        return Text("healthy", style=f"bold {OK_STYLE}")
    line = Text("unhealthy: ", style=f"bold {BAD_STYLE}")
    line.append_text(error_text(error))
    return line


def rtt_text(stats: Stats, prefix: str = "") -> Text:
    """``min/avg/max/mdev = a/b/c/d ms``, as ping prints it."""
    return Text(
        f"{prefix}min/avg/max/mdev = {fmt_ms(stats.min_ms)}/{fmt_ms(stats.avg_ms)}/"
        f"{fmt_ms(stats.max_ms)}/{fmt_ms(stats.mdev_ms)} ms"
    )


def stats_lines(stats: Stats, error: ProbeError | None = None) -> list[Text]:
    """ping's closing statistics, for any series of timed attempts: ``sent``, ``received``
    and loss, then the times on lines short enough for an 80-column terminal. When nothing
    was sent, that and why (``error``) instead: no attempt is not 0% loss."""
    if stats.sent == 0:
        return [nothing_sent(error)]
    failed = stats.sent - stats.received
    head = Text(f"{stats.sent} sent, {stats.received} received, ")
    head.append(f"{failed} failed", style=BAD_STYLE if failed else None)
    head.append(f" ({fmt_pct(stats.loss_pct)}% loss)")
    lines = [head]
    if stats.received:
        lines.append(rtt_text(stats))
        lines.append(Text(f"p50 {fmt_ms(stats.p50_ms)} ms, p95 {fmt_ms(stats.p95_ms)} ms"))
    return lines


class _Fit:
    """``wide`` where it fits the width it is given, ``narrow`` where it does not: a table
    whose cells would be cut (``127.0.0…``) is laid out another way instead."""

    def __init__(
        self, wide: RenderableType, narrow: RenderableType, after: tuple[RenderableType, ...]
    ) -> None:
        self.wide = wide
        self.narrow = narrow
        self.after = after

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterable[RenderableType]:
        natural = Measurement.get(console, options.update_width(1_000_000), self.wide)
        if natural.maximum <= options.max_width:
            yield self.wide
            yield from self.after
        else:
            yield self.narrow


def fit(wide: RenderableType, narrow: RenderableType, *after: RenderableType) -> RenderableType:
    """``wide`` (a table) followed by ``after`` when the whole table fits the terminal, else
    ``narrow`` (the same data stacked): the choice is made when it is drawn, so a view stays
    a pure function of its result, and data is never truncated."""
    return _Fit(wide, narrow, after)


def table(*columns: str, terminal: bool) -> Table:
    """A table that is boxed on a terminal and plain columns when piped. Where a terminal is
    too narrow for it, cells wrap and fold rather than being cut with an ellipsis: a view
    that can lay its data out another way says so with :func:`fit`."""
    t = Table(box=box.SIMPLE_HEAD if terminal else None, show_edge=False, pad_edge=False)
    for col in columns:
        numeric = col.endswith("ms") or col in {"sent", "ok", "recv", "loss%", "port"}
        t.add_column(col, justify="right" if numeric else "left", overflow="fold")
    return t
