"""Result types of ``netdiag check``: plain data that imports no I/O. Views, the JSON layer and
the CI formats (JUnit, TAP, Prometheus) read only these.

Each check's ``report`` is exactly the document its command prints with ``--json``: the two
cannot drift, because they are the same value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from netdiag.errors import CANNOT_RUN
from netdiag.results import Envelope, ProbeError
from netdiag.results.dns import DnsLookupReport, DnsTraceReport
from netdiag.results.http import HttpReport
from netdiag.results.ping import PingReport
from netdiag.results.sockets import SocketsReport
from netdiag.results.tcp import TcpReport
from netdiag.results.tls import TlsReport

AnyReport = (
    TcpReport
    | DnsLookupReport
    | DnsTraceReport
    | TlsReport
    | HttpReport
    | PingReport
    | SocketsReport
)
"""What one check's probe returns: the report of its command."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One ``[[check]]`` of the file, run."""

    name: str
    type: str
    """The command it runs: tcp, dns, tls, http, ping or sockets."""
    target: str | None
    """As written in the file (sockets has none)."""
    tags: tuple[str, ...]
    ok: bool
    """Healthy on the last attempt."""
    error: ProbeError | None
    """Why not, from the last attempt (its report's error)."""
    attempts: int
    """How many times the check ran (1 + the retries it needed)."""
    flaky: bool
    """Passed, but only on a retry: reported, never hidden."""
    started_at: str
    duration_ms: float
    """All attempts, backoff included."""
    report: AnyReport | None
    """The last attempt's report, the same document ``netdiag TYPE --json`` prints; None when
    the check did not run (interrupted before it started)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSummary:
    total: int
    passed: int
    failed: int
    flaky: int
    """Passed only on a retry (counted in ``passed`` too)."""
    not_run: int
    """Not run: the run was interrupted first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport(Envelope):
    """What ``netdiag check FILE --format json`` prints."""

    file: str
    """The check file, as given."""
    only: tuple[str, ...]
    """The --only names and tags that selected the checks (empty: all)."""
    summary: CheckSummary
    checks: tuple[CheckResult, ...]
    """In the file's order."""


class Outcome(StrEnum):
    """What became of one check, as every output format counts it."""

    PASSED = "passed"
    FLAKY = "flaky"
    """Passed, but only on a retry."""
    FAILED = "failed"
    """Ran and was unhealthy (or was interrupted while it ran)."""
    CANNOT_RUN = "cannot_run"
    """Its probe cannot run on this machine (an exit-3 error kind: permission, unsupported,
    resource, config)."""
    NOT_RUN = "not_run"
    """Never started: the run was interrupted first (``attempts`` is 0)."""


def outcome(result: CheckResult) -> Outcome:
    """The one reading of a :class:`CheckResult` that the text view, JUnit, TAP and
    Prometheus share."""
    if result.attempts == 0:
        return Outcome.NOT_RUN
    if result.ok:
        return Outcome.FLAKY if result.flaky else Outcome.PASSED
    if result.error is not None and result.error.kind in CANNOT_RUN:
        return Outcome.CANNOT_RUN
    return Outcome.FAILED
