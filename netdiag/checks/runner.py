"""Run a check file's checks: all in this process, concurrently, through their commands' own
probes (:attr:`netdiag.checks.spec.CheckSpec.run`), into one
:class:`netdiag.results.check.CheckReport`.

- **Concurrency**: at most ``concurrency`` checks run at once (:data:`DEFAULT_CONCURRENCY`),
  each on a daemon worker thread; this thread only schedules, collects and calls ``on_done``.
  A probe may itself use several sockets (a tcp check with ``count``, ``all``), so the bound
  counts checks, not sockets.
- **Retries**: a check that fails is run again up to its ``retries`` times, after a backoff
  of 0.2 s, 0.4 s, 0.8 s... (each wait at most the check's ``timeout_s``); the wait holds no
  worker. A check that passed only on a retry is ``flaky``, with its ``attempts``. The last
  attempt's report is kept.
- **A probe that raises** is a bug, never a traceback: that attempt becomes an ``error``
  (kind ``error``, the exception in the message), retried like any failure. So does a
  :class:`~netdiag.checks.spec.SpecError` that a check's options raise only when it runs
  (a dns ``server`` named by a name that does not resolve), with its own message.
- **A probe that does not end** within twice its own bounds (:attr:`CheckSpec.bound_s`, its
  timeouts added up) plus :data:`WATCHDOG_SLACK_S` (:func:`watchdog_s`) is a bug too: the
  check stops waiting for it and that attempt becomes an ``error`` saying so, retried like
  any failure; its thread is left to end on its own (a daemon), and then to stop, and
  another takes its place. So a run always ends.
- **Ctrl-C**: nothing more is started; the checks that finished are reported, a check whose
  retry was pending keeps its last (failed) attempt, the others are *not run* (``attempts``
  0, no report, error kind ``interrupted``), and the report is ``interrupted`` (exit 130).
- **Exit status** (:func:`netdiag.results.exit_status` of the report): 130 interrupted, else
  1 when any check is unhealthy, else 3 when a check's probe cannot run here (a kind such as
  ``permission``: see :data:`netdiag.errors.CANNOT_RUN`), else 0. So an unhealthy target
  outranks a probe that cannot run here: the report's ``error`` is the first unhealthy
  check's, and only when there is none the first that could not run.
"""

from __future__ import annotations

import heapq
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netdiag.checks.spec import CheckSpec, SpecError
from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.exitcodes import ExitStatus
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.check import AnyReport, CheckReport, CheckResult, CheckSummary

DEFAULT_CONCURRENCY = 32
"""Checks running at once by default. Checks against real hosts mostly wait on the network,
so 32 keeps 1,000 checks of 50 ms within about 2 s; each check's probe may hold a few sockets
of its own (a tcp check with ``count`` connects them one after another), so 32 stays far below
the usual open-file limit of 1,024."""
MAX_CONCURRENCY = 1024
WATCHDOG_SLACK_S = 5.0
"""Added to a check's own bound before the runner gives up on an attempt."""
BACKOFF_FIRST_S = 0.2
"""The wait before the first retry; it doubles before each further one."""

DoneCallback = Callable[[CheckResult], None]


def backoff_s(retry: int, timeout_s: float) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, ...): 0.2, 0.4, 0.8... bounded by
    the check's own ``timeout_s``."""
    return min(BACKOFF_FIRST_S * 2.0 ** (retry - 1), timeout_s)


@dataclass(slots=True)
class _State:
    """One check's progress."""

    spec: CheckSpec
    started_at: str = ""
    start_ns: int = 0
    launched: int = 0
    attempts: int = 0
    """Attempts that finished."""
    report: AnyReport | None = None
    error: ProbeError | None = None
    """The last attempt's error: its report's, or the exception a buggy probe raised."""
    result: CheckResult | None = None
    running: int = 0
    """The attempt now running (its launch number), 0 for none: a late answer from an
    attempt given up on is not this one's."""


def _attempt(spec: CheckSpec) -> tuple[AnyReport | None, ProbeError | None]:
    """One run of the check's probe; an exception (a bug in a probe) becomes its error."""
    try:
        report = spec.run()
    except SpecError as exc:  # what the command finds wrong only when it runs
        return None, ProbeError(ErrorKind.ERROR, str(exc))
    except Exception as exc:  # a bug: reported as this check's error, never a traceback
        text = str(exc) or type(exc).__name__
        return None, ProbeError(
            ErrorKind.ERROR,
            f"the {spec.type} probe failed unexpectedly ({type(exc).__name__}: {text}); "
            "this is a bug in netdiag",
        )
    return report, (None if report.ok else _report_error(report))


