"""``netdiag check``'s output formats, read back by the tools that consume them: the JSON
document by the shipped schema (jsonschema), JUnit XML by junitparser, TAP 14 by tap.py and
its YAML blocks by PyYAML, Prometheus text by prometheus_client's own parser, the text view on
an 80-column terminal. Never by comparing strings.

The reports come from real probes against the lab on loopback (tcp, http, tls, dns lookup and
trace, sockets, ping where this machine allows ICMP), wrapped as checks, and from hand-built
checks for what a lab run cannot show on demand: not run, cannot run, flaky, hostile names."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from rich.console import Console
from schema_util import validate, validator

from netdiag.checks.formats import Format, jsonl_line, render, write_atomic
from netdiag.lab import Lab
from netdiag.results import ProbeError
from netdiag.results.check import (
    AnyReport,
    CheckReport,
    CheckResult,
    CheckSummary,
    Outcome,
    outcome,
)
from netdiag.targets import parse_target
from netdiag.views.check import check_line, check_view

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STARTED = "2026-01-01T00:00:00Z"


# -- reports from real probes against the lab ---------------------------------------------------


def as_check(
    name: str,
    type_: str,
    target: str | None,
    report: AnyReport | None,
    *,
    attempts: int = 1,
    flaky: bool = False,
    tags: tuple[str, ...] = (),
    error: ProbeError | None = None,
    duration_ms: float | None = None,
) -> CheckResult:
    """A check as the runner makes it: the probe's report, its verdict, the attempts."""
    ok = report is not None and report.ok
    return CheckResult(
        name=name,
        type=type_,
        target=target,
        tags=tags,
        ok=ok,
        error=error if error is not None or report is None else report.error,
        attempts=attempts,
        flaky=flaky,
        started_at=report.started_at if report is not None else STARTED,
        duration_ms=duration_ms
        if duration_ms is not None
        else (report.duration_ms if report else 0.0),
        report=report,
    )


def as_report(checks: list[CheckResult], *, interrupted: bool = False) -> CheckReport:
    outcomes = [outcome(c) for c in checks]
    passed = sum(o in (Outcome.PASSED, Outcome.FLAKY) for o in outcomes)
    not_run = outcomes.count(Outcome.NOT_RUN)
    first = next((c for c in checks if not c.ok and c.error is not None), None)
    return CheckReport(
        command="check",
        ok=all(c.ok for c in checks) and not interrupted,
        error=None
        if first is None
        else ProbeError(first.error.kind, f"{first.name}: {first.error.message}"),
        interrupted=interrupted,
        started_at=STARTED,
        duration_ms=sum(c.duration_ms for c in checks),
        file="checks.toml",
        only=(),
        summary=CheckSummary(
            total=len(checks),
            passed=passed,
            failed=len(checks) - passed - not_run,
            flaky=outcomes.count(Outcome.FLAKY),
            not_run=not_run,
        ),
        checks=tuple(checks),
    )


def _tcp(endpoint: str):
    from netdiag.probes.tcp import TcpOptions, probe_tcp

    return probe_tcp([parse_target(endpoint)], TcpOptions(count=3, interval=0.01, timeout=1.0))


def _http(url: str, ca_file: str | None = None):
    from netdiag.probes.http import HttpOptions, probe_http
    from netdiag.targets import parse_target

    ca_pem = Path(ca_file).read_bytes() if ca_file else None
    return probe_http(
        parse_target(url, schemes={"http": 80, "https": 443}),
        HttpOptions(timeout=2.0, follow=True, ca_pem=ca_pem, ca_file=ca_file),
    )


def _tls(lab: Lab, service: str):
    from netdiag.probes.tls import TlsOptions, probe_tls

    opts = TlsOptions(
        sni=lab.tls_names[service], ca_file=Path(lab.files["tls_ca_file"]), timeout=2.0
    )
    return probe_tls(parse_target(lab.endpoints[service]), opts)


