"""Result types of ``netdiag neigh``: plain data that imports no I/O. Views and the JSON
layer read only these.

The states are the kernel's (``NUD_*`` in include/uapi/linux/neighbour.h). RFC 4861's
neighbour unreachability detection (section 7.3.2) names five of them, INCOMPLETE, REACHABLE,
STALE, DELAY and PROBE, and Linux runs the same machine for ARP (IPv4) as for neighbour
discovery (IPv6); FAILED, NOARP, PERMANENT and NONE are Linux's own. Where RFC 4861 deletes
an entry whose resolution failed, Linux keeps it as FAILED, and the next packet sent to the
address starts the resolution again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from netdiag.results import Envelope

STATE_MEANINGS: dict[str, str] = {
    "INCOMPLETE": "resolution in progress: requests are out (ARP broadcasts, or neighbour "
    "solicitations to the solicited-node multicast group), mcast_solicit (3) of them "
    "retrans_time (1 s) apart; no answer yet",
    "REACHABLE": "confirmed within the last reachable time (base_reachable_time, 30 s, "
    "randomised 15-45 s) by a reply or by upper-layer progress such as TCP ACKs",
    "STALE": "the address is known but not confirmed lately; it is still used, and the next "
    "packet sent to it starts a check (DELAY)",
    "DELAY": "a packet went out on a stale address; the kernel waits delay_first_probe_time "
    "(5 s) for an upper-layer confirmation before probing",
    "PROBE": "being verified: unicast requests to the known address, ucast_solicit (3) of "
    "them retrans_time (1 s) apart; FAILED if none is answered",
    "FAILED": "resolution failed: no request was answered; the packets waiting for the "
    "address were dropped (host unreachable), and the next one sent to it starts a new "
    "attempt (INCOMPLETE)",
    "NOARP": "nothing to resolve: multicast and broadcast addresses, local addresses, and "
    "devices without link-layer addresses (loopback, tunnels); never expires",
    "PERMANENT": "a static entry (ip neigh add ... nud permanent): never expires, never checked",
    "NONE": "just created or being removed: no resolution has started",
}
"""What each state means, in one line: the kernel's behaviour with its default timers."""

STATE_ORDER = tuple(STATE_MEANINGS)

Verdict = Literal["healthy", "failed", "incomplete", "absent"]


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One entry of the kernel's neighbour table: an IP address on a link, and its
    link-layer (MAC) address as far as the kernel knows it."""

    address: str
    ip_version: int
    interface: str
    """The device's name (``if<N>`` when the index has no name any more)."""
    ifindex: int
    lladdr: str | None
    """The link-layer address, lower-case hex bytes joined by colons; None while unknown
    (INCOMPLETE, FAILED)."""
    state: str
    """One of STATE_MEANINGS (several joined by ``|`` in the rare entry that has more)."""
    router: bool | None
    """IPv6: the neighbour said it is a router (the R flag of its advertisement); None for
    IPv4, where ARP has no such flag."""
    flags: tuple[str, ...]
    """Other flags, named as ``ip neigh`` names them: proxy, extern_learn, offload, sticky."""
    probes: int | None
    """The kernel's probe counter for the entry (NDA_PROBES: ``probes`` in ``ip -s neigh``)."""
    confirmed_ago_ms: float | None
    """Since the neighbour was last confirmed reachable."""
    used_ago_ms: float | None
    """Since the entry was last used to send a packet."""
    updated_ago_ms: float | None
    """Since the entry's state last changed."""


@dataclass(frozen=True, slots=True)
class StateCount:
    count: int
    meaning: str


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """The health of one ADDRESS given on the command line: ``failed`` or ``incomplete``
    (unhealthy) when any of its entries is; ``absent`` when the table has none (not
    unhealthy: a warning); else ``healthy``."""

    address: str
    interface: str | None
    """The interface the address was restricted to (``fe80::1%eth0`` or -i), or None."""
    verdict: Verdict
    states: tuple[str, ...]
    """The state of each entry found, on ``interfaces`` in the same order."""
    interfaces: tuple[str, ...]
    error: str | None
    """Why it is unhealthy or absent, in words."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighReport(Envelope):
    source: str
    """Where the table came from: netlink (RTM_GETNEIGH on NETLINK_ROUTE)."""
    ip_version: int | None
    """The family asked for with -4/-6; None for both."""
    interface: str | None
    """The interface asked for with -i, or None."""
    total: int
    """Entries that matched, all of them, kept or not."""
    hidden: int
    """NOARP and NONE entries left out (shown with --all, or when asked for by address)."""
    max_entries: int
    truncated: bool
    """More entries matched than max_entries: only the first max_entries are in ``entries``
    (every one is still counted in ``total`` and ``states``)."""
    inconsistent: bool
    """The kernel flagged the dump: the table changed while it was read."""
    states: dict[str, StateCount]
    """The states of every matched entry, with what each means."""
    entries: tuple[Neighbour, ...]
    checks: tuple[AddressCheck, ...]