def _report_error(report: AnyReport) -> ProbeError:
    return report.error or ProbeError(ErrorKind.ERROR, f"{report.command}: not healthy")


def _finish(state: _State) -> CheckResult:
    spec = state.spec
    ok = state.error is None
    result = CheckResult(
        name=spec.name,
        type=spec.type,
        target=spec.target,
        tags=spec.tags,
        ok=ok,
        error=state.error,
        attempts=state.attempts,
        flaky=ok and state.attempts > 1,
        started_at=state.started_at,
        duration_ms=elapsed_ms(state.start_ns),
        report=state.report,
    )
    state.result = result
    return result


def _not_run(spec: CheckSpec, started_at: str) -> CheckResult:
    return CheckResult(
        name=spec.name,
        type=spec.type,
        target=spec.target,
        tags=spec.tags,
        ok=False,
        error=ProbeError(ErrorKind.INTERRUPTED, "not run: the run was interrupted first"),
        attempts=0,
        flaky=False,
        started_at=started_at,
        duration_ms=0.0,
        report=None,
    )


_Job = tuple[int, int, CheckSpec]
"""(check index, launch number, check)"""
_Done = tuple[int, int, AnyReport | None, ProbeError | None]


def _worker(jobs: queue.SimpleQueue[_Job | None], done: queue.SimpleQueue[_Done]) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        index, launch, spec = job
        report, error = _attempt(spec)
        done.put((index, launch, report, error))


def watchdog_s(spec: CheckSpec) -> float:
    """How long an attempt may run before it is abandoned: twice what its own timeouts
    allow, and :data:`WATCHDOG_SLACK_S` more (a hang is a bug; a slow probe is not)."""
    return 2 * spec.bound_s + WATCHDOG_SLACK_S


def _abandoned(spec: CheckSpec, bound_s: float) -> ProbeError:
    return ProbeError(
        ErrorKind.ERROR,
        f"the {spec.type} probe did not end within {bound_s:g} s, past its own timeouts, and "
        "was abandoned; this is a bug in netdiag",
    )


