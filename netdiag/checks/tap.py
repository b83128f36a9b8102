"""``netdiag check --format tap``: TAP version 14 (testanything.org), for prove, tap-parser and
the CI plugins that read TAP.

``TAP version 14``, the plan ``1..N``, one test point per check in the file's order: ``ok`` or
``not ok``, its number, ``- name``; ``# SKIP`` for a check that never started. Every check that
did not simply pass (failed, cannot run, flaky) carries a YAML diagnostic block (``---`` ...
``...``, indented two spaces) with its type, target, error kind, message, hint, attempts,
duration and, for a flaky pass, ``flaky: true``. A comment line sums the run up, and an
interrupted run ends with ``Bail out!``.

No TAP writer library speaks version 14, so the lines are formatted here, field by field:
the description is escaped as TAP 14 says (``\\#``, ``\\\\``) and made one line
(:func:`netdiag.output.escape_controls`); every YAML value is a JSON value (JSON is YAML 1.2),
written by netdiag's JSON layer, so no message can end the block or forge a line.
"""

from __future__ import annotations

import re
from typing import Any

from netdiag.output import escape_controls, json_document
from netdiag.results.check import CheckReport, CheckResult, Outcome, outcome

_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What YAML 1.2 does not allow in a stream, even inside a quoted scalar."""


def _yaml_value(value: Any) -> str:
    """A JSON value (JSON is YAML 1.2), with what YAML forbids raw written as ``\\uXXXX``
    (only ever inside a string, where JSON and YAML read the escape alike)."""
    text = json_document(value, indent=None)
    return _NOT_YAML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _description(text: str) -> str:
    """A test point's description: one line, ``#`` and ``\\`` escaped (TAP 14)."""
    return escape_controls(text).replace("\\", "\\\\").replace("#", "\\#")


def _diagnostics(result: CheckResult) -> dict[str, Any]:
    d: dict[str, Any] = {"type": result.type, "target": result.target}
    if result.error is not None and outcome(result) is not Outcome.FLAKY:
        d["kind"] = str(result.error.kind)
        d["message"] = result.error.message
        if result.error.hint:
            d["hint"] = result.error.hint
    d["attempts"] = result.attempts
    if result.flaky:
        d["flaky"] = True
    d["duration_ms"] = round(result.duration_ms, 3)
    if result.tags:
        d["tags"] = list(result.tags)
    return d


def _yaml_block(values: dict[str, Any]) -> list[str]:
    lines = ["  ---"]
    lines += [f"  {key}: {_yaml_value(value)}" for key, value in values.items()]
    lines.append("  ...")
    return lines


def _test_point(n: int, result: CheckResult) -> list[str]:
    state = outcome(result)
    status = "ok" if state in (Outcome.PASSED, Outcome.FLAKY, Outcome.NOT_RUN) else "not ok"
    line = f"{status} {n} - {_description(result.name)}"
    if state is Outcome.NOT_RUN:
        why = result.error.message if result.error else "not run"
        return [f"{line} # SKIP {escape_controls(why)}"]
    if state is Outcome.PASSED:
        return [line]
    return [line, *_yaml_block(_diagnostics(result))]


def render(report: CheckReport) -> str:
    lines = ["TAP version 14", f"1..{len(report.checks)}"]
    for n, result in enumerate(report.checks, 1):
        lines += _test_point(n, result)
    s = report.summary
    lines.append(
        f"# {s.total} checks: {s.passed} passed ({s.flaky} flaky), {s.failed} failed, "
        f"{s.not_run} not run, in {report.duration_ms / 1000:.3f} s"
    )
    if report.interrupted:
        lines.append("Bail out! interrupted (Ctrl-C): the checks not run are skipped")
    return "\n".join(lines) + "\n"
