"""Summaries that say what happened: one set of statistics names for tcp and ping, and a run
that sent nothing says so, and why, instead of "0% loss".

A target that fails before anything is sent is a link-local address with a zone naming no
interface (``fe80::1%nosuchif0``): it fails where an unknown name fails, when its address is
looked up (kind ``unreachable``: there is no link to reach it on), without asking any
resolver."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import run_process
from schema_util import loads

from netdiag.probes.ping import PingOptions, _health, stats_of
from netdiag.results.ping import PingProbe, PingStats
from netdiag.stats import Stats, summarize
from netdiag.views.common import fmt_pct

NO_SUCH_ZONE = "fe80::1%nosuchif0"
STATS = ["sent", "received", "loss_pct", "min_ms", "avg_ms", "max_ms", "mdev_ms", "p50_ms"]


def test_tcp_and_ping_statistics_have_the_same_names():
    tcp = [f.name for f in dataclasses.fields(Stats)]
    ping = [f.name for f in dataclasses.fields(PingStats)]
    assert tcp[: len(STATS)] == STATS and "p95_ms" in tcp
    assert ping[: len(tcp)] == tcp  # ping's adds to tcp's, renames nothing
    assert not {"ok", "transmitted"} & set(ping)


def test_json_statistics_have_the_same_names(cli, lab):
    tcp = cli("tcp", lab.endpoints["tcp_open"], "-c", "1", "--json").json()
    stats = tcp["results"][0]["stats"]
    assert (stats["sent"], stats["received"], stats["loss_pct"]) == (1, 1, 0.0)
    assert set(stats) == {f.name for f in dataclasses.fields(Stats)}
    assert set(tcp["results"][0]["per_address"][0]["stats"]) == set(stats)


def test_nothing_sent_is_not_zero_loss():
    s = summarize([], 0)
    assert (s.sent, s.received, s.loss_pct, s.min_ms) == (0, 0, None, None)
    p = stats_of([], 0)
    assert (p.sent, p.received, p.loss_pct, p.jitter_ms) == (0, 0, None, None)
    assert summarize([], 3).loss_pct == 100.0


def test_loss_is_printed_as_ping_prints_it():
    assert fmt_pct(summarize([1.0] * 999, 1000).loss_pct) == "0.1"  # not rounded to 0
    assert fmt_pct(summarize([1.0], 1000).loss_pct) == "99.9"  # not rounded to 100
    assert fmt_pct(summarize([1.0, 1.0], 3).loss_pct) == "33.3333"  # iputils' %g
    assert (fmt_pct(0.0), fmt_pct(100.0), fmt_pct(None)) == ("0", "100", "-")


def test_tcp_unresolvable_target_says_nothing_was_sent_and_why(cli):
    r = cli("tcp", f"[{NO_SUCH_ZONE}]:80", "-c", "2", "--json")
    assert r.code == 1
    doc = r.json()
    [res] = doc["results"]
    assert res["stats"]["sent"] == 0 and res["stats"]["received"] == 0
    assert res["stats"]["loss_pct"] is None  # not 0% loss
    assert res["probes"] == [] and res["per_address"] == []
    assert doc["error"]["kind"] == res["error"]["kind"] == "unreachable"
    assert "no interface named 'nosuchif0'" in doc["error"]["message"]
    text = run_process("tcp", f"[{NO_SUCH_ZONE}]:80", "-c", "2")
    assert text.code == 1 and text.err == ""
    assert f"nothing sent: unreachable: {NO_SUCH_ZONE}: no interface named" in text.out
    assert "0% loss" not in text.out and "0 sent" not in text.out


def test_tcp_several_targets_one_unresolvable(cli, lab):
    args = ("tcp", lab.endpoints["tcp_open"], f"[{NO_SUCH_ZONE}]:80", "-c", "1")
    doc = cli(*args, "--json").json()
    assert [r["stats"]["loss_pct"] for r in doc["results"]] == [0.0, None]
    text = run_process(*args)  # piped: the table, then why nothing was sent
    assert "sent" in text.out and "recv" in text.out and "status" in text.out
    assert f"[{NO_SUCH_ZONE}]:80: nothing sent: unreachable: {NO_SUCH_ZONE}: no" in text.out
    assert "1 of 2 targets healthy" in text.out


def test_ping_unresolvable_host_says_nothing_was_sent_and_why(cli):
    # Nothing is sent, so no ICMP socket is opened: this runs without privileges too.
    r = cli("ping", NO_SUCH_ZONE, "-c", "2", "--json")
    assert r.code == 1
    [host] = r.json()["results"]
    assert host["stats"]["sent"] == 0 and host["stats"]["loss_pct"] is None
    assert host["error"]["kind"] == "unreachable" and "no interface" in host["error"]["message"]
    assert host["socket"] is None and host["probes"] == []
    text = run_process("ping", NO_SUCH_ZONE, "-c", "2")
    assert text.code == 1 and text.err == ""
    assert f"nothing sent: unreachable: {NO_SUCH_ZONE}: no interface named" in text.out
    assert "packets transmitted" not in text.out and "0% packet loss" not in text.out


def test_ping_max_loss_is_a_threshold_not_a_crash():
    # A lossy path cannot be built on loopback without netem: the verdict is checked directly.
    reply = PingProbe(1, "t", "reply", 0.5, 64, 64, "127.0.0.1", None, 0)
    lost = PingProbe(2, "t", "timeout", None, None, None, None, None, 0)
    stats = stats_of([reply, lost], 2)
    assert stats.loss_pct == 50.0
    err = _health(stats, [reply, lost], PingOptions(max_loss=10.0))
    assert err is not None and err.kind == "threshold"
    assert "50.0% packet loss exceeds --max-loss 10" in err.message
    assert _health(stats, [reply, lost], PingOptions(max_loss=50.0)) is None


@pytest.mark.parametrize("command", ["tcp", "ping"])
def test_no_traceback_and_one_document(command):
    target = f"[{NO_SUCH_ZONE}]:80" if command == "tcp" else NO_SUCH_ZONE
    r = run_process(command, target, "-c", "1", "--json")
    assert r.code == 1 and "Traceback" not in r.err
    assert loads(r.out)["results"][0]["stats"]["loss_pct"] is None  # and valid to the schema
