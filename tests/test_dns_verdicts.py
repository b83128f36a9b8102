"""What `netdiag dns` concludes from an answer (issue 11): a referral is not NODATA, a CNAME
that leaves the server's data is an answer, a negative answer nothing vouches for is not
authoritative, an unreachable server is not lame; failures alike are said once, with a count;
and dig's habits (`@server` anywhere, `IN`, `+short`) on the command line. Against the lab's
hierarchy on 127.53.0.x, and sockets made here; never the system resolver."""

from __future__ import annotations

import socket

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

from netdiag.probes.dns import verdict


def lookup(cli, dnslab, server, *args):
    return cli("dns", *args, "--server", dnslab[server], "--port", dnslab["port"], "--json")


def trace(cli, dnslab, *args, root=None, port=None):
    return cli(
        "dns",
        *args,
        "--trace",
        "--root",
        root or dnslab["root"],
        "--port",
        port or dnslab["port"],
        "--timeout",
        "0.5",
    )


def received(response: dns.message.Message) -> dns.message.Message:
    """``response`` as netdiag gets it: from the wire (dnspython indexes it only then)."""
    return dns.message.from_wire(response.to_wire())


def closed_port(kind: int = socket.SOCK_DGRAM) -> str:
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


# -- a referral is not NODATA ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "zone", "nameservers"),
    [
        ("root", "test.", "ns1.nic.test., ns2.nic.test."),
        ("tld", "example.test.", "ns1.example.test., ns2.example.test."),
    ],
)
def test_a_referral_is_not_nodata(cli, dnslab, server, zone, nameservers):
    r = lookup(cli, dnslab, server, "www.example.test")
    assert r.code == 1
    doc = r.json()
    [q] = doc["results"]
    assert doc["error"]["kind"] == q["error"]["kind"] == "referral"
    assert q["referral"] == zone
    assert "aa" not in q["flags"] and "ra" not in q["flags"]
    message = q["error"]["message"]
    assert "not authoritative for www.example.test." in message
    assert "does not recurse" in message
    assert f"it refers to {zone} ({nameservers})" in message
    assert "--trace" in message


def test_referral_text_says_recursion_is_not_available(cli, dnslab):
    r = cli("dns", "www.example.test", "--server", dnslab["root"], "--port", dnslab["port"])
    assert r.code == 1
    assert "recursion requested but not available" in r.out
    assert "unhealthy: referral: this server is not authoritative" in r.out
    assert "nodata" not in r.out.lower()


