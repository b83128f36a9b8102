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
from collections.abc import Mapping
from typing import Any, Protocol

from netdiag.exitcodes import ExitStatus


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeError:
    """Why a probe failed: a short machine ``kind`` and a human ``message``.

    ``hint`` says how to fix a problem on this machine (for errors that mean netdiag cannot run
    the probe here, exit status 3).
    """

    kind: str
    message: str
    hint: str | None = None


CANNOT_RUN_KINDS = frozenset({"permission", "unsupported", "resource", "config"})
"""Error kinds that mean netdiag could not run the probe here, not that the target is bad."""


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
    if report.error is not None and report.error.kind in CANNOT_RUN_KINDS:
        return ExitStatus.CANNOT_RUN
    return ExitStatus.UNHEALTHY


def summarize_errors(
    items: list[tuple[str, ProbeError | None]], noun: str = "targets"
) -> ProbeError | None:
    """The top-level error of a multi-target report: ``None`` when every item is healthy,
    otherwise the first failing item's kind, with a message that counts the failures."""
    failed = [(label, err) for label, err in items if err is not None]
    if not failed:
        return None
    label, first = failed[0]
    if len(items) == 1:
        return first
    message = f"{len(failed)} of {len(items)} {noun} unhealthy; first: {label}: {first.message}"
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
