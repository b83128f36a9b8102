"""Result types of ``netdiag http``: plain data that imports no I/O. Views and the JSON
layer read only these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from netdiag.results import Envelope, ProbeError


class Phase(StrEnum):
    """The phases of a hop, in order: ``Hop.stopped_in`` names the one a failed hop stopped in."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    """The TLS handshake."""
    VERIFY = "verify"
    """netdiag's check of the certificates (a bad one stops the hop without --insecure)."""
    REQUEST = "request"
    """Sending the request."""
    TTFB = "ttfb"
    """Waiting for the response's first byte."""
    TRANSFER = "transfer"
    """Reading the rest of the response."""


@dataclass(frozen=True, slots=True)
class Timing:
    """A hop's phases in the order they happen, each None when it did not happen (an IP
    literal has no lookup, a reused connection no connect or handshake). They add up to
    ``total_ms``. On a hop that failed, the phase it stopped in (``Hop.stopped_in``) holds the
    time until the failure, and the phases after it are None."""

    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    """The TLS handshake, from the ClientHello to the end of the handshake: the server's and
    the network's time (``netdiag tls``'s ``handshake_ms``)."""
    verify_ms: float | None
    """netdiag checking the certificates it was sent (chain, trust, name, dates): local work
    after the handshake, which curl counts inside its handshake (appconnect)."""
    ttfb_ms: float | None
    """From the request's last byte sent to the response's first byte: the server's time."""
    transfer_ms: float | None
    """From the first response byte to the last."""
    local_ms: float
    """The rest of ``total_ms``: netdiag's own work between the phases (setting up the TLS and
    HTTP/2 connections, building the request, reading the response), and on a request sent
    again after a kept-alive connection closed, the first attempt."""
    total_ms: float


@dataclass(frozen=True, slots=True)
class TlsSummary:
    protocol: str
    cipher: str
    alpn: str | None
    sni: str | None
    """The name sent in the ClientHello: the URL's host (None for an IP address), whatever
    -H Host, --resolve or --connect-to say."""
    verify_name: str
    """The name the certificate was checked against: the URL's host."""
    trusted: bool | None
    """Verifies now, for this name or not (``tls``'s meaning): a path to a trust anchor and
    every certificate within its validity period now."""
    path_to_trust_anchor: bool | None
    """Builds to a trust anchor (checked at a moment every certificate is valid)."""
    hostname_match: bool | None
    problems: tuple[ProbeError, ...]
    warnings: tuple[ProbeError, ...]
    """What ``tls`` would warn of (a certificate that expires within 14 days); also in the
    report's ``warnings``."""
    subject: str | None
    issuer: str | None
    not_after: str | None
    days_left: int | None


@dataclass(frozen=True, slots=True)
class Body:
    bytes: int
    """Bytes received on the wire (after transfer decoding, before content decoding)."""
    content_type: str | None
    content_encoding: str | None
    decoded_bytes: int | None
    truncated: bool
    text: str | None
    """The body (decoded, bounded), only with --body."""


@dataclass(frozen=True, slots=True)
class Hop:
    url: str
    method: str
    status: int | None
    reason: str | None
    http_version: str | None
    remote_address: str | None
    remote_port: int | None
    routed_by: tuple[str, ...]
    """The --connect-to and --resolve rules, as given, that chose the address connected to
    (empty when it came from a lookup of the URL's host, or is the URL's IP address)."""
    reused: bool
    """This hop reused the previous hop's kept-alive connection: no lookup, connect, handshake."""
    request_headers: tuple[tuple[str, str], ...]
    """The request's header fields as sent (HTTP/2: with its pseudo-headers), secrets
    redacted; empty when the hop stopped before the request was sent."""
    response_headers: tuple[tuple[str, str], ...]
    timing: Timing
    tls: TlsSummary | None
    body: Body | None
    redirect_to: str | None
    stopped_in: Phase | None
    """The phase in which the hop failed (None when it got its response)."""
    error: ProbeError | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReport(Envelope):
    url: str
    """The last URL requested (after redirects)."""
    status: int | None
    hops: tuple[Hop, ...]
