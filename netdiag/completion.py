"""Shell completion scripts, generated from the CLI itself.

The scripts in ``completions/`` are written by ``python -m netdiag.completion completions``
and a test fails when they differ from what this module generates. They ask ``netdiag``
itself for candidates (through the ``_NETDIAG_COMPLETE`` variable), so new subcommands and
options complete without regenerating them.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHELLS = {"bash": "netdiag.bash", "zsh": "_netdiag", "fish": "netdiag.fish"}
COMPLETE_VAR = "_NETDIAG_COMPLETE"


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    from netdiag.commands.typercompat import completion_script

    body = completion_script(prog_name="netdiag", complete_var=COMPLETE_VAR, shell=shell)
    header = "#compdef netdiag\n" if shell == "zsh" and not body.startswith("#compdef") else ""
    return f"{header}{body}\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SHELLS.items():
        path = directory / name
        path.write_text(script(shell))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m netdiag.completion",
        description="Write netdiag's shell completion scripts (bash, zsh, fish) into DIRECTORY.",
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default="completions",
        metavar="DIRECTORY",
        help="where to write them (default: completions)",
    )
    args = parser.parse_args(argv)
    try:
        written = write_all(Path(args.directory))
    except OSError as exc:
        parser.exit(1, f"{parser.prog}: error: {args.directory}: {exc.strerror or exc}\n")
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
