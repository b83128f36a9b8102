"""Hardening of the shared CLI layer (issue 10): float options that must be finite, files that
must be bounded, output streams that fail, escape sequences from the network, the lab on
SIGTERM and the completion generator's arguments."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_process
from hypothesis import given, settings
from hypothesis import strategies as st

from netdiag.output import TextOutput, escape_controls, json_document, terminal_safe

# Every float option of every command, with arguments that would otherwise be valid.
FLOAT_OPTIONS = [
    ("ping", "--interval", ["127.0.0.1"]),
    ("ping", "--timeout", ["127.0.0.1"]),
    ("ping", "--max-loss", ["127.0.0.1"]),
    ("ping", "--max-rtt-ms", ["127.0.0.1"]),
    ("ping", "--gap-ms", ["127.0.0.1"]),
    ("tcp", "--interval", ["127.0.0.1:1"]),
    ("tcp", "--timeout", ["127.0.0.1:1"]),
    ("tcp", "--max-connect-ms", ["127.0.0.1:1"]),
    ("dns", "--timeout", ["x.test", "@127.0.0.1"]),
    ("tls", "--timeout", ["127.0.0.1:1"]),
    ("http", "--timeout", ["http://127.0.0.1:1/"]),
    ("http", "--max-ms", ["http://127.0.0.1:1/"]),
    ("sockets", "--watch", []),
    ("lab", "--duration", []),
]

NO_UPPER_BOUND = {"--max-rtt-ms", "--max-connect-ms", "--max-ms"}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
@pytest.mark.parametrize(("command", "option", "rest"), FLOAT_OPTIONS)
def test_float_options_refuse_nan_and_infinity(cli, command, option, rest, value):
    r = cli(command, f"{option}={value}", *rest)
    assert r.code == 2, (r.out, r.err)
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], r.err
    # NaN has no place in a range; +inf is said not finite where the option has no upper
    # bound (the thresholds), else it is outside the range, as -inf always is.
    not_finite = value.lower() == "nan" or (value[0] != "-" and option in NO_UPPER_BOUND)
    expected = "is not a finite number" if not_finite else "is not in the range"
    assert expected in lines[0], lines[0]


def test_nan_timeout_as_a_process_has_no_traceback():
    for args in (["tcp", "127.0.0.1:1", "--timeout", "nan"], ["sockets", "--watch", "nan"]):
        r = run_process(*args)
        assert r.code == 2
        assert "Traceback" not in r.err


# --- files named on the command line ----------------------------------------------------------


def test_ping_host_file_refuses_a_device(cli):
    r = cli("ping", "-f", "/dev/zero")
    assert r.code == 2
    assert "/dev/zero" in r.err and "not a regular file" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_ping_host_file_refuses_a_file_over_the_limit(cli, tmp_path):
    big = tmp_path / "hosts.txt"
    big.write_bytes(b"127.0.0.1\n" * 500_000)  # 5 MB
    r = cli("ping", "-f", str(big))
    assert r.code == 2
    assert "more than the limit of 4 MiB" in r.err


def test_ping_host_file_refuses_a_pipe_that_never_ends(tmp_path):
    fifo = tmp_path / "hosts.fifo"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed() -> None:
        # An endless writer, bounded all the same: it stops when the reader goes or after 10 s.
        fd = os.open(fifo, os.O_WRONLY)
        try:
            deadline = time.monotonic() + 10
            while not stop.is_set() and time.monotonic() < deadline:
                os.write(fd, b"127.0.0.1\n" * 1000)
        except BrokenPipeError:
            pass  # the reader went away: what this test wants
        finally:
            os.close(fd)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        r = run_process("ping", "-f", str(fifo), timeout=30)
    finally:
        stop.set()
    assert r.code == 2
    assert "more than the limit" in r.err


def test_ping_host_file_refuses_binary(cli, tmp_path):
    f = tmp_path / "hosts.bin"
    f.write_bytes(b"\xff\xfe\x00")
    r = cli("ping", "-f", str(f))
    assert r.code == 2 and "not UTF-8" in r.err


# --- output streams that fail ------------------------------------------------------------------


def _shell(command: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m netdiag ARGS`` with a shell redirection (``>&-``, ``>/dev/full``)."""
    return subprocess.run(
        ["sh", "-c", f'"$0" -m netdiag "$@" {command}', sys.executable, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["tcp", "127.0.0.1:1", "-c", "1"],
        ["tcp", "127.0.0.1:1", "-c", "1", "--json"],
        ["--help"],
        ["--version"],
    ],
    ids=" ".join,
)
@pytest.mark.parametrize("redirect", [">&-", ">/dev/full"])
def test_a_failed_write_to_stdout_is_one_line_and_exit_74(args, redirect):
    if redirect == ">/dev/full" and not Path("/dev/full").exists():
        pytest.skip("/dev/full is missing here")
    r = subprocess.run(
        ["sh", "-c", f'exec "$0" -m netdiag "$@" {redirect}', sys.executable, *args],
        stdout=None if redirect == ">&-" else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    err = r.stderr.decode()
    assert r.returncode == 74, err
    assert "Traceback" not in err and "Exception ignored" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write the output" in lines[0], err


def test_streaming_text_to_a_closed_stdout_is_exit_74():
    # Text mode prints each attempt as it happens (ping and tcp alike); before, a closed stdout
    # swallowed everything and the run ended with exit status 0.
    r = _shell(">&-", "tcp", "127.0.0.1:1", "-c", "3", "-i", "0.05")
    assert r.returncode == 74
    assert b"cannot write the output: stdout is closed" in r.stderr


def test_a_reader_that_goes_away_ends_the_run_quietly():
    r = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m netdiag tcp 127.0.0.1:1 -c 100 -i 0.01 | head -n 1; '
            "echo status=${PIPESTATUS:-$?}",
            sys.executable,
        ],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert b"Traceback" not in r.stderr
    assert b"BrokenPipe" not in r.stderr and b"Exception ignored" not in r.stderr
    assert r.stdout.count(b"\n") >= 1


