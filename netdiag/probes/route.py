"""The ``route`` probe: the path to a host hop by hop, as mtr measures it.

Each round sends one probe per TTL, all at once (TTL 1 up to --max-hops, or up to the
destination once it is known), so a round takes about one round trip to the farthest hop,
however long the path. The router where a probe's TTL runs out answers "time exceeded" with
its address; the destination answers (echo reply, port unreachable, SYN-ACK or RST); a
router with no route answers "destination unreachable" with a code. Rounds start every
--interval seconds (routers rate-limit their ICMP errors: Linux answers 6 at once, then one a
second per source, so rounds closer than that show loss that is not there).

Per hop: who answered (several addresses where load balancing spreads the probes), each
probe's RTT (kernel receive timestamps), and mtr's statistics. The verdict: the destination
answered (and --max-loss / --max-rtt-ms hold for it), or where and why the path ends: an
unreachable with its ICMP code, a routing loop (the same routers answering again at higher
TTLs), the hop after which nothing answers, or --max-hops.

``--pmtu`` then searches the path MTU as tracepath does: UDP with DF at the route's MTU
towards the last hop, shrinking to the next-hop MTU each "fragmentation needed" / "packet
too big" names, and says which hop sent it.
"""

from __future__ import annotations

import errno
import heapq
import math
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net import traceroute as wire
from netdiag.net.resolve import resolve
from netdiag.results import ProbeError
from netdiag.results.route import (
    HopAddress,
    HopStats,
    MtuStep,
    PathMtu,
    RouteHop,
    RouteProbe,
    RouteReport,
)
from netdiag.stats import loss_pct
from netdiag.targets import Target

ANSWERED = ("hop", "destination", "unreachable")
NAME_TIMEOUT_S = 2.0
"""The longest all reverse lookups together may take."""
PMTU_TRIES = 3
MAX_PACKET = 65535
"""The largest IP packet (IPv4's total length; an IPv6 payload without jumbograms)."""
PMTU_STEPS = 16
PLATEAUS = (65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68)
"""RFC 1191's MTU plateaus, for a "fragmentation needed" that names no next-hop MTU."""
_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENONET}


@dataclass(frozen=True, slots=True)
class RouteOptions:
    method: str = "icmp"
    port: int | None = None
    """tcp: the destination port (80); udp: the first destination port (33434)."""
    count: int = 3
    interval: float = 1.0
    timeout: float = 2.0
    max_hops: int = 30
    names: bool = True
    version: int | None = None
    pmtu: bool = False
    max_loss: float | None = None
    max_rtt_ms: float | None = None


HopCallback = Callable[[RouteProbe], None]
"""Called with each hop's first-round probe, in TTL order, as soon as it and every hop
before it have their outcome (the live lines)."""


@dataclass
class _Sent:
    round: int
    ttl: int
    sent_rt: int
    """Realtime ns just before the send (kernel receive stamps are realtime)."""


