"""Run a few blocking calls at once, on daemon threads.

Each call is bounded by its own timeout; daemon threads mean that Ctrl-C in the main thread
ends the program at once instead of waiting for calls still in flight (a ThreadPoolExecutor
joins its threads at exit).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def run_all(
    calls: Sequence[Callable[[], T]],
    workers: int,
    on_result: Callable[[int, T], None] | None = None,
) -> list[T]:
    """Results of ``calls`` in order, at most ``workers`` running at once. ``on_result`` sees
    each result, in this thread, as it arrives (so an interrupted caller keeps what finished).
    An exception in a call is raised here; KeyboardInterrupt reaches the caller at once."""
    n = len(calls)
    if n == 0:
        return []
    if n == 1 or workers <= 1:
        out = []
        for i, c in enumerate(calls):
            out.append(c())
            if on_result is not None:
                on_result(i, out[-1])
        return out
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    outcomes: list[tuple[bool, object]] = [(False, None)] * n

    def worker() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                outcomes[i] = (True, calls[i]())
            except BaseException as exc:  # handed to the caller below
                outcomes[i] = (False, exc)
            done.put(i)

    for k in range(min(workers, n)):
        threading.Thread(target=worker, name=f"netdiag-worker-{k}", daemon=True).start()
    for _ in range(n):
        i = done.get()
        ok, value = outcomes[i]
        if ok and on_result is not None:
            on_result(i, value)  # type: ignore[arg-type]
    results: list[T] = []
    for ok, value in outcomes:
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        results.append(value)  # type: ignore[arg-type]
    return results
