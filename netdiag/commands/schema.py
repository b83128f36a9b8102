"""``netdiag schema``: the JSON Schema of a command's ``--json`` document."""

from __future__ import annotations

from typing import Annotated

import typer

from netdiag.commands.options import usage_error

HELP = """\
Print the JSON Schema (draft 2020-12) of COMMAND's --json document: every field, its type,
and the error kinds. Every document shares one envelope: command, ok, error (kind, message,
hint), interrupted, started_at, duration_ms, warnings. Scripts can validate netdiag's output
against it; the test suite does, for every document it reads."""


def _complete(incomplete: str) -> list[str]:
    from netdiag.schema import COMMANDS

    return [c for c in COMMANDS if c.startswith(incomplete)]


def command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="COMMAND",
            help="ping, tcp, dns, tls, http, sockets, lab or check.",
            autocompletion=_complete,
            show_default=False,
        ),
    ],
) -> None:
    import sys

    from netdiag.schema import COMMANDS, text

    if name not in COMMANDS:
        raise usage_error(f"no JSON document for '{name}': one of {', '.join(COMMANDS)}")
    sys.stdout.write(text(name))


def register(app: typer.Typer) -> None:
    app.command("schema", help=HELP, short_help="The JSON Schema of a command's --json document.")(
        command
    )