@dataclass
class _Trace:
    prober: wire.Prober
    opts: RouteOptions
    on_hop: HopCallback | None
    outcomes: dict[tuple[int, int], RouteProbe] = field(default_factory=dict)
    """(round, ttl) -> what became of that probe."""
    pending: dict[int, _Sent] = field(default_factory=dict)
    deadlines: list[tuple[int, int]] = field(default_factory=list)
    end_hop: int | None = None
    """The lowest TTL answered by the destination or an unreachable that ends the path."""
    next_key: int = 0
    round_start: list[int] = field(default_factory=list)
    round_last: list[int] = field(default_factory=list)
    emitted: int = 0

    @property
    def limit(self) -> int:
        return self.end_hop or self.opts.max_hops

    def send_round(self, r: int) -> None:
        start = now_ns()
        self.round_start.append(start)
        self.round_last.append(start)
        timeout_ns = int(self.opts.timeout * 1e9)
        for ttl in range(1, self.limit + 1):
            key = self.next_key
            self.next_key += 1
            try:
                sent = self.prober.send(key, ttl)
            except OSError as exc:
                reply = (exc.strerror or str(exc)).lower()
                code = exc.errno
                self._record(r, ttl, "error", None, None, reply, None, code)
                continue
            self.pending[key] = _Sent(r, ttl, sent)
            heapq.heappush(self.deadlines, (now_ns() + timeout_ns, key))

    def _record(
        self,
        r: int,
        ttl: int,
        status: str,
        address: str | None,
        rtt_ms: float | None,
        reply: str | None,
        icmp_type: int | None,
        icmp_code: int | None,
    ) -> None:
        probe = RouteProbe(r + 1, ttl, status, address, rtt_ms, reply, icmp_type, icmp_code)
        self.outcomes[(r + 1, ttl)] = probe
        if ttl <= self.limit:
            self.round_last[r] = now_ns()

    def handle(self, a: wire.Answer) -> None:
        p = self.pending.pop(a.key, None)
        if p is None:
            return  # late, a duplicate, or beyond the destination
        self.prober.forget(a.key)
        if a.rtt_ns is not None:
            rtt: float | None = a.rtt_ns / 1e6
        else:
            rtt = ((a.rx_ns or time.time_ns()) - p.sent_rt) / 1e6
        status = "unreachable" if a.status == "too_big" else a.status
        if status in ("destination", "unreachable") and (
            self.end_hop is None or p.ttl < self.end_hop
        ):
            self.end_hop = p.ttl
            self._drop_beyond()
        self._record(p.round, p.ttl, status, a.address, rtt, a.reply, a.icmp_type, a.icmp_code)

    def _drop_beyond(self) -> None:
        for key, p in list(self.pending.items()):
            if p.ttl > self.limit:
                del self.pending[key]
                self.prober.forget(key)

    def expire(self, now: int) -> None:
        while self.deadlines:
            deadline, key = self.deadlines[0]
            if key in self.pending and deadline > now:
                return
            heapq.heappop(self.deadlines)
            p = self.pending.pop(key, None)
            if p is None:
                continue
            self.prober.forget(key)
            self._record(p.round, p.ttl, "timeout", None, None, None, None, None)

    def emit(self) -> None:
        """The live lines: each first-round hop once it and the hops before it are done."""
        while self.on_hop is not None and self.emitted < self.limit:
            probe = self.outcomes.get((1, self.emitted + 1))
            if probe is None:
                return
            self.emitted += 1
            self.on_hop(probe)

    def run(self) -> None:
        interval_ns = int(self.opts.interval * 1e9)
        due = now_ns()
        rounds = 0
        while True:
            now = now_ns()
            if rounds < self.opts.count and now >= due:
                self.send_round(rounds)
                rounds += 1
                due = self.round_start[-1] + interval_ns
                now = now_ns()
            self.expire(now)
            self.emit()
            if rounds >= self.opts.count and not self.pending:
                return
            wake = [self.deadlines[0][0]] if self.deadlines else []
            if rounds < self.opts.count:
                wake.append(due)
            timeout = max(0.0, (min(wake) - now) / 1e9) if wake else None
            for answer in self.prober.poll(timeout):
                self.handle(answer)
            self.emit()


def hop_stats(probes: Sequence[RouteProbe]) -> HopStats:
    """mtr's statistics of one hop's probes (in round order)."""
    rtts = [p.rtt_ms for p in probes if p.status in ANSWERED and p.rtt_ms is not None]
    received = sum(p.status in ANSWERED for p in probes)
    sent = len(probes)
    if not rtts:
        return HopStats(sent, received, loss_pct(sent, received), None, None, None, None, None)
    avg = sum(rtts) / len(rtts)
    var = sum((x - avg) ** 2 for x in rtts) / (len(rtts) - 1) if len(rtts) > 1 else 0.0
    return HopStats(
        sent=sent,
        received=received,
        loss_pct=loss_pct(sent, received),
        last_ms=rtts[-1],
        avg_ms=avg,
        best_ms=min(rtts),
        worst_ms=max(rtts),
        stdev_ms=math.sqrt(var),
    )


