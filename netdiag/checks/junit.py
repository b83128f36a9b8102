"""``netdiag check --format junit``: JUnit XML as CI systems read it (Jenkins, GitLab, GitHub
actions that publish test reports), built with :mod:`xml.etree.ElementTree`.

One ``testsuite`` named ``netdiag check`` inside ``testsuites``; one ``testcase`` per check
(``name`` the check's name, ``classname`` its type, ``time`` its duration in seconds, retries
and backoff included). An unhealthy check has a ``failure`` (``type`` the error kind,
``message`` the message); one whose probe cannot run on this machine (permission,
unsupported, resource, config) an ``error``; one never started a ``skipped``. A check that
passed only on a retry is a pass with a ``flakyFailure`` (Maven Surefire's element for a test
that passed on a rerun, which Jenkins and junitparser read; others ignore it), the properties
``netdiag.flaky`` and ``netdiag.attempts``, and a first ``system-out`` line that says so.
``system-out`` holds what ``netdiag TYPE`` prints for the check, plain.

XML 1.0 cannot carry most control characters even escaped: every string is made safe first
(:func:`netdiag.output.escape_controls`, then any character XML forbids written as ``\\uXXXX``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from netdiag.checks.formats import plain_text
from netdiag.output import escape_controls, terminal_safe
from netdiag.results.check import CheckReport, CheckResult, Outcome, outcome

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 forbids (lone surrogates, U+FFFE, U+FFFF, C0 controls)."""


def _xml_text(text: str) -> str:
    """Text for an element's body: newlines kept, anything else unsafe escaped."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _attr(text: str) -> str:
    """Text for an attribute: on one line, every control character written as an escape."""
    return _xml_text(escape_controls(text))


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _system_out(result: CheckResult) -> str:
    from netdiag.views.check import report_view

    head = ""
    if outcome(result) is Outcome.FLAKY:
        head = f"flaky: passed on attempt {result.attempts} of {result.attempts}\n"
    return head + plain_text(report_view(terminal_safe(result.report)))


def _testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=_attr(result.name),
        classname=_attr(result.type),
        time=_seconds(result.duration_ms),
    )
    state = outcome(result)
    props = {
        "netdiag.target": result.target or "",
        "netdiag.tags": ",".join(result.tags),
        "netdiag.attempts": str(result.attempts),
        "netdiag.flaky": "true" if result.flaky else "false",
    }
    properties = ET.SubElement(case, "properties")
    for key, value in props.items():
        ET.SubElement(properties, "property", name=key, value=_attr(value))
    error = result.error
    if state is Outcome.NOT_RUN:
        message = error.message if error else "not run"
        ET.SubElement(case, "skipped", message=_attr(message))
    elif state in (Outcome.FAILED, Outcome.CANNOT_RUN):
        tag = "error" if state is Outcome.CANNOT_RUN else "failure"
        kind = str(error.kind) if error else "error"
        message = error.message if error else "unhealthy"
        element = ET.SubElement(case, tag, type=kind, message=_attr(message))
        element.text = _xml_text(f"{kind}: {escape_controls(message)}")
        if error is not None and error.hint:
            element.text += _xml_text(f"\nhint: {escape_controls(error.hint)}")
    elif state is Outcome.FLAKY:
        retries = result.attempts - 1
        ET.SubElement(
            case,
            "flakyFailure",
            type="flaky",
            message=f"failed {retries} attempt{'s' if retries != 1 else ''} before passing",
        )
    ET.SubElement(case, "system-out").text = _xml_text(_system_out(result))


def render(report: CheckReport) -> str:
    """The report as a JUnit XML document, with its XML declaration (written as UTF-8)."""
    outcomes = [outcome(c) for c in report.checks]
    counts = {
        "tests": str(len(report.checks)),
        "failures": str(outcomes.count(Outcome.FAILED)),
        "errors": str(outcomes.count(Outcome.CANNOT_RUN)),
        "skipped": str(outcomes.count(Outcome.NOT_RUN)),
        "time": _seconds(report.duration_ms),
    }
    root = ET.Element("testsuites", {"name": "netdiag check", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": "netdiag check", "timestamp": report.started_at, **counts},
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in (
        ("netdiag.file", report.file),
        ("netdiag.only", ",".join(report.only)),
        ("netdiag.flaky", str(report.summary.flaky)),
        ("netdiag.interrupted", "true" if report.interrupted else "false"),
    ):
        ET.SubElement(properties, "property", name=key, value=_attr(value))
    for result in report.checks:
        _testcase(suite, result)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
