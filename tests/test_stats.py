"""Statistics as ping users know them."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netdiag.stats import mdev, percentile, summarize


def test_mdev_is_population_stddev_as_iputils():
    # iputils: tsum/n, tsum2/n, mdev = sqrt(tsum2/n - (tsum/n)^2)
    samples = [0.041, 0.052, 0.048, 0.107]
    n = len(samples)
    expected = math.sqrt(sum(x * x for x in samples) / n - (sum(samples) / n) ** 2)
    assert mdev(samples) == pytest.approx(expected)
    assert mdev(samples) == pytest.approx(statistics.pstdev(samples))


def test_percentiles_interpolate_linearly():
    s = [1.0, 2.0, 3.0, 4.0]
    assert percentile(s, 50) == 2.5
    assert percentile(s, 0) == 1.0
    assert percentile(s, 100) == 4.0
    assert percentile(s, 95) == pytest.approx(3.85)
    assert percentile([7.0], 95) == 7.0


def test_summary_counts_loss_and_handles_no_success():
    st_ = summarize([1.0, 3.0], sent=4)
    assert (st_.sent, st_.received, st_.loss_pct) == (4, 2, 50.0)
    assert (st_.min_ms, st_.avg_ms, st_.max_ms, st_.p50_ms) == (1.0, 2.0, 3.0, 2.0)
    none = summarize([], sent=3)
    assert none.loss_pct == 100.0
    assert none.min_ms is None and none.mdev_ms is None
    assert summarize([], sent=0).loss_pct is None  # nothing sent is not 0% loss


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_summary_invariants(samples):
    s = summarize(samples, len(samples))
    assert s.min_ms <= s.p50_ms <= s.p95_ms <= s.max_ms
    assert s.min_ms - 1e-6 <= s.avg_ms <= s.max_ms + 1e-6
    assert s.mdev_ms >= 0
    assert s.p50_ms == pytest.approx(statistics.median(samples))


def test_exit_status_mapping():
    from netdiag.exitcodes import ExitStatus
    from netdiag.results import ProbeError, exit_status

    class R:
        def __init__(self, ok, error=None, interrupted=False):
            self.command, self.ok, self.error, self.interrupted = "x", ok, error, interrupted

    assert exit_status(R(True)) == ExitStatus.OK == 0
    assert exit_status(R(False, ProbeError("timeout", "t"))) == 1
    assert exit_status(R(False, ProbeError("permission", "p", "run as root"))) == 3
    assert exit_status(R(False, ProbeError("refused", "r"), interrupted=True)) == 130


def test_ping_duplicate_and_late_replies_are_counted_not_lost():
    # A network that duplicates packets cannot be built here (no netem), so the matching of
    # replies to probes is checked directly.
    from netdiag.net import icmp
    from netdiag.probes.ping import PingOptions, _Host, _Run, stats_of
    from netdiag.targets import Target

    host = _Host(0, Target("127.0.0.1", "127.0.0.1", None, 4), "127.0.0.1", 4)
    host.next_seq = 2
    host.pending[1] = (1_000_000_000, 5, "t", 1)
    run = _Run([host], PingOptions(count=1), None)
    reply = icmp.Received("reply", "127.0.0.1", 7, 1, 64, 64, 1_000_050_000)
    assert run._match(host, reply)
    assert run._match(host, reply)  # the same reply again: a duplicate
    [probe] = host.probes.values()
    assert probe.status == "reply" and probe.duplicates == 1
    assert probe.rtt_ms == 0.05
    s = stats_of(list(host.probes.values()), 1)
    assert (s.sent, s.received, s.duplicates, s.loss_pct) == (1, 1, 1, 0.0)
    run.close()
