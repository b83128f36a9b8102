"""`netdiag dns` lookups and `--trace` against the lab's private DNS hierarchy on
127.53.0.x. Nothing here asks the system resolver."""

from __future__ import annotations

import socket

import pytest
from conftest import interrupt
from golden_util import assert_golden, normalise

import netdiag.probes.dnstrace as dnstrace

RECORD_KEYS = {"name", "type", "ttl", "data"}


@pytest.fixture
def no_system_resolver(monkeypatch):
    """Fail loudly if anything reaches for the system resolver."""

    def forbidden(host, *a, **k):
        if k.get("flags", 0) & socket.AI_NUMERICHOST or (
            len(a) > 4 and a[4] & socket.AI_NUMERICHOST
        ):
            return real(host, *a, **k)
        raise AssertionError(f"system resolver asked for {host!r}")

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", forbidden)


def lookup(cli, dnslab, *args, server="example"):
    return cli("dns", *args, "--server", dnslab[server], "--port", dnslab["port"], "--json")


def trace(cli, dnslab, *args):
    return cli(
        "dns",
        *args,
        "--trace",
        "--root",
        dnslab["root"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.5",
        "--json",
    )


# -- lookups ---------------------------------------------------------------------------------


def test_lookup_json_shape(cli, dnslab, no_system_resolver):
    r = lookup(cli, dnslab, "host.example.test", "A")
    assert r.code == 0, r.out
    doc = r.json()
    assert (doc["command"], doc["mode"], doc["ok"], doc["error"]) == ("dns", "lookup", True, None)
    [q] = doc["results"]
    assert q["rcode"] == "NOERROR"
    assert set(q["flags"]) == {"qr", "aa", "rd"}  # authoritative, no recursion available
    assert q["server"] == f"{dnslab['example']}:{dnslab['port']}"
    assert q["transport"] == "udp" and q["truncated"] is False
    assert q["query_ms"] > 0 and q["size"] > 12
    assert q["answer"] == [
        {"name": "host.example.test.", "type": "A", "ttl": 300, "data": "127.0.0.10"}
    ]
    assert q["authority"] == [] and q["additional"] == []


def test_lookup_golden(cli, dnslab):
    r = lookup(cli, dnslab, "alias.example.test", "A", "MX")
    doc = normalise(r.json(), {dnslab["port"]: "<PORT>"})
    assert_golden("dns_lookup_alias", doc)


def test_several_types_one_result_each(cli, dnslab):
    doc = lookup(cli, dnslab, "host.example.test", "A", "AAAA").json()
    assert [q["type"] for q in doc["results"]] == ["A", "AAAA"]
    assert doc["results"][1]["answer"][0]["data"] == "::1"


def test_cname_is_followed_for_the_verdict(cli, dnslab):
    r = lookup(cli, dnslab, "alias.example.test", "A")
    assert r.code == 0
    answer = r.json()["results"][0]["answer"]
    assert [a["type"] for a in answer] == ["CNAME", "A"]


@pytest.mark.parametrize(
    ("name", "rtype", "server", "kind"),
    [
        ("nope.example.test", "A", "example", "nxdomain"),
        ("host.example.test", "MX", "example", "nodata"),
        ("alias.example.test", "MX", "example", "nodata"),  # a CNAME to a name with no MX
        ("www.example.test", "A", "root", "referral"),  # not NODATA: test_dns_verdicts.py
        ("host.example.test", "A", "servfail", "servfail"),
        ("host.example.test", "A", "refused", "refused"),
        ("elsewhere.invalid", "A", "example", "refused"),  # not a zone this server serves
    ],
)
def test_unhealthy_answers_have_kinds(cli, dnslab, name, rtype, server, kind):
    r = lookup(cli, dnslab, name, rtype, server=server)
    assert r.code == 1
    doc = r.json()
    assert doc["ok"] is False
    assert doc["error"]["kind"] == kind
    assert doc["results"][0]["error"]["kind"] == kind


def test_nxdomain_carries_the_soa(cli, dnslab):
    q = lookup(cli, dnslab, "nope.example.test").json()["results"][0]
    assert q["rcode"] == "NXDOMAIN"
    assert [a["type"] for a in q["authority"]] == ["SOA"]


def test_timeout_with_retries(cli, dnslab):
    r = cli(
        "dns",
        "host.example.test",
        "--server",
        dnslab["silent"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.2",
        "--retries",
        "1",
        "--json",
    )
    assert r.code == 1
    q = r.json()["results"][0]
    assert q["error"]["kind"] == "timeout"
    assert q["attempts"] == 2
    assert q["rcode"] is None


def test_truncated_udp_answer_is_retried_over_tcp(cli, dnslab):
    r = lookup(cli, dnslab, "big.example.test", "TXT")
    assert r.code == 0
    q = r.json()["results"][0]
    assert q["truncated"] is True and q["transport"] == "tcp"
    assert len(q["answer"]) == 16
    assert q["size"] > 1232
    text = cli(
        "dns", "big.example.test", "TXT", "--server", dnslab["example"], "--port", dnslab["port"]
    )
    assert "truncated (TC set): retried over TCP" in text.out


def test_tcp_from_the_start(cli, dnslab):
    q = lookup(cli, dnslab, "host.example.test", "--tcp").json()["results"][0]
    assert q["transport"] == "tcp" and q["truncated"] is False and q["rcode"] == "NOERROR"


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("garbage", "not a DNS message"),
        ("wrong_id", "wrong ID"),
        ("wrong_question", "different question (other.example.test. A)"),
    ],
)
def test_hostile_responses_are_rejected_and_reported(cli, dnslab, server, reason):
    r = cli(
        "dns",
        "host.example.test",
        "--server",
        dnslab[server],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.3",
        "--retries",
        "0",
        "--json",
    )
    assert r.code == 1
    q = r.json()["results"][0]
    assert q["error"]["kind"] == "bad_response"
    assert q["answer"] == []
    assert any(reason in x for x in q["rejected"])


