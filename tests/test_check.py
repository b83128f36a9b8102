"""`netdiag check`: the runner (concurrency, retries and backoff, a probe that raises, Ctrl-C,
the exit status's precedence) with checks built by hand against the lab, and the command
(formats on stdout and in --output, --every, usage errors) with check files."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import interrupt, run_process
from schema_util import validate

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


def test_a_probe_that_never_ends_is_abandoned_and_the_run_ends(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdiag.checks.runner as runner

    monkeypatch.setattr(runner, "WATCHDOG_SLACK_S", -1.2)  # give up after 2 x 1.2 - 1.2 s
    release = threading.Event()
    calls: list[int] = []

    def hangs() -> TcpReport:  # a bug: ignores its own timeout until the test ends
        calls.append(1)
        release.wait(30)
        return tcp_call(lab.endpoints["tcp_open"])()

    hung = spec("hung", hangs, retries=1, timeout_s=0.1)
    assert hung.bound_s == pytest.approx(1.2)  # one connect, a lookup, 1 s: its own bounds
    assert runner.watchdog_s(hung) == pytest.approx(1.2)
    started = time.monotonic()
    try:
        report = run_checks(
            [hung, spec("fine", tcp_call(lab.endpoints["tcp_open"]), index=2)],
            file="f",
            concurrency=1,  # the stuck thread must not hold the only slot
        )
    finally:
        release.set()
    took = time.monotonic() - started
    bad, fine = report.checks
    assert 2.3 < took < 6, took  # two attempts given up on after 1.2 s each, then "fine"
    assert calls == [1, 1] and bad.attempts == 2 and bad.report is None and not bad.ok
    assert bad.error is not None and bad.error.kind == ErrorKind.ERROR
    assert "did not end within 1.2 s" in bad.error.message
    assert "bug in netdiag" in bad.error.message
    assert fine.ok and exit_status(report) == ExitStatus.UNHEALTHY


def test_a_late_answer_from_an_abandoned_attempt_is_ignored(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdiag.checks.runner as runner

    monkeypatch.setattr(runner, "WATCHDOG_SLACK_S", -2.1)  # give up after 2 x 1.2 - 2.1 s
    attempts: list[int] = []

    def slow_then_fast() -> TcpReport:
        attempts.append(1)
        if len(attempts) == 1:  # ends (failed) after it was given up on, while the run goes on
            time.sleep(0.6)
            return tcp_call(lab.endpoints["tcp_refused"])()
        return tcp_call(lab.endpoints["tcp_open"])()

    def slow() -> TcpReport:
        time.sleep(0.25)  # under its 0.3 s
        return tcp_call(lab.endpoints["tcp_open"])()

    report = run_checks(
        [
            spec("x", slow_then_fast, retries=1, timeout_s=0.1),
            *(spec(f"slow{i}", slow, timeout_s=0.1, index=2 + i) for i in range(4)),
        ],
        file="f",
        concurrency=2,
    )
    x, *others = report.checks
    assert x.ok and x.flaky and x.attempts == 2, x.error
    assert all(c.ok and c.attempts == 1 for c in others)
    assert report.summary.total == 5 and report.ok


def test_a_run_whose_last_attempt_is_abandoned_ends(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdiag.checks.runner as runner

    monkeypatch.setattr(runner, "WATCHDOG_SLACK_S", -1.2)  # give up after 2 x 1.2 - 1.2 s
    release = threading.Event()

    def hangs() -> TcpReport:
        release.wait(30)
        return tcp_call(lab.endpoints["tcp_open"])()

    started = time.monotonic()
    try:
        report = run_checks([spec("hung", hangs, timeout_s=0.1)], file="f")
    finally:
        release.set()
    took = time.monotonic() - started
    assert took < 5, took  # not until the stuck thread ends on its own
    (hung,) = report.checks
    assert hung.error is not None and "was abandoned" in hung.error.message
    deadline = time.monotonic() + 10  # released, the stuck thread ends, and then stops
    while time.monotonic() < deadline and any(
        t.name.startswith("netdiag-check-") for t in threading.enumerate()
    ):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("netdiag-check-")]


def test_an_answer_in_before_its_deadline_is_not_abandoned(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdiag.checks.runner as runner

    monkeypatch.setattr(runner, "WATCHDOG_SLACK_S", -1.2)  # give up after 2 x 1.2 - 1.2 s
    held: list[str] = []

    def on_done(result: CheckResult) -> None:  # an output slow to take the first line
        if not held:
            held.append(result.name)
            time.sleep(2.0)

    def ends_in_time() -> TcpReport:
        time.sleep(0.3)  # its answer waits while on_done holds the scheduler
        return tcp_call(lab.endpoints["tcp_open"])()

    report = run_checks(
        [
            spec("first", tcp_call(lab.endpoints["tcp_open"]), timeout_s=0.1),
            spec("second", ends_in_time, timeout_s=0.1, index=2),
        ],
        file="f",
        concurrency=2,
        on_done=on_done,
    )
    first, second = report.checks
    assert held == ["first"] and first.ok
    assert second.ok and second.attempts == 1, second.error


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


# -- the command -----------------------------------------------------------------------------


def check_file(tmp_path: Path, lab: Lab, *, refused: bool = True, extra: str = "") -> str:
    """A check file for the lab: two healthy checks (tcp, http) and, with ``refused``, one
    that is not (retried once)."""
    text = f"""
