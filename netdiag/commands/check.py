"""``netdiag check``: many health checks from one TOML file, run concurrently in this process
through the commands' own probes, reported as text, JSON, JSON lines, JUnit XML, TAP 14 or
Prometheus exposition text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import usage_error

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from netdiag.checks.spec import CheckSpec
    from netdiag.output import TextOutput
    from netdiag.results.check import CheckReport, CheckResult

FORMATS = ("text", "json", "jsonl", "junit", "tap", "prometheus")
DOCUMENT_FORMATS = ("json", "junit", "tap", "prometheus")
"""Formats that are one document, made when every check has finished."""
DEFAULT_CONCURRENCY = 32
"""The same as :data:`netdiag.checks.runner.DEFAULT_CONCURRENCY` (not imported: --help would
pay for the runner)."""

HELP = f"""\
Run the health checks of FILE, a TOML file with one [[check]] table per check: its type (tcp,
dns, tls, http, ping, sockets), target and options, named as the command's long options with
'-' written '_' (netdiag check --example prints a commented example). The whole file is
checked first: a mistake is exit status 2 and nothing runs.

All checks run at once in this process, at most --concurrency at a time (default
{DEFAULT_CONCURRENCY}), through the same probes as the commands: each check's result is the
document 'netdiag TYPE ... --json' prints. A check that fails is tried again 'retries' times,
after 0.2 s, 0.4 s, 0.8 s... (each wait at most the check's timeout); one that passed only on
a retry is reported as flaky, with its attempts.

--format: text (a line per check as it finishes, then a summary; a progress bar on a
terminal), json (one document), jsonl (one line per check as it finishes), junit (JUnit XML),
tap (TAP 14) or prometheus (node_exporter's textfile collector). With --output FILE the
document goes to FILE (replaced atomically) and stdout shows the text view, as in a CI log.

--every SECONDS runs the checks again every SECONDS until Ctrl-C, printing each check's state
when it changes (healthy, unhealthy, cannot run), with the time; --output is rewritten after
each round.

Exit status: 0 every check healthy; 1 a check is unhealthy; 3 no check is unhealthy but a
probe cannot run here (a hint says how to fix it); 2 a bad file or usage; 74 the output
could not be written; 130 interrupted (what finished is reported, the rest as not run).
Unhealthy outranks cannot-run. With --every: the last complete round's status."""


def _complete_format(incomplete: str) -> list[str]:
    return [f for f in FORMATS if f.startswith(incomplete)]


def command(
    file: Annotated[
        str | None,
        typer.Argument(metavar="FILE", help="The check file (TOML).", show_default=False),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="NAME_OR_TAG",
            help="Run only the checks with this name or tag (repeatable).",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=1024, metavar="N", help="Checks running at once."),
    ] = DEFAULT_CONCURRENCY,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="text, json, jsonl, junit, tap or prometheus.",
            autocompletion=_complete_format,
        ),
    ] = "text",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the --format document to FILE (atomically); stdout shows the text view.",
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        float | None,
        typer.Option(
            "--every",
            min=0.5,
            max=86400.0,
            metavar="SECONDS",
            help="Run again every SECONDS until Ctrl-C; print each check's state changes.",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Print a commented example check file and exit.")
    ] = False,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=1, hidden=True, help="With --every: stop after N rounds."),
    ] = None,
) -> None:
    if example:
        _example(file)
    if file is None:
        raise usage_error("missing FILE: the check file to run (--example prints one)")
    if fmt not in FORMATS:
        raise usage_error(f"--format takes {', '.join(FORMATS)}, not '{fmt}'")
    if rounds is not None and every is None:
        raise usage_error("--rounds goes with --every")
    if every is not None and output is None and fmt in DOCUMENT_FORMATS:
        raise usage_error(
            f"--every prints state changes: give --output FILE for the {fmt} document "
            "(rewritten every round)"
        )
    if output is not None:
        _check_output(output)
    specs = _load(file, only or [])
    if every is None:
        status = _once(specs, file, only or [], concurrency, fmt, output)
    else:
        status = _every(specs, file, only or [], concurrency, fmt, output, every, rounds)
    raise typer.Exit(status)


def _example(file: str | None) -> None:
    import sys

    from netdiag.checks.spec import example

    if file is not None:
        raise usage_error("--example prints an example file: it takes no FILE")
    sys.stdout.write(example())
    sys.stdout.flush()
    raise typer.Exit(0)


