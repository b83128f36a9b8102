"""The command line: one typer app, one module per subcommand, registered here.

Command modules import only typer and the standard library at import time; each command
imports its probe (and any heavy library such as dnspython or cryptography) when it runs, so
``netdiag --help`` pays for none of them. Imports point one way: this module imports the
commands, never the reverse (``demo`` is handed :func:`run` when it is registered); what
typer does not export comes from :mod:`netdiag.commands.typercompat` alone.
"""

from __future__ import annotations

import copy
import errno
import os
import sys
from typing import Annotated, Any

import typer

from netdiag import __version__
from netdiag.commands.options import finite_floats
from netdiag.commands.typercompat import ClickException, UsageError
from netdiag.exitcodes import EXIT_HELP, ExitStatus
from netdiag.output import GuardedStdout, OutputError, error_line

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


def _app_for(args: list[str]) -> typer.Typer:
    """What to build the click command from: when ``args`` start with a subcommand's name,
    the app with that one subcommand, as building every subcommand (typer reads each
    signature and its options) costs about 10 ms a run; else (``--help``, ``--version``, an
    unknown name, shell completion) the whole app."""
    if not args or os.environ.get("_NETDIAG_COMPLETE"):
        return app
    chosen = [info for info in app.registered_commands if info.name == args[0]]
    if len(chosen) != 1:
        return app
    one = copy.copy(app)
    one.registered_commands = chosen
    return one


def run(args: list[str]) -> int:
    """Run the CLI on ``args``; return the exit status. Never lets a traceback reach the user
    for bad input: usage errors become one line on stderr and status 2; a failed write to
    stdout becomes one line on stderr and status 74."""
    if not args:
        args = ["--help"]
    if os.environ.get("_NETDIAG_COMPLETE"):
        # A shell asks for completions (completions/*): typer's completers must be registered.
        from netdiag.commands.typercompat import completion_init

        completion_init()
    command = typer.main.get_command(_app_for(args))
    finite_floats(command)
    real_stdout = sys.stdout
    guarded = GuardedStdout(real_stdout)
    sys.stdout = guarded
    try:
        rv = command.main(args=args, prog_name="netdiag", standalone_mode=False)
        sys.stdout.flush()
    except UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        path = ctx.command_path if ctx is not None else "netdiag"
        sub = path.split(" ", 1)[1] if " " in path else None
        error_line(sub, f"{exc.format_message()} (see '{path} --help')")  # type: ignore[attr-defined]
        return ExitStatus.USAGE
    except ClickException as exc:
        error_line(None, exc.format_message())  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    except (KeyboardInterrupt, typer.Abort):
        return ExitStatus.INTERRUPTED
    except OutputError as exc:
        return output_failed(exc, real_stdout)
    except BrokenPipeError as exc:  # a write that went around the guard
        return output_failed(exc, real_stdout)
    finally:
        sys.stdout = real_stdout
    if isinstance(rv, int):
        return rv
    return ExitStatus.OK


def output_failed(exc: OutputError | OSError | AttributeError, stdout: Any = None) -> int:
    """stdout failed: say so on stderr (not for a reader that went away, as in
    ``netdiag ... | head``, which is normal) and return 74. What is still buffered would fail
    again when Python flushes at exit, so the real stdout is pointed at /dev/null."""
    if isinstance(exc, OSError):
        exc = OutputError(exc)
    elif not isinstance(exc, OutputError):  # sys.stdout is None: closed before we started
        exc = OutputError(OSError(errno.EBADF, "stdout is closed"))
    if exc.errno != errno.EPIPE:
        error_line(None, f"cannot write the output: {exc.reason}")
    stdout = sys.stdout if stdout is None else stdout
    real = sys.__stdout__
    if real is not None and stdout is real:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, real.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
    return ExitStatus.OUTPUT_ERROR


def _register() -> None:
    from netdiag.commands import (
        check,
        demo,
        dns,
        http,
        lab,
        neigh,
        ping,
        route,
        schema,
        serve,
        sockets,
        tcp,
        tls,
    )

    for module in (ping, dns, tcp, tls, http, sockets, neigh, route, check, serve):
        module.register(app)
    demo.register(app, run)  # the demo runs the other commands through the CLI itself
    for module in (lab, schema):
        module.register(app)


_register()
