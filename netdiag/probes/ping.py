"""The ``ping`` probe: ICMP echo to one host or hundreds, paced like fping, measured like ping.

All hosts share one ICMP socket per address family and one loop in this thread. Packets go
out round-robin, each host every ``interval`` seconds, never two packets closer together than
``gap_ms`` (a polite sweep never floods), so a run takes about ``count x interval`` however
many hosts there are, as long as hosts x gap fits into the interval. Replies are timed by the
kernel's receive timestamp; duplicates, replies that are not ours, and ICMP errors
(unreachable, time exceeded) are reported per probe rather than as silent loss.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import os
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.concurrency import run_all
from netdiag.errors import ErrorKind
from netdiag.net import icmp
from netdiag.net.resolve import resolve
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.ping import PingHostResult, PingProbe, PingReport, PingStats
from netdiag.results.resolve import Resolution
from netdiag.stats import percentile, summarize
from netdiag.targets import Target


@dataclass(frozen=True, slots=True)
class PingOptions:
    count: int = 4
    interval: float = 1.0
    timeout: float = 1.0
    size: int = 56
    ttl: int | None = None
    version: int | None = None
    max_loss: float | None = None
    max_rtt_ms: float | None = None
    gap_ms: float = 2.0
    mode: str = "auto"


ReplyCallback = Callable[[int, PingProbe], None]
SPIN_S = 0.0003
"""The last stretch before a send slot is waited out actively, for even pacing."""


@dataclass
class _Host:
    index: int
    target: Target
    address: str | None = None
    version: int | None = None
    dns_ms: float | None = None
    error: ProbeError | None = None
    next_seq: int = 1
    due_ns: int = 0
    pending: dict[int, tuple[int, int, str, int]] = field(default_factory=dict)
    """16-bit wire seq -> (send time, realtime ns; send time, monotonic ns; ISO stamp; seq)."""
    probes: dict[int, PingProbe] = field(default_factory=dict)


def stats_of(probes: Sequence[PingProbe], sent: int) -> PingStats:
    """Statistics of ``sent`` echo requests, of which ``probes`` have an outcome."""
    rtts = [
        p.rtt_ms
        for p in sorted(probes, key=lambda p: p.seq)
        if p.status == "reply" and p.rtt_ms is not None
    ]
    base = summarize(rtts, sent)
    jitter = (
        sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)
        if len(rtts) > 1
        else None
    )
    return PingStats(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        duplicates=sum(p.duplicates for p in probes),
        errors=sum(1 for p in probes if p.status == "error"),
        p99_ms=percentile(sorted(rtts), 99) if rtts else None,
        jitter_ms=jitter,
    )


class _Run:
    def __init__(
        self, hosts: list[_Host], opts: PingOptions, on_reply: ReplyCallback | None
    ) -> None:
        self.hosts = hosts
        self.opts = opts
        self.on_reply = on_reply
        self.sockets: dict[int, icmp.IcmpSocket] = {}
        self.idents: dict[int, int] = {}
        self.nonce = os.urandom(8)
        self.by_address: dict[str, list[_Host]] = {}
        self.foreign = 0
        self.sel = selectors.DefaultSelector()
        self.interval_ns = int(opts.interval * 1e9)
        self.timeout_ns = int(opts.timeout * 1e9)
        self.gap_ns = int(opts.gap_ms * 1e6)
        self.last_send = 0
        self.payload = self._payload()
        self.deadlines: list[tuple[int, int, int, int]] = []
        """(deadline, host index, seq, send time): a heap of the replies still awaited."""

    def open(self) -> ProbeError | None:
        for v in sorted({h.version for h in self.hosts if h.version}):
            s, err = icmp.open_socket(v, self.opts.mode)
            if s is None:
                return err
            if self.opts.ttl is not None:
                icmp.set_ttl(s, self.opts.ttl)
            self.sockets[v] = s
            self.idents[v] = (os.getpid() ^ int.from_bytes(self.nonce[:2], "big")) & 0xFFFF
            self.sel.register(s.sock, selectors.EVENT_READ, v)
        return None

    def close(self) -> None:
        for s in self.sockets.values():
            s.sock.close()
        self.sel.close()

    def _payload(self) -> bytes:
        """The run's nonce (to tell our replies from others'), then ping's byte pattern."""
        size = self.opts.size
        if size <= len(self.nonce):
            return self.nonce[:size]
        pattern = bytes(range(0x10, 0x10 + 48)) * (size // 48 + 1)
        return self.nonce + pattern[: size - len(self.nonce)]

    def _record(self, host: _Host, probe: PingProbe) -> None:
        host.probes[probe.seq] = probe
        if self.on_reply is not None:
            self.on_reply(host.index, probe)

    def _sent(self, host: _Host) -> int:
        mono = now_ns()
        self.last_send = mono
        host.due_ns = mono + self.interval_ns
        return mono

    def send(self, host: _Host) -> None:
        assert host.version is not None and host.address is not None
        s = self.sockets[host.version]
        seq = host.next_seq
        host.next_seq += 1
        stamp = utc_now_iso()
        packet = icmp.echo_request(
            host.version, self.idents[host.version], seq & 0xFFFF, self.payload
        )
        sendto = s.sock.sendto
        address = (host.address, 0)
        try:
            send_rt = time.time_ns()  # as close to the system call as Python gets
            sendto(packet, address)
        except OSError as exc:
            self._sent(host)
            kind = ErrorKind.UNREACHABLE if exc.errno in (101, 113, 112, 64) else ErrorKind.ERROR
            err = ProbeError(kind, f"sending to {host.address} failed: {exc.strerror}")
            self._record(host, PingProbe(seq, stamp, "error", None, None, None, None, err, 0))
            return
        mono = self._sent(host)
        if s.mode == "dgram":  # the kernel chose the identifier: the socket's local port
            self.idents[host.version] = s.sock.getsockname()[1]
        host.pending[seq & 0xFFFF] = (send_rt, mono, stamp, seq)

    def handle(self, v: int) -> None:
        s = self.sockets[v]
        for msg in icmp.receive(s):
            if msg.ident != self.idents[v] and s.mode == "raw":
                if msg.kind == "reply":
                    self.foreign += 1
                continue
            if (
                msg.kind == "reply"
                and s.mode == "raw"
                and not msg.payload.startswith(self.nonce[: min(8, self.opts.size)])
            ):
                self.foreign += 1
                continue
            address = msg.source if msg.kind == "reply" else (msg.destination or msg.source)
            for host in self.by_address.get(_norm(address), []):
                if self._match(host, msg):
                    break
            else:
                if msg.kind == "reply":
                    self.foreign += 1

    def _match(self, host: _Host, msg: icmp.Received) -> bool:
        seq = msg.seq
        if seq in host.pending:
            send_rt, _mono, stamp, real_seq = host.pending.pop(seq)
            if msg.kind == "reply":
                rx = msg.rx_ns or time.time_ns()
                probe = PingProbe(
                    real_seq,
                    stamp,
                    "reply",
                    (rx - send_rt) / 1e6,
                    msg.ttl,
                    msg.size,
                    msg.source,
                    None,
                    0,
                )
            else:
                text = msg.error_text or "ICMP error"
                kind = ErrorKind.TTL_EXCEEDED if "time to live" in text else ErrorKind.UNREACHABLE
                err = ProbeError(kind, f"from {msg.source}: {text}")
                probe = PingProbe(
                    real_seq, stamp, "error", None, msg.ttl, msg.size, msg.source, err, 0
                )
            self._record(host, probe)
            return True
        for probe in host.probes.values():
            if probe.seq & 0xFFFF == seq and probe.status == "reply" and msg.kind == "reply":
                host.probes[probe.seq] = dataclasses.replace(probe, duplicates=probe.duplicates + 1)
                return True
        return msg.kind == "reply" and any(p.seq & 0xFFFF == seq for p in host.probes.values())

    def expire(self, now: int) -> None:
        """Time out the probes whose wait is over (oldest first, from a heap), and drop the
        heap's entries for probes answered already."""
        while self.deadlines:
            deadline, index, seq, mono = self.deadlines[0]
            host = self.hosts[index]
            entry = host.pending.get(seq)
            if entry is not None and entry[1] == mono and deadline > now:
                return  # the oldest probe still awaited is not due yet
            heapq.heappop(self.deadlines)
            if entry is None or entry[1] != mono:
                continue  # answered already
            del host.pending[seq]
            real = entry[3]
            err = ProbeError(ErrorKind.TIMEOUT, f"no reply within {self.opts.timeout:g} s")
            self._record(host, PingProbe(real, entry[2], "timeout", None, None, None, None, err, 0))

    def loop(self) -> None:
        active = [h for h in self.hosts if h.error is None]
        for h in active:
            self.by_address.setdefault(_norm(h.address or ""), []).append(h)
        # Hosts by the time their next packet is due; ties keep the round-robin order.
        due = [(0, h.index) for h in active]
        heapq.heapify(due)
        while True:
            now = now_ns()
            while due and now >= due[0][0] and now - self.last_send >= self.gap_ns:
                _, index = heapq.heappop(due)
                host = self.hosts[index]
                self.send(host)
                if host.pending:
                    seq = (host.next_seq - 1) & 0xFFFF
                    mono = host.pending[seq][1] if seq in host.pending else now
                    heapq.heappush(self.deadlines, (mono + self.timeout_ns, index, seq, mono))
                if host.next_seq <= self.opts.count:
                    heapq.heappush(due, (host.due_ns, index))
                now = now_ns()
            self.expire(now)
            if not due and not self.deadlines:
                return
            next_send = max(due[0][0], self.last_send + self.gap_ns) if due else None
            wake = [t for t in (next_send, self.deadlines[0][0] if self.deadlines else None) if t]
            timeout = max(0.0, (min(wake) - now) / 1e9) if wake else None
            if (
                next_send is not None
                and timeout is not None
                and timeout < 0.002
                and min(wake) == next_send
            ):
                # epoll waits in whole milliseconds and a sleep can overshoot by a tenth of
                # one: sleep to just short of the slot, then wait out the rest. Replies
                # arriving meanwhile keep their kernel receive timestamps.
                target = now + int(timeout * 1e9)
                if timeout > SPIN_S:
                    time.sleep(timeout - SPIN_S)
                while now_ns() < target:
                    pass
                continue  # send first; the replies waiting are read right after
            for key, _ev in self.sel.select(timeout):
                self.handle(key.data)


def _norm(address: str) -> str:
    return address.split("%")[0].lower()


def _version_of(res: Resolution) -> tuple[str | None, int | None]:
    if not res.endpoints:
        return None, None
    ep = res.endpoints[0]
    return ep.address, (6 if ep.family == socket.AF_INET6 else 4)


def probe_ping(
    targets: Sequence[Target], opts: PingOptions, *, on_reply: ReplyCallback | None = None
) -> PingReport:
    """Ping every target; never raises for network failures; partial results on Ctrl-C."""
    started_at = utc_now_iso()
    start = now_ns()
    hosts = [_Host(i, t) for i, t in enumerate(targets)]
    interrupted = False
    run: _Run | None = None
    setup_error: ProbeError | None = None
    try:
        calls = [
            (
                lambda t=t: resolve(
                    t.host, 0, version=opts.version, timeout=max(opts.timeout, 2.0), numeric=t.is_ip
                )
            )
            for t in targets
        ]
        for host, res in zip(hosts, run_all(calls, workers=16), strict=True):
            if not host.target.is_ip:
                host.dns_ms = res.dns_ms
            host.error = res.error
            host.address, host.version = _version_of(res)
        run = _Run(hosts, opts, on_reply)
        setup_error = run.open()
        if setup_error is None:
            run.loop()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if run is not None:
            run.close()
    results = []
    for h in hosts:
        probes = tuple(sorted(h.probes.values(), key=lambda p: p.seq))
        # A request still awaiting its reply at Ctrl-C was sent (and counts as lost), as ping
        # counts it.
        sent = len(probes) if not interrupted else len(probes) + len(h.pending)
        stats = stats_of(probes, sent)
        error = h.error or setup_error
        if error is None and stats.sent == 0:  # only when Ctrl-C came first
            error = ProbeError(ErrorKind.INTERRUPTED, "interrupted before a request was sent")
        if error is None:
            error = _health(stats, probes, opts)
        sock = run.sockets.get(h.version or 0) if run else None
        results.append(
            PingHostResult(
                target=h.target.text,
                address=h.address,
                ok=error is None,
                error=error,
                dns_ms=h.dns_ms,
                socket=sock.mode if sock else None,
                probes=probes,
                stats=stats,
            )
        )
    error = summarize_errors([(r.target, r.error) for r in results], noun="hosts")
    return PingReport(
        command="ping",
        ok=error is None and not interrupted,
        error=error,
        interrupted=interrupted,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        count=opts.count,
        interval_s=opts.interval,
        timeout_s=opts.timeout,
        size=opts.size,
        gap_ms=opts.gap_ms,
        foreign_replies=run.foreign if run else 0,
        results=tuple(results),
    )


def _health(stats: PingStats, probes: Sequence[PingProbe], opts: PingOptions) -> ProbeError | None:
    if stats.sent and stats.received == 0:
        errs = [p.error for p in probes if p.status == "error" and p.error is not None]
        if errs:
            return ProbeError(errs[0].kind, f"no reply; {errs[0].message}")
        return ProbeError(ErrorKind.TIMEOUT, f"no reply to {stats.sent} echo requests (100% loss)")
    if opts.max_loss is not None and stats.loss_pct is not None and stats.loss_pct > opts.max_loss:
        return ProbeError(
            ErrorKind.THRESHOLD,
            f"{stats.loss_pct:.1f}% packet loss exceeds --max-loss {opts.max_loss:g}",
        )
    if opts.max_rtt_ms is not None and stats.avg_ms is not None and stats.avg_ms > opts.max_rtt_ms:
        return ProbeError(
            ErrorKind.THRESHOLD,
            f"average RTT {stats.avg_ms:.3f} ms exceeds --max-rtt-ms {opts.max_rtt_ms:g}",
        )
    return None
