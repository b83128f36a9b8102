"""``netdiag neigh``: the kernel's neighbour table (ARP, NDP), and whether an address
resolves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import (
    IPv4Option,
    IPv6Option,
    JsonOption,
    finish,
    ip_version,
    usage_error,
)
from netdiag.exitcodes import EXIT_HELP

if TYPE_CHECKING:
    from netdiag.output import TextOutput
    from netdiag.probes.neigh import NeighOptions, Query
    from netdiag.results.neigh import NeighReport

HELP = """\
Show the kernel's neighbour table: for each IP address on a directly connected link, the
link-layer (MAC) address ARP (IPv4) or neighbour discovery (IPv6, NDP) found for it, the
interface, the entry's state and what that state means, and the router flag of IPv6
neighbours. It is read from the kernel over netlink, as ip neigh does; nothing is sent.

States (RFC 4861's neighbour unreachability detection, which Linux runs for ARP too):
INCOMPLETE resolution under way, no answer yet; REACHABLE confirmed lately; STALE known but
not confirmed lately, still used; DELAY and PROBE a stale entry being checked; FAILED
resolution got no answer (RFC 4861 deletes such an entry, Linux keeps it); NOARP nothing to
resolve (multicast, loopback, tunnels); PERMANENT a static entry; NONE just created.
NOARP and NONE entries are left out unless --all is given or they are asked for by address.

Given ADDRESSes (such as the gateway), only their entries are shown, and an address whose
entry is FAILED or INCOMPLETE is unhealthy (exit 1: "ARP does not resolve the gateway"). An
address with no entry is only a warning: nothing was sent to it lately, or it is not on a
local link, and reading the table cannot tell whether it would resolve; send something first
(netdiag ping ADDRESS -c 1) and look again. fe80::1%eth0 restricts an address to eth0."""

MAX_ENTRIES_LIMIT = 100_000
"""A kept entry costs about 3.5 KB at the peak of --json: 100,000 of them about 350 MB."""


def _complete_interface(incomplete: str) -> list[str]:
    import socket

    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def command(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[ADDRESS]...",
            help="Only these IP addresses, judged healthy or not.",
            show_default=False,
        ),
    ] = None,
    interface: Annotated[
        str | None,
        typer.Option(
            "-i",
            "--interface",
            metavar="IFACE",
            help="Only entries on this interface.",
            autocompletion=_complete_interface,
            show_default=False,
        ),
    ] = None,
    ipv4: IPv4Option = False,
    ipv6: IPv6Option = False,
    show_all: Annotated[
        bool,
        typer.Option("-a", "--all", help="Include NOARP and NONE entries (ip neigh show nud all)."),
    ] = False,
    max_entries: Annotated[
        int,
        typer.Option(
            "--max-entries",
            min=1,
            max=MAX_ENTRIES_LIMIT,
            metavar="N",
            help="Show at most N entries, the first in the kernel's order; every one is still "
            "counted.",
        ),
    ] = 10_000,
    json_output: JsonOption = False,
) -> None:
    call = prepare(
        addresses=addresses or [],
        interface=interface,
        ipv4=ipv4,
        ipv6=ipv6,
        show_all=show_all,
        max_entries=max_entries,
    )
    report = call()

    def render(out: TextOutput, shown: NeighReport) -> None:
        from netdiag.views.neigh import neigh_view

        out.print(*neigh_view(shown, terminal=out.is_terminal))

    finish(report, json_output, render)


@dataclass(frozen=True, slots=True)
class NeighCall:
    """``netdiag neigh``, validated and ready: calling it reads the table once."""

    opts: NeighOptions

    def __call__(self) -> NeighReport:
        from netdiag.probes.neigh import snapshot

        return snapshot(self.opts)


def _ifindex(name: str, what: str) -> int:
    import socket

    if name.isdigit():
        try:
            socket.if_indextoname(int(name))
            return int(name)
        except (OSError, OverflowError):
            pass
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise usage_error(f"{what}: no interface named '{name}' here", param="interface") from None


def _query(text: str, version: int | None, interface: str | None, ifindex: int) -> Query:
    import ipaddress
    import socket

    from netdiag.probes.neigh import Query

    body, _, zone = text.partition("%")
    try:
        ip = ipaddress.ip_address(body)
    except ValueError:
        raise usage_error(
            f"'{text}' is not an IP address (the neighbour table holds addresses, not names)",
            param="addresses",
        ) from None
    if version is not None and ip.version != version:
        raise usage_error(
            f"'{text}' is an IPv{ip.version} address, but -{version} was given",
            param="addresses",
        )
    if zone:
        zone_index = _ifindex(zone, f"'{text}'")
        if ifindex and zone_index != ifindex:
            raise usage_error(f"'{text}' names another interface than -i {interface}")
        interface, ifindex = socket.if_indextoname(zone_index), zone_index
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return Query(str(ip), family, ip.packed, interface, ifindex)


def prepare(
    *,
    addresses: list[str],
    interface: str | None,
    ipv4: bool,
    ipv6: bool,
    show_all: bool,
    max_entries: int,
) -> NeighCall:
    """Validate the command's parameters (a usage error for what is wrong) into a ready
    call. Reads nothing yet: the table is read when it is called."""
    from netdiag.probes.neigh import NeighOptions

    version = ip_version(ipv4, ipv6)
    ifindex = _ifindex(interface, "-i") if interface is not None else 0
    queries: dict[Query, None] = {}
    for text in addresses:
        queries.setdefault(_query(text, version, interface, ifindex))
    opts = NeighOptions(
        queries=tuple(queries),
        ip_version=version,
        interface=interface,
        ifindex=ifindex,
        show_all=show_all,
        max_entries=max_entries,
    )
    return NeighCall(opts)


def register(app: typer.Typer) -> None:
    app.command(
        "neigh",
        help=HELP,
        epilog=EXIT_HELP,
        short_help="The neighbour table (ARP, NDP): MAC addresses and their states.",
    )(command)
