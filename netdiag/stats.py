"""Summary statistics of round-trip samples, computed as ping and fping users expect."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Stats:
    """Statistics over ``sent`` attempts of which ``received`` were answered: an echo reply
    for ping, a SYN-ACK (a completed connect) for tcp. Every command uses these names.

    ``loss_pct`` is ``None`` when nothing was sent: no attempt is not 0% loss. Times are in
    milliseconds, ``None`` when nothing was received."""

    sent: int
    received: int
    loss_pct: float | None
    min_ms: float | None
    avg_ms: float | None
    max_ms: float | None
    mdev_ms: float | None
    p50_ms: float | None
    p95_ms: float | None


def percentile(sorted_samples: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method).

    ``percentile(x, 50)`` is the median: the middle sample, or the mean of the two middle ones.
    """
    if not sorted_samples:
        raise ValueError("percentile of no samples")
    pos = (len(sorted_samples) - 1) * pct / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_samples) - 1)
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (pos - lo)


def mdev(samples: Sequence[float]) -> float:
    """iputils ping's ``mdev``: the population standard deviation, sqrt(E[x^2] - E[x]^2)."""
    n = len(samples)
    mean = sum(samples) / n
    var = sum(x * x for x in samples) / n - mean * mean
    return math.sqrt(max(var, 0.0))


def loss_pct(sent: int, received: int) -> float | None:
    """The share of ``sent`` that got no answer, in percent; ``None`` when nothing was sent."""
    return None if sent == 0 else 100.0 * (sent - received) / sent


def summarize(samples_ms: Sequence[float], sent: int) -> Stats:
    """Statistics of the answered samples (one round-trip time each) out of ``sent``."""
    received = len(samples_ms)
    loss = loss_pct(sent, received)
    if not samples_ms:
        return Stats(sent, received, loss, None, None, None, None, None, None)
    s = sorted(samples_ms)
    return Stats(
        sent=sent,
        received=received,
        loss_pct=loss,
        min_ms=s[0],
        avg_ms=sum(s) / received,
        max_ms=s[-1],
        mdev_ms=mdev(s),
        p50_ms=percentile(s, 50),
        p95_ms=percentile(s, 95),
    )