class _Run:
    """The scheduler: which checks wait to start (first runs in file order, then retries when
    their backoff is over), which run, which are done."""

    def __init__(
        self, specs: Sequence[CheckSpec], concurrency: int, on_done: DoneCallback | None
    ) -> None:
        self.states = [_State(s) for s in specs]
        self.concurrency = concurrency
        self.on_done = on_done
        self.fresh = 0
        """The next check that has not started yet (checks start in the file's order)."""
        self.retries: list[tuple[int, int]] = []
        """(ready at, in now_ns; index): failed checks waiting for their backoff."""
        self.deadlines: list[tuple[int, int, int]] = []
        """(give up at, in now_ns; index; launch): the attempts running."""
        self.running = 0
        self.finished = 0
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self.workers = 0
        """Worker threads that take jobs (a stuck one no longer counts)."""
        self.threads = 0
        """Worker threads started, stuck ones included."""

    def _launch(self, index: int) -> None:
        state = self.states[index]
        if state.launched == 0:
            state.started_at = utc_now_iso()
            state.start_ns = now_ns()
        state.launched += 1
        state.running = state.launched
        self.running += 1
        bound_ns = int(watchdog_s(state.spec) * 1e9)
        heapq.heappush(self.deadlines, (now_ns() + bound_ns, index, state.launched))
        if self.workers < min(self.concurrency, len(self.states)):
            self.workers += 1
            self.threads += 1
            threading.Thread(
                target=_worker,
                args=(self.jobs, self.done),
                name=f"netdiag-check-{self.threads}",
                daemon=True,
            ).start()
        self.jobs.put((index, state.launched, state.spec))

    def _start_what_can(self) -> None:
        now = now_ns()
        while self.running < self.concurrency:
            if self.retries and self.retries[0][0] <= now:
                self._launch(heapq.heappop(self.retries)[1])
            elif self.fresh < len(self.states):
                self._launch(self.fresh)
                self.fresh += 1
            else:
                return

    def _collect(
        self, index: int, launch: int, report: AnyReport | None, error: ProbeError | None
    ) -> None:
        state = self.states[index]
        if launch != state.running:
            return  # an attempt given up on (:meth:`_give_up`) ended after all: too late
        state.running = 0
        self.running -= 1
        state.report, state.error = report, error
        state.attempts += 1
        spec = state.spec
        if error is not None and state.attempts <= spec.retries:
            wait = backoff_s(state.attempts, spec.timeout_s)
            heapq.heappush(self.retries, (now_ns() + int(wait * 1e9), index))
            return
        self.finished += 1
        result = _finish(state)
        if self.on_done is not None:
            self.on_done(result)

    def _collect_waiting(self) -> None:
        """The answers already in, without waiting."""
        while True:
            try:
                index, launch, report, error = self.done.get_nowait()
            except queue.Empty:
                return
            self._collect(index, launch, report, error)

    def _give_up(self) -> None:
        """Attempts past their deadline end as errors; their threads no longer count. An
        answer already waiting is collected first: that attempt ended in time, even when this
        thread was held up (a slow ``on_done``, a stopped process) until after its deadline."""
        now = now_ns()
        while self.deadlines and self.deadlines[0][0] <= now:
            self._collect_waiting()
            _, index, launch = heapq.heappop(self.deadlines)
            state = self.states[index]
            if state.running != launch:
                continue  # it ended in time
            self.workers -= 1  # that thread is stuck: another may start in its place
            bound = watchdog_s(state.spec)
            self._collect(index, launch, None, _abandoned(state.spec, bound))

    def loop(self) -> None:
        """Run every check to its end (KeyboardInterrupt reaches the caller at once)."""
        while self.finished < len(self.states):
            self._give_up()
            if self.finished == len(self.states):
                return  # the last attempts were given up on: nothing more to wait for
            self._start_what_can()
            wakes = [self.deadlines[0][0]] if self.deadlines else []
            if self.retries:
                wakes.append(self.retries[0][0])
            wait = max(0.0, (min(wakes) - now_ns()) / 1e9) if wakes else None
            if self.running == 0 and wait is not None:  # nothing to collect: sleep till then
                threading.Event().wait(wait)
                continue
            try:
                index, launch, report, error = self.done.get(timeout=wait)
            except queue.Empty:
                continue
            self._collect(index, launch, report, error)

    def stop(self) -> None:
        """No more jobs: workers end after their current check (they are daemons, so an
        exiting program does not wait for them), a stuck one when it ends at last (with
        ``--every``, runs follow one another: no stuck thread may wait for jobs forever)."""
        for _ in range(self.threads):
            self.jobs.put(None)

    def results(self, run_started_at: str) -> list[CheckResult]:
        """Every check's result in the file's order: a check that did not finish keeps its
        last finished attempt (it was waiting for a retry, or running one), and is not run
        when it had none."""
        return [
            state.result
            or (_finish(state) if state.attempts else _not_run(state.spec, run_started_at))
            for state in self.states
        ]


def run_checks(
    specs: Sequence[CheckSpec],
    *,
    file: str,
    only: Sequence[str] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: DoneCallback | None = None,
) -> CheckReport:
    """Run ``specs`` (at most ``concurrency`` at once) into one report, the checks in the
    file's order. ``on_done`` sees each check's result in this thread as it finishes (not on a
    pending retry). Returns the partial report, marked interrupted, on KeyboardInterrupt."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started_at = utc_now_iso()
    start = now_ns()
    run = _Run(specs, concurrency, on_done)
    interrupted = False
    try:
        run.loop()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        run.stop()
    checks = tuple(run.results(started_at))
    return CheckReport(
        command="check",
        ok=not interrupted and all(c.ok for c in checks),
        error=_overall_error(checks),
        interrupted=interrupted,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        file=file,
        only=tuple(only),
        summary=summarize(checks),
        checks=checks,
    )


def summarize(checks: Sequence[CheckResult]) -> CheckSummary:
    not_run = sum(c.attempts == 0 for c in checks)
    passed = sum(c.ok for c in checks)
    return CheckSummary(
        total=len(checks),
        passed=passed,
        failed=len(checks) - passed - not_run,
        flaky=sum(c.flaky for c in checks),
        not_run=not_run,
    )


def _overall_error(checks: Sequence[CheckResult]) -> ProbeError | None:
    """The report's error, which decides its exit status: the first unhealthy check's (exit
    1) before the first that could not run here (exit 3); checks not run do not count (the
    report is interrupted then, and says so)."""
    ran = [(c.name, c.error) for c in checks if c.attempts > 0]
    unhealthy = [
        item
        for item in ran
        if item[1] is not None and item[1].kind.exit_status != ExitStatus.CANNOT_RUN
    ]
    cannot = [
        item
        for item in ran
        if item[1] is not None and item[1].kind.exit_status == ExitStatus.CANNOT_RUN
    ]
    healthy = [item for item in ran if item[1] is None]
    return summarize_errors([*unhealthy, *cannot, *healthy], noun="checks")