def _dns_lookup(dnslab: dict[str, str], name: str):
    import dns.name
    import dns.rdatatype

    from netdiag.probes.dns import DnsOptions, probe_dns

    server = parse_target(dnslab["example"], default_port=int(dnslab["port"]))
    opts = DnsOptions(timeout=1.0, retries=0, port=int(dnslab["port"]))
    return probe_dns(dns.name.from_text(name), [dns.rdatatype.A], [server], opts)


def _dns_trace(dnslab: dict[str, str], name: str):
    import dns.name
    import dns.rdatatype

    from netdiag.probes import dnstrace

    roots = [dnstrace.NameServer(dnslab["root"], dnslab["root"], "given")]
    opts = dnstrace.TraceOptions(port=int(dnslab["port"]), timeout=0.5)
    return dnstrace.trace(dns.name.from_text(name), dns.rdatatype.A, roots, opts)


def _ping(address: str):
    from netdiag.probes.ping import PingOptions, probe_ping

    return probe_ping([parse_target(address)], PingOptions(count=2, interval=0.01, timeout=0.5))


def _sockets():
    from netdiag.probes.sockets import SocketsOptions, snapshot

    return snapshot(SocketsOptions())


@pytest.fixture(scope="module")
def lab_checks(lab, dnslab) -> list[CheckResult]:
    """One check of each type and outcome the lab can give, from real probes."""
    ca = lab.files["tls_ca_file"]
    return [
        as_check("tcp open", "tcp", lab.endpoints["tcp_open"], _tcp(lab.endpoints["tcp_open"])),
        as_check(
            "tcp refused",
            "tcp",
            lab.endpoints["tcp_refused"],
            _tcp(lab.endpoints["tcp_refused"]),
            attempts=2,
            tags=("db",),
        ),
        as_check("web", "http", lab.urls["http"] + "/", _http(lab.urls["http"] + "/")),
        as_check(
            "web redirects to https",
            "http",
            lab.urls["http"] + "/redirect/https",
            _http(lab.urls["http"] + "/redirect/https", ca),
        ),
        as_check(
            "web missing page",
            "http",
            lab.urls["http"] + "/status/404",
            _http(lab.urls["http"] + "/status/404"),
        ),
        as_check("cert good", "tls", lab.endpoints["tls_good"], _tls(lab, "tls_good")),
        as_check("cert expired", "tls", lab.endpoints["tls_expired"], _tls(lab, "tls_expired")),
        as_check("dns www", "dns", "www.example.test", _dns_lookup(dnslab, "www.example.test")),
        as_check("dns nx", "dns", "nx.example.test", _dns_lookup(dnslab, "nx.example.test")),
        as_check("dns trace", "dns", "host.example.test", _dns_trace(dnslab, "host.example.test")),
        as_check("ping", "ping", "127.0.0.1", _ping("127.0.0.1")),
        as_check("sockets", "sockets", None, _sockets()),
    ]


def hand_built(lab_checks: list[CheckResult]) -> list[CheckResult]:
    """What a lab run does not give on demand: a flaky pass, a check that cannot run here, one
    never started, and a name and message holding markup, control characters and XML."""
    tcp_ok = lab_checks[0]
    return [
        as_check(
            'flaky <tcp> & "friends"',
            "tcp",
            tcp_ok.target,
            tcp_ok.report,
            attempts=3,
            flaky=True,
            duration_ms=1234.5,
        ),
        as_check(
            "ping as nobody",
            "ping",
            "127.0.0.2",
            None,
            error=ProbeError(
                "permission", "raw ICMP socket: operation not permitted", "run as root"
            ),
            duration_ms=0.1,
        ),
        CheckResult(
            name="never started # \\ [bold]x[/bold]",
            type="tls",
            target="127.0.0.1:1",
            tags=(),
            ok=False,
            error=ProbeError("interrupted", "not run: the run was interrupted first"),
            attempts=0,
            flaky=False,
            started_at=STARTED,
            duration_ms=0.0,
            report=None,
        ),
        as_check(
            "hostile\x1b[2J\nname\u202e",
            "http",
            "http://127.0.0.1:9/\x07",
            None,
            error=ProbeError(
                "bad_response", "server said \x1b]0;owned\x07 <![CDATA[ ]]> \x00 \ufffe"
            ),
            duration_ms=5.0,
        ),
    ]


