"""The one output layer: JSON for scripts, rich text for people.

JSON is derived generically from a command's report (:func:`netdiag.results.to_jsonable`), so
stdout under ``--json`` is exactly one document. Human text is written per command as pure
functions ``result -> renderables`` (``netdiag.views``) and printed here: colour only on a
terminal, plain text when piped, ``NO_COLOR`` honoured (rich reads it). rich is imported only
when text is actually printed.

Everything a peer sent is hostile, and a terminal obeys escape sequences: a certificate CN
holding ``ESC [2J`` would clear the screen, a header holding an OSC sequence would set the
window title, a newline would forge a line of the report. So text output is made safe twice:
the report's strings are escaped before a view lays them out (:func:`terminal_safe`, so
columns still line up), and every segment rich writes is escaped once more on its way out,
whatever view produced it (:class:`TextOutput`). JSON escapes control characters by itself;
:func:`json_document` also escapes the C1 controls and Unicode line and bidi controls that
``json.dumps`` would leave raw.

A failed write to stdout (closed, ``/dev/full``, a reader that went away) is an
:class:`OutputError`, which the CLI turns into one line on stderr and exit status 74.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment

# C0 controls (tab and newline included), DEL, C1 controls, and the Unicode format characters
# that reorder or break lines on a terminal: ALM, LRM/RLM, LINE/PARAGRAPH SEPARATOR, the bidi
# embeddings and overrides (U+202A-E) and isolates (U+2066-9), as in "Trojan Source"; and lone
# surrogates, which no encoder can write (a UnicodeEncodeError instead of output).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_KEEP_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
# What json.dumps(ensure_ascii=False) leaves raw: only ever inside strings, so escaping them
# as \uXXXX gives the same JSON value.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    c = ord(ch)
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``,
    ``\\u202e``), as Python writes them in a string literal."""
    return _UNSAFE.sub(_escape_char, text)


def terminal_safe(value: Any) -> Any:
    """A copy of a result with every string escaped by :func:`escape_controls`: dataclasses,
    tuples, lists and dicts are rebuilt, everything else is returned as is."""
    if isinstance(value, str):
        return escape_controls(value) if _UNSAFE.search(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = terminal_safe(old)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        items = tuple(terminal_safe(v) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, list):
        return [terminal_safe(v) for v in value]
    if isinstance(value, dict):
        return {terminal_safe(k): terminal_safe(v) for k, v in value.items()}
    return value


class OutputError(Exception):
    """stdout could not be written."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))
        self.errno = exc.errno
        self.reason = exc.strerror or str(exc)


class _ClosedStream(io.TextIOBase):
    """Stands in for a stdout that was closed before netdiag started (``>&-``): Python then
    sets ``sys.stdout`` to None, and rich would silently print into nothing."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "stdout is closed")


class GuardedStdout:
    """stdout, with every failed write or flush raised as :class:`OutputError`."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream if stream is not None else _ClosedStream()

    def write(self, s: str) -> int:
        try:
            return int(self.stream.write(s))
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def json_document(report: Any, *, indent: int | None = 2) -> str:
    """The report as one JSON document (a single line per value is not promised: it is
    indented for reading, and any JSON parser takes it). ``indent=None``: on one line, as
    JSON lines need it (every newline in a value is escaped)."""
    import json  # here, not at start-up: `netdiag --help` only needs error_line

    from netdiag.results import to_jsonable

    text = json.dumps(to_jsonable(report), indent=indent, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(report: Any) -> None:
    sys.stdout.write(json_document(report) + "\n")
    sys.stdout.flush()


class _Escaped:
    """Renders another renderable with control characters in its text escaped: the last
    guard between peer data and the terminal, for any view."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        from rich.segment import Segment

        for seg in console.render(self.inner, options):
            if seg.control or not _UNSAFE_KEEP_NEWLINE.search(seg.text):
                yield seg
            else:
                yield Segment(_UNSAFE_KEEP_NEWLINE.sub(_escape_char, seg.text), seg.style)


def escaped(item: RenderableType) -> RenderableType:
    """``item`` as :meth:`TextOutput.print` shows it, control characters escaped: for what is
    drawn by other means (rich's Live)."""
    return _Escaped(item)


class TextOutput:
    """Prints renderables to stdout: styled on a terminal, plain and unwrapped when piped."""

    def __init__(self, file: Any = None) -> None:
        from rich.console import Console

        # markup=False: a string in a view is data, never rich markup, so that an address such
        # as '[fd00::1]:443' or a process named '[kworker]' is printed, not parsed as a style;
        # highlight=False: rich would colour numbers and addresses in plain strings on its own.
        probe = Console(file=file or sys.stdout, markup=False, highlight=False)
        self.is_terminal = probe.is_terminal
        self.console: Console = (
            probe
            if self.is_terminal
            else Console(
                file=file or sys.stdout,
                width=1000,
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
        )

    def print(self, *items: RenderableType) -> None:
        for item in items:
            self.console.print(_Escaped(item))


def error_line(command: str | None, message: str) -> None:
    """A one-line error on stderr: ``netdiag CMD: error: message``. A closed or failing
    stderr is not an error of its own: the exit status still tells."""
    prog = f"netdiag {command}" if command else "netdiag"
    try:
        sys.stderr.write(f"{prog}: error: {escape_controls(message)}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
