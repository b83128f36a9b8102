"""A routed path in network namespaces, for ``netdiag route``'s tests and benchmark (root,
Linux, iproute2). Every namespace, link and address is private to the run; nothing leaves
them, and :meth:`RoutedPath.close` deletes them all (the veth pairs go with them).

::

    client --- r1 --- r2 --- server        10.77.1.0/24, 10.77.2.0/24 (MTU 1400),
                |                          10.77.3.0/24 (MTU 1300); fd77:N::/64 alike
                r3                         10.77.4.0/24: the edge router

- ``server`` (10.77.3.2, fd77:3::2) is three hops away; the routers and the server answer
  every ICMP error at once (``icmp_ratelimit`` 0), so results do not depend on timing...
- r3 ends the paths to 10.77.10.0/24 (``unreachable``: host unreachable), 10.77.11.0/24
  (``prohibit``: communication administratively prohibited) and 10.77.12.0/24
  (``blackhole``: silently dropped), and the IPv6 twins fd77:10::/64... Except there: an
  IPv4 route of those kinds answers through a token bucket of its own (the global
  ``net.ipv4.route.error_cost``/``error_burst``, not per namespace) that the ICMP rate limit
  drains, so with ``icmp_ratelimit`` 0 r3 sends one such unreachable a second to a source.
- r1 and r2 send 10.77.9.0/24 (fd77:9::/64) to each other: a routing loop.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from types import TracebackType

ROUTERS = ("r1", "r2", "r3")
SERVER = "10.77.3.2"
SERVER6 = "fd77:3::2"
UNREACHABLE = "10.77.10.1"
PROHIBITED = "10.77.11.1"
BLACKHOLED = "10.77.12.1"
LOOPING = "10.77.9.9"
HOPS = ("10.77.1.2", "10.77.2.2", SERVER)
HOPS6 = ("fd77:1::2", "fd77:2::2", SERVER6)
EDGE = "10.77.4.2"
"""r3, as the client sees it."""
MTUS = (1500, 1400, 1300)
"""The MTU of each link from the client to the server."""

# (namespace a, namespace b, subnet number, MTU)
_LINKS = (("client", "r1", 1, 1500), ("r1", "r2", 2, 1400), ("r2", "server", 3, 1300))
_EDGE_LINK = ("r1", "r3", 4, 1500)


def ipv6_in_namespaces() -> bool:
    return Path("/proc/sys/net/ipv6").exists()


class RoutedPath:
    """The namespaces above, built when entered and deleted when left (also when building
    failed half-way)."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or f"{os.getpid() % 100000}"
        self.names = {n: f"ndrt{self.tag}{n}" for n in ("client", *ROUTERS, "server")}
        self.ipv6 = ipv6_in_namespaces()

    def ns(self, role: str) -> str:
        return self.names[role]

    def run(self, cmd: str) -> None:
        subprocess.run(shlex.split(cmd), check=True, capture_output=True, timeout=30)

    def sysctl(self, role: str, key: str, value: str) -> None:
        """Write /proc/sys/KEY inside ``role``'s namespace."""
        path = "/proc/sys/" + key.replace(".", "/")
        self.run(f"ip netns exec {self.ns(role)} sh -c 'echo {value} > {path}'")

    def exec_args(self, role: str) -> list[str]:
        """The command prefix that runs a program inside ``role``'s namespace."""
        return ["ip", "netns", "exec", self.ns(role)]

    def __enter__(self) -> RoutedPath:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)

    def _link(self, a: str, b: str, net: int, mtu: int) -> None:
        ifa, ifb = f"ndrt{self.tag}{net}a", f"ndrt{self.tag}{net}b"
        self.run(f"ip link add {ifa} mtu {mtu} type veth peer name {ifb} mtu {mtu}")
        for role, ifname, host in ((a, ifa, 1), (b, ifb, 2)):
            ns = self.ns(role)
            self.run(f"ip link set {ifname} netns {ns}")
            self.run(f"ip -n {ns} addr add 10.77.{net}.{host}/24 dev {ifname}")
            if self.ipv6:
                self.run(f"ip -n {ns} addr add fd77:{net}::{host}/64 dev {ifname} nodad")
            self.run(f"ip -n {ns} link set {ifname} up")

    def _route(self, role: str, spec: str, spec6: str | None = None) -> None:
        self.run(f"ip -n {self.ns(role)} route add {spec}")
        if self.ipv6 and spec6 is not None:
            self.run(f"ip -n {self.ns(role)} -6 route add {spec6}")

    def _build(self) -> None:
        for role, name in self.names.items():
            self.run(f"ip netns add {name}")
            self.run(f"ip -n {name} link set lo up")
            if self.ipv6:  # links moved in take the namespace's defaults: no DAD wait
                self.sysctl(role, "net.ipv6.conf.all.accept_dad", "0")
                self.sysctl(role, "net.ipv6.conf.default.accept_dad", "0")
        for a, b, net, mtu in (*_LINKS, _EDGE_LINK):
            self._link(a, b, net, mtu)
        for role in ROUTERS:
            self.sysctl(role, "net.ipv4.ip_forward", "1")
            if self.ipv6:
                self.sysctl(role, "net.ipv6.conf.all.forwarding", "1")
        for role in (*ROUTERS, "server"):
            self.sysctl(role, "net.ipv4.icmp_ratelimit", "0")
        if self.ipv6:
            for role in (*ROUTERS, "server"):
                self.sysctl(role, "net.ipv6.icmp.ratelimit", "0")
        self._route("client", "default via 10.77.1.2", "default via fd77:1::2")
        self._route("r1", "default via 10.77.2.2", "default via fd77:2::2")
        for net in (10, 11, 12):
            self._route("r1", f"10.77.{net}.0/24 via 10.77.4.2", f"fd77:{net}::/64 via fd77:4::2")
        self._route("r2", "default via 10.77.2.1", "default via fd77:2::1")
        self._route("r2", "10.77.9.0/24 via 10.77.2.1", "fd77:9::/64 via fd77:2::1")
        self._route("r3", "default via 10.77.4.1", "default via fd77:4::1")
        for net, kind in ((10, "unreachable"), (11, "prohibit"), (12, "blackhole")):
            self._route("r3", f"{kind} 10.77.{net}.0/24", f"{kind} fd77:{net}::/64")
        self._route("server", "default via 10.77.3.1", "default via fd77:3::1")
