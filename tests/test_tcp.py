"""`netdiag tcp` against the lab's real servers on loopback."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
import time
from datetime import datetime, timedelta

import pytest
from conftest import interrupt, requires_ipv6, requires_root, run_process
from golden_util import assert_golden, normalise

STAT_KEYS = {
    "sent",
    "received",
    "loss_pct",
    "min_ms",
    "avg_ms",
    "max_ms",
    "mdev_ms",
    "p50_ms",
    "p95_ms",
}


def port_of(hostport: str) -> str:
    return hostport.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("soft", "inflight"), [(1024, 496), (40, 4), (33, 1), (10, 1), (1 << 20, 1024), (-1, 256)]
)
def test_connects_in_flight_fit_the_open_file_limit(monkeypatch, soft, inflight):
    import resource

    from netdiag.probes import tcp

    monkeypatch.setattr(resource, "getrlimit", lambda what: (soft, soft))
    assert tcp.inflight_limit() == inflight


def test_success_json_shape(cli, lab):
    r = cli("tcp", lab.endpoints["tcp_open"], "-c", "3", "-i", "0.05", "--json")
    assert r.code == 0, r.err
    assert r.err == ""
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["error"], doc["interrupted"]) == (
        "tcp",
        True,
        None,
        False,
    )
    assert doc["close"] == "fin"
    assert doc["started_at"].endswith("Z")
    [res] = doc["results"]
    assert res["ok"] is True and res["error"] is None
    assert res["dns_ms"] is None  # an IP literal needs no lookup
    assert res["addresses"] == ["127.0.0.1"]
    assert [p["seq"] for p in res["probes"]] == [1, 2, 3]
    for p in res["probes"]:
        assert p["ok"] and p["connect_ms"] > 0 and p["error"] is None
        assert 1024 <= p["local_port"] <= 65535
        info = p["tcp_info"]
        assert info["rtt_ms"] > 0 and info["snd_mss"] > 0 and info["rto_ms"] >= 200
    assert set(res["stats"]) == STAT_KEYS
    st = res["stats"]
    assert (st["sent"], st["received"], st["loss_pct"]) == (3, 3, 0.0)
    assert st["min_ms"] <= st["p50_ms"] <= st["max_ms"]
    assert [a["address"] for a in res["per_address"]] == ["127.0.0.1"]


def test_golden_json(cli, lab):
    ok, refused = lab.endpoints["tcp_open"], lab.endpoints["tcp_refused"]
    r = cli("tcp", ok, refused, "-c", "2", "-i", "0", "--json")
    assert r.code == 1
    doc = normalise(r.json(), {port_of(ok): "<OPEN>", port_of(refused): "<REFUSED>"})
    assert_golden("tcp_open_and_refused", doc)


def test_refused_is_unhealthy_with_kind(cli, lab):
    r = cli("tcp", lab.endpoints["tcp_refused"], "-c", "2", "-i", "0", "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False
    assert doc["error"]["kind"] == "refused"
    [res] = doc["results"]
    assert [p["error"]["kind"] for p in res["probes"]] == ["refused", "refused"]
    assert res["stats"]["loss_pct"] == 100.0
    assert res["stats"]["min_ms"] is None


def test_timeout_is_bounded_by_timeout_option(cli, lab):
    t0 = time.monotonic()
    r = cli("tcp", lab.endpoints["tcp_silent"], "-c", "1", "--timeout", "0.3", "--json")
    took = time.monotonic() - t0
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "timeout"
    assert "0.3 s" in doc["error"]["message"]
    assert took < 0.3 + 1.5  # a generous deadline: the timeout, not a stopwatch


@requires_ipv6
def test_ipv6_loopback(cli, lab):
    r = cli("tcp", lab.endpoints["tcp_open_v6"], "-c", "2", "-i", "0", "--json")
    assert r.code == 0, r.out
    [res] = r.json()["results"]
    assert res["addresses"] == ["::1"]
    assert all(p["address"] == "::1" and p["ok"] for p in res["probes"])


@requires_ipv6
def test_ipv6_literal_with_port_option(cli, lab):
    port = port_of(lab.endpoints["tcp_open_v6"])
    r = cli("tcp", "::1", "-p", port, "-c", "1", "--json")
    assert r.code == 0
    assert r.json()["results"][0]["port"] == int(port)


def test_several_targets_run_concurrently(cli, lab):
    silent = lab.endpoints["tcp_silent"]
    targets = [silent] * 4 + [lab.endpoints["tcp_open"]]
    r = cli("tcp", *targets, "-c", "1", "--timeout", "0.5", "--json")
    doc = r.json()
    assert r.code == 1
    assert len(doc["results"]) == 5
    assert [x["ok"] for x in doc["results"]] == [False] * 4 + [True]
    assert doc["error"]["kind"] == "timeout"
    # four identical failures are said once, with the count
    assert doc["error"]["message"].startswith("4 of 5 targets failed the same way: no answer")
    # Concurrently, not one after another: every probe started before the first silent one
    # gave up (its start plus the 0.5 s timeout).
    started = [datetime.fromisoformat(x["probes"][0]["time"]) for x in doc["results"]]
    assert max(started) < min(started[:4]) + timedelta(seconds=0.5)


def test_results_keep_target_order_and_shape_for_one_or_many(cli, lab):
    one = cli("tcp", lab.endpoints["tcp_open"], "-c", "1", "--json").json()
    many = cli(
        "tcp", lab.endpoints["tcp_refused"], lab.endpoints["tcp_open"], "-c", "1", "--json"
    ).json()
    assert set(one) == set(many)
    assert set(one["results"][0]) == set(many["results"][0])
    assert [x["target"] for x in many["results"]] == [
        lab.endpoints["tcp_refused"],
        lab.endpoints["tcp_open"],
    ]


def test_threshold_breach_exits_1(cli, lab):
    r = cli(
        "tcp", lab.endpoints["tcp_open"], "-c", "2", "-i", "0", "--max-connect-ms", "0", "--json"
    )
    assert r.code == 1
    err = r.json()["error"]
    assert err["kind"] == "threshold"
    assert "--max-connect-ms 0" in err["message"]
    r = cli("tcp", lab.endpoints["tcp_open"], "-c", "1", "--max-connect-ms", "5000")
    assert r.code == 0


def time_wait_ports(remote_port: int) -> set[int]:
    """Local ports of TIME_WAIT sockets (state 06) towards ``remote_port``."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "06" and int(f[2].rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_fin_close_leaves_time_wait_and_rst_does_not(cli, lab):
    port = int(port_of(lab.endpoints["tcp_open"]))
    fin = cli("tcp", lab.endpoints["tcp_open"], "-c", "2", "-i", "0", "--json").json()
    rst = cli("tcp", lab.endpoints["tcp_open"], "-c", "2", "-i", "0", "--rst", "--json").json()
    assert rst["close"] == "rst"
    fin_ports = {p["local_port"] for p in fin["results"][0]["probes"]}
    rst_ports = {p["local_port"] for p in rst["results"][0]["probes"]}
    deadline = time.monotonic() + 2
    while not fin_ports <= time_wait_ports(port) and time.monotonic() < deadline:
        time.sleep(0.02)  # the server's FIN arrives a moment after our close
    tw = time_wait_ports(port)
    assert fin_ports <= tw
    assert not (rst_ports & tw)


