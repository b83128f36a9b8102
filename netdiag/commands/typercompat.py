"""Everything netdiag takes from typer beyond its public API, in this one module.

typer's public names (``typer.Typer``, ``typer.Option``, ``typer.BadParameter``, ``typer.Exit``,
``typer.Abort``, ``typer.main.get_command``) are used directly everywhere. What typer does not
export is reached only through here:

- click's ``UsageError`` and ``ClickException``, which typer raises but does not export (typer
  0.28 vendors click as ``typer._click``, earlier versions depend on click itself). They are
  found by name among the bases of ``typer.BadParameter``, which is click's ``BadParameter``,
  so whichever click typer uses is the one matched.
- click's parameter types (``types.BoolParamType``, ``IntParamType``, ``FloatParamType``),
  found the same way, to tell what a parameter takes (:func:`param_kind`, for the values of
  ``netdiag check``'s file).
- the shell completion machinery (``typer._completion_classes``, ``typer._completion_shared``),
  imported only when a completion is asked for or a script is written.

When typer renames any of these, the test suite (tests/test_cli.py) fails with a message that
says what is missing: importing this module raises :class:`TyperChanged` for the exception
classes, and :func:`problems` lists the completion functions, which are imported only when
used and would otherwise break a shell's completion at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

import typer

BadParameter = typer.BadParameter

_COMPLETION = {
    "completion_init": "typer._completion_classes",
    "get_completion_script": "typer._completion_shared",
}
"""The private typer functions netdiag calls, and the modules that hold them."""


class TyperChanged(RuntimeError):
    """typer no longer has something netdiag takes from it (see :func:`problems`)."""


def _click_base(name: str) -> type[Exception]:
    for cls in BadParameter.__mro__:
        if cls.__name__ == name:
            return cls
    raise TyperChanged(
        f"typer {typer.__version__}: typer.BadParameter no longer derives from click's {name}; "
        "update netdiag/commands/typercompat.py"
    )


UsageError: type[Exception] = _click_base("UsageError")
"""click's UsageError: a bad command line (missing or invalid argument, unknown option)."""
ClickException: type[Exception] = _click_base("ClickException")
"""click's base exception: every error click reports with a message and an exit code."""


def param_kind(param: Any) -> str:
    """What a click parameter of a typer command takes, by its click type: ``bool``,
    ``int``, ``float``, ``path`` (text, which typer hands over as a :class:`pathlib.Path`)
    or ``str`` (text; anything else is given as text too). ``netdiag check`` checks its
    file's values with it before click converts them."""
    if getattr(param.type, "name", None) == "path":
        return "path"
    types = import_module(BadParameter.__module__.rsplit(".", 1)[0] + ".types")
    for kind, name in (
        ("bool", "BoolParamType"),
        ("int", "IntParamType"),
        ("float", "FloatParamType"),
    ):
        cls = getattr(types, name, None)
        if cls is None:
            raise TyperChanged(
                f"typer {typer.__version__}: click has no types.{name}; "
                "update netdiag/commands/typercompat.py"
            )
        if isinstance(param.type, cls):
            return kind
    return "str"


def _private(name: str) -> Callable[..., Any]:
    module = _COMPLETION[name]
    try:
        return getattr(import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        raise TyperChanged(
            f"typer {typer.__version__} has no {module}.{name}, which netdiag's shell "
            "completion uses; update netdiag/commands/typercompat.py"
        ) from None


def completion_init() -> None:
    """Register typer's shell completion classes with click (before any completion)."""
    _private("completion_init")()


def completion_script(prog_name: str, complete_var: str, shell: str) -> str:
    """typer's completion script for ``shell`` (bash, zsh or fish), which asks ``prog_name``
    for candidates through the environment variable ``complete_var``."""
    completion_init()
    script: str = _private("get_completion_script")(
        prog_name=prog_name, complete_var=complete_var, shell=shell
    )
    return script


def problems() -> list[str]:
    """What netdiag takes from typer and this typer lacks, one line each (empty: nothing)."""
    import inspect
    from types import SimpleNamespace

    found = []
    for name in _COMPLETION:
        try:
            _private(name)
        except TyperChanged as exc:
            found.append(str(exc))
    if not found:
        try:
            inspect.signature(_private("get_completion_script")).bind(
                prog_name="netdiag", complete_var="_NETDIAG_COMPLETE", shell="bash"
            )
        except TypeError as exc:
            found.append(
                f"typer {typer.__version__}: get_completion_script(prog_name, complete_var, "
                f"shell) no longer fits: {exc}"
            )
    try:
        param_kind(SimpleNamespace(type=None))
    except TyperChanged as exc:
        found.append(str(exc))
    if not issubclass(UsageError, ClickException):
        found.append(f"typer {typer.__version__}: click's UsageError is not a ClickException")
    return found
