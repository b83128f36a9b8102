"""Result types of ``netdiag resolve``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import ProbeError


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One resolved address, ready for ``socket.connect``."""

    family: int
    sockaddr: tuple[str, int] | tuple[str, int, int, int]
    """``(address, port)`` for IPv4, ``(address, port, flowinfo, scope_id)`` for IPv6."""
    address: str

    @property
    def port(self) -> int:
        return int(self.sockaddr[1])


@dataclass(frozen=True, slots=True)
class Resolution:
    endpoints: tuple[Endpoint, ...]
    dns_ms: float
    error: ProbeError | None = None