def test_reverse_lookup_and_short(cli, dnslab):
    r = cli(
        "dns",
        "-x",
        "127.0.0.10",
        "--server",
        dnslab["example"],
        "--port",
        dnslab["port"],
        "--short",
    )
    assert r.code == 0
    assert r.out == "host.example.test.\n"
    doc = lookup(cli, dnslab, "-x", "127.0.0.10").json()
    assert doc["results"][0]["name"] == "10.0.0.127.in-addr.arpa."
    assert doc["results"][0]["type"] == "PTR"


def test_idn_names_are_encoded(cli, dnslab):
    doc = lookup(cli, dnslab, "bücher.example.test").json()
    assert doc["name"] == "xn--bcher-kva.example.test."
    assert doc["error"]["kind"] == "nxdomain"


def test_text_output_shows_header_sections_and_verdict(cli, dnslab):
    r = cli("dns", "nope.example.test", "--server", dnslab["example"], "--port", dnslab["port"])
    assert r.code == 1
    assert "NXDOMAIN" in r.out and "flags qr aa rd" in r.out
    assert "AUTHORITY" in r.out and "SOA" in r.out
    assert "unhealthy: nxdomain" in r.out


def test_no_system_resolver_configured_exits_3(cli, monkeypatch):
    import dns.resolver

    def broken(*a, **k):
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver, "Resolver", broken)
    r = cli("dns", "host.example.test", "--json")
    assert r.code == 3
    err = r.json()["error"]
    assert err["kind"] == "config" and "--server" in err["hint"]