@pytest.fixture(scope="module")
def report(lab_checks) -> CheckReport:
    return as_report([*lab_checks, *hand_built(lab_checks)], interrupted=False)


def test_the_lab_gave_each_outcome(report):
    by_name = {c.name: outcome(c) for c in report.checks}
    assert by_name["tcp open"] is Outcome.PASSED
    assert by_name["tcp refused"] is Outcome.FAILED
    assert by_name["web"] is Outcome.PASSED
    assert by_name["web redirects to https"] is Outcome.PASSED
    assert by_name["web missing page"] is Outcome.FAILED
    assert by_name["cert good"] is Outcome.PASSED
    assert by_name["cert expired"] is Outcome.FAILED
    assert by_name["dns www"] is Outcome.PASSED
    assert by_name["dns nx"] is Outcome.FAILED
    assert by_name["dns trace"] is Outcome.PASSED
    assert by_name["ping as nobody"] is Outcome.CANNOT_RUN
    assert by_name["never started # \\ [bold]x[/bold]"] is Outcome.NOT_RUN
    assert sum(o is Outcome.FLAKY for o in by_name.values()) == 1


# -- json and jsonl ------------------------------------------------------------------------------


def test_json_is_one_document_that_matches_the_schema(report):
    doc = validate(json.loads(render(report, "json")))
    assert doc["command"] == "check"
    assert [c["name"] for c in doc["checks"]] == [c.name for c in report.checks]
    assert doc["summary"]["total"] == len(report.checks)
    tcp = doc["checks"][0]
    # Each check's report is the document its command prints with --json.
    assert validate(tcp["report"])["command"] == "tcp"
    for c in doc["checks"]:
        if c["report"] is not None:
            validate(c["report"])


def test_json_escapes_as_every_document_does(report):
    text = render(report, Format.JSON)
    assert "\x1b" not in text and "\u202e" not in text
    doc = json.loads(text)
    hostile = next(c for c in doc["checks"] if c["name"].startswith("hostile"))
    assert hostile["name"] == "hostile\x1b[2J\nname\u202e"  # the value itself is intact


def check_result_validator():
    """The schema of one ``checks`` item: each JSON line must match it."""
    from jsonschema import Draft202012Validator

    schema = validator("check").schema
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/CheckResult"})


def test_jsonl_is_one_line_per_check_each_a_check_result(report):
    v = check_result_validator()
    for check in report.checks:
        line = jsonl_line(check)
        assert "\n" not in line and "\r" not in line and "\u2028" not in line
        obj = json.loads(line)
        errors = list(v.iter_errors(obj))
        assert not errors, errors[:3]
        assert obj["name"] == check.name
    whole = render(report, "jsonl").splitlines()
    assert [json.loads(line)["name"] for line in whole] == [c.name for c in report.checks]


# -- text ----------------------------------------------------------------------------------------


def on_terminal(items, width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system="truecolor")
    for item in items:
        console.print(item)
    return ANSI.sub("", buf.getvalue())