def _hops(trace: _Trace, names: dict[str, str | None]) -> tuple[RouteHop, ...]:
    hops = []
    for ttl in range(1, trace.limit + 1):
        probes = sorted(
            (p for (_r, t), p in trace.outcomes.items() if t == ttl), key=lambda p: p.round
        )
        counts = Counter(p.address for p in probes if p.address and p.status in ANSWERED)
        addresses = tuple(HopAddress(a, names.get(a), n) for a, n in counts.most_common())
        end = ttl == trace.end_hop
        destination = end and any(p.status == "destination" for p in probes)
        unreachable = None
        if end and not destination:
            unreachable = next((p.reply for p in probes if p.status == "unreachable"), None)
        hops.append(
            RouteHop(ttl, addresses, destination, unreachable, hop_stats(probes), tuple(probes))
        )
    return tuple(hops)


def _where(hop: RouteHop) -> str:
    return f"hop {hop.ttl} ({hop.addresses[0].address})" if hop.addresses else f"hop {hop.ttl}"


def find_loop(hops: Sequence[RouteHop]) -> tuple[int, int, str] | None:
    """A routing loop: an address that answers again two or more TTLs later (first TTL,
    the TTL it answers again at, the address); None when there is none."""
    seen: dict[str, int] = {}
    for hop in hops:
        for a in hop.addresses:
            first = seen.setdefault(a.address, hop.ttl)
            if hop.ttl - first >= 2:
                return first, hop.ttl, a.address
    return None


def _verdict(hops: Sequence[RouteHop], target: str, opts: RouteOptions) -> ProbeError | None:
    """Healthy, or where and why the path ends."""
    answered = [h for h in hops if h.addresses]
    errors = [p for h in hops for p in h.probes if p.status == "error"]
    if not answered and errors:
        code = errors[0].icmp_code
        kind = ErrorKind.UNREACHABLE if code in _UNREACHABLE_ERRNOS else ErrorKind.ERROR
        return ProbeError(kind, f"cannot send to {target}: {errors[0].reply}")
    last = hops[-1] if hops else None
    if last is not None and last.destination:
        return _thresholds(last, opts)
    if last is not None and last.unreachable is not None:
        probe = next(p for p in last.probes if p.status == "unreachable")
        return ProbeError(
            ErrorKind.UNREACHABLE,
            f"{_where(last)} answered destination unreachable: {last.unreachable} "
            f"(ICMP type {probe.icmp_type} code {probe.icmp_code})",
        )
    loop = find_loop(hops)
    if loop is not None:
        first, again, address = loop
        cycle = sorted({a.address for h in hops[first - 1 : again - 1] for a in h.addresses})
        return ProbeError(
            ErrorKind.LOOP,
            f"routing loop: {address} (hop {first}) answers again at hop {again}; the probes "
            f"cycle between {', '.join(cycle)} until their TTL runs out",
        )
    if not answered:
        return ProbeError(
            ErrorKind.PATH_STOPS,
            f"no hop answered (TTL 1-{opts.max_hops}) and neither did {target}",
        )
    stop = answered[-1]
    if stop.ttl == opts.max_hops:
        return ProbeError(
            ErrorKind.LIMIT,
            f"{target} not reached within --max-hops {opts.max_hops} "
            f"({_where(stop)} still answered time exceeded)",
        )
    return ProbeError(
        ErrorKind.PATH_STOPS,
        f"the path stops answering after {_where(stop)}: no answer from hops "
        f"{stop.ttl + 1}-{opts.max_hops} nor from {target}",
    )


def _thresholds(last: RouteHop, opts: RouteOptions) -> ProbeError | None:
    s = last.stats
    if opts.max_loss is not None and s.loss_pct is not None and s.loss_pct > opts.max_loss:
        return ProbeError(
            ErrorKind.THRESHOLD,
            f"{s.loss_pct:g}% loss at the destination ({_where(last)}) exceeds --max-loss "
            f"{opts.max_loss:g}",
        )
    if opts.max_rtt_ms is not None and s.avg_ms is not None and s.avg_ms > opts.max_rtt_ms:
        return ProbeError(
            ErrorKind.THRESHOLD,
            f"average RTT {s.avg_ms:.3f} ms to the destination ({_where(last)}) exceeds "
            f"--max-rtt-ms {opts.max_rtt_ms:g}",
        )
    return None


