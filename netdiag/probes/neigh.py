"""The ``neigh`` probe: the kernel's neighbour table (ARP for IPv4, neighbour discovery for
IPv6), each state with what it means, and the health of the addresses asked for.

The notes put it simply: ARP resolves the IP address of a host on the same link into its
hardware (MAC) address through a cache; a miss sends a broadcast "who has X, tell Y" and the
owner of X answers by unicast. Linux's cache is this table, and it does more than cache: it
checks that a neighbour still answers (RFC 4861's neighbour unreachability detection, run for
ARP too), by unicast before it falls back to broadcast. IPv6 asks by multicast (the
solicited-node group of the address), not broadcast.

Reading the table sends nothing: an address nobody sent anything to lately has no entry, and
that says nothing about whether it would resolve. So an ADDRESS without an entry is ``absent``,
a warning, not a failure; FAILED and INCOMPLETE entries are the failures.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net import neigh
from netdiag.net.neigh import NUD_FAILED, NUD_INCOMPLETE, NUD_NOARP, NUD_NONE, RawNeighbour
from netdiag.results import ProbeError, summarize_errors
from netdiag.results.neigh import (
    STATE_MEANINGS,
    STATE_ORDER,
    AddressCheck,
    Neighbour,
    NeighReport,
    StateCount,
)

MAX_ENTRIES = 10_000
"""Entries kept by default; every entry is still counted. The kernel keeps at most
gc_thresh3 (1,024 by default) resolved entries per family, but that limit can be raised."""
TIMEOUT = 5.0
"""The whole dump, in seconds: the kernel answers a table of 100,000 entries in well under
one."""


@dataclass(frozen=True, slots=True)
class Query:
    """An ADDRESS of the command line, parsed."""

    address: str
    """As the kernel's entries print it (compressed IPv6)."""
    family: int
    raw: bytes
    interface: str | None = None
    ifindex: int = 0
    """The interface it is restricted to (its zone, ``fe80::1%eth0``, or -i); 0 for any."""


@dataclass(frozen=True, slots=True)
class NeighOptions:
    queries: tuple[Query, ...] = ()
    ip_version: int | None = None
    interface: str | None = None
    ifindex: int = 0
    show_all: bool = False
    max_entries: int = MAX_ENTRIES
    timeout: float = TIMEOUT


@dataclass
class _Found:
    """What one query found while the table was read: (interface, state bits) per entry."""

    entries: list[tuple[int, int]]


class _Table:
    """The entries that matched, counted all and kept up to a bound."""

    def __init__(self, opts: NeighOptions) -> None:
        self.opts = opts
        self.kept: list[RawNeighbour] = []
        self.total = 0
        self.hidden = 0
        self.states: dict[int, int] = {}
        self.found = {q: _Found([]) for q in opts.queries}
        self.by_address: dict[tuple[int, bytes], list[Query]] = {}
        for q in opts.queries:
            self.by_address.setdefault((q.family, q.raw), []).append(q)

    def add(self, e: RawNeighbour) -> None:
        if self.opts.ifindex and e.ifindex != self.opts.ifindex:
            return  # a kernel that ignores NDA_IFINDEX in the request
        if self.by_address:
            queries = self.by_address.get((e.family, e.dst))
            matched = [q for q in queries or () if q.ifindex in (0, e.ifindex)]
            if not matched:
                return
            for q in matched:
                self.found[q].entries.append((e.ifindex, e.state))
        elif not self.opts.show_all and (e.state == NUD_NONE or e.state & NUD_NOARP):
            self.hidden += 1
            return
        self.total += 1
        self.states[e.state] = self.states.get(e.state, 0) + 1
        if len(self.kept) < self.opts.max_entries:
            self.kept.append(e)


def _family(ip_version: int | None) -> int:
    return {4: socket.AF_INET, 6: socket.AF_INET6}.get(ip_version or 0, socket.AF_UNSPEC)


