"""Start-up (issue 12): what each command imports, checked by name, not by time (timings are
in benchmarks/bench_startup.py). A run imports only what its path needs: plain http no TLS
stack, --json no rich, no command importlib.metadata for dnspython's sake; and the CLI builds
only the subcommand it runs, with the same help and errors as the whole app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netdiag import cli
from netdiag.lab import Lab

# Runs the CLI as the console script does, then says which modules were imported.
_LOADED = """
import sys
from netdiag.__main__ import main
status = main(sys.argv[1:])
import json
print("\\n" + json.dumps({"status": int(status), "modules": sorted(sys.modules)}), file=sys.stderr)
"""

TLS_STACK = {"cryptography", "OpenSSL", "h2", "ssl", "_ssl", "asn1crypto"}
HEAVY = TLS_STACK | {"rich", "dns", "h11", "idna", "psutil"}


def loaded(*args: str) -> tuple[int, set[str]]:
    """Exit status and the modules imported by ``netdiag ARGS`` in a process of its own."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOADED, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    doc = json.loads(proc.stderr.strip().splitlines()[-1])
    return doc["status"], set(doc["modules"])


def packages(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def metadata_loaded(modules: set[str]) -> bool:
    """importlib.metadata really imported (not only its stand-in: netdiag.net.dnsfeatures)."""
    return "importlib.metadata._meta" in modules or "email.message" in modules


def test_help_imports_no_probe_library() -> None:
    status, modules = loaded("--help")
    assert status == 0
    assert not packages(modules) & HEAVY
    assert not metadata_loaded(modules)


def test_tcp_json_imports_no_probe_library(lab: Lab) -> None:
    status, modules = loaded("tcp", lab.endpoints["tcp_open"], "-c", "1", "--json")
    assert status == 0
    assert not packages(modules) & HEAVY


@pytest.mark.parametrize("json_output", [False, True])
def test_plain_http_imports_no_tls_stack(lab: Lab, json_output: bool) -> None:
    status, modules = loaded("http", lab.urls["http"] + "/", *(["--json"] if json_output else []))
    assert status == 0
    assert not packages(modules) & TLS_STACK
    assert ("rich" in packages(modules)) is not json_output


@pytest.mark.parametrize("json_output", [False, True])
def test_dns_lookup_does_not_import_importlib_metadata(
    dnslab: dict[str, str], json_output: bool
) -> None:
    args = ["dns", "host.example.test", "--server", dnslab["example"], "--port", dnslab["port"]]
    status, modules = loaded(*args, *(["--json"] if json_output else []))
    assert status == 0
    assert "dns" in packages(modules)
    assert not metadata_loaded(modules)


_FEATURES = """
import sys
if sys.argv[1] == "prepare":
    import idna
    if len(sys.argv) > 2:
        idna.__version__ = sys.argv[2]
    from netdiag.net.dnsfeatures import prepare
    prepare()
import dns.message, dns.name
light = "email.message" not in sys.modules
answer = [dns.name.have_idna_2008, dns.name.from_text("fa\\u00df.example").to_text()]
import importlib.metadata
answer.append(importlib.metadata.version("idna"))  # the stand-in hands over to the real one
import json
print(json.dumps({"light": light, "answer": answer}))
"""


def features(*args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _FEATURES, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    return json.loads(proc.stdout)


def test_dnspython_prepared_answers_as_dnspython_does() -> None:
    """The cheap answer to dnspython's "idna" question is the one importlib.metadata gives,
    and it is given without importing importlib.metadata (if this fails after a dnspython
    upgrade, netdiag.net.dnsfeatures fell back to the slow way: see its docstring)."""
    plain = features("plain")
    prepared = features("prepare")
    assert prepared["answer"] == plain["answer"]
    assert plain["light"] is False
    assert prepared["light"] is True


def test_dnspython_prepared_with_an_old_idna_is_idna_2003() -> None:
    """idna older than dnspython's requirement: dnspython's IDNA 2003 codec, as it would choose."""
    prepared = features("prepare", "1.0")
    assert prepared["answer"][0] is False
    assert prepared["answer"][1] == "fass.example."


def capture(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.run(args)
    out = capsys.readouterr()
    return int(status), out.out, out.err


COMMANDS = [
    "tcp",
    "dns",
    "tls",
    "http",
    "ping",
    "sockets",
    "route",
    "neigh",
    "check",
    "serve",
    "demo",
    "lab",
    "schema",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_one_subcommand_built_as_in_the_whole_app(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building only the subcommand that runs changes nothing a user sees: its help, its
    usage errors, the rule that float options take finite numbers."""
    cases = [
        [command, "--help"],
        [command, "--no-such-option"],
        [command, "--timeout", "nan", "x"],
        [command, "-c", "inf", "x"],
    ]
    assert len(cli._app_for([command]).registered_commands) == 1
    alone = [capture(capsys, case) for case in cases]
    monkeypatch.setattr(cli, "_app_for", lambda args: cli.app)
    whole = [capture(capsys, case) for case in cases]
    assert alone == whole


def test_whole_app_where_a_subcommand_is_not_named() -> None:
    for args in (["--help"], ["-V"], ["tcpp"], ["--help", "tcp"], []):
        assert cli._app_for(args) is cli.app


def test_serve_help_imports_no_exporter_library() -> None:
    """netdiag serve imports h11, prometheus_client, PyYAML and bcrypt only when it serves."""
    status, modules = loaded("serve", "--help")
    assert status == 0
    assert not packages(modules) & (HEAVY | {"prometheus_client", "yaml", "bcrypt", "asyncio"})
