"""`netdiag ping`: raw and datagram ICMP sockets on loopback, and the failure paths inside
network namespaces these tests create. Raw sockets and namespaces need root (the ``root``
marker; CI runs as root); the default socket needs root or an open ping_group_range; usage
errors need neither."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime

import pytest
from conftest import interrupt, requires_icmp, requires_ipv6, requires_root, run_process
from golden_util import assert_golden, normalise
from schema_util import loads

HAVE_NS_TOOLS = shutil.which("unshare") is not None and shutil.which("ip") is not None
needs_ns = pytest.mark.skipif(not HAVE_NS_TOOLS, reason="needs unshare(1) and ip(8) from iproute2")

DROP_NET_RAW = (
    "import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True);"
    " assert libc.prctl(24, 13, 0, 0, 0) == 0;"  # PR_CAPBSET_DROP, CAP_NET_RAW
    " os.execv(sys.executable, [sys.executable, '-m', 'netdiag', *sys.argv[1:]])"
)


def in_netns(script: str, *netdiag_args: str, timeout: float = 60):
    """Run `netdiag ARGS` in a fresh network namespace after `script` (shell) prepared it."""
    cmd = f'{script}\nexec {sys.executable} -m netdiag "$@"'
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", cmd, "sh", *netdiag_args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return proc


@requires_root
def test_loopback_raw_json(cli):
    r = cli("ping", "127.0.0.1", "-c", "3", "-i", "0.05", "--socket", "raw", "--json")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["command"], doc["ok"], doc["error"]) == ("ping", True, None)
    [host] = doc["results"]
    assert host["socket"] == "raw" and host["address"] == "127.0.0.1" and host["dns_ms"] is None
    assert [p["seq"] for p in host["probes"]] == [1, 2, 3]
    for p in host["probes"]:
        assert p["status"] == "reply" and p["rtt_ms"] > 0 and p["ttl"] == 64 and p["bytes"] == 64
        assert p["source"] == "127.0.0.1"
    s = host["stats"]
    assert (s["sent"], s["received"], s["loss_pct"], s["duplicates"]) == (3, 3, 0.0, 0)
    assert s["min_ms"] <= s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"] <= s["max_ms"]
    assert s["mdev_ms"] >= 0 and s["jitter_ms"] >= 0


@requires_root
def test_golden(cli):
    doc = cli("ping", "127.0.0.1", "-c", "2", "-i", "0.05", "--socket", "raw", "--json").json()
    assert_golden("ping_loopback", normalise(doc, {}))  # normalise hides every *_ms


@requires_root
def test_size_and_ttl(cli):
    doc = cli(
        "ping", "127.0.0.1", "-c", "1", "-s", "1000", "-t", "7", "--socket", "raw", "--json"
    ).json()
    probe = doc["results"][0]["probes"][0]
    assert probe["bytes"] == 1008  # 1000 data bytes plus the 8-byte ICMP header


@requires_icmp
@requires_ipv6
def test_ipv6_loopback(cli):
    r = cli("ping", "::1", "-c", "2", "-i", "0.05", "--json")
    assert r.code == 0
    host = r.json()["results"][0]
    assert host["address"] == "::1" and host["stats"]["received"] == 2
    assert all(p["ttl"] == 64 for p in host["probes"])  # the hop limit


@requires_icmp
def test_text_output_like_ping(cli):
    r = run_process("ping", "127.0.0.1", "-c", "2", "-i", "0.05")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0] == "PING 127.0.0.1: 56 data bytes"
    assert lines[1].startswith("64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=")
    assert "--- 127.0.0.1 ping statistics ---" in r.out
    assert "2 packets transmitted, 2 received, 0% packet loss" in r.out
    assert "rtt min/avg/max/mdev = " in r.out and "p99" in r.out and "jitter" in r.out


@requires_icmp
def test_many_hosts_concurrently(cli):
    r = cli("ping", "127.0.1.0/27", "-c", "3", "-i", "0.2", "--json")
    doc = r.json()
    assert r.code == 0
    assert len(doc["results"]) == 30
    assert all(x["stats"]["received"] == 3 for x in doc["results"])
    # Round-robin, not one host after another: every host's first probe goes out before any
    # host's second (30 hosts x the 2 ms gap fit into the 0.2 s interval).
    sent = {
        seq: [
            datetime.fromisoformat(p["time"])
            for x in doc["results"]
            for p in x["probes"]
            if p["seq"] == seq
        ]
        for seq in (1, 2, 3)
    }
    assert max(sent[1]) < min(sent[2]) and max(sent[2]) < min(sent[3])


@requires_icmp
def test_hosts_from_file(cli, tmp_path):
    f = tmp_path / "hosts"
    f.write_text("# lab hosts\n127.0.0.1\n127.0.0.2  # second\n\n")
    doc = cli("ping", "-f", str(f), "-c", "1", "--json").json()
    assert [x["target"] for x in doc["results"]] == ["127.0.0.1", "127.0.0.2"]


@requires_icmp
def test_thresholds(cli):
    r = cli("ping", "127.0.0.1", "-c", "2", "-i", "0.05", "--max-rtt-ms", "0", "--json")
    assert r.code == 1 and r.json()["error"]["kind"] == "threshold"
    assert cli("ping", "127.0.0.1", "-c", "2", "-i", "0.05", "--max-loss", "0").code == 0


@requires_root
def test_other_pings_replies_are_not_ours(cli):
    other = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netdiag",
            "ping",
            "127.0.0.1",
            "-c",
            "40",
            "-i",
            "0.02",
            "--socket",
            "raw",
            "--json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        doc = cli("ping", "127.0.0.1", "-c", "5", "-i", "0.05", "--socket", "raw", "--json").json()
    finally:
        other.wait(timeout=30)
    assert doc["ok"] and doc["results"][0]["stats"]["received"] == 5
    assert doc["foreign_replies"] > 0


@requires_root
@needs_ns
def test_datagram_socket_where_ping_group_range_allows():
    allow = "ip link set lo up && echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"
    proc = in_netns(
        allow, "ping", "127.0.0.1", "-c", "2", "-i", "0.05", "--socket", "dgram", "--json"
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    host = loads(proc.stdout)["results"][0]
    assert host["socket"] == "dgram" and host["stats"]["received"] == 2
    assert all(p["ttl"] == 64 for p in host["probes"])
    # auto prefers the unprivileged socket when it is allowed
    proc = in_netns(allow, "ping", "127.0.0.1", "-c", "1", "--json")
    assert loads(proc.stdout)["results"][0]["socket"] == "dgram"


@requires_root
@needs_ns
def test_datagram_socket_ipv6():
    allow = "ip link set lo up && echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"
    proc = in_netns(allow, "ping", "::1", "-c", "2", "-i", "0.05", "--socket", "dgram", "--json")
    if proc.returncode != 0 and "IPv6" in proc.stdout:
        pytest.skip("IPv6 is disabled in new namespaces here")
    assert proc.returncode == 0, proc.stdout
    assert loads(proc.stdout)["results"][0]["socket"] == "dgram"


@requires_root
@needs_ns
def test_no_privilege_exits_3_with_the_fix():
    # A new namespace keeps ping_group_range closed ("1 0"); without CAP_NET_RAW no raw socket.
    proc = subprocess.run(
        [
            "unshare",
            "--net",
            sys.executable,
            "-c",
            DROP_NET_RAW,
            "ping",
            "127.0.0.1",
            "-c",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    err = loads(proc.stdout)["error"]
    assert err["kind"] == "permission"
    assert "ping_group_range" in err["hint"] and "cap_net_raw" in err["hint"]
    text = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", DROP_NET_RAW, "ping", "127.0.0.1", "-c", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert text.returncode == 3 and "hint:" in text.stdout and "Traceback" not in text.stderr


@requires_root
@needs_ns
def test_no_reply_host_100_percent_loss():
    silent = "ip link set lo up && echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_all"
    proc = in_netns(silent, "ping", "127.0.0.1", "-c", "3", "-i", "0.05", "-W", "0.2", "--json")
    assert proc.returncode == 1
    doc = loads(proc.stdout)
    host = doc["results"][0]
    assert doc["error"]["kind"] == "timeout"
    assert host["stats"]["sent"] == 3 and host["stats"]["received"] == 0
    assert host["stats"]["loss_pct"] == 100.0 and host["stats"]["min_ms"] is None
    assert [p["status"] for p in host["probes"]] == ["timeout"] * 3
    text = in_netns(silent, "ping", "127.0.0.1", "-c", "2", "-i", "0.05", "-W", "0.2")
    assert "2 packets transmitted, 0 received, 100% packet loss" in text.stdout


@pytest.fixture
def routed_lab():
    """Two namespaces joined by a veth pair: a client (10.200.0.1) whose default route is a
    router (10.200.0.2). The router rejects 10.201.0.0/24 (ICMP unreachable) and forwards
    10.202.0.0/24 back, so a TTL of 1 expires at the router."""
    if not HAVE_NS_TOOLS:
        pytest.skip("needs ip(8) from iproute2")
    tag = f"{os.getpid() % 100000}"
    cli_ns, rtr_ns = f"ndc{tag}", f"ndr{tag}"
    steps = [
        f"ip netns add {cli_ns}",
        f"ip netns add {rtr_ns}",
        f"ip link add ndv{tag}c type veth peer name ndv{tag}r",
        f"ip link set ndv{tag}c netns {cli_ns}",
        f"ip link set ndv{tag}r netns {rtr_ns}",
        f"ip -n {cli_ns} addr add 10.200.0.1/24 dev ndv{tag}c",
        f"ip -n {rtr_ns} addr add 10.200.0.2/24 dev ndv{tag}r",
        f"ip -n {cli_ns} link set ndv{tag}c up",
        f"ip -n {rtr_ns} link set ndv{tag}r up",
        f"ip -n {cli_ns} link set lo up",
        f"ip -n {rtr_ns} link set lo up",
        f"ip -n {cli_ns} route add default via 10.200.0.2",
        f"ip netns exec {rtr_ns} sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'",
        f"ip -n {rtr_ns} route add unreachable 10.201.0.0/24",
        f"ip -n {rtr_ns} route add 10.202.0.0/24 via 10.200.0.1",
    ]
    try:
        for step in steps:
            subprocess.run(shlex.split(step), check=True, capture_output=True, timeout=30)
        yield cli_ns
    finally:
        for ns in (cli_ns, rtr_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def ping_in(ns, *args):
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "netdiag", "ping", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, loads(proc.stdout)


@requires_root
def test_destination_unreachable_reported_per_probe(routed_lab):
    code, doc = ping_in(routed_lab, "10.201.0.5", "-c", "2", "-i", "0.1", "-W", "1")
    assert code == 1
    host = doc["results"][0]
    assert [p["status"] for p in host["probes"]] == ["error", "error"]
    err = host["probes"][0]["error"]
    assert err["kind"] == "unreachable"
    assert "from 10.200.0.2" in err["message"] and "unreachable" in err["message"]
    assert host["stats"]["errors"] == 2 and doc["error"]["kind"] == "unreachable"


@requires_root
def test_time_exceeded_reported_per_probe(routed_lab):
    code, doc = ping_in(routed_lab, "10.202.0.9", "-c", "1", "-t", "1", "-W", "1")
    assert code == 1
    probe = doc["results"][0]["probes"][0]
    assert probe["status"] == "error" and probe["error"]["kind"] == "ttl_exceeded"
    assert "10.200.0.2" in probe["error"]["message"]


@requires_icmp
def test_ctrl_c_prints_statistics_and_exits_130():
    r, _ = interrupt("ping", "127.0.0.1", "-c", "100", "-i", "0.1", after_lines=3)
    assert r.code == 130, r.err
    assert "ping statistics" in r.out and "interrupted" in r.out and "Traceback" not in r.err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["10.0.0.0/8"],
        ["127.0.0.1", "-4", "-6"],
        ["::1", "-4"],
        ["a..b"],
        ["127.0.0.1", "--socket", "tcp"],
        ["127.0.0.1", "-s", "-1"],
        ["-f", "/nonexistent/hosts"],
    ],
)
def test_bad_input_exit_2(cli, args):
    r = cli("ping", *args)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1