@pytest.fixture
def fake_resolver(monkeypatch, lab):
    """Names resolved without the system resolver: getaddrinfo answers from a table."""
    port4 = int(port_of(lab.endpoints["tcp_open"]))
    v6 = lab.endpoints.get("tcp_open_v6")
    real = socket.getaddrinfo
    calls = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        if flags & socket.AI_NUMERICHOST:
            return real(host, port, family, type, proto, flags)
        if host == "dual.lab.test":
            out = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
            if v6 and int(port_of(v6)) == port4:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)))
            return [a for a in out if family in (0, a[0])] or _raise(socket.EAI_ADDRFAMILY)
        if host == "slow.lab.test":
            time.sleep(1.5)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        if host == "missing.lab.test":
            _raise(socket.EAI_NONAME)
        raise AssertionError(f"test tried to resolve {host!r} through the system resolver")

    def _raise(code):
        raise socket.gaierror(code, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


def test_name_is_resolved_and_timed(cli, lab, fake_resolver):
    port = port_of(lab.endpoints["tcp_open"])
    r = cli("tcp", f"dual.lab.test:{port}", "-c", "1", "--json")
    assert r.code == 0, r.out
    res = r.json()["results"][0]
    assert res["dns_ms"] is not None and res["dns_ms"] >= 0
    assert res["addresses"][0] == "127.0.0.1"
    assert len(res["probes"]) == 1  # only the first address without --all
    assert "dual.lab.test" in fake_resolver


def test_all_probes_every_address(cli, lab, fake_resolver):
    port = port_of(lab.endpoints["tcp_open"])
    r = cli("tcp", f"dual.lab.test:{port}", "-c", "2", "-i", "0", "--all", "--json")
    res = r.json()["results"][0]
    assert [a["address"] for a in res["per_address"]] == res["addresses"]
    assert len(res["probes"]) == 2 * len(res["addresses"])
    for a in res["per_address"]:
        assert a["stats"]["sent"] == 2


def test_family_restriction(cli, lab, fake_resolver):
    port = port_of(lab.endpoints["tcp_open"])
    r = cli("tcp", f"dual.lab.test:{port}", "-4", "-c", "1", "--json")
    assert r.json()["results"][0]["addresses"] == ["127.0.0.1"]


def test_dns_failure_kind(cli, fake_resolver):
    r = cli("tcp", "missing.lab.test:80", "-c", "1", "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "dns"
    assert doc["results"][0]["probes"] == []
    r = cli("tcp", "missing.lab.test:80", "-c", "1")
    assert "missing.lab.test does not resolve" in r.out


def test_dns_timeout_is_bounded(cli, fake_resolver):
    t0 = time.monotonic()
    r = cli("tcp", "slow.lab.test:80", "-c", "1", "--timeout", "0.3", "--json")
    assert time.monotonic() - t0 < 0.3 + 1.5  # the resolver takes 1.5 s: not waited for
    err = r.json()["error"]
    assert err["kind"] == "dns" and "timed out" in err["message"]


def test_slow_name_does_not_delay_other_targets(cli, lab, fake_resolver):
    r = cli(
        "tcp", "slow.lab.test:80", lab.endpoints["tcp_open"], "-c", "1", "--timeout", "3", "--json"
    )
    doc = r.json()
    slow, fast = doc["results"]
    assert fast["ok"]
    # The slow name resolves (after 1.5 s, within the 3 s timeout) and is probed, after the
    # fast target's probe (times are ISO 8601 in UTC: they compare as strings).
    assert slow["addresses"] == ["127.0.0.1"] and len(slow["probes"]) == 1
    assert fast["probes"][0]["time"] < slow["probes"][0]["time"]


@requires_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_unreachable_in_own_namespace():
    # A fresh network namespace whose loopback is down: no route to anything, so connect()
    # fails with ENETUNREACH without a packet leaving.
    r = run_process("tcp", "127.0.0.1:9", "-c", "1", "--json", prefix=("unshare", "--net"))
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["error"]["kind"] == "unreachable"
    assert doc["error"]["message"] == f"127.0.0.1:9: {os.strerror(errno.ENETUNREACH)}"
    assert doc["results"][0]["probes"][0]["error"]["kind"] == "unreachable"


@requires_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_link_local_address_on_a_down_interface_is_unreachable():
    # The fresh namespace's loopback is down: no address to connect from (EADDRNOTAVAIL),
    # which is the link's state, not a local resource running out.
    r = run_process("tcp", "[fe80::1%lo]:80", "-c", "1", "--json", prefix=("unshare", "--net"))
    assert r.code == 1, r.err
    err = r.json()["error"]
    assert err["kind"] == "unreachable" and "is it down?" in err["message"]
    assert err["hint"] is None  # not "raise the open-files limit"


def test_text_output_streams_probes_and_summary(lab):
    r = run_process("tcp", lab.endpoints["tcp_open"], "-c", "2", "-i", "0")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].startswith(f"TCP {lab.endpoints['tcp_open']}")
    assert sum("seq=" in line for line in lines) == 2
    assert "tcp connect statistics" in r.out
    assert "2 sent, 2 received, 0 failed (0% loss)" in r.out
    assert "min/avg/max/mdev = " in r.out
    assert lines[-1] == "healthy"
    assert "\x1b[" not in r.out  # plain text when piped


def test_colour_only_when_forced_and_no_color_wins(lab):
    forced = run_process("tcp", lab.endpoints["tcp_open"], "-c", "1", env={"FORCE_COLOR": "1"})
    assert "\x1b[1;32mhealthy\x1b[0m" in forced.out  # the verdict, bold green
    plain = run_process(
        "tcp", lab.endpoints["tcp_open"], "-c", "1", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}
    )
    assert "32m" not in plain.out


