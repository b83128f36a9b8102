"""One monotonic clock for every measurement, and UTC wall-clock stamps for reports."""

import time
from datetime import UTC, datetime

now_ns = time.perf_counter_ns
"""Monotonic nanoseconds: the clock every ``*_ms`` duration is measured with."""


def elapsed_ms(start_ns: int, end_ns: int | None = None) -> float:
    """Milliseconds between two ``now_ns()`` readings (or from ``start_ns`` until now)."""
    return ((now_ns() if end_ns is None else end_ns) - start_ns) / 1e6


def utc_now_iso() -> str:
    """The current time as UTC ISO 8601 with microseconds, e.g. ``2026-11-22T03:22:18.123456Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
