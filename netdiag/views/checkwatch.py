"""Human output of ``netdiag check --every``: one line per check whose state changed since the
last round (on the first round, every check's state), stamped with the time it finished."""

from __future__ import annotations

from rich.text import Text

from netdiag.results.check import CheckResult, Outcome, outcome
from netdiag.views.common import BAD_STYLE, DIM_STYLE, OK_STYLE, WARN_STYLE

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
CANNOT_RUN_HERE = "cannot run"
NOT_RUN = "not run"

_STYLES = {HEALTHY: OK_STYLE, UNHEALTHY: BAD_STYLE, CANNOT_RUN_HERE: WARN_STYLE, NOT_RUN: DIM_STYLE}


_STATES = {
    Outcome.PASSED: HEALTHY,
    Outcome.FLAKY: HEALTHY,
    Outcome.FAILED: UNHEALTHY,
    Outcome.CANNOT_RUN: CANNOT_RUN_HERE,
    Outcome.NOT_RUN: NOT_RUN,
}


def state_of(result: CheckResult) -> str:
    """healthy, unhealthy, cannot run (its probe cannot run on this machine) or not run. A
    flaky pass is healthy: its attempts are in the line, not in the state."""
    return _STATES[outcome(result)]


def change_line(result: CheckResult, before: str | None, *, terminal: bool) -> Text:
    """``2026-11-25T18:26:09Z  api  healthy -> unhealthy  timeout: no answer within 2 s``;
    ``before`` is None on the first round. The strings must be terminal-safe already."""
    now = state_of(result)
    stamp = result.started_at
    if "." in stamp:  # to the second: the line says when, the JSON says exactly
        stamp = stamp.split(".", 1)[0] + "Z"
    line = Text(f"{stamp}  ", style=DIM_STYLE)
    line.append(result.name, style="bold" if terminal else "")
    line.append("  ")
    if before is not None:
        line.append(before, style=_STYLES.get(before, ""))
        line.append(" -> ")
    line.append(now, style=_STYLES.get(now, ""))
    if result.flaky:
        line.append(f" (flaky: {result.attempts} attempts)", style=DIM_STYLE)
    if result.error is not None and now != HEALTHY:
        line.append(f"  {result.error.kind}: {result.error.message}")
    return line