def fake_resolve(monkeypatch, answer):
    """Stand in for the name resolution of --server names (never the system resolver):
    ``answer(host)`` is an address or None; returns the (host, port, version) asked."""
    import netdiag.probes.dns as probe
    from netdiag.errors import ErrorKind
    from netdiag.results import ProbeError
    from netdiag.results.resolve import Endpoint, Resolution

    asked = []

    def resolve(host, port, *, version=None, timeout=None, **_):
        asked.append((host, port, version))
        address = answer(host)
        if address is None:
            return Resolution((), 1.0, ProbeError(ErrorKind.NXDOMAIN, f"{host}: no such name"))
        return Resolution((Endpoint(socket.AF_INET, (address, port), address),), 1.0)

    monkeypatch.setattr(probe, "resolve", resolve)
    return asked


def test_a_server_given_by_name_is_resolved_first(cli, dnslab, monkeypatch):
    asked = fake_resolve(monkeypatch, lambda host: dnslab["example"])
    r = cli(
        "dns", "host.example.test", "-4", "@ns.example.test", "--port", dnslab["port"], "--json"
    )
    assert r.code == 0, r.out
    assert asked == [("ns.example.test", int(dnslab["port"]), 4)]
    [q] = r.json()["results"]
    assert q["server"] == f"{dnslab['example']}:{dnslab['port']}"


def test_a_server_name_that_does_not_resolve_is_a_usage_error(cli, monkeypatch):
    fake_resolve(monkeypatch, lambda host: None)
    r = cli("dns", "host.example.test", "--server", "ns.nowhere.test")
    assert (r.code, r.out) == (2, "")
    assert "server ns.nowhere.test: ns.nowhere.test: no such name" in r.err
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["a..b"],
        ["host.test", "NOTATYPE"],
        ["-x", "not-an-address"],
        ["host.test", "A", "MX", "--trace"],
        ["host.test", "--trace", "--root", "root.test"],
        ["host.test", "--trace", "--server", "127.0.0.1"],
        ["host.test", "--root", "127.0.0.1"],
        ["host.test", "--short", "--json"],
        ["host.test", "--server", "127.0.0.1:0"],
        ["host.test", "--trace", "--root-hints", "/nonexistent/named.root"],
        ["x" * 64 + ".test"],
    ],
)
def test_bad_input_exit_2(cli, args):
    r = cli("dns", *args)
    assert r.code == 2, r.out
    assert len(r.err.strip().splitlines()) == 1 and "error:" in r.err


# -- trace -------------------------------------------------------------------------------------


def zones(doc):
    return [h["zone"] for h in doc["hops"]]


def test_trace_with_glue(cli, dnslab, no_system_resolver):
    r = trace(cli, dnslab, "host.example.test")
    assert r.code == 0, r.out
    doc = r.json()
    assert doc["mode"] == "trace" and doc["ok"] is True
    assert zones(doc) == [".", "test.", "example.test."]
    root, tld, zone = doc["hops"]
    assert root["servers"][0]["outcome"] == "referral" and root["referral"] == "test."
    assert tld["nameservers"] == ["ns1.nic.test.", "ns2.nic.test."]
    assert {s["address"] for s in tld["servers"]} == {"127.53.0.2", "127.53.0.3"}
    assert all(s["glue"] and s["source"] == "glue" for s in tld["servers"])
    assert all(s["rtt_ms"] > 0 and s["rcode"] == "NOERROR" for s in tld["servers"])
    assert zone["outcome"] == "answer"
    assert [a["data"] for a in doc["answer"]] == ["127.0.0.10"]
    assert doc["queries"] == 5 and doc["duration_ms"] > 0
    assert set(doc["answer"][0]) == RECORD_KEYS


def test_trace_golden(cli, dnslab):
    doc = normalise(trace(cli, dnslab, "www.example.test").json(), {dnslab["port"]: "<PORT>"})
    assert_golden("dns_trace_cname", doc)


def test_trace_into_delegated_subzone(cli, dnslab):
    doc = trace(cli, dnslab, "c2.sub.example.test").json()
    assert zones(doc) == [".", "test.", "example.test.", "sub.example.test."]
    assert doc["answer"][0]["data"] == "127.0.0.12"


