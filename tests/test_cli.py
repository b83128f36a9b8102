"""The shared CLI contract: exit statuses, one-line usage errors, version, help, start-up
cost, completions and the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_process

from netdiag import __version__
from netdiag.completion import SHELLS, script

ROOT = Path(__file__).resolve().parent.parent

BAD_INPUT = [
    ["tcp"],
    ["tcp", "127.0.0.1"],
    ["tcp", "127.0.0.1:0"],
    ["tcp", "127.0.0.1:65536"],
    ["tcp", "[::1"],
    ["tcp", ""],
    ["tcp", "a..b:1"],
    ["tcp", "1.2.3:80"],
    ["tcp", "-c", "0", "127.0.0.1:1"],
    ["tcp", "-c", "x", "127.0.0.1:1"],
    ["tcp", "-i", "-1", "127.0.0.1:1"],
    ["tcp", "--timeout", "0", "127.0.0.1:1"],
    ["tcp", "-p", "70000", "127.0.0.1"],
    ["tcp", "-4", "-6", "127.0.0.1:1"],
    ["tcp", "-4", "[::1]:1"],
    ["tcp", "http://127.0.0.1/"],
    ["tcp", "--no-such-option", "127.0.0.1:1"],
    ["no-such-command"],
]


@pytest.mark.parametrize("args", BAD_INPUT, ids=lambda a: " ".join(a) or "<none>")
def test_bad_input_is_one_line_exit_2(cli, args):
    r = cli(*args)
    assert r.code == 2
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("netdiag")
    assert ": error: " in lines[0]


def test_bad_input_as_a_process_has_no_traceback():
    for args in (["tcp", "[::1"], ["tcp", "-c", "x", "a:1"], ["bogus"]):
        r = run_process(*args)
        assert r.code == 2
        assert "Traceback" not in r.err
        assert len(r.err.strip().splitlines()) == 1


def test_version():
    r = run_process("--version")
    assert (r.code, r.out) == (0, f"netdiag {__version__}\n")
    assert run_process("-V").out == r.out


def test_version_via_the_cli_matches_fast_path(cli):
    assert cli("--version").out.strip() == f"netdiag {__version__}"


def test_help_documents_exit_statuses_and_commands():
    r = run_process("--help")
    assert r.code == 0
    for word in ("tcp", "demo", "lab", "Exit status", "130"):
        assert word in r.out
    sub = run_process("tcp", "--help")
    assert "Exit status" in sub.out and "TIME_WAIT" in sub.out


def test_no_arguments_shows_help():
    r = run_process()
    assert r.code == 0 and "Usage" in r.out


def test_startup_imports_nothing_heavy():
    code = (
        "import sys, io, contextlib\n"
        "from netdiag.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "heavy = [m for m in ('dns', 'cryptography', 'asyncio', 'psutil', 'h11', 'rich')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_does_not_import_the_cli_framework():
    code = (
        "import sys, io, contextlib\n"
        "from netdiag.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version'])\n"
        "print('typer' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_completion_scripts_are_up_to_date(shell):
    path = ROOT / "completions" / SHELLS[shell]
    assert path.read_text() == script(shell), (
        f"{path} is out of date: run `python -m netdiag.completion completions`"
    )


def test_bash_completion_completes_subcommands_and_options(tmp_path):
    bash = "/bin/bash"
    if not Path(bash).exists():
        pytest.skip("bash is not installed")
    shim = tmp_path / "netdiag"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m netdiag "$@"\n')
    shim.chmod(0o755)
    probe = (
        f"source {ROOT / 'completions' / 'netdiag.bash'}\n"
        "COMP_WORDS=(netdiag t); COMP_CWORD=1; _netdiag_completion netdiag;"
        ' echo "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(netdiag tcp --max); COMP_CWORD=2; _netdiag_completion netdiag;"
        ' echo "${COMPREPLY[@]}"\n'
    )
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run([bash, "-c", probe], capture_output=True, text=True, env=env, timeout=30)
    first, second = out.stdout.splitlines()[:2]
    assert "tcp" in first.split()
    assert "--max-connect-ms" in second.split()


def test_demo_runs_every_step_and_stops_the_lab():
    r = run_process("demo", timeout=120)
    assert r.code == 0, r.out + r.err
    assert "$ netdiag tcp" in r.out
    assert "refused" in r.out and "timeout" in r.out
    assert "expected" not in r.out
    assert r.out.rstrip().endswith("lab stopped")


def test_lab_prints_endpoints_as_json_and_stops_by_itself():
    r = run_process("lab", "--json", "--duration", "0", "--extra-tcp", "2", timeout=30)
    assert r.code == 0
    doc = r.json()
    assert doc["command"] == "lab" and doc["ok"] is True
    assert {"tcp_open", "tcp_refused", "tcp_silent"} <= set(doc["endpoints"])
    assert len(doc["extra_tcp"]) == 2
    assert all(e.startswith("127.0.0.1:") for e in doc["extra_tcp"])


def test_what_netdiag_takes_from_typer_is_still_there():
    from netdiag.commands import typercompat

    missing = typercompat.problems()
    assert not missing, "typer changed under netdiag:\n" + "\n".join(missing)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, and every ``typer._name`` it reaches for."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add(f"{node.value.id}.{node.attr}")
    return found


def test_commands_never_import_the_cli_and_only_typercompat_reaches_into_typer():
    compat = ROOT / "netdiag" / "commands" / "typercompat.py"
    for path in sorted((ROOT / "netdiag").rglob("*.py")):
        where = path.relative_to(ROOT)
        names = _imports(path)
        if path != compat:
            private = {n for n in names if n.startswith(("typer._", "click"))}
            assert not private, f"{where} uses {private}: take it from typercompat"
            assert "__mro__" not in path.read_text(), where
        if where.parts[:2] == ("netdiag", "commands"):
            assert not {n for n in names if n.startswith("netdiag.cli")}, where