def test_text_line_per_check_with_status_and_key_figure(report):
    from netdiag.output import terminal_safe

    lines = {c.name: check_line(terminal_safe(c)).plain for c in report.checks}
    assert lines["tcp open"].startswith("ok ")
    assert re.search(r"connect \d+\.\d{3} ms \(median of 3\)", lines["tcp open"])
    assert lines["tcp refused"].startswith("FAIL")
    assert "refused: " in lines["tcp refused"] and "(2 attempts)" in lines["tcp refused"]
    assert re.search(r"\b200 in \d+\.\d{3} ms$", lines["web"])
    assert re.search(r"\b200 in \d+\.\d{3} ms after 1 redirect$", lines["web redirects to https"])
    assert re.search(r"\b404 in .* status: ", lines["web missing page"])
    assert re.search(r"\d+ days left, trusted$", lines["cert good"])
    assert re.search(r"expired \d+ days? ago, not trusted\s+cert_expired: ", lines["cert expired"])
    assert re.search(r"NOERROR, 1 answer in \d+\.\d{3} ms$", lines["dns www"])
    assert "NXDOMAIN, 0 answers" in lines["dns nx"] and "nxdomain: " in lines["dns nx"]
    assert re.search(r"1 answer, \d zone cuts, \d+ queries$", lines["dns trace"])
    assert re.search(r"TIME_WAIT \d+$", lines["sockets"])
    assert lines['flaky <tcp> & "friends"'].startswith("flaky ")
    assert "passed on attempt 3" in lines['flaky <tcp> & "friends"']
    assert (
        lines["ping as nobody"].startswith("FAIL")
        and "permission: raw ICMP" in lines["ping as nobody"]
    )
    assert lines["never started # \\ [bold]x[/bold]"].startswith(
        "not run  never started # \\ [bold]x[/bold]"
    )
    hostile = lines["hostile\x1b[2J\nname\u202e"]
    assert "\x1b" not in hostile and "hostile\\x1b[2J\\nname\\u202e" in hostile


def test_text_view_fits_80_columns_without_cutting(report):
    from netdiag.output import escaped, terminal_safe

    safe = terminal_safe(report)
    out = on_terminal([escaped(i) for i in check_view(safe, terminal=True)], 80)
    assert "…" not in out
    assert all(len(line.rstrip()) <= 80 for line in out.splitlines()), out
    words = " ".join(out.split())  # a long line wraps between words, never cut
    for c in safe.checks:
        assert " ".join(c.name.split()) in words
        if c.target:
            assert c.target in words
    assert f"{len(report.checks)} checks in " in words
    s = report.summary
    assert f"{s.passed} passed ({s.flaky} flaky), {s.failed} failed, {s.not_run} not run" in words
    assert "unhealthy: " in words


def test_text_format_is_plain(report):
    text = render(report, "text")
    assert "\x1b" not in text
    assert len(text.splitlines()) == len(report.checks) + 3  # blank, summary, verdict
    assert text.splitlines()[0].startswith("ok ")


# -- write_atomic --------------------------------------------------------------------------------


def test_write_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "netdiag.prom"
    write_atomic(path, "first\n")
    assert path.read_text() == "first\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by node_exporter's user
    os.chmod(path, 0o640)
    write_atomic(str(path), "second\n")
    assert path.read_text() == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the replaced file's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["netdiag.prom"]