def test_trace_glueless_nameserver_resolved_from_root(cli, dnslab):
    r = trace(cli, dnslab, "www.glueless.test")
    assert r.code == 0, r.out
    hop = r.json()["hops"][-1]
    assert hop["zone"] == "glueless.test."
    [g] = hop["glueless"]
    assert g["nameserver"] == "ns.provider.alt." and g["addresses"] == ["127.53.0.7"]
    assert [h["zone"] for h in g["trace"]["hops"]] == [".", "alt.", "provider.alt."]
    [server] = hop["servers"]
    assert server["glue"] is False and server["source"] == "resolved"


def test_trace_follows_cname_into_another_zone(cli, dnslab):
    doc = trace(cli, dnslab, "www.example.test").json()
    assert [(a["type"], a["data"]) for a in doc["answer"]] == [
        ("CNAME", "web.provider.alt."),
        ("A", "127.0.0.81"),
    ]
    [follow] = doc["cname_traces"]
    assert follow["name"] == "web.provider.alt."
    assert [h["zone"] for h in follow["hops"]] == [".", "alt.", "provider.alt."]


def test_trace_cname_chain(cli, dnslab):
    doc = trace(cli, dnslab, "chain.example.test").json()
    assert doc["ok"]
    assert [a["data"] for a in doc["answer"]] == [
        "c1.example.test.",
        "c2.sub.example.test.",
        "127.0.0.12",
    ]
    assert [t["name"] for t in doc["cname_traces"]] == ["c2.sub.example.test."]


def test_trace_lame_delegation(cli, dnslab):
    r = trace(cli, dnslab, "www.lame.test")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "lame"
    hop = doc["hops"][-1]
    assert hop["zone"] == "lame.test." and hop["outcome"] == "failed"
    outcomes = {s["address"]: (s["outcome"], s["rcode"]) for s in hop["servers"]}
    assert outcomes == {"127.53.0.9": ("timeout", None), "127.53.0.10": ("lame", "REFUSED")}


def test_one_failing_server_does_not_end_the_trace(cli, dnslab):
    r = trace(cli, dnslab, "www.flaky.test")
    assert r.code == 0
    hop = r.json()["hops"][-1]
    assert sorted(s["outcome"] for s in hop["servers"]) == ["answer", "timeout"]


def test_trace_detects_delegation_loop(cli, dnslab):
    r = trace(cli, dnslab, "www.loop.test")
    assert r.code == 1
    err = r.json()["error"]
    assert err["kind"] == "loop"
    assert "ns.loop.alt. -> ns.loop.test. -> ns.loop.alt." in err["message"]


def test_trace_rejects_hostile_answers(cli, dnslab):
    r = trace(cli, dnslab, "www.hostile.test")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "bad_response"
    details = " ".join(s["detail"] for s in doc["hops"][-1]["servers"])
    assert "not a DNS message" in details and "wrong ID" in details


def test_trace_reports_upward_referral(cli, dnslab):
    doc = trace(cli, dnslab, "www.upward.test").json()
    assert doc["error"]["kind"] == "lame"
    [s] = doc["hops"][-1]["servers"]
    assert s["outcome"] == "lame" and "upward" in s["detail"]


def test_trace_shows_disagreement(cli, dnslab):
    doc = trace(cli, dnslab, "www.split.test").json()
    hop = doc["hops"][-1]
    assert hop["disagreement"] and "127.0.0.17" in hop["disagreement"]
    assert "127.0.0.18" in hop["disagreement"]


def test_trace_truncation_retried_over_tcp(cli, dnslab):
    doc = trace(cli, dnslab, "big.example.test", "TXT").json()
    assert doc["ok"]
    last = doc["hops"][-1]["servers"]
    assert all(s["truncated"] and s["transport"] == "tcp" for s in last)


