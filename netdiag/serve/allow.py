"""``--allow-target``: what ``/probe`` may probe.

Entries are host names (``db.example.org``; ``*.example.org`` for any name under it, not
the name itself), IP addresses and CIDR blocks (``10.0.0.0/8``, ``2001:db8::/32``).
Without any entry every target is allowed (as blackbox_exporter), so the exporter listens on
127.0.0.1 by default.

The host a request names is checked as written, and nothing is resolved to check it:

- an IP literal is allowed when a CIDR block (or address) holds it; an IPv4-mapped IPv6
  address (``::ffff:10.0.0.1``) is checked as the IPv4 address it is;
- a host name is allowed only when it is listed as a name (or under a ``*.`` entry). A name
  is never allowed because its addresses fall in an allowed block: the name would be resolved
  once to check it and again by the probe, and a name server that answers differently the
  second time (DNS rebinding) would steer the probe anywhere. To probe names, list them.

The probe then resolves the allowed name itself, as the command does. For dns, the target is
the name to look up (the servers asked come from the module), checked the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from netdiag.targets import TargetError, parse_host, parse_target

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = {"http": 80, "https": 443}


class AllowError(ValueError):
    """An ``--allow-target`` entry is not a host name, address or CIDR block."""


@dataclass(frozen=True, slots=True)
class AllowList:
    networks: tuple[Network, ...]
    names: frozenset[str]
    suffixes: tuple[str, ...]
    """From ``*.example.org``: ``.example.org``."""

    def refusal(self, host: str) -> str | None:
        """Why ``host`` (a target's host, as :func:`target_host` gives it) may not be
        probed; None when it may."""
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return self._name_refusal(host)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if any(addr.version == net.version and addr in net for net in self.networks):
            return None
        return f"{host} is in no --allow-target address block"

    def _name_refusal(self, host: str) -> str | None:
        name = _normal_name(host)
        if name in self.names or any(name.endswith(s) for s in self.suffixes):
            return None
        if self.networks and not (self.names or self.suffixes):
            return (
                f"{host} is a name, and --allow-target lists only address blocks: names are "
                "not resolved to check them (list the name itself)"
            )
        return f"{host} is not an --allow-target name"


def _normal_name(name: str) -> str:
    return name.lower().rstrip(".")


def parse_allow(entries: Iterable[str]) -> AllowList | None:
    """The allow list of the ``--allow-target`` entries (None when there is none: every
    target is allowed); :class:`AllowError` naming a bad entry."""
    networks: list[Network] = []
    names: set[str] = set()
    suffixes: list[str] = []
    seen = False
    for raw in entries:
        seen = True
        entry = raw.strip()
        if "/" in entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=True))
            except ValueError as exc:
                raise AllowError(f"--allow-target {raw!r}: not a CIDR block ({exc})") from None
            continue
        wildcard = entry.startswith("*.")
        try:
            host, version = parse_host(entry[2:] if wildcard else entry)
        except TargetError as exc:
            raise AllowError(f"--allow-target {raw!r}: {exc}") from None
        if version is not None:
            if wildcard:
                raise AllowError(f"--allow-target {raw!r}: '*.' goes before a name only")
            networks.append(ipaddress.ip_network(host))
        elif wildcard:
            suffixes.append("." + _normal_name(host))
        else:
            names.add(_normal_name(host))
    if not seen:
        return None
    return AllowList(tuple(networks), frozenset(names), tuple(suffixes))


def target_host(type_: str, target: str) -> str:
    """The host a ``/probe`` target names for a module of ``type_``: TargetError when it is
    not one (the module's command would refuse it too)."""
    text = target.strip()
    if type_ == "http":
        if "://" not in text:
            text = "http://" + text
        return parse_target(text, schemes=_SCHEMES).host
    if type_ == "dns":
        if any(c.isspace() or not c.isprintable() for c in text) or not text:
            raise TargetError(
                "the name to look up is empty or has white space or control characters"
            )
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text if text.isascii() else parse_host(text)[0]
    return parse_target(text).host
