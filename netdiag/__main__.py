"""Entry point: ``netdiag`` and ``python -m netdiag``.

``--version`` is answered before the CLI framework is imported, so that it costs no more than
starting the interpreter.
"""

from __future__ import annotations

import os
import sys


def _reserve_standard_fds() -> None:
    """Point a standard descriptor that was closed before we started (``>&-``, ``2>&-``) at
    /dev/null, so that no socket or file netdiag opens later takes its number and receives
    what was meant for stdout or stderr. Python has already set ``sys.stdout`` (or
    ``sys.stderr``) to None for it, which the CLI reports as a write failure."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                opened = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if opened != fd:  # a lower descriptor was closed too and took it: keep looking
                os.dup2(opened, fd)
                os.close(opened)


def main(argv: list[str] | None = None) -> int:
    _reserve_standard_fds()
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from netdiag import __version__

        try:
            sys.stdout.write(f"netdiag {__version__}\n")
            sys.stdout.flush()
        except (AttributeError, OSError) as exc:  # stdout closed (None) or failing
            from netdiag.cli import output_failed

            return output_failed(exc)
        return 0
    from netdiag.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