# -- the path MTU -------------------------------------------------------------------------------


def _await(prober: wire.Prober, key: int, timeout: float) -> wire.Answer | None:
    deadline = now_ns() + int(timeout * 1e9)
    while True:
        left = (deadline - now_ns()) / 1e9
        if left <= 0:
            return None
        for answer in prober.poll(left):
            if answer.key == key:
                return answer


def _next_mtu(size: int, info: int) -> int:
    if 0 < info < size:
        return info
    return next((p for p in PLATEAUS if p < size), 68)


@dataclass
class _MtuSearch:
    prober: wire.Prober
    version: int
    address: str
    ttl: int
    timeout: float
    sent: int = 0
    steps: list[MtuStep] = field(default_factory=list)

    def exchange(self, size: int) -> wire.Answer | None:
        """One packet of ``size`` bytes (tried again when lost); what came back."""
        for _ in range(PMTU_TRIES):
            self.sent += 1
            try:
                self.prober.send(self.sent, self.ttl, size)
            except OSError as exc:
                if exc.errno != errno.EMSGSIZE:
                    raise
                mtu = wire.route_mtu(self.address, self.version) or 0
                return wire.Answer(self.sent, "too_big", None, "message too long", info=mtu)
            answer = _await(self.prober, self.sent, self.timeout)
            if answer is not None:
                return answer
        return None

    def run(
        self, size: int, hops: Sequence[RouteHop]
    ) -> tuple[int | None, bool, ProbeError | None]:
        minimum = 68 if self.version == 4 else 1280
        for _ in range(PMTU_STEPS):
            answer = self.exchange(size)
            if answer is None:
                return None, False, _black_hole(size, self.ttl, self.steps)
            if answer.status == "too_big":
                new = _next_mtu(size, answer.info)
                self.steps.append(MtuStep(_hop_of(answer.address, hops), answer.address, size, new))
                if new < minimum:
                    return (
                        None,
                        False,
                        ProbeError(
                            ErrorKind.ERROR,
                            f"the path MTU would be {new}, below IPv{self.version}'s"
                            f" minimum of {minimum}",
                        ),
                    )
                size = new
                continue
            if answer.status in ("hop", "destination"):
                return size, answer.status == "destination", None
            return (
                None,
                False,
                ProbeError(
                    ErrorKind.UNREACHABLE,
                    f"{answer.address or 'this host'} answered {answer.reply} to a {size}-byte "
                    "UDP packet",
                ),
            )
        return (
            None,
            False,
            ProbeError(ErrorKind.LIMIT, f"the path MTU kept shrinking ({PMTU_STEPS} steps)"),
        )


def _black_hole(size: int, ttl: int, steps: Sequence[MtuStep]) -> ProbeError:
    return ProbeError(
        ErrorKind.TIMEOUT,
        f"no answer to {size}-byte UDP packets (DF) at hop {ttl}, {PMTU_TRIES} tries"
        + (
            ""
            if steps
            else ": UDP may be filtered, or a link drops big packets without an ICMP "
            "'fragmentation needed' (a PMTU black hole)"
        ),
    )


def _hop_of(address: str | None, hops: Sequence[RouteHop]) -> int | None:
    """The hop ``address`` answered at in the trace (0 for this host itself)."""
    if address is None:
        return 0
    return next((h.ttl for h in hops if any(a.address == address for a in h.addresses)), None)


