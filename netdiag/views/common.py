"""Pieces of human output shared by every command's view."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from netdiag.result import ProbeError
from netdiag.stats import Stats

OK_STYLE = "green"
BAD_STYLE = "red"
DIM_STYLE = "dim"


def fmt_ms(value: float | None) -> str:
    """Milliseconds as ping prints them: three decimals (microseconds), '-' when absent."""
    return "-" if value is None else f"{value:.3f}"


def error_text(error: ProbeError) -> Text:
    text = Text()
    text.append(error.kind, style=f"bold {BAD_STYLE}")
    text.append(f": {error.message}")
    if error.hint:
        text.append(f"\n  hint: {error.hint}", style="yellow")
    return text


def verdict(ok: bool, error: ProbeError | None, interrupted: bool = False) -> Text:
    """The last line of every command: healthy, unhealthy (why), or interrupted."""
    if interrupted:
        return Text("interrupted: results above are partial", style="yellow")
    if ok or error is None:
        return Text("healthy", style=f"bold {OK_STYLE}")
    line = Text("unhealthy: ", style=f"bold {BAD_STYLE}")
    line.append_text(error_text(error))
    return line


def stats_lines(noun: str, stats: Stats) -> list[Text]:
    """ping's closing statistics, for any series of timed attempts."""
    failed = stats.sent - stats.ok
    head = Text(f"{stats.sent} {noun if stats.sent != 1 else noun.rstrip('s')}, {stats.ok} ok, ")
    head.append(f"{failed} failed", style=BAD_STYLE if failed else None)
    head.append(f" ({stats.loss_pct:.0f}% loss)")
    lines = [head]
    if stats.ok:
        lines.append(
            Text(
                f"min/avg/max/mdev = {fmt_ms(stats.min_ms)}/{fmt_ms(stats.avg_ms)}/"
                f"{fmt_ms(stats.max_ms)}/{fmt_ms(stats.mdev_ms)} ms, "
                f"p50 {fmt_ms(stats.p50_ms)} ms, p95 {fmt_ms(stats.p95_ms)} ms"
            )
        )
    return lines


def table(*columns: str, terminal: bool) -> Table:
    """A table that is boxed on a terminal and plain columns when piped."""
    t = Table(box=box.SIMPLE_HEAD if terminal else None, show_edge=False, pad_edge=False)
    for col in columns:
        numeric = col.endswith("ms") or col in {"sent", "ok", "recv", "loss%", "port"}
        t.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    return t
