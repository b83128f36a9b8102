"""Options and steps that every probe command shares, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from netdiag.output import TextOutput

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of text.")
]
IPv4Option = Annotated[bool, typer.Option("-4", help="Use IPv4 only.")]
IPv6Option = Annotated[bool, typer.Option("-6", help="Use IPv6 only.")]


def ip_version(ipv4: bool, ipv6: bool) -> int | None:
    """4, 6 or None from the -4/-6 flags (a usage error when both are given)."""
    if ipv4 and ipv6:
        from netdiag.cli import usage_error

        raise usage_error("-4 and -6 exclude each other")
    return 4 if ipv4 else 6 if ipv6 else None


def read_ca_option(ca_file: Path | None) -> bytes | None:
    """The PEM bundle of ``--ca-file``, read once and bounded; a usage error (exit 2) when it
    cannot be read, is too large, is a device, or holds no certificate."""
    if ca_file is None:
        return None
    from netdiag.files import FileError
    from netdiag.net.certs import read_ca_file

    try:
        return read_ca_file(ca_file)
    except FileError as exc:
        from netdiag.cli import usage_error

        raise usage_error(f"--ca-file {exc}") from None


def finish(report: Any, json_output: bool, render: Callable[[TextOutput, Any], None]) -> NoReturn:
    """Print the report (JSON, or text through ``render``) and exit with its status.

    ``render`` gets the report with every string made safe for a terminal
    (:func:`netdiag.output.terminal_safe`): it is what a peer sent, and views show it."""
    from netdiag.output import TextOutput, emit_json, terminal_safe
    from netdiag.results import exit_status

    if json_output:
        emit_json(report)
    else:
        render(TextOutput(), terminal_safe(report))
    raise typer.Exit(exit_status(report))
