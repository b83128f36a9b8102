"""``netdiag check``'s report in each ``--format``: text, JSON, JSON lines, JUnit XML, TAP 14
and Prometheus exposition text, each a pure function of the
:class:`~netdiag.results.check.CheckReport`; and :func:`write_atomic` for ``--output``.

Each format is built by a library that knows its syntax, never by pasting strings together:
JSON by the JSON layer every command uses (:func:`netdiag.output.json_document`), JUnit by
:mod:`xml.etree.ElementTree`, Prometheus by ``prometheus_client``. TAP has no writer library;
its lines are formatted field by field, every free text escaped, and its YAML diagnostics are
JSON values (JSON is YAML 1.2). The libraries, and rich for the text, are imported only when
their format is chosen.
"""

from __future__ import annotations

import contextlib
import os
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from netdiag.results.check import CheckReport, CheckResult


class Format(StrEnum):
    """The choices of ``--format``."""

    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"
    JUNIT = "junit"
    TAP = "tap"
    PROMETHEUS = "prometheus"


def render(report: CheckReport, fmt: Format | str) -> str:
    """The whole report in ``fmt``, ending with a newline."""
    fmt = Format(fmt)
    if fmt is Format.JSON:
        from netdiag.output import json_document

        return json_document(report) + "\n"
    if fmt is Format.JSONL:
        return "".join(jsonl_line(c) + "\n" for c in report.checks)
    if fmt is Format.JUNIT:
        from netdiag.checks import junit

        return junit.render(report)
    if fmt is Format.TAP:
        from netdiag.checks import tap

        return tap.render(report)
    if fmt is Format.PROMETHEUS:
        from netdiag.checks import prometheus

        return prometheus.render(report)
    from netdiag.output import terminal_safe
    from netdiag.views.check import check_view

    return plain_text(check_view(terminal_safe(report), terminal=False))


def jsonl_line(result: CheckResult) -> str:
    """One check as one line of JSON (no newline at the end): the ``checks`` item of the
    JSON document, written as soon as the check finishes."""
    from netdiag.output import json_document

    return json_document(result, indent=None)


def plain_text(items: list[RenderableType]) -> str:
    """Renderables as a pipe shows them: no colour, no wrapping, control characters escaped
    (:func:`netdiag.output.escaped`)."""
    import io

    from rich.console import Console

    from netdiag.output import escaped

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=1000,
        soft_wrap=True,
        no_color=True,
        color_system=None,
        force_terminal=False,
        markup=False,
        highlight=False,
        emoji=False,
    )
    for item in items:
        console.print(escaped(item))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (node_exporter's textfile collector, a CI
    job) sees the old file or the new one, never a part: a temporary file in the same
    directory (named ``.NAME.*.tmp``, which the textfile collector ignores: it reads only
    ``*.prom``), flushed to disk, then renamed over ``path``. The new file keeps the mode of
    the one it replaces, else 0644 (readable by the collector's user). OSError on failure,
    and the temporary file is removed."""
    import tempfile

    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable; not every file system can (then it is skipped)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
