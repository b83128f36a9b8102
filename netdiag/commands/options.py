"""Options and steps that every probe command shares, declared once.

The options that several commands take are declared here and nowhere else: ``--json``,
``-4``/``-6`` and ``--ca-file`` as ready-made ``Annotated`` types, ``-c/--count``,
``-i/--interval`` and ``--timeout`` as factories, since each command has its own default
(the parameter's default value), range and help::

    count: Annotated[int, count_option(max=100_000, help="Echo requests per host.")] = 4

Usage errors (a bad command line: one line on stderr, exit status 2) are made here too, by
:func:`usage_error`, so that commands need nothing from :mod:`netdiag.cli`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from netdiag.commands.typercompat import UsageError

if TYPE_CHECKING:
    from netdiag.output import TextOutput


def json_option(help: str = "Print one JSON document instead of text.") -> Any:
    """``--json``: the report as one JSON document."""
    return typer.Option("--json", help=help)


JsonOption = Annotated[bool, json_option()]
IPv4Option = Annotated[bool, typer.Option("-4", help="Use IPv4 only.")]
IPv6Option = Annotated[bool, typer.Option("-6", help="Use IPv6 only.")]
CaFileOption = Annotated[
    Path | None,
    typer.Option("--ca-file", metavar="PEM", help="Trust these CAs instead of the system store."),
]
"""``--ca-file``: read with :func:`read_ca_option`."""


def count_option(*, max: int, help: str, metavar: str = "COUNT") -> Any:
    """``-c/--count``: how many times, from 1 to ``max``."""
    return typer.Option("-c", "--count", min=1, max=max, metavar=metavar, help=help)


def interval_option(*, min: float, max: float, help: str) -> Any:
    """``-i/--interval``: seconds between two attempts on one target, from ``min`` to
    ``max``."""
    return typer.Option("-i", "--interval", min=min, max=max, metavar="SECONDS", help=help)


def timeout_option(*, min: float, max: float, help: str, short: str | None = None) -> Any:
    """``--timeout`` (and ``short``, such as ping's ``-W``): seconds to wait, from ``min`` to
    ``max``."""
    names = ("--timeout",) if short is None else (short, "--timeout")
    return typer.Option(*names, min=min, max=max, metavar="SECONDS", help=help)


def max_loss_option(*, help: str) -> Any:
    """``--max-loss PCT``: a loss threshold, 0 to 100 percent."""
    return typer.Option("--max-loss", min=0.0, max=100.0, metavar="PCT", help=help)


def max_rtt_option(*, help: str, metavar: str = "MS") -> Any:
    """``--max-rtt-ms``: a round-trip-time threshold in milliseconds, 0 or more."""
    return typer.Option("--max-rtt-ms", min=0.0, metavar=metavar, help=help)


def usage_error(message: str, *, param: str | None = None) -> Exception:
    """An exception that ends the command with a one-line error and exit status 2.

    ``param`` names the parameter at fault (the command function's name for it, such as
    ``targets``), for a front end that did not take it from a command line: ``netdiag check``
    names the key of its file (:func:`error_param`). The message is the same either way."""
    exc = UsageError(message)
    exc.netdiag_param = param  # type: ignore[attr-defined]
    return exc


def error_param(exc: BaseException) -> str | None:
    """The parameter a :func:`usage_error` names, if any."""
    param = getattr(exc, "netdiag_param", None)
    return param if isinstance(param, str) else None


def ip_version(ipv4: bool, ipv6: bool) -> int | None:
    """4, 6 or None from the -4/-6 flags (a usage error when both are given)."""
    if ipv4 and ipv6:
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
        raise usage_error(f"--ca-file {exc}", param="ca_file") from None


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


def finite_floats(command: Any) -> None:
    """Every float option of every command takes only finite numbers. click's FloatRange lets
    'nan' through (every comparison with NaN is false, so no bound ever fails) and 'inf'
    through a bound left open; a NaN --timeout then crashes a probe, and a NaN threshold
    silently turns its check off. One rule here covers every option, present and future, on
    the command line (cli.run) and in a check file (netdiag.checks.spec) alike."""
    for cmd in (command, *getattr(command, "commands", {}).values()):
        for param in getattr(cmd, "params", ()):
            ptype = param.type
            if getattr(ptype, "name", None) not in ("float", "float range"):
                continue
            if getattr(ptype, "_netdiag_finite", False):
                continue
            convert = ptype.convert

            def finite(value: Any, param: Any, ctx: Any, _convert: Any = convert) -> Any:
                number = _convert(value, param, ctx)
                if isinstance(number, float) and not math.isfinite(number):
                    raise typer.BadParameter(
                        f"{value!r} is not a finite number", ctx=ctx, param=param
                    )
                return number

            ptype.convert = finite
            ptype._netdiag_finite = True