@pytest.mark.parametrize(
    ("name", "rtype", "kind"),
    [
        ("nope.example.test", "A", "nxdomain"),
        ("host.example.test", "MX", "nodata"),
        ("nothing.nowhere", "A", "nxdomain"),
    ],
)
def test_trace_negative_answers(cli, dnslab, name, rtype, kind):
    r = trace(cli, dnslab, name, rtype)
    assert r.code == 1
    assert r.json()["error"]["kind"] == kind


def test_trace_from_root_hints_file(cli, dnslab, tmp_path):
    hints = tmp_path / "named.root"
    hints.write_text(
        ".                        3600000      NS    A.ROOT.TEST.\n"
        f"A.ROOT.TEST.             3600000      A     {dnslab['root']}\n"
    )
    r = cli(
        "dns",
        "host.example.test",
        "--trace",
        "--root-hints",
        str(hints),
        "--port",
        dnslab["port"],
        "--json",
    )
    assert r.code == 0, r.out
    doc = r.json()
    assert doc["roots"] == [dnslab["root"]]
    assert doc["hops"][0]["servers"][0]["name"] == "A.ROOT.TEST."
    assert doc["hops"][0]["servers"][0]["source"] == "hints"


def test_trace_query_budget_is_enforced(dnslab):
    import dns.name
    import dns.rdatatype

    roots = [dnstrace.NameServer(dnslab["root"], dnslab["root"], "given")]
    opts = dnstrace.TraceOptions(port=int(dnslab["port"]), timeout=0.5, max_queries=2)
    report = dnstrace.trace(dns.name.from_text("host.example.test"), dns.rdatatype.A, roots, opts)
    assert not report.ok
    assert report.error.kind == "limit"
    assert report.queries <= 2


def test_trace_text_is_a_tree(cli, dnslab):
    r = cli(
        "dns", "www.glueless.test", "--trace", "--root", dnslab["root"], "--port", dnslab["port"]
    )
    assert r.code == 0
    assert "trace www.glueless.test. A" in r.out
    assert "glueless ns.provider.alt.: resolved from the root -> 127.53.0.7" in r.out
    assert "referral -> glueless.test." in r.out
    assert "queries in" in r.out and r.out.rstrip().endswith("healthy")


def test_trace_limit_keeps_the_hops_so_far(dnslab):
    import dns.name
    import dns.rdatatype

    roots = [dnstrace.NameServer(dnslab["root"], dnslab["root"], "given")]
    opts = dnstrace.TraceOptions(port=int(dnslab["port"]), timeout=0.5, max_queries=3)
    report = dnstrace.trace(dns.name.from_text("host.example.test"), dns.rdatatype.A, roots, opts)
    assert report.error.kind == "limit"
    # the zone it stopped at is kept too, with no server asked
    assert [h.zone for h in report.hops] == [".", "test.", "example.test."]
    assert report.hops[-1].outcome == "stopped" and report.hops[-1].servers == ()
    assert "example.test." in report.error.message


def test_ctrl_c_during_trace_prints_what_was_measured(dnslab):
    # the root and test. answer at once; lame.test.'s silent server makes netdiag wait
    r, _ = interrupt(
        "dns",
        "www.lame.test",
        "--trace",
        "--root",
        dnslab["root"],
        "--port",
        dnslab["port"],
        "--timeout",
        "20",
        "--json",
        after_s=1.5,
    )
    assert r.code == 130, r.err
    assert "Traceback" not in r.err
    doc = r.json()
    assert doc["interrupted"] is True
    # the zone being worked on is kept too, with what its servers had answered
    assert [h["zone"] for h in doc["hops"]] == [".", "test.", "lame.test."]
    assert doc["hops"][-1]["outcome"] == "stopped"
    assert doc["error"]["kind"] == "interrupted"
    assert "lame.test." in doc["error"]["message"]
