"""`netdiag route`: real paths in network namespaces these tests build (netdiag.lab.netns:
client -> r1 -> r2 -> server, r3 at the edge; root), every hop, each method, the path MTU
and each way a path ends; then what needs no root: one hop on loopback with UDP (no
privilege needed), bounded reverse lookups, the 80-column view, usage errors.

Every trace runs with -n: the system resolver is never asked (the reverse lookup test
replaces it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from conftest import requires_root
from golden_util import assert_golden, normalise
from schema_util import loads

from netdiag.lab import netns
from netdiag.lab.netns import HOPS, HOPS6, RoutedPath

HAVE_IP = shutil.which("ip") is not None
LISTEN_PORT = 8080
LISTENER = f"""
import socket, time
socks = []
for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, {LISTEN_PORT}))
        s.listen(512)
        socks.append(s)
    except OSError:
        pass
print("listening", flush=True)
time.sleep(300)
"""
DROP_NET_RAW = (
    "import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True);"
    " assert libc.prctl(24, 13, 0, 0, 0) == 0;"  # PR_CAPBSET_DROP, CAP_NET_RAW
    " os.execv(sys.executable, [sys.executable, '-m', 'netdiag', *sys.argv[1:]])"
)


@pytest.fixture(scope="module")
def path():
    """The namespaces, with a TCP listener on the server's port 8080; all deleted after the
    module, also when a test failed or building failed half-way."""
    if not HAVE_IP:
        pytest.skip("needs ip(8) from iproute2")
    with RoutedPath() as built:
        listener = subprocess.Popen(
            [*built.exec_args("server"), sys.executable, "-c", LISTENER],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert listener.stdout is not None and listener.stdout.readline() == "listening\n"
            yield built
        finally:
            listener.kill()  # the process this fixture started, by its pid
            listener.wait(timeout=30)


def route_in(path: RoutedPath, *args: str, prefix: tuple[str, ...] = (), timeout: float = 60):
    """`netdiag route -n ARGS --json` in the client namespace: exit status, document."""
    command = [*path.exec_args("client"), *prefix, sys.executable, "-m", "netdiag", "route"]
    proc = subprocess.run(
        [*command, "-n", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, loads(proc.stdout)


def addresses(doc) -> list[list[str]]:
    return [[a["address"] for a in hop["addresses"]] for hop in doc["hops"]]


def replies(doc) -> list[set[str]]:
    return [{p["reply"] for p in hop["probes"]} for hop in doc["hops"]]


# -- every hop, each method ---------------------------------------------------------------------

METHODS = [
    ("icmp", (), "icmp-raw", "echo reply"),
    ("udp", (), "udp-dgram", "port unreachable"),
    ("tcp", ("-p", str(LISTEN_PORT)), "tcp-connect", "syn-ack"),
    ("tcp", ("-p", "9"), "tcp-connect", "rst"),
]


@requires_root
@pytest.mark.parametrize(("method", "extra", "socket", "final"), METHODS)
def test_every_hop(path, method, extra, socket, final):
    code, doc = route_in(path, netns.SERVER, "--method", method, *extra, "-c", "2", "-i", "0.05")
    assert code == 0, doc["error"]
    assert (doc["ok"], doc["reached"], doc["destination_hop"]) == (True, True, 3)
    assert (doc["socket"], doc["method"], doc["address"]) == (socket, method, netns.SERVER)
    assert addresses(doc) == [[a] for a in HOPS]
    assert replies(doc) == [{"time exceeded"}, {"time exceeded"}, {final}]
    assert [h["destination"] for h in doc["hops"]] == [False, False, True]
    assert len(doc["round_ms"]) == 2
    for hop in doc["hops"]:
        s = hop["stats"]
        assert (s["sent"], s["received"], s["loss_pct"]) == (2, 2, 0.0)
        assert 0 < s["best_ms"] <= s["avg_ms"] <= s["worst_ms"] and s["stdev_ms"] >= 0
        assert [p["round"] for p in hop["probes"]] == [1, 2]
        assert all(p["rtt_ms"] > 0 and p["status"] != "timeout" for p in hop["probes"])


@requires_root
@pytest.mark.parametrize("method", ["icmp", "udp", "tcp"])
def test_every_hop_ipv6(path, method):
    if not path.ipv6:
        pytest.skip("IPv6 is disabled in namespaces here")
    extra = ("-p", str(LISTEN_PORT)) if method == "tcp" else ()
    code, doc = route_in(path, netns.SERVER6, "--method", method, *extra, "-c", "1")
    assert code == 0, doc["error"]
    assert doc["version"] == 6 and addresses(doc) == [[a] for a in HOPS6]


@requires_root
def test_destination_ends_the_rounds(path):
    """Round 1 sends every TTL at once (the server gets TTLs 3 to 30); later rounds stop at
    the destination: one echo request each. Counted by the server's kernel."""

    def in_echos() -> int:
        snmp = subprocess.run(
            [*path.exec_args("server"), "cat", "/proc/net/snmp"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        names, values = (line.split()[1:] for line in snmp if line.startswith("Icmp:"))
        return int(values[names.index("InEchos")])

    before = in_echos()
    code, doc = route_in(path, netns.SERVER, "-c", "3", "-i", "0.05", "--max-hops", "30")
    assert code == 0
    assert in_echos() - before == (30 - 3 + 1) + 2
    assert [len(h["probes"]) for h in doc["hops"]] == [3, 3, 3]


@requires_root
def test_text_table(path):
    command = [*path.exec_args("client"), sys.executable, "-m", "netdiag", "route", "-n"]
    proc = subprocess.run(
        [*command, netns.SERVER, "-c", "2", "-i", "0.05", "--pmtu"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == f"route to {netns.SERVER}, 30 hops max, icmp probes"
    header = next(line for line in lines if line.startswith("hop"))
    for column in ("host", "loss%", "sent", "last ms", "avg ms", "best ms", "worst ms"):
        assert column in header
    rows = [line.split() for line in lines if line[:3].strip().isdigit() and "->" not in line]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (str(i), a, "0", "2") for i, a in enumerate(HOPS, 1)
    ]
    assert f"{netns.SERVER} reached at hop 3" in proc.stdout and "icmp-raw socket" in proc.stdout
    assert "path MTU 1300" in proc.stdout and "1400 -> 1300 after hop 2 (10.77.2.2)" in proc.stdout
    assert lines[-1] == "healthy"


# -- the path MTU -------------------------------------------------------------------------------


@requires_root
@pytest.mark.parametrize("target", [netns.SERVER, netns.SERVER6])
def test_path_mtu_and_where_it_shrinks(path, target):
    if ":" in target and not path.ipv6:
        pytest.skip("IPv6 is disabled in namespaces here")
    hops = HOPS if ":" not in target else HOPS6
    code, doc = route_in(path, target, "-c", "1", "--pmtu", "--method", "udp")
    assert code == 0
    pmtu = doc["pmtu"]
    assert (pmtu["mtu"], pmtu["reached"], pmtu["first_mtu"], pmtu["error"]) == (
        1300,
        True,
        1500,
        None,
    )
    steps = [(s["hop"], s["address"], s["mtu_before"], s["mtu"]) for s in pmtu["steps"]]
    assert steps == [(1, hops[0], 1500, 1400), (2, hops[1], 1400, 1300)]
    assert pmtu["kernel_mtu"] == 1300  # the kernel learned it from the same ICMP errors
    # Searched again: the kernel's cached 1300 does not hide where it shrinks.
    again = route_in(path, target, "-c", "1", "--pmtu")[1]["pmtu"]
    assert [s["mtu"] for s in again["steps"]] == [1400, 1300]


# -- how a path ends ----------------------------------------------------------------------------


@requires_root
@pytest.mark.parametrize(
    ("target", "method", "name", "code"),
    [
        (netns.UNREACHABLE, "icmp", "host unreachable", 1),
        (netns.PROHIBITED, "udp", "communication administratively prohibited", 13),
        (netns.UNREACHABLE, "tcp", "host unreachable", 1),
        ("fd77:10::1", "icmp", "no route to destination", 0),
        ("fd77:11::1", "udp", "communication administratively prohibited", 1),
    ],
)
def test_unreachable_names_its_code(path, target, method, name, code):
    if ":" in target and not path.ipv6:
        pytest.skip("IPv6 is disabled in namespaces here")
    # r3 sends an IPv4 unreachable at most once a second (see netdiag.lab.netns): two rounds
    # a second apart get at least one.
    code_, doc = route_in(
        path,
        target,
        "--method",
        method,
        "-c",
        "2",
        "-i",
        "1.05",
        "--timeout",
        "1.2",
        "--max-hops",
        "3",
    )
    assert code_ == 1
    edge = netns.EDGE if ":" not in target else "fd77:4::2"
    assert doc["error"]["kind"] == "unreachable"
    assert f"hop 2 ({edge})" in doc["error"]["message"] and name in doc["error"]["message"]
    assert f"code {code})" in doc["error"]["message"]
    assert doc["destination_hop"] == 2 and not doc["reached"] and len(doc["hops"]) == 2
    last = doc["hops"][-1]
    assert last["unreachable"] == name and [a["address"] for a in last["addresses"]] == [edge]
    assert any(p["icmp_code"] == code and p["status"] == "unreachable" for p in last["probes"])


@requires_root
def test_blackhole_path_stops_after_the_last_hop_that_answers(path):
    code, doc = route_in(path, netns.BLACKHOLED, "-c", "1", "--timeout", "0.3", "-m", "6")
    assert code == 1
    assert doc["error"]["kind"] == "path_stops"
    assert "after hop 1 (10.77.1.2)" in doc["error"]["message"]
    assert addresses(doc) == [["10.77.1.2"], [], [], [], [], []]
    assert [h["stats"]["loss_pct"] for h in doc["hops"]][1:] == [100.0] * 5


@requires_root
@pytest.mark.parametrize("method", ["icmp", "tcp"])
def test_routing_loop(path, method):
    code, doc = route_in(path, netns.LOOPING, "--method", method, "-c", "1", "-m", "8")
    assert code == 1
    assert doc["error"]["kind"] == "loop"
    # r1 answers from the address of its route back to the client, whichever way it came.
    assert addresses(doc) == [["10.77.1.2"], ["10.77.2.2"]] * 4
    assert "10.77.1.2 (hop 1) answers again at hop 3" in doc["error"]["message"]
    assert "cycle between 10.77.1.2, 10.77.2.2" in doc["error"]["message"]


@requires_root
def test_max_hops_too_few(path):
    code, doc = route_in(path, netns.SERVER, "-c", "1", "--max-hops", "2")
    assert code == 1 and doc["error"]["kind"] == "limit"
    assert "--max-hops 2" in doc["error"]["message"] and addresses(doc) == [[HOPS[0]], [HOPS[1]]]


@requires_root
def test_router_that_sends_no_icmp_is_a_silent_hop_not_a_failure(path):
    """r1 drops the ICMP it originates (a policy rule: no iptables needed), as routers that
    rate-limit time exceeded to nothing do: hop 1 is '*', the path beyond it answers."""
    rule = f"ip -n {path.ns('r1')} rule add iif lo ipproto icmp blackhole"
    path.run(rule)
    try:
        code, doc = route_in(
            path, netns.SERVER, "--method", "udp", "-c", "2", "-i", "0.05", "--timeout", "0.5"
        )
    finally:
        path.run(rule.replace(" add ", " del "))
    assert code == 0 and doc["ok"]
    assert addresses(doc) == [[], [HOPS[1]], [HOPS[2]]]
    assert doc["hops"][0]["stats"]["loss_pct"] == 100.0
    assert doc["hops"][2]["stats"]["loss_pct"] == 0.0


@requires_root
def test_firewall_dropping_icmp_and_udp_tcp_passes(path):
    """r2 drops the ICMP and UDP it would forward towards the server: icmp and udp traces
    stop after r1; tcp SYNs go through."""
    rules = [
        f"ip -n {path.ns('r2')} rule add iif ndrt{path.tag}2b ipproto {proto} blackhole"
        for proto in ("icmp", "udp")
    ]
    for rule in rules:
        path.run(rule)
    try:
        results = {
            method: route_in(
                path,
                netns.SERVER,
                "--method",
                method,
                "-c",
                "1",
                "--timeout",
                "0.3",
                "-m",
                "5",
                *(("-p", str(LISTEN_PORT)) if method == "tcp" else ()),
            )
            for method in ("icmp", "udp", "tcp")
        }
    finally:
        for rule in rules:
            path.run(rule.replace(" add ", " del "))
    for method in ("icmp", "udp"):
        code, doc = results[method]
        assert code == 1 and doc["error"]["kind"] == "path_stops"
        assert "after hop 1 (10.77.1.2)" in doc["error"]["message"]
    code, doc = results["tcp"]
    assert code == 0 and addresses(doc) == [[a] for a in HOPS]


@requires_root
def test_thresholds_at_the_destination(path):
    code, doc = route_in(path, netns.SERVER, "-c", "2", "-i", "0.05", "--max-rtt-ms", "0")
    assert code == 1 and doc["error"]["kind"] == "threshold"
    assert (
        "--max-rtt-ms 0" in doc["error"]["message"]
        and "hop 3 (10.77.3.2)" in doc["error"]["message"]
    )
    code, doc = route_in(path, netns.SERVER, "-c", "2", "-i", "0.05", "--max-loss", "0")
    assert code == 0
    # The silent blackhole's loss is not the destination's: --max-loss needs a destination.
    code, doc = route_in(
        path, netns.BLACKHOLED, "-c", "1", "--timeout", "0.2", "-m", "3", "--max-loss", "100"
    )
    assert code == 1 and doc["error"]["kind"] == "path_stops"


# -- privileges ---------------------------------------------------------------------------------


@requires_root
def test_without_cap_net_raw_udp_and_tcp_work_and_icmp_says_how_to_fix(path):
    prefix = (sys.executable, "-c", DROP_NET_RAW)

    def run(*args: str):
        proc = subprocess.run(
            [*path.exec_args("client"), *prefix, "route", "-n", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return proc.returncode, loads(proc.stdout)

    code, doc = run(netns.SERVER, "-c", "1")
    assert code == 3 and doc["error"]["kind"] == "permission"
    hint = doc["error"]["hint"]
    assert "ping_group_range" in hint and "cap_net_raw" in hint and "--method udp" in hint
    for method, kind in (("udp", "udp-dgram"), ("tcp", "tcp-connect")):
        code, doc = run(netns.SERVER, "--method", method, "-c", "1", "-p", str(LISTEN_PORT))
        assert code == 0 and doc["socket"] == kind and addresses(doc) == [[a] for a in HOPS]
    path.sysctl("client", "net.ipv4.ping_group_range", '"0 2147483647"')
    try:
        code, doc = run(netns.SERVER, "-c", "1")
    finally:
        path.sysctl("client", "net.ipv4.ping_group_range", '"1 0"')
    assert code == 0 and doc["socket"] == "icmp-dgram" and addresses(doc) == [[a] for a in HOPS]


# -- without root: loopback ---------------------------------------------------------------------


def test_loopback_is_one_hop_over_udp(cli):
    r = cli("route", "127.0.0.1", "-n", "--method", "udp", "-c", "2", "-i", "0.05", "--json")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["reached"], doc["destination_hop"], doc["socket"]) == (True, 1, "udp-dgram")
    assert addresses(doc) == [["127.0.0.1"]] and replies(doc) == [{"port unreachable"}]
    assert doc["port"] == 33434 and doc["hops"][0]["addresses"][0]["name"] is None
    assert_golden("route_loopback_udp", normalise(doc, {}))


def test_loopback_text_fits_80_columns():
    from conftest import run_process

    r = run_process("route", "127.0.0.1", "-n", "--method", "udp", "-c", "1", env={"COLUMNS": "80"})
    assert r.code == 0
    assert all(len(line) <= 80 for line in r.out.splitlines())
    assert "127.0.0.1 reached at hop 1" in r.out and r.out.rstrip().endswith("healthy")


def test_reverse_names_are_bounded(cli, monkeypatch):
    """The reverse lookup goes through socket.getnameinfo: replaced here (the system resolver
    is never asked); one that never returns costs at most the 2 s bound."""
    import socket

    from netdiag.net import traceroute

    def slow(sockaddr, flags):
        time.sleep(30)
        raise OSError("never")

    monkeypatch.setattr(socket, "getnameinfo", slow)
    start = time.monotonic()
    found = traceroute.reverse_names(["127.0.0.1", "127.0.0.2"], 0.3)
    assert found == {"127.0.0.1": None, "127.0.0.2": None}
    assert time.monotonic() - start < 5
    monkeypatch.setattr(socket, "getnameinfo", lambda sockaddr, flags: ("lo.test", "0"))
    r = cli("route", "127.0.0.1", "--method", "udp", "-c", "1", "--json")
    assert r.json()["hops"][0]["addresses"][0]["name"] == "lo.test"
    text = cli("route", "127.0.0.1", "--method", "udp", "-c", "1")
    assert "lo.test (127.0.0.1)" in text.out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["127.0.0.1", "--method", "sctp"],
        ["127.0.0.1", "-p", "80"],
        ["127.0.0.1", "--method", "udp", "-p", "65500", "-c", "10"],
        ["::1", "-4"],
        ["127.0.0.1", "-4", "-6"],
        ["127.0.0.1", "--max-hops", "0"],
        ["a..b"],
        ["127.0.0.1", "--timeout", "nan"],
    ],
)
def test_bad_input_exit_2(cli, args):
    r = cli("route", *args)
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1, r.err


def _report():
    from netdiag.probes.route import hop_stats
    from netdiag.results import ProbeError
    from netdiag.results.route import HopAddress, MtuStep, PathMtu, RouteHop, RouteProbe
    from netdiag.results.route import RouteReport as Report

    def hop(ttl, address, name, rtts, status="hop", reply="time exceeded"):
        probes = tuple(
            RouteProbe(r, ttl, status if rtt else "timeout", address if rtt else None, rtt,
                       reply if rtt else None, None, None)
            for r, rtt in enumerate(rtts, 1)
        )  # fmt: skip
        addresses = (HopAddress(address, name, sum(1 for x in rtts if x)),) if address else ()
        return RouteHop(ttl, addresses, status == "destination", None, hop_stats(probes), probes)

    hops = (
        hop(1, "fd00:77:1::2", "gateway.a-rather-long-name.example.test", [0.051, 1234.567]),
        hop(2, None, None, [None, None]),
        hop(3, "10.77.3.2", None, [12.5, None], "destination", "echo reply"),
    )
    pmtu = PathMtu("udp", 1500, 1300, True, 3, (MtuStep(1, "fd00:77:1::2", 1500, 1300),),
                   1300, 3, None)  # fmt: skip
    return Report(
        command="route", ok=False, error=ProbeError("threshold", "50% loss at the destination"),
        interrupted=False, started_at="2026-01-01T00:00:00Z", duration_ms=2345.6,
        target="server.test", address="10.77.3.2", version=4, method="icmp", port=None,
        socket="icmp-raw", dns_ms=1.5, count=2, interval_s=1.0, timeout_s=2.0, max_hops=30,
        reached=True, destination_hop=3, hops=hops, round_ms=(12.6, 13.1), pmtu=pmtu,
    )  # fmt: skip


@pytest.mark.parametrize("width", [60, 80, 120])
def test_view_never_cuts_a_value(width):
    import io
    import re

    from rich.console import Console

    from netdiag.views import route as view

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system="truecolor")
    for item in view.summary(_report(), terminal=True):
        console.print(item)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert "…" not in out
    assert all(len(line.rstrip()) <= width for line in out.splitlines()), out
    for value in ("gateway.a-rather-long-name.example.test", "fd00:77:1::2", "1234.567",
                  "10.77.3.2", "50", "path MTU 1300", "1500 -> 1300 after hop 1"):  # fmt: skip
        assert value in out, (value, out)
