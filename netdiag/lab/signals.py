"""Stopping the lab cleanly when the process is told to end.

The lab writes private keys to a temporary directory and removes it when it stops. Ctrl-C
(SIGINT) unwinds through ``with Lab()``, but SIGTERM (``timeout``, ``kill``, CI cancellations,
systemd) and SIGHUP (the terminal closed) end Python at once by default, leaving the keys
behind. :func:`terminate_gracefully` turns them into an exception, so the same cleanup runs.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(BaseException):
    """The process received SIGTERM or SIGHUP. A BaseException, like KeyboardInterrupt, so that
    no ``except Exception`` swallows it on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """What a shell reports for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_gracefully() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (and
    are restored after). Outside the main thread nothing changes: Python allows signal
    handlers only there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
