"""The one output layer: JSON for scripts, rich text for people.

JSON is derived generically from a command's report (:func:`netdiag.result.to_jsonable`), so
stdout under ``--json`` is exactly one document. Human text is written per command as pure
functions ``result -> renderables`` (``netdiag.views``) and printed here: colour only on a
terminal, plain text when piped, ``NO_COLOR`` honoured (rich reads it). rich is imported only
when text is actually printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def json_document(report: Any) -> str:
    """The report as one JSON document (a single line per value is not promised: it is
    indented for reading, and any JSON parser takes it)."""
    import json  # here, not at start-up: `netdiag --help` only needs error_line

    from netdiag.result import to_jsonable

    return json.dumps(to_jsonable(report), indent=2, ensure_ascii=False)


def emit_json(report: Any) -> None:
    sys.stdout.write(json_document(report) + "\n")
    sys.stdout.flush()


class TextOutput:
    """Prints renderables to stdout: styled on a terminal, plain and unwrapped when piped."""

    def __init__(self, file: Any = None) -> None:
        from rich.console import Console

        probe = Console(file=file or sys.stdout)
        self.is_terminal = probe.is_terminal
        self.console: Console = (
            probe
            if self.is_terminal
            else Console(file=file or sys.stdout, width=1000, soft_wrap=True, highlight=False)
        )
        self.console.highlight = False

    def print(self, *items: RenderableType) -> None:
        for item in items:
            self.console.print(item)


def error_line(command: str | None, message: str) -> None:
    """A one-line error on stderr: ``netdiag CMD: error: message``."""
    prog = f"netdiag {command}" if command else "netdiag"
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()
