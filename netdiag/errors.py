"""Every error kind netdiag reports, in one enum, with the exit status each one gives.

``error.kind`` in JSON (and each problem's and warning's ``kind``) is one of these values; the
README lists them with their meaning. A kind names the fault, not the symptom: a referral is
not NODATA, an unreachable server is not a lame one. Adding a kind means adding it here (and
to the README): :class:`netdiag.results.ProbeError` refuses any other string.
"""

from __future__ import annotations

from enum import StrEnum

from netdiag.exitcodes import ExitStatus


class ErrorKind(StrEnum):
    """A short machine name for what went wrong. Compares equal to its string value."""

    # -- the probe could not run here: exit status 3 ------------------------------------------
    PERMISSION = "permission"
    """No privilege for the socket this probe needs (raw ICMP)."""
    UNSUPPORTED = "unsupported"
    """The system lacks what the probe needs (an address family, a kernel interface)."""
    RESOURCE = "resource"
    """Out of a local resource: file descriptors, ports, memory."""
    CONFIG = "config"
    """The local configuration is unusable (no resolver configured, an unreadable trust store)."""

    # -- the run itself ------------------------------------------------------------------------
    INTERRUPTED = "interrupted"
    """Stopped by Ctrl-C; what was measured is still reported (exit 130)."""

    # -- reaching the target --------------------------------------------------------------------
    DNS = "dns"
    """The target's name did not resolve (through the system resolver)."""
    TIMEOUT = "timeout"
    """No answer, or no complete answer, within the time bound."""
    REFUSED = "refused"
    """The peer refused: a TCP reset to the SYN, DNS REFUSED."""
    UNREACHABLE = "unreachable"
    """The network said no: ICMP unreachable, no route, a port with nothing listening (UDP)."""
    BLOCKED = "blocked"
    """A local firewall rule rejected the packet."""
    TTL_EXCEEDED = "ttl_exceeded"
    """ICMP time exceeded: the packet's TTL ran out on the way."""
    PATH_STOPS = "path_stops"
    """A trace (route) never reached the destination and nothing said why: the path stops
    answering after the hop the message names (a router or firewall that drops the probes,
    or the time exceeded replies, beyond it)."""
    ERROR = "error"
    """Any other failure, described in the message."""

    # -- thresholds given on the command line ---------------------------------------------------
    THRESHOLD = "threshold"
    """A --max-... threshold was exceeded (loss, round-trip time, connect time, TIME_WAIT)."""
    SLOW = "slow"
    """The whole request took longer than --max-ms."""

    # -- DNS answers ----------------------------------------------------------------------------
    NXDOMAIN = "nxdomain"
    """The name does not exist."""
    NODATA = "nodata"
    """The name exists, but has no record of the type asked for."""
    SERVFAIL = "servfail"
    """The server failed to answer."""
    REFERRAL = "referral"
    """The server is not authoritative for the name and does not recurse: it refers elsewhere."""
    NOT_AUTHORITATIVE = "not_authoritative"
    """A negative answer without the authority it claims (no AA flag, no SOA): what a DNS-
    intercepting middlebox returns."""
    LAME = "lame"
    """A name server answered without authority for a zone delegated to it."""
    LOOP = "loop"
    """A delegation or CNAME loop (dns), or a routing loop (route: the same routers answer
    again and again at higher TTLs)."""
    LIMIT = "limit"
    """A bound was reached: a dns trace's (queries, zone cuts, CNAMEs, nesting), route's
    --max-hops before the destination, or neigh's --max-entries (a warning)."""
    BAD_RESPONSE = "bad_response"
    """The peer answered, but not validly: garbage, a wrong ID or question, broken HTTP."""

    # -- TLS and certificates -------------------------------------------------------------------
    HANDSHAKE_FAILED = "handshake_failed"
    """The TLS handshake failed (an alert, a reset, no common protocol or cipher)."""
    NOT_TLS = "not_tls"
    """The peer does not speak TLS on this port."""
    STARTTLS = "starttls"
    """The plain-text dialogue before STARTTLS failed."""
    TLS = "tls"
    """An https request stopped at a bad certificate (the problem is in the message)."""
    CERT_EXPIRED = "cert_expired"
    """A certificate of the chain has expired."""
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    """A certificate of the chain is not valid yet (its notBefore is in the future)."""
    SELF_SIGNED = "self_signed"
    """The leaf is self-signed and not trusted."""
    UNTRUSTED_ISSUER = "untrusted_issuer"
    """The chain was sent complete up to a root that is not trusted."""
    INCOMPLETE_CHAIN = "incomplete_chain"
    """The server did not send the intermediate certificate its leaf needs."""
    CHAIN_INVALID = "chain_invalid"
    """The path to a trusted issuer does not verify (signature, constraints, usage)."""
    MALFORMED_EXTENSION = "malformed_extension"
    """An extension of a certificate (subjectAltName, basicConstraints...) cannot be read."""
    BAD_CERTIFICATE = "bad_certificate"
    """A certificate, or a part of it other than an extension, cannot be read."""
    HOSTNAME_MISMATCH = "hostname_mismatch"
    """The certificate does not name the host (RFC 6125: subjectAltName only)."""
    EXPIRING_SOON = "expiring_soon"
    """A certificate expires within --min-days (a problem), or within 14 days (a warning)."""

    # -- HTTP -----------------------------------------------------------------------------------
    STATUS = "status"
    """The final status is not among --expect-status."""
    REDIRECT = "redirect"
    """A redirect that cannot be followed (another scheme, a bad Location)."""
    REDIRECT_LOOP = "redirect_loop"
    """A redirect leads back to a URL already requested."""
    TOO_MANY_REDIRECTS = "too_many_redirects"
    """More redirects than --max-redirects."""
    HEADER_TOO_LARGE = "header_too_large"
    """The response headers exceed --max-header-bytes."""
    HOST_HEADER = "host_header"
    """A warning: -H Host names another host than an https URL; the TLS name (SNI) and the
    certificate check follow the URL, not the header (as in curl)."""

    # -- the neighbour table (ARP, neighbour discovery) ----------------------------------------
    NEIGHBOUR_FAILED = "neighbour_failed"
    """The address's neighbour entry is FAILED: ARP (or neighbour discovery) got no answer on
    the link, so nothing can be sent to it (the classic gateway that does not resolve)."""
    NEIGHBOUR_INCOMPLETE = "neighbour_incomplete"
    """The address's neighbour entry is INCOMPLETE: resolution is under way and nothing has
    answered yet; it turns FAILED when the kernel gives up (about 3 s by default)."""
    NEIGHBOUR_ABSENT = "neighbour_absent"
    """A warning: the address has no neighbour entry (nothing was sent to it lately, or it is
    not on a directly connected link); reading the table cannot tell whether it would
    resolve."""

    @property
    def exit_status(self) -> ExitStatus:
        """The exit status a report failing with this kind gives."""
        if self in CANNOT_RUN:
            return ExitStatus.CANNOT_RUN
        if self is ErrorKind.INTERRUPTED:
            return ExitStatus.INTERRUPTED
        return ExitStatus.UNHEALTHY


CANNOT_RUN = frozenset(
    {ErrorKind.PERMISSION, ErrorKind.UNSUPPORTED, ErrorKind.RESOURCE, ErrorKind.CONFIG}
)
"""Kinds that mean netdiag could not run the probe here, not that the target is bad."""
