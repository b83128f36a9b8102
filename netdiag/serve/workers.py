"""``netdiag serve --workers N``: the exporter as N worker processes behind one address.

- The **supervisor** (the process that was started) reads and checks everything first (exit
  2), then binds one listening socket per worker and address, all on the same port with
  ``SO_REUSEPORT`` (exit 3 when it cannot): the kernel spreads new connections over the
  workers. With port 0 the first socket's port is used for all.
- It forks the **workers**: each has its own event loop, probe threads and connections, and
  serves on its own sockets. The probes in flight are bounded by --max-concurrent for all
  of them together (a semaphore they share), not per worker.
- ``/metrics`` and ``/`` tell the whole exporter's: every worker keeps its metrics
  (prometheus_client's multiprocess mode) and its recent probes in a private directory
  (mode 0700) that the supervisor removes when it stops.
- SIGTERM or SIGINT to the supervisor stops every worker (each by its pid, SIGKILL after
  :data:`STOP_GRACE_S`) and exits 143 or 130. A worker that dies on its own (killed, out of
  memory) stops the others and the supervisor exits 1. A worker whose supervisor dies gets
  SIGTERM (``PR_SET_PDEATHSIG``), so no worker outlives it; the workers then remove the
  private directory themselves, each its own files and the last one the directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable

from netdiag.serve.server import Exporter, ServeConfig, Slots, log, serve

STOP_GRACE_S = 10.0
"""How long workers have to stop after SIGTERM before they are killed."""
MAX_DEFAULT_WORKERS = 8

_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD}


def default_workers() -> int:
    """The CPUs this process may run on, at most :data:`MAX_DEFAULT_WORKERS`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cpus))


def listen_sockets(host: str, port: int, workers: int) -> list[list[socket.socket]]:
    """Per worker, one listening socket per address of ``host`` (every interface for ''),
    all on one port with SO_REUSEPORT. OSError when one cannot be bound."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen: set[tuple[int, object]] = set()
    addresses = []
    for family, type_, proto, _, sockaddr in infos:
        if (family, sockaddr) not in seen:
            seen.add((family, sockaddr))
            addresses.append((family, type_, proto, sockaddr))
    made: list[list[socket.socket]] = []
    try:
        for _ in range(workers):
            mine: list[socket.socket] = []
            made.append(mine)
            for family, type_, proto, sockaddr in addresses:
                sock = socket.socket(family, type_, proto)
                mine.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and made[0] and made[0][0] is not sock:
                    sockaddr = (sockaddr[0], made[0][0].getsockname()[1], *sockaddr[2:])
                sock.bind(sockaddr)
                sock.listen(1024)
                sock.setblocking(False)
    except OSError:
        for mine in made:
            for sock in mine:
                sock.close()
        raise
    return made


def _die_with_parent(parent: int) -> None:
    """SIGTERM to this process when its parent dies (Linux), and now if it is dead already."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(
    config: ServeConfig,
    sockets: list[socket.socket],
    slots: Slots,
    shared_dir: str,
    parent: int,
) -> int:
    """One worker's life (in the forked child): serve until SIGTERM or SIGINT."""
    import asyncio

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    _die_with_parent(parent)
    exporter = Exporter(config, sockets=sockets, slots=slots, shared_dir=shared_dir)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(exporter, stop)

    asyncio.run(main())
    return 0


def _leave(shared_dir: str) -> None:
    """An orphaned worker's last act: remove its own files from the shared directory (its
    metrics, ``*_PID.db``, and its recent probes, ``recent_PID.ring``), then the directory
    if that left it empty: the last worker to go removes it."""
    own = re.compile(rf"(?:^|_){os.getpid()}\.(?:db|ring)$")
    with contextlib.suppress(OSError):
        for name in os.listdir(shared_dir):
            if own.search(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(shared_dir, name))
        os.rmdir(shared_dir)


def supervise(
    config: ServeConfig,
    workers: int,
    on_listening: Callable[[list[tuple[str, int]]], None],
) -> int:
    """Run ``workers`` worker processes until SIGINT or SIGTERM: the exit status (130,
    143; 1 when a worker died on its own). OSError when the address cannot be bound
    (nothing was started then)."""
    per_worker = listen_sockets(config.host, config.port, workers)
    addresses = [(str(s.getsockname()[0]), int(s.getsockname()[1])) for s in per_worker[0]]
    shared_dir = tempfile.mkdtemp(prefix="netdiag-serve-")
    slots = multiprocessing.get_context("fork").BoundedSemaphore(config.max_concurrent)
    parent = os.getpid()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    pids: dict[int, int] = {}  # pid -> worker number
    try:
        for number in range(workers):
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the worker
                code = 1
                try:
                    for other in per_worker[:number] + per_worker[number + 1 :]:
                        for sock in other:
                            sock.close()
                    code = _worker(config, per_worker[number], slots, shared_dir, parent)
                except BaseException as exc:  # never a traceback; the supervisor reports
                    log(f"worker {number + 1}: {type(exc).__name__}: {exc}")
                finally:
                    with contextlib.suppress(BaseException):
                        if os.getppid() != parent:  # the supervisor died without cleaning up
                            _leave(shared_dir)
                    with contextlib.suppress(Exception):
                        sys.stderr.flush()
                    os._exit(code)
            pids[pid] = number
        for mine in per_worker:
            for sock in mine:
                sock.close()  # the workers have theirs
        on_listening(addresses)
        return _wait(pids)
    finally:
        _stop(pids)
        shutil.rmtree(shared_dir, ignore_errors=True)
        for sig in signal.sigpending() & _SIGNALS:  # a second Ctrl-C: already stopping
            signal.sigwait({sig})
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _wait(pids: dict[int, int]) -> int:
    """Until a stopping signal (forwarded to every worker) or a worker's death."""
    while True:
        sig = signal.sigwait(_SIGNALS)
        if sig == signal.SIGCHLD:
            for pid in list(pids):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    number = pids.pop(pid)
                    log(
                        f"worker {number + 1} (pid {pid}) ended on its own "
                        f"({_status(status)}); stopping the others"
                    )
                    return 1
            continue
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        _reap(pids, STOP_GRACE_S)
        if sig == signal.SIGTERM:
            log("stopped (SIGTERM)")
            return 143
        log("stopped (SIGINT)")
        return 130


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _reap(pids: dict[int, int], grace_s: float) -> None:
    """Wait for ``pids`` to end, at most ``grace_s``; then SIGKILL what is left, by pid."""
    deadline = time.monotonic() + grace_s
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            with contextlib.suppress(ChildProcessError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            pids.pop(pid)
        if pids:
            time.sleep(0.02)
    for pid in list(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        pids.pop(pid)


def _stop(pids: dict[int, int]) -> None:
    """Every worker still running: SIGTERM, then SIGKILL after the grace period."""
    if not pids:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    _reap(pids, STOP_GRACE_S)
