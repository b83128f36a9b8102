"""`netdiag check`: the runner (concurrency, retries and backoff, a probe that raises, Ctrl-C,
the exit status's precedence) with checks built by hand against the lab, and the command
(formats on stdout and in --output, --every, usage errors) with check files."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable

import pytest

from netdiag.checks.runner import backoff_s, run_checks
from netdiag.checks.spec import CheckSpec
from netdiag.errors import ErrorKind
from netdiag.exitcodes import ExitStatus
from netdiag.lab import Lab
from netdiag.probes.tcp import TcpOptions, probe_tcp
from netdiag.results import ProbeError, exit_status
from netdiag.results.check import AnyReport, CheckResult
from netdiag.results.tcp import TcpReport
from netdiag.targets import parse_target


def tcp_call(hostport: str, timeout: float = 1.0) -> Callable[[], TcpReport]:
    target = parse_target(hostport)
    return lambda: probe_tcp([target], TcpOptions(count=1, timeout=timeout))


def spec(
    name: str,
    run: Callable[[], AnyReport],
    *,
    retries: int = 0,
    timeout_s: float = 1.0,
    tags: tuple[str, ...] = (),
    index: int = 1,
) -> CheckSpec:
    return CheckSpec(
        index=index,
        name=name,
        type="tcp",
        target=name,
        tags=tags,
        retries=retries,
        timeout_s=timeout_s,
        run=run,
    )


def failing_with(kind: ErrorKind, lab: Lab) -> Callable[[], TcpReport]:
    """A real tcp report, made to fail with ``kind`` (such as a probe that cannot run here)."""
    good = tcp_call(lab.endpoints["tcp_open"])

    def call() -> TcpReport:
        return dataclasses.replace(good(), ok=False, error=ProbeError(kind, f"{kind} here"))

    return call


# -- the runner ------------------------------------------------------------------------------


def test_healthy_and_unhealthy_checks_in_the_files_order(lab: Lab) -> None:
    report = run_checks(
        [
            spec("open", tcp_call(lab.endpoints["tcp_open"]), index=1),
            spec("refused", tcp_call(lab.endpoints["tcp_refused"]), index=2),
            spec("open again", tcp_call(lab.endpoints["tcp_open"]), index=3),
        ],
        file="checks.toml",
        only=("prod",),
    )
    assert [c.name for c in report.checks] == ["open", "refused", "open again"]
    assert [c.ok for c in report.checks] == [True, False, True]
    refused = report.checks[1]
    assert refused.error is not None and refused.error.kind == ErrorKind.REFUSED
    assert refused.report is not None and refused.report.command == "tcp"
    assert refused.attempts == 1 and not refused.flaky
    assert (report.command, report.file, report.only) == ("check", "checks.toml", ("prod",))
    assert not report.ok and not report.interrupted
    assert report.error is not None and report.error.kind == ErrorKind.REFUSED
    assert "refused" in report.error.message
    s = report.summary
    assert (s.total, s.passed, s.failed, s.flaky, s.not_run) == (3, 2, 1, 0, 0)
    assert exit_status(report) == ExitStatus.UNHEALTHY


def test_all_healthy_is_exit_0(lab: Lab) -> None:
    report = run_checks(
        [spec(f"c{i}", tcp_call(lab.endpoints["tcp_open"]), index=i) for i in range(1, 6)],
        file="f",
    )
    assert report.ok and report.error is None
    assert exit_status(report) == ExitStatus.OK
    assert all(c.report is not None and c.report.ok for c in report.checks)
    assert all(c.started_at.endswith("Z") and c.duration_ms > 0 for c in report.checks)


def test_passed_on_a_retry_is_flaky_with_its_attempts(lab: Lab) -> None:
    calls = [tcp_call(lab.endpoints["tcp_refused"]), tcp_call(lab.endpoints["tcp_open"])]
    made: list[int] = []

    def flaky() -> TcpReport:
        made.append(1)
        return calls[min(len(made), 2) - 1]()

    report = run_checks([spec("flaky", flaky, retries=3)], file="f")
    [c] = report.checks
    assert (c.ok, c.flaky, c.attempts, c.error) == (True, True, 2, None)
    assert c.report is not None and c.report.ok  # the last attempt's report
    assert c.duration_ms >= 200  # the backoff before the retry is in the check's time
    assert report.ok and report.summary.flaky == 1 and report.summary.passed == 1


def test_retries_wait_with_a_growing_backoff_and_keep_the_last_report(lab: Lab) -> None:
    stamps: list[float] = []
    refused = tcp_call(lab.endpoints["tcp_refused"])

    def call() -> TcpReport:
        stamps.append(time.monotonic())
        return refused()

    report = run_checks([spec("down", call, retries=2, timeout_s=5)], file="f")
    [c] = report.checks
    assert (c.ok, c.flaky, c.attempts) == (False, False, 3)
    assert c.error is not None and c.error.kind == ErrorKind.REFUSED
    waits = [b - a for a, b in itertools.pairwise(stamps)]
    assert waits[0] >= 0.19 and waits[1] >= 0.39  # 0.2 s, then 0.4 s


def test_backoff_is_bounded_by_the_checks_timeout() -> None:
    assert [backoff_s(n, 10) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.6]
    assert [backoff_s(n, 0.3) for n in (1, 2, 3)] == [0.2, 0.3, 0.3]


def test_a_probe_that_raises_is_that_checks_error(lab: Lab) -> None:
    def broken() -> TcpReport:
        raise RuntimeError("kaboom")

    report = run_checks(
        [
            spec("bug", broken, retries=1, timeout_s=0.05),
            spec("fine", tcp_call(lab.endpoints["tcp_open"]), index=2),
        ],
        file="f",
    )
    bug, fine = report.checks
    assert not bug.ok and bug.report is None and bug.attempts == 2
    assert bug.error is not None and bug.error.kind == ErrorKind.ERROR
    assert "RuntimeError: kaboom" in bug.error.message
    assert fine.ok
    assert exit_status(report) == ExitStatus.UNHEALTHY


def test_at_most_concurrency_checks_at_once(lab: Lab) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]
    good = tcp_call(lab.endpoints["tcp_open"])

    def call() -> TcpReport:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        try:
            return good()
        finally:
            with lock:
                running[0] -= 1

    specs = [spec(f"c{i}", call, index=i) for i in range(20)]
    report = run_checks(specs, file="f", concurrency=3)
    assert report.ok and peak[0] == 3
    report = run_checks(specs, file="f", concurrency=1)
    assert report.ok and peak[0] == 3  # one at a time never went above
    assert len({c.name for c in report.checks}) == 20


def test_on_done_sees_each_check_in_the_calling_thread(lab: Lab) -> None:
    seen: list[tuple[str, bool]] = []

    def on_done(result: CheckResult) -> None:
        seen.append((result.name, threading.current_thread() is threading.main_thread()))

    run_checks(
        [spec(f"c{i}", tcp_call(lab.endpoints["tcp_open"]), index=i) for i in range(5)],
        file="f",
        on_done=on_done,
    )
    assert sorted(seen) == [(f"c{i}", True) for i in range(5)]


@pytest.mark.parametrize(
    ("kinds", "status", "first"),
    [
        ((ErrorKind.PERMISSION,), ExitStatus.CANNOT_RUN, ErrorKind.PERMISSION),
        ((ErrorKind.PERMISSION, ErrorKind.TIMEOUT), ExitStatus.UNHEALTHY, ErrorKind.TIMEOUT),
        ((ErrorKind.TIMEOUT, ErrorKind.UNSUPPORTED), ExitStatus.UNHEALTHY, ErrorKind.TIMEOUT),
        ((ErrorKind.UNSUPPORTED, ErrorKind.RESOURCE), ExitStatus.CANNOT_RUN, ErrorKind.UNSUPPORTED),
    ],
)
def test_unhealthy_outranks_cannot_run(
    lab: Lab, kinds: tuple[ErrorKind, ...], status: ExitStatus, first: ErrorKind
) -> None:
    specs = [spec("fine", tcp_call(lab.endpoints["tcp_open"]))]
    specs += [spec(f"{k}", failing_with(k, lab), index=i + 2) for i, k in enumerate(kinds)]
    report = run_checks(specs, file="f")
    assert exit_status(report) == status
    assert report.error is not None and report.error.kind == first
    assert f"{len(kinds)} of {len(specs)} checks" in report.error.message


def test_ctrl_c_returns_what_finished_and_the_rest_not_run(lab: Lab) -> None:
    """Ctrl-C reaches the calling thread (here: raised from on_done after the first check):
    nothing more starts, what finished is kept, the others are not run, exit 130."""
    good = tcp_call(lab.endpoints["tcp_open"])

    def on_done(result: CheckResult) -> None:
        raise KeyboardInterrupt

    def slow() -> TcpReport:
        time.sleep(0.3)
        return good()

    specs = [spec("first", good)] + [spec(f"slow{i}", slow, index=i + 2) for i in range(5)]
    report = run_checks(specs, file="f", concurrency=2, on_done=on_done)
    assert report.interrupted and not report.ok
    assert report.error is not None and report.error.kind == ErrorKind.INTERRUPTED
    assert exit_status(report) == ExitStatus.INTERRUPTED
    first, *rest = report.checks
    assert first.ok and first.attempts == 1
    assert all(c.attempts == 0 and c.report is None and not c.ok for c in rest)
    assert all(c.error is not None and c.error.kind == ErrorKind.INTERRUPTED for c in rest)
    assert report.summary.not_run == 5 and report.summary.passed == 1
    assert report.summary.failed == 0


def test_ctrl_c_during_a_backoff_keeps_the_failed_attempt(lab: Lab) -> None:
    refused = tcp_call(lab.endpoints["tcp_refused"])
    timer = threading.Timer(0.1, lambda: __import__("_thread").interrupt_main())
    timer.start()
    try:
        report = run_checks([spec("down", refused, retries=5, timeout_s=5)], file="f")
    finally:
        timer.cancel()
    [c] = report.checks
    assert report.interrupted
    assert c.attempts == 1 and not c.ok and c.report is not None
    assert c.error is not None and c.error.kind == ErrorKind.REFUSED
    assert report.summary.failed == 1 and report.summary.not_run == 0


def test_no_checks_and_bad_concurrency() -> None:
    report = run_checks([], file="f")
    assert report.ok and report.summary.total == 0
    with pytest.raises(ValueError):
        run_checks([], file="f", concurrency=0)