def test_a_usage_error_with_stderr_closed_still_exits_2():
    r = subprocess.run(
        ["sh", "-c", 'exec "$0" -m netdiag tcp --no-such-option 2>&-', sys.executable],
        capture_output=False,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stdout == b""


def test_a_closed_stdout_is_not_reused_by_a_socket():
    # With fd 1 closed, the first socket netdiag opened would become fd 1, and anything
    # written to "stdout" would go to the peer. It must not: netdiag reserves the number.
    r = _shell(">&-", "tcp", "127.0.0.1:1", "-c", "1", "--json")
    assert r.returncode == 74


# --- escape sequences from the network ----------------------------------------------------------

SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _no_raw_controls(text: str) -> bool:
    return not CONTROLS.search(SGR.sub("", text))


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1"}, {"NO_COLOR": "1"}], ids=str)
def test_http_escape_sequences_from_the_server_are_shown_escaped(lab, env):
    r = run_process("http", lab.urls["http"] + "/hostile/escapes", env=env)
    assert r.code == 0, r.err
    assert _no_raw_controls(r.out), repr(r.out)
    assert "OK \\x9b2J\\x9d0;pwned\\x9c" in r.out
    assert "before \\x9b2J\\x9d0;pwned\\x9c after" in r.out


def test_http_escape_sequences_in_json_are_escaped_and_unchanged(lab):
    r = run_process("http", lab.urls["http"] + "/hostile/escapes", "--json")
    assert r.code == 0
    assert _no_raw_controls(r.out), repr(r.out)
    assert "\\u009b2J" in r.out
    hop = r.json()["hops"][0]
    assert hop["reason"] == "OK \x9b2J\x9d0;pwned\x9c"  # the data is intact, only escaped
    assert ["X-Escape", "before \x9b2J\x9d0;pwned\x9c after"] in hop["response_headers"]


@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1", "COLUMNS": "80"}], ids=str)
def test_certificate_names_with_escape_sequences_are_shown_escaped(lab, env):
    ca = lab.files["tls_ca_file"]
    name = lab.tls_names["tls_escape"]
    for argv in (
        ["tls", lab.endpoints["tls_escape"], "--sni", name, "--ca-file", ca],
        ["http", lab.urls["https_escape"] + "/", "--ca-file", ca],
    ):
        r = run_process(*argv, env=env)
        assert r.code == 0, r.err
        assert _no_raw_controls(r.out), repr(r.out)
        assert "CN=evil\\x1b[2J\\x1b]0" in r.out


@dataclass(frozen=True, slots=True)
class _Inner:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Outer:
    title: str
    inner: _Inner
    items: tuple[_Inner, ...]
    count: int


def test_terminal_safe_escapes_every_string_of_a_result():
    hostile = "a\x1b[2Jb\nhealthy\u202eevil\x07"
    report = _Outer(hostile, _Inner(hostile, (hostile, "plain")), (_Inner("ok", ()),), 3)
    safe = terminal_safe(report)
    assert safe.title == "a\\x1b[2Jb\\nhealthy\\u202eevil\\x07"
    assert safe.inner.values == (safe.title, "plain")
    assert safe.items is report.items  # nothing to escape: not copied
    assert safe.count == 3
    assert terminal_safe(_Inner("clean", ("x",))) == _Inner("clean", ("x",))


def test_escape_controls_keeps_printable_unicode():
    assert escape_controls("bücher.test ✓ 例え") == "bücher.test ✓ 例え"


def test_json_escapes_c1_and_bidi_but_keeps_the_value():
    doc = json_document({"s": "x\x9b\u202e\u2028y ü"})
    assert "\x9b" not in doc and "\u202e" not in doc and "\u2028" not in doc
    assert json.loads(doc) == {"s": "x\x9b\u202e\u2028y ü"}


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_output_never_writes_a_raw_control_character(text):
    import io

    from rich.table import Table
    from rich.text import Text

    for force in (True, False):
        buf = io.StringIO()
        out = TextOutput(file=buf)
        if force:
            from rich.console import Console

            out.console = Console(file=buf, force_terminal=True, width=80)
        table = Table()
        table.add_column("h")
        table.add_row(text)
        out.print(Text(text, style="bold"), table)
        assert _no_raw_controls(buf.getvalue().replace("\x1b[?25l", "").replace("\x1b[?25h", ""))


# --- the lab on SIGTERM, the completion generator ------------------------------------------------


def test_lab_removes_its_private_keys_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdiag", "lab", "--json", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while True:  # one JSON document, indented: read up to its closing brace
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
            if line == "}\n":
                break
        directory = Path(json.loads("".join(lines))["files"]["tls_ca_file"]).parent
        assert any(directory.glob("*.key"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()  # only the process this test started
    assert proc.returncode == 128 + signal.SIGTERM
    assert not directory.exists()


def test_completion_generator_has_real_arguments(tmp_path):
    def gen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "netdiag.completion", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )

    r = gen("--help")
    assert r.returncode == 0 and "DIRECTORY" in r.stdout
    assert list(tmp_path.iterdir()) == []  # no directory named --help
    r = gen("--bogus")
    assert r.returncode == 2 and list(tmp_path.iterdir()) == []
    r = gen("out")
    assert r.returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["netdiag.bash", "_netdiag", "netdiag.fish"]
    )


def test_strings_in_views_are_data_not_rich_markup():
    import io

    from rich.table import Table

    buf = io.StringIO()
    out = TextOutput(file=buf)
    t = Table()
    t.add_column("destination")
    t.add_row("[fd00::1]:443")
    t.add_row("[kworker/0:1]")
    out.print(t, "[bold]not a style[/bold]")
    text = buf.getvalue()
    assert "[fd00::1]:443" in text and "[kworker/0:1]" in text
    assert "[bold]not a style[/bold]" in text


def test_plain_strings_are_not_highlighted_on_a_terminal(monkeypatch):
    # rich colours numbers, addresses and URLs in plain strings unless highlight is off.
    import io

    monkeypatch.setenv("FORCE_COLOR", "1")
    buf = io.StringIO()
    out = TextOutput(file=buf)
    assert out.is_terminal
    out.print("10.0.0.1 answered in 12.5 ms from https://127.0.0.1/")
    assert "\x1b[" not in buf.getvalue(), repr(buf.getvalue())


def test_lone_surrogates_are_escaped_in_text_and_json():
    # No encoder can write a lone surrogate: printing one would end in UnicodeEncodeError.
    import io

    doc = json_document({"s": "a\udcff b"})
    doc.encode("utf-8")
    assert json.loads(doc) == {"s": "a\udcff b"}
    assert escape_controls("a\udcff b") == "a\\udcff b"
    buf = io.StringIO()
    TextOutput(file=buf).print("x\ud800y")
    buf.getvalue().encode("utf-8")
