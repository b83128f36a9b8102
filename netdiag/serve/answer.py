"""One probe, run and answered: the exposition text of ``/probe`` (prometheus_client, one
registry per probe, the same figures as ``netdiag check --format prometheus`` through
:func:`netdiag.checks.prometheus.report_metrics`, without its ``check``/``target`` labels:
Prometheus adds ``instance`` and the like by relabeling) and the debug view of
``/probe?...&debug=true`` (the command's text view, then the metrics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netdiag.checks.spec import SpecError
from netdiag.errors import ErrorKind
from netdiag.results import ProbeError
from netdiag.results.check import AnyReport


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What one probe gave: its report (None when it raised or ran out of time), whether it
    was healthy, and why not."""

    report: AnyReport | None
    ok: bool
    error: ProbeError | None
    duration_s: float


def run_probe(call: Callable[[], AnyReport]) -> tuple[AnyReport | None, ProbeError | None]:
    """Run one probe (in a worker thread): its report, and its error when it is unhealthy.
    An exception (a bug in a probe) is that probe's error, never a traceback."""
    try:
        report = call()
    except SpecError as exc:  # what the command finds wrong only when it runs
        return None, ProbeError(ErrorKind.ERROR, str(exc))
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        return None, ProbeError(
            ErrorKind.ERROR,
            f"the probe failed unexpectedly ({type(exc).__name__}: {text}); "
            "this is a bug in netdiag",
        )
    if report.ok:
        return report, None
    return report, report.error or ProbeError(ErrorKind.ERROR, f"{report.command}: not healthy")


def exposition(outcome: ProbeOutcome) -> bytes:
    """The answer to ``/probe``: Prometheus text exposition, from a registry of its own."""
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from netdiag.checks.prometheus import Metrics, report_metrics

    m = Metrics()
    m.add("probe_success", {}, outcome.ok)
    m.add("probe_duration_seconds", {}, outcome.duration_s)
    if outcome.error is not None:
        m.add("netdiag_probe_error_info", {"kind": str(outcome.error.kind)}, 1)
    if outcome.report is not None:
        report_metrics(m, {}, outcome.report)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(m)
    return generate_latest(registry)


def debug_text(module: str, target: str, timeout_s: float, outcome: ProbeOutcome) -> str:
    """``/probe?...&debug=true``: the module, the target, the command's text view as
    ``netdiag TYPE`` prints it on a pipe, and the metrics the probe would have answered."""
    from netdiag.checks.formats import plain_text
    from netdiag.output import escape_controls, terminal_safe

    lines = [
        f"Module: {module}",
        f"Target: {target}",
        f"Timeout: {timeout_s:g} s",
        f"Result: {'success' if outcome.ok else 'failure'} in {outcome.duration_s * 1000:.3f} ms",
    ]
    if outcome.error is not None:
        lines.append(f"Error: {outcome.error.kind}: {outcome.error.message}")
    head = "".join(escape_controls(line) + "\n" for line in lines) + "\n"
    view = ""
    if outcome.report is not None:
        from netdiag.views.check import report_view

        view = plain_text(report_view(terminal_safe(outcome.report))) + "\n"
    metrics = exposition(outcome).decode("utf-8")
    return f"{head}{view}Metrics that would have been returned:\n{metrics}"