def test_write_atomic_failure_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "netdiag.prom"
    write_atomic(path, "old\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["netdiag.prom"]
    with pytest.raises(OSError):
        write_atomic(tmp_path / "no-such-dir" / "x.prom", "x")


def test_write_atomic_reader_never_sees_a_partial_file(tmp_path):
    """A reader polling the file while it is rewritten 200 times sees one whole version each
    time, never a mix or a truncated one."""
    path = tmp_path / "netdiag.prom"
    versions = [f"# version {i}\n" + f"line {i}\n" * 20_000 for i in range(2)]
    write_atomic(path, versions[0])
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        while not stop.is_set() and len(seen) < 10_000:
            seen.append(path.read_text())

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(200):
            write_atomic(path, versions[i % 2])
    finally:
        stop.set()
        t.join(timeout=30)
    assert seen
    assert all(s in versions for s in seen)


# -- junit ---------------------------------------------------------------------------------------


def test_junit_loads_in_junitparser_with_counts_names_and_types(report, tmp_path):
    from junitparser import Error, Failure, JUnitXml, Skipped
    from junitparser.xunit2 import JUnitXml as XUnit2Xml

    path = tmp_path / "report.xml"
    write_atomic(path, render(report, "junit"))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == "netdiag check"
    outcomes = [outcome(c) for c in report.checks]
    assert suite.tests == len(report.checks)
    assert suite.failures == outcomes.count(Outcome.FAILED)
    assert suite.errors == outcomes.count(Outcome.CANNOT_RUN)
    assert suite.skipped == outcomes.count(Outcome.NOT_RUN)
    assert suite.time == pytest.approx(report.duration_ms / 1000, abs=0.001)
    # junitparser's own count of the cases agrees with the attributes
    xml.update_statistics()
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        suite.tests,
        suite.failures,
        suite.errors,
        suite.skipped,
    )

    cases = list(suite)
    assert len(cases) == len(report.checks)
    for case, check in zip(cases, report.checks, strict=True):
        assert case.classname == check.type
        assert case.time == pytest.approx(check.duration_ms / 1000, abs=0.001)
        state = outcome(check)
        kinds = [type(r) for r in case.result]
        if state is Outcome.FAILED:
            assert kinds == [Failure]
            assert case.result[0].type == str(check.error.kind)
        elif state is Outcome.CANNOT_RUN:
            assert kinds == [Error]
            assert case.result[0].type == "permission"
            assert case.result[0].message == "raw ICMP socket: operation not permitted"
            assert "hint: run as root" in case.result[0].text
        elif state is Outcome.NOT_RUN:
            assert kinds == [Skipped]
        else:
            assert case.is_passed
        assert case.system_out  # the text view of the check, or why it has none

    by_name = {c.name: c for c in cases}
    assert "tcp open" in by_name and 'flaky <tcp> & "friends"' in by_name
    refused = by_name["tcp refused"].result[0]
    assert refused.type == "refused" and "refused" in refused.message
    assert by_name["cert expired"].result[0].type == "cert_expired"
    assert by_name["dns nx"].result[0].type == "nxdomain"
    assert by_name["web missing page"].result[0].type == "status"
    # system-out is what `netdiag TYPE` prints: plain, no colour
    tcp_out = by_name["tcp open"].system_out
    assert "tcp connect statistics" in tcp_out and "\x1b" not in tcp_out
    assert tcp_out.rstrip().endswith("healthy")
    assert "not run" in by_name["never started # \\ [bold]x[/bold]"].system_out
    # hostile text reaches the XML escaped, and the document still parses
    hostile = next(c for c in cases if c.name.startswith("hostile"))
    assert hostile.name == "hostile\\x1b[2J\\nname\\u202e"
    assert hostile.result[0].message.startswith("server said \\x1b]0;owned\\x07 <![CDATA[ ]]> ")

    # The flaky pass: a pass, with Surefire's flakyFailure and the properties
    flaky = XUnit2Xml.fromfile(str(path))
    case = next(c for s in flaky for c in s if c.name.startswith("flaky"))
    assert case.is_passed
    assert len(case.flaky_failures()) == 1
    assert case.flaky_failures()[0].message == "failed 2 attempts before passing"
    props = {p.name: p.value for p in case.properties()}
    assert props["netdiag.flaky"] == "true" and props["netdiag.attempts"] == "3"
    assert case.system_out.startswith("flaky: passed on attempt 3")


def test_junit_is_well_formed_xml_with_one_testsuite(report):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(render(report, "junit").encode("utf-8"))
    assert root.tag == "testsuites"
    assert [s.tag for s in root] == ["testsuite"]
    assert len(root[0].findall("testcase")) == len(report.checks)


# -- tap -----------------------------------------------------------------------------------------


TEST_POINT = re.compile(
    r"^(?P<not>not )?ok (?P<number>\d+)(?: - (?P<description>(?:[^\\#]|\\.)*?))?"
    r"(?:\s+#\s*(?P<directive>SKIP|TODO)\S*\s*(?P<reason>.*))?$",
    re.IGNORECASE,
)