[defaults]
timeout = 2

[[check]]
name = "open"
type = "tcp"
target = "{lab.endpoints["tcp_open"]}"
count = 1
tags = ["prod", "tcp"]

[[check]]
name = "web"
type = "http"
target = "{lab.urls["http"]}/"
tags = ["prod"]
"""
    if refused:
        text += f"""
[[check]]
name = "closed port"
type = "tcp"
target = "{lab.endpoints["tcp_refused"]}"
count = 1
retries = 1
"""
    path = tmp_path / "checks.toml"
    path.write_text(text + extra)
    return str(path)


def test_text_piped_a_line_per_check_then_the_summary(cli, lab: Lab, tmp_path: Path) -> None:
    r = cli("check", check_file(tmp_path, lab))
    assert r.code == ExitStatus.UNHEALTHY, r.err
    assert r.err == ""
    lines = r.out.splitlines()
    assert "\x1b" not in r.out  # plain when piped: no colour, no progress bar
    by_name = {n: next(line for line in lines if f" {n} " in line) for n in ("open", "web")}
    assert by_name["open"].startswith("ok") and "tcp" in by_name["open"]
    assert by_name["web"].startswith("ok") and "http" in by_name["web"]
    closed = next(line for line in lines if "closed port" in line)
    assert closed.startswith("FAIL") and "refused" in closed and "2 attempts" in closed
    assert any(
        "3 checks in" in line and "2 passed" in line and "1 failed" in line for line in lines
    )


def test_all_healthy_exit_0_and_only_by_tag(cli, lab: Lab, tmp_path: Path) -> None:
    r = cli("check", check_file(tmp_path, lab), "--only", "prod")
    assert r.code == 0, r.out + r.err
    assert "closed port" not in r.out and "2 checks in" in r.out


def test_json_document_matches_its_schema(cli, lab: Lab, tmp_path: Path) -> None:
    path = check_file(tmp_path, lab)
    r = cli("check", path, "--format", "json")
    assert r.code == ExitStatus.UNHEALTHY
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["file"]) == ("check", False, path)
    assert [c["name"] for c in doc["checks"]] == ["open", "web", "closed port"]
    assert doc["summary"] == {"total": 3, "passed": 2, "failed": 1, "flaky": 0, "not_run": 0}
    closed = doc["checks"][2]
    assert closed["attempts"] == 2 and closed["error"]["kind"] == "refused"
    assert closed["report"]["command"] == "tcp"  # what `netdiag tcp --json` prints


def test_jsonl_one_line_per_check(cli, lab: Lab, tmp_path: Path) -> None:
    import json

    r = cli("check", check_file(tmp_path, lab), "--format", "jsonl")
    assert r.code == ExitStatus.UNHEALTHY
    docs = [json.loads(line) for line in r.out.splitlines()]
    assert sorted(d["name"] for d in docs) == ["closed port", "open", "web"]
    assert docs[-1]["name"] == "closed port"  # last: it finished last (its retry)


def test_output_gets_the_document_and_stdout_the_text(cli, lab: Lab, tmp_path: Path) -> None:
    import json

    out = tmp_path / "report.json"
    r = cli("check", check_file(tmp_path, lab), "--format", "json", "--output", str(out))
    assert r.code == ExitStatus.UNHEALTHY
    assert "3 checks in" in r.out and not r.out.lstrip().startswith("{")
    doc = json.loads(out.read_text())
    assert doc["summary"]["failed"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file


def test_output_text_is_the_plain_view(cli, lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    r = cli("check", check_file(tmp_path, lab, refused=False), "--output", str(out))
    assert r.code == 0
    text = out.read_text()
    assert "2 checks in" in text and "\x1b" not in text
    assert text.index(" open ") < text.index(" web ")  # the file's order


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "missing FILE"),
        (("--example", "x.toml"), "takes no FILE"),
        (("{file}", "--format", "xml"), "--format takes"),
        (("{file}", "--rounds", "2"), "--rounds goes with --every"),
        (("{file}", "--every", "1", "--format", "junit"), "--output FILE"),
        (("{file}", "--output", "{tmp}"), "is a directory"),
        (("{file}", "--output", "{tmp}/no/such/report.xml"), "no directory"),
        (("{file}", "--concurrency", "0"), "--concurrency"),
        (("{tmp}/missing.toml",), "missing.toml"),
        (("{file}", "--only", "nothing-has-this"), "nothing-has-this"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    cli, lab: Lab, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    path = check_file(tmp_path, lab)
    argv = [a.format(file=path, tmp=tmp_path) for a in args]
    r = cli("check", *argv)
    assert r.code == ExitStatus.USAGE
    assert r.out == ""
    assert r.err.startswith("netdiag check: error:") and message in r.err
    assert r.err.count("\n") == 1


def test_a_wrong_file_is_exit_2_and_nothing_runs(cli, lab: Lab, tmp_path: Path) -> None:
    path = check_file(tmp_path, lab, extra='\n[[check]]\nname = "bad"\ntype = "tcp"\n')
    r = cli("check", path)
    assert r.code == ExitStatus.USAGE and r.out == ""
    assert "bad" in r.err and r.err.count("\n") == 1


def test_example_prints_and_exits_0(cli) -> None:
    r = cli("check", "--example")
    assert r.code == 0 and r.err == ""
    assert r.out.startswith("#")


def hand_built(monkeypatch: pytest.MonkeyPatch, *specs: CheckSpec) -> None:
    """``netdiag check FILE`` runs ``specs`` whatever FILE holds."""
    from netdiag.checks import spec as spec_module

    monkeypatch.setattr(spec_module, "load", lambda path, only=(): list(specs))


def test_a_probe_that_raises_is_no_traceback(cli, lab: Lab, monkeypatch, tmp_path) -> None:
    def broken() -> TcpReport:
        raise ZeroDivisionError("division by zero")

    hand_built(monkeypatch, spec("bug", broken), spec("fine", tcp_call(lab.endpoints["tcp_open"])))
    r = cli("check", "any.toml")
    assert r.code == ExitStatus.UNHEALTHY
    assert r.err == "" and "Traceback" not in r.out
    assert "ZeroDivisionError: division by zero" in r.out and "bug in netdiag" in r.out


def test_cannot_run_here_is_exit_3(cli, lab: Lab, monkeypatch) -> None:
    hand_built(
        monkeypatch,
        spec("fine", tcp_call(lab.endpoints["tcp_open"])),
        spec("icmp", failing_with(ErrorKind.PERMISSION, lab)),
    )
    assert cli("check", "any.toml").code == ExitStatus.CANNOT_RUN
    hand_built(
        monkeypatch,
        spec("icmp", failing_with(ErrorKind.PERMISSION, lab)),
        spec("down", tcp_call(lab.endpoints["tcp_refused"])),
    )
    assert cli("check", "any.toml", "--format", "json").code == ExitStatus.UNHEALTHY


def test_every_prints_state_changes_only(cli, lab: Lab, monkeypatch, tmp_path) -> None:
    """Round 1 prints every check's state; later rounds only the checks whose state changed
    (here: one that goes down in round 2 and comes back in round 3)."""
    open_, refused = tcp_call(lab.endpoints["tcp_open"]), tcp_call(lab.endpoints["tcp_refused"])
    rounds = iter([open_, refused, open_])

    def wobbly() -> TcpReport:
        return next(rounds)()

    hand_built(monkeypatch, spec("steady", open_), spec("wobbly", wobbly, index=2))
    out = tmp_path / "checks.prom.json"
    r = cli(
        "check",
        "x.toml",
        "--every",
        "0.5",
        "--rounds",
        "3",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 4, lines
    assert "steady  healthy" in lines[0] or "steady  healthy" in lines[1]
    assert "wobbly  healthy -> unhealthy" in lines[2] and "refused" in lines[2]
    assert "wobbly  unhealthy -> healthy" in lines[3]
    assert all(line[:4].isdigit() and "Z  " in line for line in lines)  # stamped
    import json

    assert json.loads(out.read_text())["ok"] is True  # rewritten: the last round's


def test_every_jsonl_prints_the_changed_checks(cli, lab: Lab, monkeypatch) -> None:
    import json

    open_ = tcp_call(lab.endpoints["tcp_open"])
    hand_built(monkeypatch, spec("steady", open_))
    r = cli("check", "x.toml", "--every", "0.5", "--rounds", "2", "--format", "jsonl")
    assert r.code == 0
    [doc] = [json.loads(line) for line in r.out.splitlines()]
    assert doc["name"] == "steady" and doc["ok"] is True


def test_ctrl_c_prints_what_finished_and_exits_130(lab: Lab, tmp_path: Path) -> None:
    extra = f"""
