"""Entry point: ``netdiag`` and ``python -m netdiag``.

``--version`` is answered before the CLI framework is imported, so that it costs no more than
starting the interpreter.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from netdiag import __version__

        sys.stdout.write(f"netdiag {__version__}\n")
        return 0
    from netdiag.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