def test_several_targets_text_has_table(lab):
    r = run_process("tcp", lab.endpoints["tcp_open"], lab.endpoints["tcp_refused"], "-c", "1")
    assert r.code == 1
    assert "target" in r.out and "status" in r.out
    assert "1 of 2 targets healthy" in r.out
    assert "unhealthy: refused" in r.out


def test_json_stdout_is_exactly_one_document(lab):
    r = run_process(
        "tcp", lab.endpoints["tcp_open"], lab.endpoints["tcp_refused"], "-c", "1", "--json"
    )
    doc = r.json()  # raises if anything else is on stdout
    assert doc["command"] == "tcp"
    assert r.err == ""


def test_ctrl_c_exits_130_and_prints_what_was_measured(lab):
    r, seen = interrupt(
        "tcp", lab.endpoints["tcp_open"], "-c", "50", "-i", "0.1", after_lines=3
    )  # header + two probes
    assert "seq=2" in seen[2]
    assert r.code == 130
    assert "Traceback" not in r.err
    assert "tcp connect statistics" in r.out
    assert "interrupted" in r.out


def test_ctrl_c_json_still_one_document(lab):
    r, _ = interrupt(
        "tcp", lab.endpoints["tcp_open"], "-c", "50", "-i", "0.1", "--json", after_s=0.8
    )
    assert r.code == 130, r.err
    doc = r.json()
    assert doc["interrupted"] is True and doc["ok"] is False
    assert doc["error"]["kind"] == "interrupted"  # it was null before: ok false, no reason
    assert doc["results"][0]["stats"]["sent"] >= 1
