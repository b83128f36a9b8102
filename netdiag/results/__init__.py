"""Plain-data results shared by every probe, and their generic JSON form.

A probe returns a frozen dataclass. Every command's top-level report has ``command``, ``ok``
and ``error`` fields; failures are values (:class:`ProbeError`), never exceptions that reach a
user. JSON is derived from the dataclasses generically, so a new field shows up in ``--json``
without touching the formatter.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from netdiag.errors import ErrorKind
from netdiag.exitcodes import ExitStatus


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeError:
    """Why a probe failed (or what it warns of): a machine ``kind`` from
    :class:`netdiag.errors.ErrorKind` and a human ``message``.

    ``hint`` says how to fix a problem on this machine (for errors that mean netdiag cannot run
    the probe here, exit status 3). A ``kind`` given as a string must be one of the enum's
    values: anything else is a ValueError at once, so no kind escapes the contract.
    """

    kind: ErrorKind
    message: str
    hint: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ErrorKind):
            object.__setattr__(self, "kind", ErrorKind(self.kind))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """The fields every command's report starts with, in JSON as in Python: the one contract
    a script can rely on whatever the command."""

    command: str
    ok: bool
    """True when every probe succeeded and every threshold held (exit status 0)."""
    error: ProbeError | None
    """Why the report is not ok (the first failure), or None."""
    interrupted: bool
    """Stopped by Ctrl-C: what was measured is reported, ``error.kind`` is ``interrupted``."""
    started_at: str
    """When the run started, UTC ISO 8601."""
    duration_ms: float
    """How long the whole run took."""
    warnings: tuple[ProbeError, ...] = ()
    """What deserves attention without making the report unhealthy (e.g. a certificate that
    expires soon); never changes the exit status."""

    def __post_init__(self) -> None:
        # An interrupted run is not ok, and says why in ``error``, whatever the probe found
        # before Ctrl-C (its first failure, if any, is kept in the message).
        if self.interrupted and (self.error is None or self.error.kind != ErrorKind.INTERRUPTED):
            why = "interrupted (Ctrl-C): the results are partial"
            if self.error is not None:
                why += f"; before that: {self.error.kind}: {self.error.message}"
            object.__setattr__(self, "error", ProbeError(ErrorKind.INTERRUPTED, why))
        if self.interrupted and self.ok:
            object.__setattr__(self, "ok", False)


class Report(Protocol):
    """What every command's top-level result provides."""

    @property
    def command(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> ProbeError | None: ...
    @property
    def interrupted(self) -> bool: ...


def exit_status(report: Report) -> ExitStatus:
    """Map a report to the documented exit status."""
    if report.interrupted:
        return ExitStatus.INTERRUPTED
    if report.ok:
        return ExitStatus.OK
    if report.error is not None:
        return report.error.kind.exit_status
    return ExitStatus.UNHEALTHY


def summarize_errors(
    items: Sequence[tuple[str, ProbeError | None]], noun: str = "targets"
) -> ProbeError | None:
    """The top-level error of a multi-target report: ``None`` when every item is healthy; the
    item's own error when there is one item; otherwise the first failure's kind, with a
    message that counts: said once when every failure is the same, else with the count of
    each kind and the first failure (never the whole list)."""
    failed = [(label, err) for label, err in items if err is not None]
    if not failed:
        return None
    label, first = failed[0]
    if len(items) == 1:
        return first
    head = f"{len(failed)} of {len(items)} {noun}"
    if len(failed) == 1:
        return ProbeError(first.kind, f"{head} unhealthy: {label}: {first.message}", first.hint)
    if len({e.message for _, e in failed}) == 1:
        return ProbeError(first.kind, f"{head} failed the same way: {first.message}", first.hint)
    kinds: dict[str, int] = {}
    for _, e in failed:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1
    counts = f" ({', '.join(f'{n} {k}' for k, n in kinds.items())})" if len(kinds) > 1 else ""
    message = f"{head} unhealthy{counts}; first: {label}: {first.message}"
    return ProbeError(first.kind, message, first.hint)


def to_jsonable(value: Any) -> Any:
    """Turn a result (dataclasses, enums, tuples, floats) into JSON-ready data.

    Floats are rounded to 4 decimals (0.1 microsecond for ``*_ms`` fields); NaN and infinities
    become ``null`` so the output is always valid JSON.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"cannot represent {type(value).__name__} in JSON")