def parse_tap14(text: str) -> dict:
    """A TAP 14 reader, enough for what netdiag writes: version, plan, test points (with the
    description unescaped: ``\\#``, ``\\\\``), their YAML blocks (read by PyYAML), comments,
    Bail out!. Any other line fails the test."""
    import yaml

    lines = text.splitlines()
    assert lines[0] == "TAP version 14"
    plan = re.fullmatch(r"1\.\.(\d+)", lines[1])
    assert plan, lines[1]
    doc: dict = {"plan": int(plan.group(1)), "points": [], "comments": [], "bail": None}
    i = 2
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#"):
            doc["comments"].append(line)
            continue
        if line.startswith("Bail out!"):
            doc["bail"] = line[len("Bail out!") :].strip()
            continue
        m = TEST_POINT.match(line)
        assert m, f"not TAP: {line!r}"
        point = {
            "ok": m["not"] is None,
            "number": int(m["number"]),
            "description": re.sub(r"\\(.)", r"\1", m["description"] or ""),
            "directive": (m["directive"] or "").upper() or None,
            "reason": m["reason"],
            "yaml": None,
        }
        if i < len(lines) and lines[i] == "  ---":
            end = lines.index("  ...", i)
            block = lines[i + 1 : end]
            assert all(b.startswith("  ") for b in block), block
            point["yaml"] = yaml.safe_load("\n".join(b[2:] for b in block))
            i = end + 1
        doc["points"].append(point)
    return doc


def test_tap_14_read_back(report):
    text = render(report, "tap")
    doc = parse_tap14(text)
    assert doc["plan"] == len(report.checks)
    points = doc["points"]
    assert [p["number"] for p in points] == list(range(1, len(report.checks) + 1))
    assert doc["bail"] is None
    assert doc["comments"] and "checks:" in doc["comments"][-1]

    for point, check in zip(points, report.checks, strict=True):
        state = outcome(check)
        assert point["ok"] is (state in (Outcome.PASSED, Outcome.FLAKY, Outcome.NOT_RUN))
        assert (point["directive"] == "SKIP") is (state is Outcome.NOT_RUN)
        if "\x1b" not in check.name:
            assert point["description"] == check.name  # '#' and '\\' came back
        diag = point["yaml"]
        if state in (Outcome.FAILED, Outcome.CANNOT_RUN, Outcome.FLAKY):
            assert diag["type"] == check.type and diag["target"] == check.target
            assert diag["attempts"] == check.attempts
            assert diag["duration_ms"] == pytest.approx(check.duration_ms, abs=0.001)
            if state is Outcome.FLAKY:
                assert diag["flaky"] is True and "kind" not in diag
            else:
                assert diag["kind"] == str(check.error.kind)
                assert diag["message"] == check.error.message  # exact, whatever it holds
        else:
            assert diag is None
    hostile = next(p for p in points if p["description"].startswith("hostile"))
    assert hostile["description"] == "hostile\\x1b[2J\\nname\\u202e" and not hostile["ok"]
    never = next(p for p in points if p["description"].startswith("never started"))
    assert never["reason"] == "not run: the run was interrupted first"
    nobody = next(p for p in points if p["description"] == "ping as nobody")
    assert nobody["yaml"]["hint"] == "run as root"


