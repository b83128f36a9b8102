"""The ``tcp`` probe: time the three-way handshake, many targets at once.

Every target is resolved (timed as ``dns_ms``), then connected ``count`` times, one attempt
every ``interval`` seconds, to its first address or to all of them. All connects of all
targets wait on one selector in this thread, so the run takes about as long as the slowest
target, and Ctrl-C is handled here: the probe returns what it measured, marked interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import queue
import resource
import selectors
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net.resolve import resolve
from netdiag.net.tcpconnect import PendingConnect, close, connect_error, read_tcp_info
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.resolve import Endpoint, Resolution
from netdiag.results.tcp import AddressStats, TcpProbe, TcpReport, TcpTargetResult
from netdiag.stats import summarize
from netdiag.targets import Target


@dataclass(frozen=True, slots=True)
class TcpOptions:
    count: int = 4
    interval: float = 1.0
    timeout: float = 2.0
    version: int | None = None
    all_addresses: bool = False
    rst: bool = False
    max_connect_ms: float | None = None
    max_inflight: int | None = None
    """Connects in flight at once; None: as many as the open-file limit allows
    (:func:`inflight_limit`)."""


def inflight_limit() -> int:
    """How many connects may be in flight at once under this process's open-file limit
    (RLIMIT_NOFILE): half of what is left after 32 descriptors kept for everything else,
    from 1 to 1024 (256 when there is no limit)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, min(1024, (soft - 32) // 2 if soft > 0 else 256))


ProbeCallback = Callable[[int, TcpProbe], None]
ResolvedCallback = Callable[[int, Resolution], None]


FEW_TARGETS = 32
"""Up to this many targets, a run waits with poll(2) rather than epoll."""


@dataclass(slots=True)
class _Job:
    target: int
    endpoint: Endpoint
    next_seq: int = 1


@dataclass(slots=True)
class _InFlight:
    job: _Job
    pending: PendingConnect
    deadline_ns: int
    stamp: str


class _Run:
    """The state of one probe run (one thread: resolution results arrive via a queue)."""

    def __init__(
        self,
        targets: Sequence[Target],
        opts: TcpOptions,
        on_probe: ProbeCallback | None,
        on_resolved: ResolvedCallback | None,
    ) -> None:
        self.targets = targets
        self.opts = opts
        self.on_probe = on_probe
        self.on_resolved = on_resolved
        self.resolutions: list[Resolution | None] = [None] * len(targets)
        self.probes: list[list[TcpProbe]] = [[] for _ in targets]
        self.due: list[tuple[int, int, _Job]] = []  # (due_ns, tiebreak, job)
        self.tiebreak = 0
        self.inflight: dict[int, _InFlight] = {}  # by socket fd
        # A few sockets at a time (a check, a serve probe, a short command line): poll(2),
        # which needs no system call to create, fill or close; many: epoll.
        few = len(targets) <= FEW_TARGETS and hasattr(selectors, "PollSelector")
        self.sel = selectors.PollSelector() if few else selectors.DefaultSelector()
        self.interval_ns = int(opts.interval * 1e9)
        self.timeout_ns = int(opts.timeout * 1e9)
        self.max_inflight = inflight_limit() if opts.max_inflight is None else opts.max_inflight

    # -- scheduling ---------------------------------------------------------------------
    def _schedule(self, job: _Job, at_ns: int) -> None:
        self.tiebreak += 1
        heapq.heappush(self.due, (at_ns, self.tiebreak, job))

    def add_resolution(self, index: int, res: Resolution) -> None:
        self.resolutions[index] = res
        if self.on_resolved is not None:
            self.on_resolved(index, res)
        if res.error is not None or self.opts.count == 0:
            return
        endpoints = res.endpoints if self.opts.all_addresses else res.endpoints[:1]
        now = now_ns()
        for ep in endpoints:
            self._schedule(_Job(index, ep), now)

    def _record(self, job: _Job, probe: TcpProbe, started_ns: int, finished_ns: int) -> None:
        self.probes[job.target].append(probe)
        job.next_seq += 1
        if job.next_seq <= self.opts.count:
            self._schedule(job, max(started_ns + self.interval_ns, finished_ns))

    def _start(self, job: _Job) -> list[tuple[_Job, TcpProbe]]:
        stamp = utc_now_iso()
        try:
            pending = PendingConnect(job.endpoint)
        except OSError as exc:
            err = connect_error(exc.errno or 0, job.endpoint, self.opts.timeout)
            probe = self._failed(job, stamp, None, err)
            t = now_ns()
            self._record(job, probe, t, t)
            return [(job, probe)]
        fl = _InFlight(job, pending, pending.start_ns + self.timeout_ns, stamp)
        if pending.done:
            return [self._complete(fl, now_ns())]
        self.inflight[pending.sock.fileno()] = fl
        self.sel.register(pending.sock, selectors.EVENT_WRITE)
        return []

    def _failed(
        self, job: _Job, stamp: str, ms: float | None, err: ProbeError, local: int | None = None
    ) -> TcpProbe:
        ep = job.endpoint
        return TcpProbe(job.next_seq, ep.address, ep.port, False, ms, err, local, None, stamp)

    def _complete(self, fl: _InFlight, end_ns: int) -> tuple[_Job, TcpProbe]:
        job, pending = fl.job, fl.pending
        ms, err = pending.finish(end_ns)
        sock = pending.sock
        if err:
            sock.close()
            probe = self._failed(
                job, fl.stamp, None, connect_error(err, job.endpoint, self.opts.timeout)
            )
        else:
            info = read_tcp_info(sock)
            try:
                local = sock.getsockname()[1]
            except OSError:
                local = None
            close(sock, rst=self.opts.rst)
            ep = job.endpoint
            probe = TcpProbe(
                job.next_seq, ep.address, ep.port, True, ms, None, local, info, fl.stamp
            )
        self._record(job, probe, pending.start_ns, end_ns)
        return job, probe

    def _expire(self, fl: _InFlight) -> tuple[_Job, TcpProbe]:
        self.sel.unregister(fl.pending.sock)
        fl.pending.sock.close()
        err = connect_error(errno.ETIMEDOUT, fl.job.endpoint, self.opts.timeout)
        probe = self._failed(fl.job, fl.stamp, None, err)
        self._record(fl.job, probe, fl.pending.start_ns, now_ns())
        return fl.job, probe

    # -- the loop -------------------------------------------------------------------------
    def loop(
        self,
        pending_resolutions: int,
        results: queue.SimpleQueue[tuple[int, Resolution]],
        wake: socket.socket | None,
    ) -> None:
        while True:
            done: list[tuple[_Job, TcpProbe]] = []
            now = now_ns()
            while self.due and self.due[0][0] <= now and len(self.inflight) < self.max_inflight:
                _, _, job = heapq.heappop(self.due)
                done.extend(self._start(job))
                now = now_ns()
            if not self.inflight and not self.due and pending_resolutions == 0:
                self._notify(done)
                return
            wait_until: list[int] = [fl.deadline_ns for fl in self.inflight.values()]
            if self.due and len(self.inflight) < self.max_inflight:
                wait_until.append(self.due[0][0])
            timeout = None if not wait_until else max(0, min(wait_until) - now) / 1e9
            self._notify(done)
            done = []
            events = self.sel.select(timeout)
            t = now_ns()
            for key, _mask in events:
                if wake is not None and key.fileobj is wake:
                    wake.recv(4096)
                    while not results.empty():
                        index, res = results.get()
                        pending_resolutions -= 1
                        self.add_resolution(index, res)
                    continue
                fl = self.inflight.pop(key.fd)
                self.sel.unregister(fl.pending.sock)
                done.append(self._complete(fl, t))
            for fd in [fd for fd, fl in self.inflight.items() if fl.deadline_ns <= t]:
                done.append(self._expire(self.inflight.pop(fd)))
            self._notify(done)

    def _notify(self, done: list[tuple[_Job, TcpProbe]]) -> None:
        if self.on_probe is not None:
            for job, probe in done:
                self.on_probe(job.target, probe)

    def abort(self) -> None:
        for fl in self.inflight.values():
            fl.pending.sock.close()
        self.inflight.clear()
        self.sel.close()


def _target_result(
    t: Target, res: Resolution | None, probes: list[TcpProbe], opts: TcpOptions
) -> TcpTargetResult:
    port = t.port or 0
    if res is None:  # interrupted before the name resolved
        err = ProbeError(ErrorKind.INTERRUPTED, f"interrupted while resolving {t.host}")
        return TcpTargetResult(t.text, t.host, port, False, err, None, (), (), summarize([], 0), ())
    samples = [p.connect_ms for p in probes if p.ok and p.connect_ms is not None]
    stats = summarize(samples, len(probes))
    probed = res.endpoints if opts.all_addresses else res.endpoints[:1]
    per_address = tuple(
        AddressStats(
            ep.address,
            summarize(
                [
                    p.connect_ms
                    for p in probes
                    if p.address == ep.address and p.connect_ms is not None
                ],
                sum(1 for p in probes if p.address == ep.address),
            ),
        )
        for ep in probed
    )
    error = res.error
    if error is None:
        failures = [p for p in probes if p.error is not None]
        if failures:
            first = failures[0].error
            assert first is not None
            msg = (
                first.message
                if len(probes) == 1
                else (f"{len(failures)} of {len(probes)} connects failed: {first.message}")
            )
            error = ProbeError(first.kind, msg, first.hint)
        elif not probes and opts.count > 0:
            error = ProbeError(ErrorKind.INTERRUPTED, "interrupted before any connect completed")
        elif (
            opts.max_connect_ms is not None
            and stats.p50_ms is not None
            and stats.p50_ms > opts.max_connect_ms
        ):
            error = ProbeError(
                ErrorKind.THRESHOLD,
                f"median connect time {stats.p50_ms:.3f} ms exceeds --max-connect-ms "
                f"{opts.max_connect_ms:g}",
            )
    return TcpTargetResult(
        t.text,
        t.host,
        port,
        error is None,
        error,
        None if t.is_ip else res.dns_ms,
        tuple(ep.address for ep in res.endpoints),
        tuple(sorted(probes, key=lambda p: (p.address, p.seq))),
        stats,
        per_address,
    )


def probe_tcp(
    targets: Sequence[Target],
    opts: TcpOptions,
    *,
    on_probe: ProbeCallback | None = None,
    on_resolved: ResolvedCallback | None = None,
) -> TcpReport:
    """Probe every target (each must have a port). Never raises for network failures, and
    returns partial results marked ``interrupted`` on KeyboardInterrupt."""
    started_at = utc_now_iso()
    start = now_ns()
    run = _Run(targets, opts, on_probe, on_resolved)
    results: queue.SimpleQueue[tuple[int, Resolution]] = queue.SimpleQueue()
    # Names are resolved on threads that wake the loop through a socket pair; targets that
    # are all addresses (netdiag serve's usual case) need neither.
    wake_r: socket.socket | None = None
    wake_w: socket.socket | None = None
    pool: ThreadPoolExecutor | None = None
    cancel = threading.Event()
    interrupted = False
    try:
        named: list[int] = []
        for i, t in enumerate(targets):
            assert t.port is not None, "targets must carry a port"
            if t.is_ip:
                run.add_resolution(i, resolve(t.host, t.port, version=opts.version, numeric=True))
            else:
                named.append(i)
        if named:
            wake_r, wake_w = socket.socketpair()
            wake_r.setblocking(False)
            run.sel.register(wake_r, selectors.EVENT_READ)
            wake = wake_w
            pool = ThreadPoolExecutor(max_workers=min(32, len(named)), thread_name_prefix="resolve")

            def lookup(i: int) -> None:
                t = targets[i]
                assert t.port is not None
                res = resolve(
                    t.host, t.port, version=opts.version, timeout=opts.timeout, cancel=cancel
                )
                results.put((i, res))
                with contextlib.suppress(OSError):  # closed: the run was interrupted
                    wake.send(b"x")

            for i in named:
                pool.submit(lookup, i)
        run.loop(len(named), results, wake_r)
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        run.abort()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if wake_r is not None and wake_w is not None:
            wake_r.close()
            wake_w.close()
        if not interrupted:
            run.sel.close()
    per_target = tuple(
        _target_result(t, run.resolutions[i], run.probes[i], opts) for i, t in enumerate(targets)
    )
    error = summarize_errors([(r.target, r.error) for r in per_target])
    return TcpReport(
        command="tcp",
        ok=error is None and not interrupted,
        error=error,
        interrupted=interrupted,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        count=opts.count,
        interval_s=opts.interval,
        timeout_s=opts.timeout,
        close="rst" if opts.rst else "fin",
        results=per_target,
    )
