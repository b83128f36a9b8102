"""Result types of ``netdiag lab``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass

from netdiag.results import Envelope


@dataclass(frozen=True, slots=True, kw_only=True)
class LabReport(Envelope):
    """What ``netdiag lab --json`` prints once the servers are up."""

    endpoints: dict[str, str]
    """Name -> ``host:port`` of every service."""
    tls_names: dict[str, str]
    """TLS service -> the name to send as SNI."""
    files: dict[str, str]
    """Files the lab made: ``tls_ca_file``, the lab root CA to trust."""
    urls: dict[str, str]
    """Base URLs of the web servers."""
    extra_tcp: tuple[str, ...]
    """``host:port`` of the extra TCP listeners (--extra-tcp)."""
    stops_after_s: float
    """The lab stops this many seconds after it started (--duration)."""