def _load(file: str, only: list[str]) -> list[CheckSpec]:
    """The file's checks; a wrong file is one line on stderr and exit status 2."""
    from netdiag.checks.spec import SpecError, load
    from netdiag.exitcodes import ExitStatus
    from netdiag.output import error_line

    try:
        return load(file, only=only)
    except SpecError as exc:
        error_line("check", str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None


def _check_output(path: str) -> None:
    """--output must name a file in an existing directory: found before the checks run, not
    after."""
    import os

    if os.path.isdir(path):
        raise usage_error(f"--output {path}: is a directory")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise usage_error(f"--output {path}: no directory {parent}")


def _line(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _write_output(path: str, report: CheckReport, fmt: str) -> None:
    """Replace ``path`` with the report; a failure is one line on stderr and exit status 74."""
    from netdiag.checks.formats import render, write_atomic
    from netdiag.exitcodes import ExitStatus
    from netdiag.output import error_line

    try:
        write_atomic(path, render(report, fmt))
    except OSError as exc:
        error_line("check", f"cannot write --output {path}: {exc.strerror or exc}")
        raise typer.Exit(ExitStatus.OUTPUT_ERROR) from None


def _once(
    specs: list[CheckSpec],
    file: str,
    only: list[str],
    concurrency: int,
    fmt: str,
    output: str | None,
) -> int:
    """One run: text (or JSON lines) on stdout as checks finish, the document at the end."""
    import sys

    from netdiag.checks.runner import run_checks
    from netdiag.results import exit_status

    if fmt == "text" or output is not None:
        report = _run_with_text(specs, file, only, concurrency)
    elif fmt == "jsonl":
        from netdiag.checks.formats import jsonl_line

        def emit(result: CheckResult) -> None:
            sys.stdout.write(_line(jsonl_line(result)))
            sys.stdout.flush()

        report = run_checks(specs, file=file, only=only, concurrency=concurrency, on_done=emit)
        for c in report.checks:  # interrupted: the checks that did not run have a line too
            if c.attempts == 0:
                emit(c)
    else:
        from netdiag.checks.formats import render

        report = run_checks(specs, file=file, only=only, concurrency=concurrency)
        sys.stdout.write(render(report, fmt))
        sys.stdout.flush()
    if output is not None:
        _write_output(output, report, fmt)
    return exit_status(report)


def _run_with_text(
    specs: list[CheckSpec], file: str, only: list[str], concurrency: int
) -> CheckReport:
    """Run the checks with the text view on stdout: a line per check as it finishes, a
    progress bar below them on a terminal, then the summary."""
    from rich.text import Text

    from netdiag.checks.runner import run_checks
    from netdiag.output import TextOutput, terminal_safe
    from netdiag.views.check import check_line, summary_line
    from netdiag.views.common import closing

    out = TextOutput()
    progress, task = _progress(out, len(specs))
    width = min(max((len(s.name) for s in specs), default=0), 24)  # as check_view lines up

    def show(result: CheckResult) -> None:
        out.print(check_line(terminal_safe(result), out.is_terminal, name_width=width))
        if progress is not None:
            progress.advance(task)

    if progress is not None:
        with progress:
            report = run_checks(specs, file=file, only=only, concurrency=concurrency, on_done=show)
    else:
        report = run_checks(specs, file=file, only=only, concurrency=concurrency, on_done=show)
    shown = terminal_safe(report)
    out.print(Text(""), summary_line(shown), *closing(shown))
    return report


def _progress(out: TextOutput, total: int) -> tuple[Progress | None, TaskID]:
    """A progress bar on a terminal (removed when the run ends); none when piped."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    if not out.is_terminal:
        return None, TaskID(0)
    progress = Progress(
        TextColumn("checks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.console,
        transient=True,
    )
    return progress, progress.add_task("checks", total=total)


def _every(
    specs: list[CheckSpec],
    file: str,
    only: list[str],
    concurrency: int,
    fmt: str,
    output: str | None,
    every: float,
    rounds: int | None,
) -> int:
    """Rounds every ``every`` seconds (start to start; at once when a round took longer)
    until Ctrl-C (or ``rounds``): each check's state when it changes, --output rewritten after
    each round. The status of the last complete round; 130 on Ctrl-C."""
    import sys
    import time

    from netdiag.checks.runner import run_checks
    from netdiag.exitcodes import ExitStatus
    from netdiag.output import TextOutput, terminal_safe
    from netdiag.results import exit_status
    from netdiag.views.checkwatch import change_line, state_of

    jsonl = fmt == "jsonl" and output is None
    out = None if jsonl else TextOutput()
    states: dict[str, str] = {}
    status = ExitStatus.OK
    n = 0

    def show(result: CheckResult) -> None:
        now = state_of(result)
        before = states.get(result.name)
        if before == now:
            return
        states[result.name] = now
        if out is not None:
            out.print(change_line(terminal_safe(result), before, terminal=out.is_terminal))
        else:
            from netdiag.checks.formats import jsonl_line

            sys.stdout.write(_line(jsonl_line(result)))
            sys.stdout.flush()

    try:
        while rounds is None or n < rounds:
            started = time.monotonic()
            report = run_checks(specs, file=file, only=only, concurrency=concurrency, on_done=show)
            if report.interrupted:
                return ExitStatus.INTERRUPTED
            if output is not None:
                _write_output(output, report, fmt)
            status = exit_status(report)
            n += 1
            if rounds is not None and n >= rounds:
                break
            time.sleep(max(0.0, every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    return status


def register(app: typer.Typer) -> None:
    app.command(
        "check",
        help=HELP,
        short_help="Run many health checks from one file (CI and monitoring output).",
    )(command)
