"""Human output of ``netdiag check``: one line per check (status, name, type, target, the key
figure of its type, why it failed), then a summary and the verdict.

A line is a single :class:`~rich.text.Text`: on a narrow terminal rich wraps it between words,
so nothing is cut. :func:`report_view` is what ``netdiag TYPE`` prints for one check's report
(JUnit's ``system-out``)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from netdiag.results import ProbeError
from netdiag.results.check import AnyReport, CheckReport, CheckResult, Outcome, outcome
from netdiag.results.dns import DnsLookupReport, DnsTraceReport
from netdiag.results.http import HttpReport
from netdiag.results.ping import PingReport
from netdiag.results.sockets import SocketsReport
from netdiag.results.tcp import TcpReport
from netdiag.results.tls import TlsReport
from netdiag.targets import Target
from netdiag.views.common import (
    BAD_STYLE,
    DIM_STYLE,
    OK_STYLE,
    WARN_STYLE,
    closing,
    fmt_ms,
    fmt_pct,
)

STATUS = {
    Outcome.PASSED: ("ok", OK_STYLE),
    Outcome.FLAKY: ("flaky", WARN_STYLE),
    Outcome.FAILED: ("FAIL", f"bold {BAD_STYLE}"),
    Outcome.CANNOT_RUN: ("FAIL", f"bold {BAD_STYLE}"),
    Outcome.NOT_RUN: ("not run", DIM_STYLE),
}
STATUS_WIDTH = max(len(word) for word, _ in STATUS.values())


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def _tcp_figure(r: TcpReport) -> str | None:
    if not r.results:
        return None
    s = r.results[0].stats
    if s.sent == 0:
        return None
    if s.p50_ms is None:
        return f"0 of {s.sent} connected"
    figure = f"connect {fmt_ms(s.p50_ms)} ms (median of {s.received})"
    if s.received < s.sent:
        figure += f", {fmt_pct(s.loss_pct)}% loss"
    return figure


def _http_figure(r: HttpReport) -> str | None:
    if not r.hops:
        return None
    total = sum(h.timing.total_ms for h in r.hops)
    status = str(r.status) if r.status is not None else "no status"
    redirects = f" after {_plural(len(r.hops) - 1, 'redirect')}" if len(r.hops) > 1 else ""
    return f"{status} in {fmt_ms(total)} ms{redirects}"


def _tls_figure(r: TlsReport) -> str | None:
    if r.earliest_expiry is None:
        return None
    trust = "trusted" if r.trusted else "not trusted" if r.trusted is False else "trust unknown"
    days = r.earliest_expiry.days_left
    when = f"{_plural(days, 'day')} left" if days >= 0 else f"expired {_plural(-days, 'day')} ago"
    return f"{when}, {trust}"


def _dns_figure(r: DnsLookupReport | DnsTraceReport) -> str | None:
    if isinstance(r, DnsTraceReport):
        return (
            f"{_plural(len(r.answer), 'answer')}, {_plural(len(r.hops), 'zone cut')}, "
            f"{_plural(r.queries, 'query', 'queries')}"
        )
    answered = [q for q in r.results if q.rcode is not None]
    if not answered:
        return None
    rcodes = "/".join(dict.fromkeys(q.rcode for q in answered if q.rcode))
    answers = sum(len(q.answer) for q in answered)
    slowest = max((q.query_ms for q in answered if q.query_ms is not None), default=None)
    return f"{rcodes}, {_plural(answers, 'answer')} in {fmt_ms(slowest)} ms"


def _ping_figure(r: PingReport) -> str | None:
    if not r.results:
        return None
    s = r.results[0].stats
    if s.sent == 0:
        return None
    figure = f"{fmt_pct(s.loss_pct)}% loss"
    if s.avg_ms is not None:
        figure += f", avg {fmt_ms(s.avg_ms)} ms"
    return figure


def key_figure(report: AnyReport | None) -> str | None:
    """The one figure that says most about a check of this type, or None when it has none
    (nothing was measured)."""
    if isinstance(report, TcpReport):
        return _tcp_figure(report)
    if isinstance(report, HttpReport):
        return _http_figure(report)
    if isinstance(report, TlsReport):
        return _tls_figure(report)
    if isinstance(report, DnsLookupReport | DnsTraceReport):
        return _dns_figure(report)
    if isinstance(report, PingReport):
        return _ping_figure(report)
    if isinstance(report, SocketsReport):
        return f"TIME_WAIT {report.time_wait.count}"
    return None


def _failure(error: ProbeError) -> Text:
    text = Text(str(error.kind), style=f"bold {BAD_STYLE}")
    text.append(f": {error.message}")
    return text


def check_line(result: CheckResult, terminal: bool = False, *, name_width: int = 0) -> Text:
    """``FAIL  name  type target  key figure  kind: message``: one check, as it finishes.
    ``name_width`` pads the name so that the lines of one run line up (a longer name is never
    cut)."""
    state = outcome(result)
    word, style = STATUS[state]
    line = Text(word.ljust(STATUS_WIDTH), style=style)
    line.append("  ")
    line.append(result.name.ljust(name_width), style="bold")
    line.append(f"  {result.type}")
    if result.target is not None:
        line.append(f" {result.target}")
    figure = key_figure(result.report)
    if figure is not None:
        line.append(f"  {figure}")
    if state is Outcome.FLAKY:
        line.append(f"  passed on attempt {result.attempts}", style=WARN_STYLE)
    elif state in (Outcome.FAILED, Outcome.CANNOT_RUN) and result.error is not None:
        line.append("  ")
        line.append_text(_failure(result.error))
        if result.attempts > 1:
            line.append(f" ({_plural(result.attempts, 'attempt')})", style=DIM_STYLE)
    return line


def summary_line(report: CheckReport) -> Text:
    """``7 checks in 1.23 s: 5 passed (1 flaky), 1 failed, 1 not run``."""
    s = report.summary
    line = Text(f"{_plural(s.total, 'check')} in {report.duration_ms / 1000:.2f} s: ")
    line.append(f"{s.passed} passed", style=OK_STYLE if s.passed else None)
    if s.flaky:
        line.append(f" ({s.flaky} flaky)", style=WARN_STYLE)
    line.append(", ")
    line.append(f"{s.failed} failed", style=BAD_STYLE if s.failed else None)
    if s.not_run:
        line.append(f", {s.not_run} not run", style=DIM_STYLE)
    return line


def check_view(report: CheckReport, terminal: bool = False) -> list[RenderableType]:
    """Every check's line, the summary, the verdict."""
    width = min(max((len(c.name) for c in report.checks), default=0), 24)
    out: list[RenderableType] = [check_line(c, terminal, name_width=width) for c in report.checks]
    out.append(Text(""))
    out.append(summary_line(report))
    out.extend(closing(report))
    return out


def report_view(report: AnyReport | None) -> list[RenderableType]:
    """What ``netdiag TYPE`` prints for this report, as on a pipe (the lines printed while it
    runs, where the report holds them, then the summary)."""
    from netdiag.views import dns, http, ping, sockets, tcp, tls

    if isinstance(report, TcpReport):
        probes: list[RenderableType] = [
            tcp.probe_line(Target(r.target, r.host, r.port), p)
            for r in report.results
            for p in r.probes
        ]
        return [*probes, *tcp.summary(report, terminal=False)]
    if isinstance(report, PingReport):
        many = len(report.results) > 1
        replies: list[RenderableType] = [
            ping.probe_line(r.target, p, many) for r in report.results for p in r.probes
        ]
        return [*replies, *ping.summary(report, terminal=False)]
    if isinstance(report, DnsTraceReport):
        return dns.trace_view(report)
    if isinstance(report, DnsLookupReport):
        return dns.lookup_view(report)
    if isinstance(report, TlsReport):
        return tls.tls_view(report)
    if isinstance(report, HttpReport):
        return http.http_view(report, terminal=False)
    if isinstance(report, SocketsReport):
        return sockets.sockets_view(report, terminal=False)
    return [Text("not run: the run was interrupted before this check started")]
