"""The check file (netdiag/checks/spec.py): every way a file can be wrong is one line naming
the check and the key; a check runs exactly what `netdiag TYPE ... --json` runs; loading sends
nothing. Traffic goes only to the lab on loopback; example.org names are never run."""

from __future__ import annotations

import inspect
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import requires_icmp
from golden_util import normalise

from netdiag.checks import spec
from netdiag.checks.spec import TYPES, CheckSpec, SpecError, example, load, loads
from netdiag.output import json_document


def check(body: str, *, name: str | None = "c", type_: str | None = "tcp", **keys: Any) -> str:
    """One [[check]] table: the name and type given, then ``body`` (TOML lines)."""
    lines = ["[[check]]"]
    if name is not None:
        lines.append(f"name = {json.dumps(name)}")
    if type_ is not None:
        lines.append(f"type = {json.dumps(type_)}")
    lines.append(body)
    return "\n".join(lines) + "\n"


TCP = 'target = "127.0.0.1:9"\n'


def error_of(text: str, **kw: Any) -> str:
    with pytest.raises(SpecError) as info:
        loads(text, **kw)
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything opens a socket or asks a resolver."""

    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError(f"network used while loading: {a!r}")

    # The methods, not the class: modules imported meanwhile (ssl) keep the real class.
    for method in ("connect", "connect_ex", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, method, forbidden)
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, forbidden)


# -- errors: one line, the check and the key --------------------------------------------------

ERRORS = [
    # a body from standard input is for the command line
    (
        check('target = "http://127.0.0.1/"\ndata = "@-"', type_="http"),
        "check 'c' (#1): data: \"@-\" (standard input) is for the command line",
    ),
    # unknown option, with a "did you mean"
    (check(TCP + "cont = 1"), "check 'c' (#1): cont: unknown option (did you mean 'count'?)"),
    (check(TCP + "zzz = 1"), "check 'c' (#1): zzz: unknown option"),
    # wrong types: numbers are TOML numbers, flags booleans, repeatable options lists
    (check(TCP + 'count = "1"'), "check 'c' (#1): count: takes an integer, not a string"),
    (check(TCP + "count = 1.5"), "check 'c' (#1): count: takes an integer, not a float"),
    (check(TCP + "count = true"), "check 'c' (#1): count: takes an integer, not a boolean"),
    (check(TCP + 'timeout = "2"'), "check 'c' (#1): timeout: takes a number, not a string"),
    (check(TCP + "rst = 1"), "check 'c' (#1): rst: takes true or false, not an integer"),
    (check(TCP + "port = [1]"), "check 'c' (#1): port: takes an integer, not an array"),
    (
        check('target = "127.0.0.1"\nheader = [1]', type_="http"),
        "check 'c' (#1): header: takes a string or an array of them, not an integer",
    ),
    # not finite, out of range: as on the command line
    (check(TCP + "timeout = nan"), "check 'c' (#1): timeout: nan is not a finite number"),
    (check(TCP + "max_connect_ms = inf"), "check 'c' (#1): max_connect_ms: inf is not a finite"),
    (check(TCP + "count = 0"), "check 'c' (#1): count: 0 is not in the range 1<=x<=1000000"),
    # an option of another type
    (
        check(TCP + 'expect_status = "200"'),
        "check 'c' (#1): expect_status: not a tcp option (only http has it)",
    ),
    (
        check(TCP + "min_days = 3"),
        "check 'c' (#1): min_days: not a tcp option (only tls has it)",
    ),
    (
        check('target = "127.0.0.1:9"\nrst = true', type_="tls"),
        "check 'c' (#1): rst: not a tls option (only tcp has it)",
    ),
    (
        check("interval = 1", type_="sockets"),
        "check 'c' (#1): interval: not a sockets option (only tcp and ping have it)",
    ),
    (check(TCP + 'types = ["A"]'), "check 'c' (#1): types: not a tcp option (only dns has it)"),
    # options that shape a terminal's output, not a check
    (check(TCP + "json = true"), "check 'c' (#1): json: not in a check file"),
    (check('target = "a.test"\nshort = true', type_="dns"), "check 'c' (#1): short: not in"),
    (check("watch = 1", type_="sockets"), "check 'c' (#1): watch: not in a check file"),
    # names
    (check(TCP, name=None), "check #1: name: missing"),
    (check(TCP, name=""), "check #1: name: takes a non-empty string"),
    (check(TCP) + check(TCP), "check 'c' (#2): name: duplicate name (check #1 has it)"),
    # types
    (check(TCP, type_=None), "check 'c' (#1): type: missing: one of tcp, dns"),
    (check(TCP, type_="tpc"), "check 'c' (#1): type: 'tpc' is not one of tcp, dns, tls, http,"),
    (check(TCP, type_="tpc"), "(did you mean 'tcp'?)"),
    (check(TCP, type_="7"), "check 'c' (#1): type: '7' is not one of"),
    # targets: missing, the wrong kind, or what the command itself refuses
    (check(""), "check 'c' (#1): target: missing"),
    (check('target = "127.0.0.1"', type_="tls") + check("", name="d"), "check 'd' (#2): target"),
    (check("target = 3"), "check 'c' (#1): target: takes a string or an array of strings"),
    (check("target = [3]"), "check 'c' (#1): target: takes a string or an array of strings"),
    (check("target = []"), "check 'c' (#1): target: takes a non-empty string"),
    (check('target = ["a:1"]', type_="tls"), "check 'c' (#1): target: takes a string, not an"),
    (check('target = "x"'), "check 'c' (#1): target: no port for 'x': give host:port or -p"),
    (
        check('target = "ftp://x.test/"', type_="http"),
        "check 'c' (#1): target: 'ftp://x.test/': unsupported URL scheme 'ftp'",
    ),
    (check('target = "[::1"', type_="tls"), "check 'c' (#1): target: "),
    (check('target = "a b"', type_="ping"), "check 'c' (#1): target: "),
    (check('target = "x"', type_="sockets"), "check 'c' (#1): target: sockets takes no target"),
    (check('target = "@127.0.0.1"', type_="dns"), "check 'c' (#1): target: the name to look up"),
    # the command's own validation, naming the key
    (
        check('target = "127.0.0.1"\nheader = ["nocolon"]', type_="http"),
        "check 'c' (#1): header: -H takes 'Name: value', not 'nocolon'",
    ),
    (
        check('target = "127.0.0.1"\nexpect_status = "abc"', type_="http"),
        "check 'c' (#1): expect_status: --expect-status:",
    ),
    (
        check('target = "127.0.0.1"\nstarttls = "ftp"', type_="tls"),
        "check 'c' (#1): starttls: --starttls takes smtp, imap or pop3, not 'ftp'",
    ),
    (
        check('target = "127.0.0.1"\nsocket = "x"', type_="ping"),
        "check 'c' (#1): socket: --socket takes auto, dgram or raw",
    ),
    (check('state = ["nope"]', type_="sockets"), "check 'c' (#1): state: unknown TCP state"),
    (check('by = "nope"', type_="sockets"), "check 'c' (#1): by: --by takes"),
    (
        check('target = "a.test"\nserver = ["[::1"]', type_="dns"),
        "check 'c' (#1): server: server [::1:",
    ),
    (check('target = "a.test"\ntypes = ["NOPE"]', type_="dns"), "check 'c' (#1): "),
    (check('target = "a.test"\ntypes = [1]', type_="dns"), "check 'c' (#1): types: takes a"),
    (
        check('target = "a.test"\ntrace = true\ntypes = ["A", "MX"]', type_="dns"),
        "check 'c' (#1): --trace follows one record type at a time",
    ),
    (
        check('target = "a.test"\nca_file = "/nonexistent/ca.pem"', type_="tls"),
        "check 'c' (#1): ca_file: --ca-file /nonexistent/ca.pem:",
    ),
    (check(TCP + "ipv4 = true\nipv6 = true"), "check 'c' (#1): -4 and -6 exclude each other"),
    # the check's own keys
    (check(TCP + "retries = -1"), "check 'c' (#1): retries: takes an integer from 0 to 100"),
    (check(TCP + "retries = 101"), "check 'c' (#1): retries: takes an integer from 0 to 100"),
    (check(TCP + "retries = true"), "check 'c' (#1): retries: takes an integer"),
    (check(TCP + 'tags = "prod"'), "check 'c' (#1): tags: takes an array of strings"),
    (check(TCP + "tags = [1]"), "check 'c' (#1): tags: takes an array of strings"),
    # [defaults]
    ("[defaults]\ntimout = 1\n" + check(TCP), "[defaults] timout: unknown option (did you mean"),
    ('[defaults]\ncount = "x"\n' + check(TCP), "[defaults] count: takes an integer, not a string"),
    ("[defaults]\nport = 53\n" + check(TCP), "[defaults] port: tcp, dns and sockets each mean"),
    ("[defaults]\nname = 'x'\n" + check(TCP), "[defaults] name: is set per check"),
    ("[defaults]\njson = true\n" + check(TCP), "[defaults] json: not for a check file"),
    ("[defaults]\nretries = -2\n" + check(TCP), "[defaults] retries: takes an integer from 0"),
    ("defaults = 3\n" + check(TCP), "defaults: takes a table"),
    (
        "[defaults]\ncount = 0\n" + check(TCP),
        "check 'c' (#1): count (from [defaults]): 0 is not in the range",
    ),
    # the file as a whole
    ("", "no checks: add [[check]] tables"),
    ("[defaults]\ntimeout = 1\n", "no checks"),
    ("[check]\nname = 'x'\n", "check: write each check as a [[check]] table"),
    ("[chek]\n" + check(TCP), "chek: unknown top-level key (did you mean 'check'?)"),
    ("check = [1]\n", "check #1: takes a table, not an integer"),
    ("[[check]\n", "not a TOML file: "),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_a_wrong_file_is_one_line_naming_the_check_and_the_key(
    text: str, expected: str, no_network: None
) -> None:
    message = error_of(text)
    assert message.startswith(expected) or expected in message, message


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(SpecError, ValueError)


def test_an_unnamed_check_goes_by_its_index() -> None:
    text = check(TCP) + check('target = "x"', name=None)
    assert error_of(text).startswith("check #2: name: missing")


def test_nothing_is_loaded_until_the_whole_file_is_valid(no_network: None) -> None:
    # The first check is fine; the last one is not: no check is returned, none runs.
    text = check(TCP, name="fine") + check(TCP, name="fine2") + check("count = 1", name="bad")
    assert error_of(text).startswith("check 'bad' (#3): target: missing")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="No such file"):
        load(str(tmp_path / "missing.toml"))
    with pytest.raises(SpecError, match="is a directory"):
        load(str(tmp_path))
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (4 * 2**20 + 1))
    with pytest.raises(SpecError, match="more than the limit of 4 MiB"):
        load(str(big))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="not UTF-8"):
        load(str(binary))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[check]\n")
    with pytest.raises(SpecError, match=r"bad\.toml: not a TOML file: .*line 1"):
        load(str(bad))


# -- --only ------------------------------------------------------------------------------------

ONLY_FILE = (
    check(TCP + 'tags = ["prod", "db"]', name="db")
    + check('target = "127.0.0.1"\ntags = ["prod"]', name="web", type_="http")
    + check('target = "127.0.0.1"', name="cert", type_="tls")
)


def names(specs: list[CheckSpec]) -> list[str]:
    return [s.name for s in specs]


def test_only_by_name_and_by_tag_in_file_order() -> None:
    assert names(loads(ONLY_FILE)) == ["db", "web", "cert"]
    assert names(loads(ONLY_FILE, only=["cert"])) == ["cert"]
    assert names(loads(ONLY_FILE, only=["prod"])) == ["db", "web"]
    assert names(loads(ONLY_FILE, only=["cert", "db"])) == ["db", "cert"]
    assert names(loads(ONLY_FILE, only=["db"])) == ["db"]  # a name and a tag at once
    assert [s.index for s in loads(ONLY_FILE, only=["cert"])] == [3]


def test_only_that_matches_nothing_is_an_error() -> None:
    message = error_of(ONLY_FILE, only=["prd"])
    assert message == "--only 'prd': no check has this name or tag (did you mean 'prod'?)"
    assert error_of(ONLY_FILE, only=["cert", "zzz"]).startswith("--only 'zzz'")


def test_only_does_not_skip_validation() -> None:
    text = ONLY_FILE + check("target = 1", name="broken")
    assert error_of(text, only=["cert"]).startswith("check 'broken' (#4): target:")


# -- defaults, timeouts, the spec's fields -----------------------------------------------------


def test_defaults_apply_to_every_check_that_has_the_option() -> None:
    text = (
        "[defaults]\ntimeout = 3\ncount = 1\nmax_ms = 500\nretries = 2\n"
        + check('target = "127.0.0.1"\nport = 8080', name="t")
        + check('target = "127.0.0.1"\ntimeout = 7\nretries = 0', name="h", type_="http")
        + check('target = "a.test"', name="d", type_="dns")
        + check("", name="s", type_="sockets")
    )
    t, h, d, s = loads(text)
    assert (t.timeout_s, t.retries, t.options["count"], t.options["port"]) == (3.0, 2, 1, 8080)
    assert "max_ms" not in t.options  # not a tcp option: not applied
    assert (h.timeout_s, h.retries, h.options["max_ms"]) == (7.0, 0, 500.0)  # the check wins
    assert (d.options["port"], d.options["timeout"]) == (53, 3.0)  # port: never from [defaults]
    assert (s.timeout_s, s.retries, s.options["port"]) == (spec.SOCKETS_TIMEOUT_S, 2, None)


@pytest.mark.parametrize(
    ("table", "at_least"),
    [
        # 5,000 hosts 2 ms apart: a round of sends alone takes 10 s
        (
            {
                "type": "ping",
                "target": [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(5000)],
                "count": 1,
                "timeout": 1,
            },
            11.0,
        ),
        # 9 servers, 8 queries at once: two rounds of 4 retries and a TCP try, 3 s each
        (
            {
                "type": "dns",
                "target": "a.test",
                "server": [f"127.0.0.{i}" for i in range(1, 10)],
                "query_retries": 3,
                "timeout": 3,
            },
            30.0,
        ),
        ({"type": "tls", "target": "127.0.0.1:25", "starttls": "smtp", "timeout": 2}, 8.0),
        (
            {
                "type": "http",
                "target": "http://127.0.0.1/",
                "location": True,
                "max_redirects": 2,
                "timeout": 1,
            },
            6.0,
        ),
        ({"type": "tcp", "target": "127.0.0.1:1", "count": 3, "interval": 0.5, "timeout": 1}, 5.0),
    ],
)
def test_an_attempts_bound_covers_what_its_probe_may_take(
    table: dict[str, Any], at_least: float, no_network: None
) -> None:
    type_ = table.pop("type")
    (one,) = loads(check(toml_body(table), type_=type_))
    assert one.bound_s >= at_least


def toml_body(table: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())


def test_without_a_timeout_a_check_has_its_commands_default() -> None:
    text = (
        check(TCP, name="tcp")
        + check('target = "a.test"', name="dns", type_="dns")
        + check('target = "127.0.0.1"', name="tls", type_="tls")
        + check('target = "127.0.0.1"', name="http", type_="http")
        + check('target = "127.0.0.1"', name="ping", type_="ping")
        + check("", name="sockets", type_="sockets")
    )
    timeouts = {s.type: s.timeout_s for s in loads(text)}
    assert timeouts == {
        "tcp": 2.0,
        "dns": 2.0,
        "tls": 5.0,
        "http": 10.0,
        "ping": 1.0,
        "sockets": spec.SOCKETS_TIMEOUT_S,
    }
    assert all(isinstance(t, float) for t in timeouts.values())


def test_fields_as_the_runner_and_the_formats_read_them() -> None:
    text = check(
        'target = ["127.0.0.1:1", "127.0.0.1:2"]\ntags = ["a", "b"]\nretries = 3\ntimeout = 1',
        name="two",
    )
    [s] = loads(text)
    assert (s.index, s.name, s.type, s.target, s.tags, s.retries, s.timeout_s) == (
        1,
        "two",
        "tcp",
        "127.0.0.1:1 127.0.0.1:2",
        ("a", "b"),
        3,
        1.0,
    )
    [s] = loads(check("", name="s", type_="sockets"))
    assert (s.target, s.tags, s.retries) == (None, (), 0)


def test_values_are_converted_as_the_command_line_converts_them() -> None:
    text = check(
        'target = "127.0.0.1"\nmax_ms = 800\nheader = "X-A: 1"\nca_file = "{ca}"', type_="http"
    )
    [s] = loads(text.replace("{ca}", "/dev/null").replace('ca_file = "/dev/null"\n', ""))
    assert s.options["max_ms"] == 800.0 and isinstance(s.options["max_ms"], float)
    assert s.options["headers"] == ["X-A: 1"]  # one value for a repeatable option
    [s] = loads(check('target = "a.test"\ntypes = "MX"\nserver = "127.0.0.1"', type_="dns"))
    assert s.options["words"] == ["a.test", "MX"] and s.options["servers"] == ["127.0.0.1"]
    [s] = loads(check('target = "a.test"\nquery_retries = 4\nretries = 2', type_="dns"))
    assert (s.options["retries"], s.retries) == (4, 2)  # dns's --retries, the check's retries


def test_ping_may_take_its_hosts_from_a_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1\n# a comment\n127.0.0.2\n")
    [s] = loads(check(f"file = {json.dumps(str(hosts))}", type_="ping"))
    assert s.target is None and s.options["file"] == hosts


# -- no drift with the commands ----------------------------------------------------------------


@pytest.mark.parametrize("type_", TYPES)
def test_prepare_takes_every_parameter_of_the_command_but_its_display_ones(type_: str) -> None:
    cmd = spec._command(type_)
    command_params = set(inspect.signature(cmd.module.command).parameters) - {"ctx"}
    prepare_params = set(inspect.signature(cmd.module.prepare).parameters)
    display = {p for p in command_params if p not in prepare_params}
    assert (
        display
        == {
            "tcp": {"json_output"},
            "dns": {"json_output", "short"},
            "tls": {"json_output"},
            "http": {"json_output"},
            "ping": {"json_output"},
            "sockets": {"json_output", "watch", "count"},
        }[type_]
    )
    # the command's defaults, for every one; what only netdiag serve sets is listed here
    internal = {"http": {"max_time_source"}}.get(type_, set())
    assert set(cmd.defaults) == prepare_params - internal
    assert all(inspect.signature(cmd.module.prepare).parameters[p].default for p in internal)


def test_the_keys_are_the_long_options() -> None:
    assert set(spec._command("tcp").keys) == {
        "port",
        "count",
        "interval",
        "timeout",
        "ipv4",
        "ipv6",
        "all",
        "rst",
        "max_connect_ms",
    }
    http = spec._command("http").keys
    assert {"request", "header", "location", "insecure", "connect_to", "max_ms"} <= set(http)
    dns = spec._command("dns").keys
    assert {"server", "reverse", "trace", "root", "root_hints", "query_retries"} <= set(dns)
    assert "retries" not in dns


# -- loading sends nothing; the example file ---------------------------------------------------


def test_the_example_loads_without_touching_the_network(no_network: None) -> None:
    specs = loads(example())
    assert {s.type for s in specs} == set(TYPES)
    assert len({s.name for s in specs}) == len(specs)
    assert "documentation-only" in example()


def test_the_example_names_only_documentation_hosts() -> None:
    text = example()
    for host in re.findall(r"(?:https?://)?([a-z0-9.-]+\.[a-z]{2,})(?::\d+)?", text):
        if "." in host and not host.endswith((".md", ".toml")):
            assert host == "example.org" or host.endswith(".example.org"), host
    for address in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text):
        assert address.startswith("192.0.2."), address


def test_load_reads_a_file(tmp_path: Path, no_network: None) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(example())
    assert names(load(str(path), only=["prod"])) == ["api over https", "database port answers"]


# -- a check runs what `netdiag TYPE ... --json` runs -------------------------------------------


def same_as_cli(cli: Any, spec_: CheckSpec, args: list[str], replace: dict[str, str]) -> Any:
    """The check's report and the command's --json document, both normalised (timings,
    ports), are equal; the document is returned."""
    got = normalise(json.loads(json_document(spec_.run())), replace)
    r = cli(*args, "--json")
    want = normalise(r.json(), replace)
    assert got == want
    return got


def one(text: str) -> CheckSpec:
    [s] = loads(text)
    return s


def test_tcp_check_is_the_tcp_command(cli: Any, lab: Any) -> None:
    open_, refused = lab.endpoints["tcp_open"], lab.endpoints["tcp_refused"]
    s = one(
        check(f"target = [{json.dumps(open_)}, {json.dumps(refused)}]\ncount = 2\ninterval = 0.05")
    )
    ports = {open_.rsplit(":", 1)[1]: "<P1>", refused.rsplit(":", 1)[1]: "<P2>"}
    doc = same_as_cli(cli, s, ["tcp", open_, refused, "-c", "2", "-i", "0.05"], ports)
    assert doc["command"] == "tcp" and doc["ok"] is False


def test_http_check_is_the_http_command(cli: Any, lab: Any) -> None:
    url = lab.urls["http"] + "/"
    s = one(
        check(
            f'target = "{url}"\nexpect_status = "200"\nmax_ms = 5000\nheader = ["X-Check: 1"]',
            type_="http",
        )
    )
    port = url.rsplit(":", 1)[1].rstrip("/")
    doc = same_as_cli(
        cli,
        s,
        ["http", url, "--expect-status", "200", "--max-ms", "5000", "-H", "X-Check: 1"],
        {port: "<PORT>"},
    )
    assert doc["command"] == "http" and doc["ok"] is True


def test_tls_check_is_the_tls_command(cli: Any, lab: Any) -> None:
    target, sni, ca = lab.endpoints["tls_good"], lab.tls_names["tls_good"], lab.files["tls_ca_file"]
    s = one(
        check(
            f'target = "{target}"\nsni = "{sni}"\nca_file = "{ca}"\nmin_days = 1\ntimeout = 3',
            type_="tls",
        )
    )
    args = ["tls", target, "--sni", sni, "--ca-file", ca, "--min-days", "1", "--timeout", "3"]
    doc = same_as_cli(cli, s, args, {target.rsplit(":", 1)[1]: "<PORT>", ca: "<CA>"})
    assert doc["command"] == "tls" and doc["ok"] is True, (doc["error"], doc["problems"])


def test_dns_check_is_the_dns_command(cli: Any, dnslab: dict[str, str]) -> None:
    server, port = dnslab["example"], dnslab["port"]
    s = one(
        check(
            f'target = "alias.example.test"\ntypes = ["A", "MX"]\nserver = "{server}"\n'
            f"port = {port}",
            type_="dns",
        )
    )
    args = ["dns", "alias.example.test", "A", "MX", "--server", server, "--port", port]
    doc = same_as_cli(cli, s, args, {port: "<PORT>"})
    assert (doc["command"], doc["mode"], doc["ok"]) == ("dns", "lookup", False)
    assert doc["error"]["kind"] == "nodata"  # the alias has no MX: failures are the same too


def test_dns_trace_check_is_the_dns_command(cli: Any, dnslab: dict[str, str]) -> None:
    root, port = dnslab["root"], dnslab["port"]
    s = one(
        check(
            f'target = "host.example.test"\ntrace = true\nroot = ["{root}"]\nport = {port}\n'
            "timeout = 0.5",
            type_="dns",
        )
    )
    args = ["dns", "host.example.test", "--trace", "--root", root, "--port", port]
    doc = same_as_cli(cli, s, [*args, "--timeout", "0.5"], {port: "<PORT>"})
    assert doc["mode"] == "trace" and doc["ok"] is True


def test_a_dns_server_found_wrong_only_when_run_is_a_spec_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import netdiag.probes.dns as probe

    def unresolvable(*a: Any, **k: Any) -> Any:
        raise probe.ServerError("server ns.invalid: no address")

    monkeypatch.setattr(probe, "probe_dns", unresolvable)
    s = one(check('target = "a.test"\nserver = "ns.invalid"', name="d", type_="dns"))
    with pytest.raises(SpecError, match=r"^check 'd' \(#1\): server ns.invalid: no address$"):
        s.run()


@requires_icmp
def test_ping_check_is_the_ping_command(cli: Any) -> None:
    s = one(check('target = "127.0.0.1"\ncount = 1\ntimeout = 1', type_="ping"))
    doc = same_as_cli(cli, s, ["ping", "127.0.0.1", "-c", "1", "-W", "1"], {})
    assert doc["command"] == "ping" and doc["ok"] is True


def test_sockets_check_is_the_sockets_command(cli: Any) -> None:
    s = one(check("max_time_wait = 1000000\nstate = ['listen']\ntop = 3", type_="sockets"))
    report = json.loads(json_document(s.run()))
    r = cli("sockets", "--max-time-wait", "1000000", "--state", "listen", "--top", "3", "--json")
    doc = r.json()  # a snapshot of a live table: the same shape and verdict, not the same counts
    assert (report["command"], report["ok"], report["error"]) == ("sockets", True, None)
    assert (doc["command"], doc["ok"], doc["error"]) == ("sockets", True, None)
    assert set(report) == set(doc)


def test_loading_runs_nothing_until_run_is_called(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netdiag.probes.tcp as probe

    calls: list[Any] = []
    real = probe.probe_tcp

    def counted(*a: Any, **k: Any) -> Any:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(probe, "probe_tcp", counted)
    [s] = loads(check(f'target = "{lab.endpoints["tcp_open"]}"\ncount = 1'))
    assert calls == []
    assert s.run().ok is True
    assert len(calls) == 1


def test_the_no_network_guard_would_see_traffic(no_network: None) -> None:
    [s] = loads(check('target = "127.0.0.1:9"\ncount = 1'))
    with pytest.raises(AssertionError, match="network used"):
        s.run()