def test_tap_reads_in_tap_py(report):
    """tap.py (a TAP 13 consumer that accepts version 14) reads the same plan, results and
    YAML blocks; it does not know TAP 14's escaped '#', so names without one are compared."""
    from tap.parser import Parser

    lines = list(Parser().parse_text(render(report, "tap")))
    assert lines[0].category == "version" and lines[0].version == 14
    assert lines[1].category == "plan" and lines[1].expected_tests == len(report.checks)
    assert not [line for line in lines if line.category == "unknown"]
    points = [line for line in lines if line.category == "test"]
    assert len(points) == len(report.checks)
    for point, check in zip(points, report.checks, strict=True):
        state = outcome(check)
        assert point.ok is (state in (Outcome.PASSED, Outcome.FLAKY, Outcome.NOT_RUN))
        if check.name.isprintable() and "#" not in check.name and "\\" not in check.name:
            assert point.description == f"- {check.name}"
            assert point.skip is (state is Outcome.NOT_RUN)
        if state in (Outcome.FAILED, Outcome.CANNOT_RUN):
            assert point.yaml_block["kind"] == str(check.error.kind)


def test_tap_interrupted_run_bails_out(lab_checks):
    doc = parse_tap14(render(as_report(lab_checks[:2], interrupted=True), "tap"))
    assert doc["bail"].startswith("interrupted")
    assert len(doc["points"]) == doc["plan"] == 2


# -- prometheus ----------------------------------------------------------------------------------


