"""`netdiag sockets` against TIME_WAIT sockets these tests create on loopback (bounded in
number; the kernel forgets them 60 s later)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import pytest
from conftest import requires_ipv6, run_process

from netdiag.lab import TcpServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux socket table")
N = 40


def make_time_wait(host: str, n: int = N) -> tuple[TcpServer, int]:
    """A server on ``host``, and ``n`` connections to it that this side closes first: each
    leaves a TIME_WAIT socket here (the active closer keeps it)."""
    server = TcpServer([(host, 0)]).start()
    port = server.endpoints[0][1]
    for _ in range(n):
        with socket.create_connection((host, port), timeout=2) as c:
            c.settimeout(2)
        # close() sends FIN first; the server reads EOF and closes too.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and count_tw(port) < n:
        time.sleep(0.02)
    return server, port


def count_tw(port: int) -> int:
    from netdiag.net.sockdiag import TIME_WAIT, read_netlink

    return sum(1 for s in read_netlink() if s.state == TIME_WAIT and s.rport == port)


@pytest.fixture(scope="module")
def tw4():
    server, port = make_time_wait("127.0.0.1")
    yield port
    server.stop()


def test_counts_time_wait_first(cli, tw4):
    r = cli("sockets", "--port", str(tw4), "--json")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["error"]) == ("sockets", True, None)
    assert doc["source"] == "netlink"
    assert next(iter(doc["states"])) == "TIME_WAIT"
    assert doc["states"]["TIME_WAIT"] == N
    assert doc["states"]["LISTEN"] == 1
    assert doc["time_wait"]["count"] == N
    assert doc["time_wait"]["by_remote"] == [{"key": f"127.0.0.1:{tw4}", "count": N}]
    assert len(doc["time_wait"]["by_local_port"]) == 10  # --top default


def test_kernel_context(cli, tw4):
    k = cli("sockets", "--port", str(tw4), "--json").json()["kernel"]
    assert k["time_wait_seconds"] == 60
    lo, hi = k["ip_local_port_range"]
    assert 0 < lo < hi <= 65535 and k["ephemeral_ports"] == hi - lo + 1
    assert k["tcp_fin_timeout"] > 0 and k["tcp_tw_reuse"] in (0, 1, 2)
    assert k["tcp_max_tw_buckets"] > 0 and k["tw_buckets_used_pct"] > 0
    assert any("fixed" in n and "tcp_fin_timeout" in n for n in k["notes"])


def test_ephemeral_usage_per_destination(cli, tw4):
    doc = cli("sockets", "--port", str(tw4), "--json").json()
    [e] = [e for e in doc["ephemeral"] if e["remote"] == f"127.0.0.1:{tw4}"]
    assert e["time_wait"] == N and e["in_use"] == N
    assert e["range_used_pct"] == pytest.approx(
        100 * N / doc["kernel"]["ephemeral_ports"], abs=1e-3
    )


def test_state_filter_and_breakdowns(cli, tw4):
    doc = cli(
        "sockets",
        "--state",
        "time-wait",
        "--port",
        str(tw4),
        "--by",
        "local-port",
        "--top",
        "5",
        "--json",
    ).json()
    assert doc["states"] == {"TIME_WAIT": N} and doc["total"] == N
    assert len(doc["breakdown"]) == 5 and all(c["count"] == 1 for c in doc["breakdown"])
    doc = cli("sockets", "--port", str(tw4), "--by", "state", "--json").json()
    assert {c["key"]: c["count"] for c in doc["breakdown"]} == {"TIME_WAIT": N, "LISTEN": 1}
    doc = cli("sockets", "--state", "listen", "--port", str(tw4), "--json").json()
    assert doc["states"] == {"TIME_WAIT": 0, "LISTEN": 1}


def test_processes(cli, tw4):
    import os

    doc = cli("sockets", "--port", str(tw4), "--by", "process", "--json").json()
    rows = {c["key"]: c["count"] for c in doc["breakdown"]}
    assert rows["(no process: TIME_WAIT)"] == N
    assert any(key.endswith(f"({os.getpid()})") for key in rows)  # this process listens
    assert "belong to no process" in doc["processes"]["note"]


def test_threshold(cli, tw4):
    r = cli("sockets", "--port", str(tw4), "--max-time-wait", str(N - 1), "--json")
    assert r.code == 1 and r.json()["error"]["kind"] == "threshold"
    assert cli("sockets", "--port", str(tw4), "--max-time-wait", str(N)).code == 0


@requires_ipv6
def test_ipv6_time_wait(cli):
    server, port = make_time_wait("::1", 10)
    try:
        doc = cli("sockets", "--port", str(port), "--json").json()
        assert doc["time_wait"]["by_remote"] == [{"key": f"[::1]:{port}", "count": 10}]
    finally:
        server.stop()


def test_proc_fallback_agrees_with_netlink(tw4):
    from netdiag.net.sockdiag import read_netlink, read_proc

    def key(s):
        return tuple(s)

    mine = {key(s) for s in read_netlink() if tw4 in (s.lport, s.rport)}
    assert mine == {key(s) for s in read_proc() if tw4 in (s.lport, s.rport)}


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_counts_agree_with_ss(cli, tw4):
    out = subprocess.run(
        ["ss", "-Htan", "state", "time-wait", f"( dport = :{tw4} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        len(out.splitlines())
        == cli("sockets", "--port", str(tw4), "--json").json()["time_wait"]["count"]
    )


def test_text_output(tw4):
    r = run_process("sockets", "--port", str(tw4))
    assert r.code == 0
    assert r.out.startswith(f"TCP sockets: {N + 1}")
    assert f"TIME_WAIT {N}" in r.out and "ephemeral ports" in r.out
    assert "60 s" in r.out and "tcp_fin_timeout" in r.out
    assert f"127.0.0.1:{tw4}" in r.out


def test_watch_refreshes_and_stops(tw4):
    r = run_process("sockets", "--port", str(tw4), "--watch", "0.2", "--count", "3")
    assert r.code == 0
    lines = r.out.splitlines()
    assert len(lines) == 3
    assert all(f"TIME_WAIT {N}" in line for line in lines)
    assert "/s)" in lines[1]


@pytest.mark.parametrize(
    "args", [["--state", "bogus"], ["--by", "color"], ["--watch", "1", "--json"], ["--count", "2"]]
)
def test_bad_input_exit_2(cli, args):
    r = cli("sockets", *args)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1


def test_psutil_path_agrees_with_netlink(tw4):
    from netdiag.net.sockdiag import read_netlink, read_psutil

    def ours(rows):
        return sorted(tuple(s) for s in rows if tw4 in (s.lport, s.rport))

    assert ours(read_psutil()) == ours(read_netlink())