def path_mtu(
    address: str, version: int, hops: Sequence[RouteHop], timeout: float
) -> PathMtu | None:
    """Search the path MTU towards the last hop that answered the trace."""
    answered = [h for h in hops if h.addresses]
    route = wire.route_mtu(address, version)
    if route is None:
        return None
    if not answered:
        err = ProbeError(ErrorKind.PATH_STOPS, "no hop answered: nothing to measure the MTU to")
        return PathMtu("udp", route, None, False, None, (), route, 0, err)
    ttl = answered[-1].ttl
    try:
        prober = wire.UdpProber(version, address, wire.UDP_BASE_PORT, pmtu=True)
    except OSError as exc:
        err = ProbeError(ErrorKind.ERROR, f"cannot open a UDP socket: {exc.strerror}")
        return PathMtu("udp", route, None, False, None, (), route, 0, err)
    first = min(prober.device_mtu() or route, MAX_PACKET)
    search = _MtuSearch(prober, version, address, ttl, timeout)
    try:
        mtu, reached, error = search.run(first, hops)
    except OSError as exc:
        mtu, reached = None, False
        error = ProbeError(ErrorKind.ERROR, f"sending failed: {exc.strerror}")
    finally:
        prober.close()
    return PathMtu(
        method="udp",
        first_mtu=first,
        mtu=mtu,
        reached=reached,
        last_hop=ttl if mtu is not None else None,
        steps=tuple(search.steps),
        kernel_mtu=wire.route_mtu(address, version),
        probes=search.sent,
        error=error,
    )


# -- the probe ----------------------------------------------------------------------------------


@dataclass
class _Setup:
    address: str | None = None
    version: int | None = None
    dns_ms: float | None = None
    error: ProbeError | None = None
    prober: wire.Prober | None = None


def _setup(target: Target, opts: RouteOptions) -> _Setup:
    res = resolve(
        target.host, 0, version=opts.version, timeout=max(opts.timeout, 2.0), numeric=target.is_ip
    )
    out = _Setup(dns_ms=None if target.is_ip else res.dns_ms, error=res.error)
    if res.error is not None or not res.endpoints:
        return out
    ep = res.endpoints[0]
    out.address = ep.address
    out.version = 6 if ep.family == socket.AF_INET6 else 4
    out.prober, out.error = wire.open_prober(opts.method, out.version, out.address, opts.port)
    return out


def probe_route(
    target: Target, opts: RouteOptions, *, on_hop: HopCallback | None = None
) -> RouteReport:
    """Trace the path to ``target``; never raises for network failures; partial results on
    Ctrl-C."""
    started_at = utc_now_iso()
    start = now_ns()
    interrupted = False
    setup = _Setup()
    trace: _Trace | None = None
    hops: tuple[RouteHop, ...] = ()
    pmtu = None
    try:
        setup = _setup(target, opts)
        if setup.prober is not None:
            trace = _Trace(setup.prober, opts, on_hop)
            try:
                trace.run()
            finally:
                setup.prober.close()
            names: dict[str, str | None] = {}
            if opts.names:
                found = {a for p in trace.outcomes.values() if (a := p.address)}
                names = wire.reverse_names(sorted(found), NAME_TIMEOUT_S)
            hops = _hops(trace, names)
            if opts.pmtu and setup.address and setup.version:
                pmtu = path_mtu(setup.address, setup.version, hops, opts.timeout)
    except KeyboardInterrupt:
        interrupted = True
        if trace is not None and not hops:
            hops = _hops(trace, {})
    error = setup.error
    if error is None and trace is not None and not interrupted:
        error = _verdict(hops, setup.address or target.text, opts)
    reached = bool(hops) and hops[-1].destination
    round_ms = (
        tuple(elapsed_ms(s, e) for s, e in zip(trace.round_start, trace.round_last, strict=True))
        if trace is not None
        else ()
    )
    return RouteReport(
        command="route",
        ok=error is None and not interrupted,
        error=error,
        interrupted=interrupted,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        target=target.text,
        address=setup.address,
        version=setup.version,
        method=opts.method,
        port=_port(opts),
        socket=setup.prober.kind if setup.prober is not None else None,
        dns_ms=setup.dns_ms,
        count=opts.count,
        interval_s=opts.interval,
        timeout_s=opts.timeout,
        max_hops=opts.max_hops,
        reached=reached,
        destination_hop=trace.end_hop if trace is not None else None,
        hops=hops,
        round_ms=round_ms,
        pmtu=pmtu,
    )


def _port(opts: RouteOptions) -> int | None:
    if opts.method == "tcp":
        return opts.port or 80
    if opts.method == "udp":
        return opts.port or wire.UDP_BASE_PORT
    return None