def samples(text: str) -> dict[str, list]:
    """Every sample of the exposition text, by metric name, as prometheus_client reads it."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation, family.name
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


def value(found: dict[str, list], name: str, check: str, **labels: str) -> float:
    matching = [
        s
        for s in found.get(name, [])
        if s.labels.get("check") == escape(check)
        and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matching) == 1, (name, check, labels, matching)
    return matching[0].value


def test_prometheus_blackbox_names_and_values(report):
    from datetime import datetime

    text = render(report, "prometheus")
    found = samples(text)
    checks = {c.name: c for c in report.checks}
    for name, c in checks.items():
        if outcome(c) is Outcome.NOT_RUN:
            assert not [s for s in found["probe_success"] if s.labels["check"] == escape(name)]
            continue
        assert value(found, "probe_success", name) == (1.0 if c.ok else 0.0)
        s = next(s for s in found["probe_success"] if s.labels["check"] == escape(name))
        assert set(s.labels) == {"check", "type", "target"}
        assert s.labels["type"] == c.type
    for s in found["probe_success"]:
        if s.labels["check"] == "sockets":
            assert s.labels["target"] == ""

    tcp = checks["tcp open"].report
    assert value(found, "probe_duration_seconds", "tcp open") == pytest.approx(
        tcp.duration_ms / 1000
    )
    assert value(found, "netdiag_tcp_connects_received", "tcp open") == 3
    assert value(found, "netdiag_tcp_connect_seconds", "tcp open", stat="p50") == pytest.approx(
        tcp.results[0].stats.p50_ms / 1000
    )
    assert value(found, "netdiag_tcp_connect_loss_ratio", "tcp refused") == 1.0
    assert not [
        s for s in found["netdiag_tcp_connect_seconds"] if s.labels["check"] == "tcp refused"
    ]

    web = checks["web redirects to https"].report
    assert value(found, "probe_http_status_code", "web redirects to https") == 200
    assert value(found, "probe_http_redirects", "web redirects to https") == 1
    assert value(found, "probe_http_ssl", "web redirects to https") == 1
    assert value(found, "probe_http_ssl", "web") == 0
    assert value(found, "probe_http_version", "web") == 1.1
    assert value(found, "probe_http_status_code", "web missing page") == 404
    phases = {
        s.labels["phase"]: s.value
        for s in found["probe_http_duration_seconds"]
        if s.labels["check"] == "web redirects to https"
    }
    assert set(phases) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert phases["tls"] > 0  # the https hop
    mine = {
        s.labels["phase"]: s.value
        for s in found["netdiag_http_phase_seconds"]
        if s.labels["check"] == "web redirects to https"
    }
    assert mine["total"] == pytest.approx(sum(h.timing.total_ms for h in web.hops) / 1000)
    assert mine["verify"] > 0 and mine["local"] >= 0
    assert phases["tls"] == pytest.approx(mine["tls"] + mine["verify"])
    assert value(found, "probe_tls_version_info", "web redirects to https", version="TLS 1.3") == 1

    good = checks["cert good"].report
    expiry = datetime.fromisoformat(good.earliest_expiry.not_after).timestamp()
    assert value(found, "probe_ssl_earliest_cert_expiry", "cert good") == expiry
    assert value(found, "netdiag_tls_trusted", "cert good") == 1
    assert value(found, "netdiag_tls_trusted", "cert expired") == 0
    for cert in good.chain:
        assert (
            value(found, "netdiag_tls_cert_days_left", "cert good", position=str(cert.position))
            == cert.days_left
        )
    assert value(found, "netdiag_tls_earliest_expiry_days_left", "cert expired") < 0
    assert value(found, "netdiag_check_error_info", "cert expired", kind="cert_expired") == 1

    www = checks["dns www"].report.results[0]
    assert value(found, "probe_dns_answer_rrs", "dns www", qtype="A", server=www.server) == 1
    assert value(found, "probe_dns_query_succeeded", "dns www") == 1
    assert value(found, "probe_dns_query_succeeded", "dns nx") == 0
    assert value(found, "netdiag_dns_rcode", "dns nx", rcode="NXDOMAIN") == 1
    assert (
        value(found, "netdiag_dns_trace_queries", "dns trace") == checks["dns trace"].report.queries
    )

    assert (
        value(found, "netdiag_sockets_time_wait", "sockets")
        == checks["sockets"].report.time_wait.count
    )
    ping = checks["ping"].report
    if ping.ok:
        assert value(found, "netdiag_ping_loss_ratio", "ping") == 0
        assert value(found, "probe_icmp_duration_seconds", "ping", phase="rtt") == pytest.approx(
            ping.results[0].stats.avg_ms / 1000
        )


def test_prometheus_netdiag_figures_for_flaky_not_run_and_the_run(report):
    found = samples(render(report, "prometheus"))
    flaky = 'flaky <tcp> & "friends"'
    assert value(found, "netdiag_check_flaky", flaky) == 1
    assert value(found, "netdiag_check_attempts", flaky) == 3
    assert value(found, "netdiag_check_duration_seconds", flaky) == 1.2345
    never = "never started # \\ [bold]x[/bold]"
    assert value(found, "netdiag_check_outcome", never, outcome="not_run") == 1
    assert value(found, "netdiag_check_outcome", never, outcome="passed") == 0
    assert value(found, "netdiag_check_outcome", "ping as nobody", outcome="cannot_run") == 1
    # every check has exactly one outcome that holds
    for c in report.checks:
        held = [s for s in found["netdiag_check_outcome"] if s.labels["check"] == escape(c.name)]
        assert sum(s.value for s in held) == 1 and len(held) == len(Outcome)
    run = {s.labels["result"]: s.value for s in found["netdiag_check_run_checks"]}
    s = report.summary
    assert run == {
        "total": s.total,
        "passed": s.passed,
        "failed": s.failed,
        "flaky": s.flaky,
        "not_run": s.not_run,
    }
    assert found["netdiag_check_run_success"][0].value == 0
    assert found["netdiag_check_run_timestamp_seconds"][0].value == 1767225600.0
    # a hostile name is written with its control characters escaped
    assert any(s.labels["check"] == "hostile\\x1b[2J\\nname\\u202e" for s in found["probe_success"])


def escape(text: str) -> str:
    from netdiag.output import escape_controls

    return escape_controls(text)


def test_formats_import_their_libraries_only_when_chosen(tmp_path):
    """json and jsonl import neither prometheus_client nor xml; each format its own."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import netdiag.checks.formats as f\n"
        "assert 'prometheus_client' not in sys.modules and 'xml.etree' not in sys.modules\n"
        "from netdiag.checks import prometheus\n"
        "assert 'prometheus_client' in sys.modules and 'xml.etree.ElementTree' not in sys.modules\n"
        "assert 'rich' not in sys.modules, 'prometheus needs no rich'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
