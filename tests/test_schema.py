"""The JSON contract: one envelope for every command, one enum of error kinds, a JSON Schema
per command shipped in the package and kept in step with the report dataclasses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from schema_util import validate

from netdiag.errors import CANNOT_RUN, ErrorKind
from netdiag.exitcodes import ExitStatus
from netdiag.results import Envelope, ProbeError, exit_status
from netdiag.schema import COMMANDS, generate, render, text

ROOT = Path(__file__).resolve().parent.parent
ENVELOPE = ["command", "ok", "error", "interrupted", "started_at", "duration_ms", "warnings"]


@pytest.mark.parametrize("command", COMMANDS)
def test_shipped_schema_is_what_the_dataclasses_say(command):
    assert text(command) == render(generate(command)), (
        f"netdiag/schemas/{command}.json is stale: run python -m netdiag.schema"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_schema_is_valid_and_every_document_starts_with_the_envelope(command):
    schema = json.loads(text(command))
    Draft202012Validator.check_schema(schema)
    members = [schema["$defs"][r["$ref"].rsplit("/", 1)[1]] for r in schema.get("anyOf", [])]
    for member in members or [schema]:
        assert list(member["properties"])[: len(ENVELOPE)] == ENVELOPE
        assert member["additionalProperties"] is False
        assert set(member["required"]) == set(member["properties"])


def test_error_kinds_in_the_schema_are_the_enum():
    schema = json.loads(text("tcp"))
    assert schema["$defs"]["ErrorKind"]["enum"] == [k.value for k in ErrorKind]


def test_schema_command_prints_the_shipped_file(cli):
    r = cli("schema", "http")
    assert r.code == 0
    assert json.loads(r.out) == json.loads(text("http"))
    bad = cli("schema", "demo")
    assert bad.code == 2 and "one of ping, tcp" in bad.err and bad.out == ""


def test_a_document_with_an_unknown_field_or_kind_fails_validation(cli):
    doc = cli("tcp", "127.0.0.1:1", "-c", "1", "--json").json()
    with pytest.raises(AssertionError, match="Additional properties"):
        validate({**doc, "surprise": 1})
    with pytest.raises(AssertionError, match="is not valid under any of the given schemas"):
        validate({**doc, "error": {"kind": "made_up", "message": "x", "hint": None}})


def test_probe_error_refuses_a_kind_outside_the_enum():
    assert ProbeError("timeout", "x").kind is ErrorKind.TIMEOUT
    with pytest.raises(ValueError):
        ProbeError("made_up", "x")


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_gives_its_documented_exit_status(kind):
    report = Envelope(
        command="x",
        ok=False,
        error=ProbeError(kind, "m"),
        interrupted=kind is ErrorKind.INTERRUPTED,
        started_at="t",
        duration_ms=0.0,
    )
    expected = (
        ExitStatus.CANNOT_RUN
        if kind in CANNOT_RUN
        else ExitStatus.INTERRUPTED
        if kind is ErrorKind.INTERRUPTED
        else ExitStatus.UNHEALTHY
    )
    assert exit_status(report) == expected == kind.exit_status


def test_every_kind_is_documented_in_the_readme_with_its_exit_status():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Error kinds", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (\d+) \|", section, flags=re.M))
    assert set(rows) == {k.value for k in ErrorKind}
    for kind in ErrorKind:
        assert int(rows[kind.value]) == kind.exit_status, kind


def test_an_interrupted_report_says_so_in_error():
    report = Envelope(
        command="x",
        ok=True,
        error=ProbeError("timeout", "first target timed out"),
        interrupted=True,
        started_at="t",
        duration_ms=0.0,
    )
    assert report.ok is False
    assert report.error is not None and report.error.kind is ErrorKind.INTERRUPTED
    assert "timeout: first target timed out" in report.error.message
