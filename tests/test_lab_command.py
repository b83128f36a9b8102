"""`netdiag lab` as a person runs it (text), with extra listeners; and the schema generator
(`python -m netdiag.schema`), whose output must be the schemas the package ships."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_process

import netdiag
from netdiag import schema


def test_lab_lists_its_endpoints_in_text_and_stops_by_itself():
    r = run_process("lab", "--duration", "0", "--extra-tcp", "3", timeout=30)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "netdiag lab is running on loopback:"
    listed = {m[1]: m[2] for m in re.finditer(r"^  (\S+(?: url)?)\s+(\S+)", r.out, re.M)}
    assert re.fullmatch(r"127\.0\.0\.1:\d+", listed["tcp_open"])
    assert listed["tls_starttls_smtp_refused"].startswith("127.0.0.1:")
    assert listed["h2 url"].startswith("https://127.0.0.1:")
    assert Path(listed["tls_ca_file"]).name == "lab-root-ca.pem"
    assert "(SNI good.lab.test)" in r.out
    [more] = [x for x in lines if "more TCP listeners" in x]
    assert re.fullmatch(r"  3 more TCP listeners: 127\.0\.0\.1:\d+ \.\.\. 127\.0\.0\.1:\d+", more)
    assert lines[-1] == "Stops after 0 s, or on Ctrl-C."
    assert not Path(listed["tls_ca_file"]).exists()  # the lab removed its files


def test_schema_generator_writes_what_the_package_ships(tmp_path, capsys):
    assert schema.main([str(tmp_path / "out")]) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert sorted(capsys.readouterr().out.splitlines()) == [str(p) for p in written]
    shipped = Path(netdiag.__file__).parent / "schemas"
    assert [p.name for p in written] == sorted(p.name for p in shipped.glob("*.json"))
    for p in written:
        assert p.read_text() == (shipped / p.name).read_text(), p.name


def test_schema_generator_says_why_it_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as stop:
        schema.main([str(blocker)])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m netdiag.schema: error: {blocker}: ")
