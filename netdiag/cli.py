"""The command line: one typer app, one module per subcommand, registered here.

Command modules import only typer and the standard library at import time; each command
imports its probe (and any heavy library such as dnspython or cryptography) when it runs, so
``netdiag --help`` pays for none of them.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from netdiag import __version__
from netdiag.exitcodes import EXIT_HELP, ExitStatus
from netdiag.output import error_line

# click's exception classes, whether typer vendors click or depends on it.
_USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]
_CLICK_EXCEPTION: type[Exception] = typer.BadParameter.__mro__[2]

app = typer.Typer(
    name="netdiag",
    help="Network diagnostics: the core ideas of TCP/IP on the command line, one subcommand "
    "per concept.",
    epilog=EXIT_HELP,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"netdiag {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Network diagnostics: the core ideas of TCP/IP on the command line."""


def _register() -> None:
    from netdiag.commands import demo, dns, http, lab, ping, sockets, tcp, tls

    for module in (ping, dns, tcp, tls, http, sockets, demo, lab):
        module.register(app)


_register()


def usage_error(message: str) -> Exception:
    """An exception that ends the command with a one-line error and exit status 2."""
    return _USAGE_ERROR(message)


def run(args: list[str]) -> int:
    """Run the CLI on ``args``; return the exit status. Never lets a traceback reach the user
    for bad input: usage errors become one line on stderr and status 2."""
    if not args:
        args = ["--help"]
    if os.environ.get("_NETDIAG_COMPLETE"):
        # A shell asks for completions (completions/*): typer's completers must be registered.
        from typer._completion_classes import completion_init

        completion_init()
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=args, prog_name="netdiag", standalone_mode=False)
    except _USAGE_ERROR as exc:
        ctx = getattr(exc, "ctx", None)
        path = ctx.command_path if ctx is not None else "netdiag"
        sub = path.split(" ", 1)[1] if " " in path else None
        error_line(sub, f"{exc.format_message()} (see '{path} --help')")  # type: ignore[attr-defined]
        return ExitStatus.USAGE
    except _CLICK_EXCEPTION as exc:
        error_line(None, exc.format_message())  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    except (KeyboardInterrupt, typer.Abort):
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`netdiag ... | head`): stop quietly, as Python's docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.UNHEALTHY
    if isinstance(rv, int):
        return rv
    return ExitStatus.OK