[[check]]
name = "silent"
type = "tcp"
target = "{lab.endpoints["tcp_silent"]}"
count = 1
timeout = 20
"""
    path = check_file(tmp_path, lab, refused=False, extra=extra)
    outcome, _ = interrupt("check", path, "--concurrency", "1", after_lines=2, timeout=30)
    assert outcome.code == ExitStatus.INTERRUPTED, outcome.err
    assert "Traceback" not in outcome.err
    assert "2 passed" in outcome.out and "1 not run" in outcome.out
    assert "interrupted" in outcome.out


def test_ctrl_c_json_is_a_partial_document(lab: Lab, tmp_path: Path) -> None:
    import json

    extra = f"""
[[check]]
name = "silent"
type = "tcp"
target = "{lab.endpoints["tcp_silent"]}"
count = 1
timeout = 20
"""
    path = check_file(tmp_path, lab, refused=False, extra=extra)
    outcome, _ = interrupt("check", path, "--format", "json", after_s=1.5, timeout=30)
    assert outcome.code == ExitStatus.INTERRUPTED, outcome.err
    doc = validate(json.loads(outcome.out))
    assert doc["interrupted"] is True and doc["error"]["kind"] == "interrupted"
    silent = doc["checks"][2]
    assert silent["attempts"] == 0 and silent["report"] is None
    assert doc["summary"]["passed"] == 2 and doc["summary"]["not_run"] == 1


def test_every_until_ctrl_c(lab: Lab, tmp_path: Path) -> None:
    path = check_file(tmp_path, lab, refused=False)
    outcome, _ = interrupt("check", path, "--every", "0.5", after_lines=2, after_s=1.2)
    assert outcome.code == ExitStatus.INTERRUPTED, outcome.err
    assert "Traceback" not in outcome.err
    assert len(outcome.out.splitlines()) == 2  # nothing changed after round 1


def test_progress_bar_only_on_a_terminal(lab: Lab, tmp_path: Path) -> None:
    path = check_file(tmp_path, lab, refused=False)
    piped = run_process("check", path)
    assert piped.code == 0 and "\x1b" not in piped.out and "━" not in piped.out
    tty = run_process("check", path, env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert tty.code == 0, tty.err
    assert "\x1b[" in tty.out and "2 checks in" in tty.out


def test_bash_completes_check_its_options_and_formats(tmp_path: Path) -> None:
    import subprocess
    import sys

    bash = "/bin/bash"
    if not Path(bash).exists():
        pytest.skip("bash is not installed")
    root = Path(__file__).resolve().parent.parent
    shim = tmp_path / "netdiag"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m netdiag "$@"\n')
    shim.chmod(0o755)
    probe = f"source {root / 'completions' / 'netdiag.bash'}\n" + "".join(
        f"COMP_WORDS=({words}); COMP_CWORD={cword}; _netdiag_completion netdiag;"
        ' echo "${COMPREPLY[@]}"\n'
        for words, cword in (
            ("netdiag ch", 1),
            ("netdiag check --e", 2),
            ("netdiag check --format j", 3),
        )
    )
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run([bash, "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    command, options, formats = out.stdout.splitlines()[:3]
    assert command.split() == ["check"]
    assert {"--every", "--example"} <= set(options.split())
    assert "--rounds" not in options  # hidden: a test hook
    assert set(formats.split()) == {"json", "jsonl", "junit"}


def test_the_demos_check_file_runs_against_the_lab(lab: Lab, tmp_path: Path) -> None:
    from netdiag.checks.spec import load
    from netdiag.commands.demo import check_file as demo_file

    path = tmp_path / "demo.toml"
    path.write_text(demo_file(lab.endpoints, lab.tls_names, lab.files, lab.urls))
    specs = load(str(path))
    assert {s.type for s in specs} >= {"tcp", "http", "tls"}
    report = run_checks(specs, file=str(path))
    assert [c.name for c in report.checks if not c.ok] == ["closed port"]
    assert exit_status(report) == ExitStatus.UNHEALTHY  # as the demo's step expects


def test_formats_are_the_formats_modules(cli) -> None:
    from netdiag.checks.formats import Format
    from netdiag.checks.runner import DEFAULT_CONCURRENCY
    from netdiag.commands import check as command
    from netdiag.commands.check import FORMATS

    assert tuple(f.value for f in Format) == FORMATS
    assert command.DEFAULT_CONCURRENCY == DEFAULT_CONCURRENCY


def test_json_run_imports_no_rich_and_plain_http_no_tls(lab: Lab, tmp_path: Path) -> None:
    from test_startup import HEAVY, TLS_STACK, loaded, packages

    path = check_file(tmp_path, lab, refused=False)
    status, modules = loaded("check", path, "--format", "json")
    assert status == 0
    assert not packages(modules) & (TLS_STACK | {"rich"})
    status, modules = loaded("check", "--help")
    assert status == 0 and not packages(modules) & HEAVY


@pytest.mark.parametrize("fmt", ["json", "junit", "tap", "prometheus", "jsonl"])
def test_each_format_to_stdout_and_to_output(cli, lab: Lab, tmp_path: Path, fmt: str) -> None:
    """Without --output, stdout is the document; with it, the file is the same document and
    stdout the text view (as a CI log shows it)."""
    import json
    import xml.etree.ElementTree as ET

    from prometheus_client.parser import text_string_to_metric_families

    path = check_file(tmp_path, lab)
    r = cli("check", path, "--format", fmt)
    assert r.code == ExitStatus.UNHEALTHY and r.err == ""
    out = tmp_path / f"report.{fmt}"
    r2 = cli("check", path, "--format", fmt, "--output", str(out))
    assert r2.code == ExitStatus.UNHEALTHY and r2.err == ""
    assert "3 checks in" in r2.out and "closed port" in r2.out
    for text in (r.out, out.read_text()):
        if fmt == "json":
            assert json.loads(text)["summary"]["failed"] == 1
        elif fmt == "jsonl":
            assert len([json.loads(line) for line in text.splitlines()]) == 3
        elif fmt == "junit":
            suite = ET.fromstring(text).find("testsuite")
            assert suite is not None and suite.get("tests") == "3"
            assert suite.get("failures") == "1"
        elif fmt == "tap":
            assert text.startswith("TAP version 14\n1..3\n")
        else:
            names = {f.name for f in text_string_to_metric_families(text)}
            assert "probe_success" in names


def test_output_that_cannot_be_written_is_exit_74(
    cli, lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from netdiag.checks import formats

    def full(path: object, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(formats, "write_atomic", full)
    r = cli("check", check_file(tmp_path, lab), "--output", str(tmp_path / "report.xml"))
    assert r.code == ExitStatus.OUTPUT_ERROR
    assert r.err == (
        f"netdiag check: error: cannot write --output {tmp_path / 'report.xml'}: "
        "No space left on device\n"
    )


def test_a_file_error_found_only_when_running_is_that_checks_error() -> None:
    from netdiag.checks.spec import SpecError

    def late() -> TcpReport:
        raise SpecError("check 'x': server: nowhere.test does not resolve")

    [c] = run_checks([spec("x", late)], file="f").checks
    assert c.error is not None and c.error.kind == ErrorKind.ERROR
    assert c.error.message == "check 'x': server: nowhere.test does not resolve"