def test_referral_from_a_server_that_offers_recursion_says_so():
    query = dns.message.make_query("www.example.test.", "A")
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    response.authority.append(
        dns.rrset.from_text("test.", 300, "IN", "NS", "ns1.nic.test.", "ns2.nic.test.")
    )
    judged = verdict(received(response), dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert judged.error is not None and judged.error.kind == "referral"
    assert "offers recursion (ra) but did not resolve" in judged.error.message


def test_an_empty_authoritative_answer_is_still_nodata(cli, dnslab):
    q = lookup(cli, dnslab, "example", "host.example.test", "MX").json()["results"][0]
    assert q["error"]["kind"] == "nodata" and q["referral"] is None
    assert [a["type"] for a in q["authority"]] == ["SOA"]


# -- a CNAME that leaves the server's data ---------------------------------------------------


def test_cname_out_of_the_zone_is_an_answer(cli, dnslab):
    r = lookup(cli, dnslab, "example", "www.example.test")
    assert r.code == 0, r.out
    doc = r.json()
    assert doc["ok"] is True and doc["error"] is None
    [q] = doc["results"]
    assert q["ok"] is True and q["error"] is None
    assert [(a["type"], a["data"]) for a in q["answer"]] == [("CNAME", "web.provider.alt.")]
    assert q["cname_leaves_at"] == "web.provider.alt."
    assert "leaves this server's data at web.provider.alt." in q["note"]
    assert "--trace" in q["note"]


def test_cname_out_of_the_zone_text_and_short(cli, dnslab):
    where = ("--server", dnslab["example"], "--port", dnslab["port"])
    r = cli("dns", "www.example.test", *where)
    assert r.code == 0
    assert "note: the CNAME chain leaves this server's data at web.provider.alt." in r.out
    assert r.out.rstrip().endswith("healthy") and "nodata" not in r.out
    short = cli("dns", "www.example.test", *where, "--short")
    assert (short.code, short.out, short.err) == (0, "web.provider.alt.\n", "")


def test_cname_into_a_delegated_zone_names_the_referral(cli, dnslab):
    r = lookup(cli, dnslab, "example", "chain.example.test")
    assert r.code == 0
    [q] = r.json()["results"]
    assert [a["data"] for a in q["answer"]] == ["c1.example.test.", "c2.sub.example.test."]
    assert q["cname_leaves_at"] == "c2.sub.example.test."
    assert "refers to sub.example.test. (ns.sub.example.test.)" in q["note"]


def test_cname_to_a_name_without_the_type_is_nodata(cli, dnslab):
    r = lookup(cli, dnslab, "example", "alias.example.test", "MX")
    assert r.code == 1
    [q] = r.json()["results"]
    assert q["error"]["kind"] == "nodata" and q["cname_leaves_at"] is None
    assert "alias of host.example.test., which has no MX record" in q["error"]["message"]


def test_cname_to_a_name_that_does_not_exist_is_nxdomain_of_the_target(cli, dnslab):
    r = lookup(cli, dnslab, "example", "dangling.example.test")
    assert r.code == 1
    [q] = r.json()["results"]
    assert q["rcode"] == "NXDOMAIN" and q["error"]["kind"] == "nxdomain"
    assert "alias of gone.example.test., which does not exist" in q["error"]["message"]


def test_a_cname_loop_in_the_answer_is_a_loop():
    query = dns.message.make_query("a.loop.test.", "A")
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.answer.append(dns.rrset.from_text("a.loop.test.", 300, "IN", "CNAME", "b.loop.test."))
    response.answer.append(dns.rrset.from_text("b.loop.test.", 300, "IN", "CNAME", "a.loop.test."))
    judged = verdict(received(response), dns.name.from_text("a.loop.test."), dns.rdatatype.A)
    assert judged.error is not None and judged.error.kind == "loop"
    assert judged.cname_leaves_at is None


# -- --trace: a negative answer nothing vouches for ------------------------------------------


@pytest.mark.parametrize("rtype", ["A", "AAAA"])  # NXDOMAIN; an empty answer for AAAA
def test_trace_through_an_intercepting_middlebox_is_not_authoritative(cli, dnslab, rtype):
    r = trace(cli, dnslab, "www.example.test", rtype, "--json", root=dnslab["middlebox"])
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "not_authoritative"
    assert "middlebox" in doc["error"]["message"]
    [root] = doc["hops"]
    assert root["outcome"] == "failed"
    [s] = root["servers"]
    assert s["outcome"] == "not_authoritative"
    assert s["rcode"] == ("NXDOMAIN" if rtype == "A" else "NOERROR")


def test_trace_goes_on_past_a_middlebox_to_a_real_root(cli, dnslab):
    r = cli(
        "dns",
        "host.example.test",
        "--trace",
        "--root",
        dnslab["middlebox"],
        "--root",
        dnslab["root"],
        "--port",
        dnslab["port"],
        "--json",
    )
    assert r.code == 0, r.out
    root = r.json()["hops"][0]
    outcomes = {s["address"]: s["outcome"] for s in root["servers"]}
    assert outcomes == {dnslab["middlebox"]: "not_authoritative", dnslab["root"]: "referral"}


def test_trace_cname_to_a_missing_name_is_nxdomain_with_the_chain(cli, dnslab):
    r = trace(cli, dnslab, "dangling.example.test", "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "nxdomain"
    assert "alias of gone.example.test., which does not exist" in doc["error"]["message"]
    assert [a["data"] for a in doc["answer"]] == ["gone.example.test."]


def test_trace_nodata_after_an_in_zone_cname_needs_no_new_trace(cli, dnslab):
    doc = trace(cli, dnslab, "alias.example.test", "MX", "--json").json()
    assert doc["error"]["kind"] == "nodata"
    assert doc["cname_traces"] == []
    assert "alias of host.example.test., which has no MX record" in doc["error"]["message"]


# -- --trace: an unreachable server is not lame ----------------------------------------------


def test_trace_to_a_closed_udp_port_is_unreachable_not_lame(cli, dnslab):
    r = trace(cli, dnslab, "www.example.test", "--json", root="127.0.0.1", port=closed_port())
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "unreachable"
    assert "could be reached" in doc["error"]["message"]
    [s] = doc["hops"][0]["servers"]
    assert s["outcome"] == "unreachable" and "ICMP port unreachable" in s["detail"]


def test_trace_to_a_closed_tcp_port_is_refused(cli, dnslab):
    port = closed_port(socket.SOCK_STREAM)
    r = trace(cli, dnslab, "www.example.test", "--tcp", "--json", root="127.0.0.1", port=port)
    assert r.code == 1
    doc = r.json()
    assert doc["error"]["kind"] == "refused"
    assert doc["hops"][0]["servers"][0]["outcome"] == "refused"


def test_lookup_to_a_closed_tcp_port_is_refused(cli):
    r = cli("dns", "x.test", "--server", f"127.0.0.1:{closed_port(socket.SOCK_STREAM)}", "--tcp")
    assert r.code == 1
    assert "unhealthy: refused: TCP connection to 127.0.0.1:" in r.out


def test_one_query_is_singular(cli, dnslab):
    r = trace(cli, dnslab, "www.example.test", root="127.0.0.1", port=closed_port())
    assert "1 query in" in r.out and "1 queries" not in r.out
    assert "from 1 root server address," in r.out


def test_many_servers_failing_alike_are_counted_once(cli, tmp_path):
    port = closed_port()
    hints = tmp_path / "named.root"
    hints.write_text(
        "".join(
            f".  3600000  NS  r{i}.root.test.\nr{i}.root.test.  3600000  A  127.0.0.{i}\n"
            for i in range(1, 8)
        )
    )
    args = ("dns", "www.example.test", "--trace", "--root-hints", str(hints), "--port", port)
    r = cli(*args, "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["queries"] == 7 and len(doc["hops"][0]["servers"]) == 7
    message = doc["error"]["message"]
    assert doc["error"]["kind"] == "unreachable"
    assert "all 7 could not be reached, the first r1.root.test. (127.0.0.1)" in message
    assert message.count("ICMP port unreachable") == 1 and len(message) < 250
    text = cli(*args)
    assert text.out.count("ICMP port unreachable") == 7 + 1  # the tree, then the verdict once
    assert "7 queries in" in text.out


def test_lookups_failing_alike_are_counted_once(cli, dnslab):
    r = cli(
        "dns",
        "host.example.test",
        "A",
        "MX",
        "AAAA",
        "--server",
        dnslab["silent"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.1",
        "--retries",
        "0",
        "--json",
    )
    assert r.code == 1
    error = r.json()["error"]
    assert error["kind"] == "timeout"
    assert error["message"].startswith("3 of 3 queries failed the same way: no answer from")


def test_lookups_failing_differently_are_counted_by_kind(cli, dnslab):
    port = dnslab["port"]
    r = cli(
        "dns",
        "www.example.test",
        "A",
        "MX",
        f"@{dnslab['root']}",
        f"@{dnslab['refused']}",
        "--port",
        port,
        "--json",
    )
    assert r.code == 1
    message = r.json()["error"]["message"]
    assert message.startswith("4 of 4 queries unhealthy (2 referral, 2 refused); first: A @")


def test_flood_verdict_is_short(dnslab):
    from conftest import run_process

    r = run_process(
        "dns",
        "www.flood.test",
        "--server",
        dnslab["flood_wrong_id"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.5",
    )
    assert r.code == 1
    last = r.out.rstrip().splitlines()[-1]
    assert last.startswith("unhealthy: bad_response: no valid answer from")
    assert "more like it" in last and last.count("wrong ID") == 1
    assert len(last) < 250


# -- dig's habits on the command line --------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["@{example}", "host.example.test", "MX"],
        ["host.example.test", "@{example}", "MX"],
        ["host.example.test", "MX", "@{example}"],
        ["host.example.test", "IN", "MX", "@{example}"],
        ["host.example.test", "MX", "@{example}#{port}"],
        ["host.example.test", "MX", "@{example}:{port}"],
    ],
)
def test_at_server_anywhere_as_with_dig(cli, dnslab, words):
    args = [w.format(example=dnslab["example"], port=dnslab["port"]) for w in words]
    r = cli("dns", *args, "--port", dnslab["port"], "--json")
    doc = r.json()
    [q] = doc["results"]
    assert q["type"] == "MX" and q["name"] == "host.example.test."
    assert q["server"] == f"{dnslab['example']}:{dnslab['port']}"
    assert q["error"]["kind"] == "nodata"  # host has A and AAAA, no MX


def test_at_server_and_server_option_together(cli, dnslab):
    r = cli(
        "dns",
        "@" + dnslab["example"],
        "host.example.test",
        "--server",
        dnslab["root"],
        "--port",
        dnslab["port"],
        "--json",
    )
    servers = [q["server"].rsplit(":", 1)[0] for q in r.json()["results"]]
    assert servers == [dnslab["example"], dnslab["root"]]


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["@", "host.test"], "'@' needs a server address"),
        (["@127.0.0.1"], "missing NAME"),
        (["host.test", "+short"], "'+short' is a dig option; netdiag spells it --short"),
        (["host.test", "+nssearch"], "'+nssearch' is a dig option"),
        (["host.test", "CH", "TXT", "@127.0.0.1"], "class CH is not supported"),
        (["host.test", "@127.0.0.1", "--trace"], "drop --server and @SERVER"),
        (["host.test", "@not a host"], "server not a host"),
    ],
)
def test_dig_words_that_netdiag_cannot_take_are_usage_errors(cli, words, says):
    r = cli("dns", *words)
    assert r.code == 2, r.out
    assert len(r.err.strip().splitlines()) == 1 and says in r.err


def test_short_failure_says_why_on_stderr(cli, dnslab):
    r = cli("dns", "@" + dnslab["root"], "www.example.test", "--port", dnslab["port"], "--short")
    assert r.code == 1
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("netdiag dns: error: referral: this server is not authoritative")


def test_short_timeout_says_why_on_stderr(cli, dnslab):
    r = cli(
        "dns",
        "host.example.test",
        "@" + dnslab["silent"],
        "--port",
        dnslab["port"],
        "--timeout",
        "0.1",
        "--retries",
        "0",
        "--short",
    )
    assert (r.code, r.out) == (1, "")
    assert r.err.count("\n") == 1 and "error: timeout: no answer from" in r.err