class _Names:
    """Interface names by index, each asked of the kernel once."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, ifindex: int) -> str:
        name = self.names.get(ifindex)
        if name is None:
            try:
                name = socket.if_indextoname(ifindex)
            except OSError:
                name = f"if{ifindex}"
            self.names[ifindex] = name
        return name


def _neighbour(e: RawNeighbour, name: _Names) -> Neighbour:
    ages = [neigh.ticks_ms(t) for t in e.cacheinfo[:3]] if e.cacheinfo else [None] * 3
    return Neighbour(
        address=neigh.address(e.family, e.dst),
        ip_version=neigh.FAMILIES[e.family],
        interface=name(e.ifindex),
        ifindex=e.ifindex,
        lladdr=neigh.lladdr_text(e.lladdr),
        state=neigh.state_name(e.state),
        router=bool(e.flags & neigh.NTF_ROUTER) if e.family == socket.AF_INET6 else None,
        flags=neigh.flag_names(e.flags),
        probes=e.probes,
        confirmed_ago_ms=ages[0],
        used_ago_ms=ages[1],
        updated_ago_ms=ages[2],
    )


def _states(counts: dict[int, int]) -> dict[str, StateCount]:
    named: dict[str, int] = {}
    for bits, n in counts.items():
        key = neigh.state_name(bits)
        named[key] = named.get(key, 0) + n
    rank = {name: i for i, name in enumerate(STATE_ORDER)}
    return {
        key: StateCount(named[key], STATE_MEANINGS.get(key, "a combination of the states above"))
        for key in sorted(named, key=lambda k: (rank.get(k, len(rank)), k))
    }


def _check(q: Query, found: _Found, name: _Names) -> tuple[AddressCheck, ProbeError | None]:
    """The verdict on one ADDRESS, and the problem it makes (absent: a warning)."""
    states = tuple(neigh.state_name(s) for _, s in found.entries)
    interfaces = tuple(name(i) for i, _ in found.entries)
    if not found.entries:
        message = (
            "no entry in the neighbour table: nothing was sent to it lately, or it is not on a "
            "directly connected link (traffic to it goes through a gateway); reading the table "
            f"sends nothing, so send something first (netdiag ping {q.address} -c 1) for the "
            "kernel to resolve it"
        )
        check = AddressCheck(q.address, q.interface, "absent", (), (), message)
        return check, ProbeError(ErrorKind.NEIGHBOUR_ABSENT, message)
    pairs = list(zip(interfaces, (s for _, s in found.entries), strict=True))
    failed = [n for n, s in pairs if s & NUD_FAILED]
    incomplete = [n for n, s in pairs if s & NUD_INCOMPLETE]
    arp = "ARP" if q.family == socket.AF_INET else "neighbour discovery"
    if failed:
        message = (
            f"FAILED on {', '.join(failed)}: {arp} got no answer: nothing on the link answers "
            "for this address (down, a wrong address or subnet, or filtered)"
        )
        check = AddressCheck(q.address, q.interface, "failed", states, interfaces, message)
        return check, ProbeError(ErrorKind.NEIGHBOUR_FAILED, message)
    if incomplete:
        message = (
            f"INCOMPLETE on {', '.join(incomplete)}: {arp} requests are out, none answered so "
            "far; the entry turns FAILED if none is"
        )
        check = AddressCheck(q.address, q.interface, "incomplete", states, interfaces, message)
        return check, ProbeError(ErrorKind.NEIGHBOUR_INCOMPLETE, message)
    return AddressCheck(q.address, q.interface, "healthy", states, interfaces, None), None


def _label(q: Query) -> str:
    return f"{q.address} on {q.interface}" if q.interface else q.address


def _sort_key(n: Neighbour) -> tuple[str, int, bytes]:
    return (n.interface, n.ip_version, socket.inet_pton(_family(n.ip_version), n.address))


def _cannot_read(exc: OSError) -> ProbeError:
    if isinstance(exc, TimeoutError):
        return ProbeError(
            ErrorKind.TIMEOUT,
            "the kernel did not finish the neighbour table in time; what was read is shown",
        )
    if isinstance(exc, PermissionError):
        return ProbeError(
            ErrorKind.PERMISSION,
            f"netlink refused to dump the neighbour table: {exc.strerror or exc}",
            "a sandbox (seccomp, a container's profile) forbids NETLINK_ROUTE sockets; "
            "run netdiag outside it",
        )
    return ProbeError(
        ErrorKind.UNSUPPORTED,
        f"the neighbour table cannot be read over netlink: {exc.strerror or exc}",
    )


def snapshot(opts: NeighOptions) -> NeighReport:
    """Read the table once, keep what matches ``opts``, and judge the addresses asked for."""
    start = now_ns()
    started_at = utc_now_iso()
    table = _Table(opts)
    error: ProbeError | None = None
    inconsistent = False
    if not sys.platform.startswith("linux"):
        error = ProbeError(
            ErrorKind.UNSUPPORTED,
            "the neighbour table is read over netlink, which only Linux has",
        )
    else:
        dump = neigh.table(_family(opts.ip_version), opts.ifindex, timeout=opts.timeout)
        try:
            with dump:
                for entry in neigh.entries(dump):
                    table.add(entry)
        except OSError as exc:  # TimeoutError and PermissionError too
            error = _cannot_read(exc)
        inconsistent = dump.interrupted
    name = _Names()
    kept = sorted((_neighbour(e, name) for e in table.kept), key=_sort_key)
    checks: list[AddressCheck] = []
    warnings: list[ProbeError] = []
    problems: list[tuple[str, ProbeError | None]] = []
    if error is None:
        for q in opts.queries:
            check, problem = _check(q, table.found[q], name)
            checks.append(check)
            if problem is not None and problem.kind == ErrorKind.NEIGHBOUR_ABSENT:
                warnings.append(ProbeError(problem.kind, f"{_label(q)}: {problem.message}"))
                problem = None
            problems.append((_label(q), problem))
        error = summarize_errors(problems, noun="addresses")
        if error is not None and len(problems) == 1:  # the one address's own error: name it
            error = ProbeError(error.kind, f"{problems[0][0]}: {error.message}")
    if table.total > opts.max_entries:
        warnings.append(
            ProbeError(
                ErrorKind.LIMIT,
                f"{table.total} entries matched; the first {opts.max_entries} (in the kernel's "
                "order) are shown, every one is counted (--max-entries)",
            )
        )
    if inconsistent:
        warnings.append(
            ProbeError(
                ErrorKind.ERROR,
                "the table changed while it was read (the kernel flagged the dump); run again "
                "for a consistent view",
            )
        )
    return NeighReport(
        command="neigh",
        ok=error is None,
        error=error,
        interrupted=False,
        started_at=started_at,
        duration_ms=elapsed_ms(start),
        warnings=tuple(warnings),
        source="netlink",
        ip_version=opts.ip_version,
        interface=opts.interface,
        total=table.total,
        hidden=table.hidden,
        max_entries=opts.max_entries,
        truncated=table.total > opts.max_entries,
        inconsistent=inconsistent,
        states=_states(table.states),
        entries=tuple(kept),
        checks=tuple(checks),
    )
