"""The check file (TOML): one ``[[check]]`` table per check, whose keys are the long CLI
options of its command with ``-`` written ``_``; read and validated whole before anything runs.

INTERFACE (being implemented): the runner and the formats code against these names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netdiag.results.check import AnyReport

TYPES = ("tcp", "dns", "tls", "http", "ping", "sockets")


class SpecError(ValueError):
    """The check file is wrong: one line naming the check (name, or #index) and the key."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check, validated and ready to run."""

    index: int
    """1-based position among the file's ``[[check]]`` tables."""
    name: str
    type: str
    target: str | None
    tags: tuple[str, ...]
    retries: int
    """Attempts after the first when it fails (``retries`` key, else ``[defaults]``, else 0)."""
    timeout_s: float
    """The check's time bound: its command's ``--timeout`` as the file sets it or defaults."""
    run: Callable[[], AnyReport]
    """One attempt: the command's probe with the file's options, exactly what
    ``netdiag TYPE ... --json`` would run."""


def load(path: str, *, only: Sequence[str] = ()) -> list[CheckSpec]:
    """The checks of ``path`` (selected by name or tag with ``only``); SpecError when the file
    is unreadable, not TOML, or any check is invalid."""
    raise NotImplementedError


def example() -> str:
    """A commented example file covering every type (``netdiag check --example``)."""
    raise NotImplementedError
