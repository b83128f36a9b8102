"""The ``http`` probe: one request, and with ``-L`` every redirect hop, each with its own
waterfall: ``dns_ms`` -> ``connect_ms`` -> ``tls_ms`` -> ``verify_ms`` -> ``ttfb_ms`` ->
``transfer_ms``, and ``local_ms`` for netdiag's own work between them, so that the phases add
up to the hop's ``total_ms``. What netdiag needs once per process (the TLS and HTTP/2 code,
the trust store) is loaded before the clock starts: it is start-up, not the request.

Built from netdiag's own blocks in :mod:`netdiag.net`: name resolution (``resolve``), the TCP
connect (``tcpconnect``), the TLS handshake (``tlsconn``) and the certificate verdict
(``certs``), and h11/h2 for HTTP (``httpclient``). A hop to the same scheme, host and port as
an earlier one reuses its kept-alive connection, and shows that no lookup, connect or
handshake was needed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import zlib
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from netdiag import __version__
from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.errors import ErrorKind
from netdiag.net.httpclient import (
    Exchange,
    Http1,
    Http2,
    HttpClient,
    PlainStream,
    Request,
    Stream,
)
from netdiag.net.resolve import resolve
from netdiag.net.tcpconnect import connect
from netdiag.results import ProbeError
from netdiag.results.http import Body, Hop, HttpReport, Phase, Timing, TlsSummary
from netdiag.targets import (
    Target,
    TargetError,
    format_hostport,
    parse_host,
    parse_port,
    parse_target,
    redact_userinfo,
    redact_userinfo_in,
    strip_userinfo,
)

SCHEMES = {"http": 80, "https": 443}
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Request headers shown redacted, and never sent to another origin after a redirect."""
SET_COOKIE = frozenset({"set-cookie", "set-cookie2"})
"""Response headers whose cookie values are shown redacted."""
URL_HEADERS = frozenset({"location", "content-location", "refresh", "link"})
"""Response headers that hold URLs, read whole as one (the user info of a URL anywhere in
any other header is shown redacted too)."""
COOKIE_ATTRIBUTES = frozenset(
    {"expires", "max-age", "domain", "path", "secure", "httponly", "samesite", "partitioned"}
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
REDIRECT_POLICY: ContextVar[Callable[[str], str | None] | None] = ContextVar(
    "REDIRECT_POLICY", default=None
)
"""Where a followed redirect may lead: given the next URL's host, why not (None: it may).
``netdiag serve`` sets it around each probe when --allow-target is given, so that a redirect
cannot take a probe where a request could not; unset, every host may be followed."""
REDACTED = "[redacted: --show-secrets to show]"


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ResolveRule:
    """``--resolve HOST:PORT:ADDR[,ADDR...]``, as in curl: a request to HOST (``*``: any host
    without a rule of its own) on PORT connects to the first ADDR, without a lookup. The URL's
    name stays the name sent (Host, SNI) and the name the certificate is checked against."""

    text: str
    host: str
    port: int
    addresses: tuple[str, ...]

    def matches(self, host: str, port: int) -> bool:
        return self.port == port and self.host in ("*", _host_key(host))


@dataclass(frozen=True, slots=True)
class ConnectToRule:
    """``--connect-to HOST1:PORT1:HOST2:PORT2``, as in curl: a request to HOST1 (empty: any
    host) on PORT1 (empty: any port) connects to HOST2 (empty: the request's host) on PORT2
    (empty: the request's port) instead. Only the connection changes: the name sent (Host,
    SNI) and checked stay the URL's."""

    text: str
    host: str | None
    port: int | None
    to_host: str | None
    to_port: int | None

    def matches(self, host: str, port: int) -> bool:
        return (self.host is None or self.host == _host_key(host)) and (
            self.port is None or self.port == port
        )


def parse_resolve(text: str) -> ResolveRule:
    """``HOST:PORT:ADDR[,ADDR...]`` (HOST a name or ``*``, each ADDR an IP literal, IPv6 in
    brackets or not); :class:`TargetError` (one line) when malformed."""
    host, sep1, rest = text.partition(":")
    port_text, sep2, addresses_text = rest.partition(":")
    if not (sep1 and sep2) or not addresses_text:
        raise TargetError(f"'{text}' is not HOST:PORT:ADDRESS[,ADDRESS...]")
    if host[:1] in ("+", "-"):
        raise TargetError(f"'{text}': curl's + and - prefixes are not supported")
    if host != "*":
        name, version = (host, 6) if host.startswith("[") else parse_host(host)
        if version is not None:
            raise TargetError(
                f"'{text}': HOST is a name (or *): an IP address in a URL is never looked up"
            )
        host = _host_key(name)
    port = parse_port(port_text, text)
    addresses = []
    for item in addresses_text.split(","):
        bare = item[1:-1] if item.startswith("[") and item.endswith("]") else item
        try:
            addresses.append(str(ipaddress.ip_address(bare)))
        except ValueError:
            raise TargetError(
                f"'{text}': '{item}' is not an IP address (--resolve takes addresses, not names)"
            ) from None
    return ResolveRule(text, host, port, tuple(addresses))


def _next_host(text: str, rest: str) -> tuple[str, str]:
    """The next host of a --connect-to rule (``[v6]`` or up to a colon) and what follows."""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise TargetError(f"'{text}': an unclosed '['")
        host, after = rest[1:end], rest[end + 1 :]
        if not _is_ip(host) or ":" not in host:
            raise TargetError(f"'{text}': '[{host}]' is not an IPv6 address")
    else:
        host, sep, after = rest.partition(":")
        after = sep + after
    if not after.startswith(":"):
        raise TargetError(f"'{text}' is not HOST1:PORT1:HOST2:PORT2")
    return host, after[1:]


def parse_connect_to(text: str) -> ConnectToRule:
    """``HOST1:PORT1:HOST2:PORT2``, any part empty (IPv6 addresses in brackets);
    :class:`TargetError` (one line) when malformed or when it would change nothing."""
    host1, rest = _next_host(text, text)
    port1, sep, rest = rest.partition(":")
    if not sep:
        raise TargetError(f"'{text}' is not HOST1:PORT1:HOST2:PORT2")
    if rest.startswith("["):
        host2, port2 = _next_host(text, rest)
    else:
        host2, sep, port2 = rest.partition(":")
        if not sep:
            raise TargetError(f"'{text}' is not HOST1:PORT1:HOST2:PORT2")
    if ":" in port2:
        raise TargetError(f"'{text}' is not HOST1:PORT1:HOST2:PORT2 (IPv6 goes in brackets)")
    if not host2 and not port2:
        raise TargetError(f"'{text}' changes nothing: give HOST2, PORT2 or both")
    return ConnectToRule(
        text,
        _host_key(parse_host(host1)[0]) if host1 else None,
        parse_port(port1, text) if port1 else None,
        parse_host(host2)[0] if host2 else None,
        parse_port(port2, text) if port2 else None,
    )


@dataclass(frozen=True, slots=True)
class HttpOptions:
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    data: bytes | None = None
    follow: bool = False
    max_redirects: int = 10
    http2: bool = False
    compressed: bool = False
    ca_file: str | None = None
    ca_pem: bytes | None = None
    """The contents of ``ca_file``, read once (bounded) by the command."""
    insecure: bool = False
    timeout: float = 10.0
    max_time: float | None = None
    """The whole run, every hop together (curl's --max-time); None: each hop has --timeout."""
    max_time_source: str = "--max-time"
    """What set ``max_time``, as timeout messages name it (``netdiag serve``: the probe's
    timeout)."""
    max_header_bytes: int = 65536
    max_body_bytes: int = 10 << 20
    expect_status: tuple[tuple[int, int], ...] = ((100, 399),)
    max_ms: float | None = None
    show_body: bool = False
    body_print_limit: int = 65536
    show_secrets: bool = False
    version: int | None = None
    resolve: tuple[ResolveRule, ...] = ()
    connect_to: tuple[ConnectToRule, ...] = ()


def parse_expect_status(text: str) -> tuple[tuple[int, int], ...]:
    """``200,204,300-399,2xx`` -> inclusive ranges; ValueError with a message when malformed."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if len(part) == 3 and part[0].isdigit() and part[1:].lower() == "xx":
            out.append((int(part[0]) * 100, int(part[0]) * 100 + 99))
        elif "-" in part:
            lo, hi = part.split("-", 1)
            if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
                raise ValueError(f"'{part}' is not a status range")
            out.append((int(lo), int(hi)))
        elif part.isdigit():
            out.append((int(part), int(part)))
        else:
            raise ValueError(f"'{part}' is not a status code")
    if not out or any(not (100 <= lo <= 999 and 100 <= hi <= 999) for lo, hi in out):
        raise ValueError("status codes go from 100 to 999")
    return tuple(out)


@dataclass
class _Conn:
    """An open connection (``client`` None when it was refused for a bad certificate)."""

    client: HttpClient | None
    stream: Stream
    address: str
    port: int
    routed_by: tuple[str, ...]
    tls: TlsSummary | None


@dataclass
class _Phases:
    """What one hop measured, phase by phase, filled in as the phases happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    verify_ms: float | None = None
    ttfb_ms: float | None = None
    transfer_ms: float | None = None
    stopped_in: Phase | None = None
    address: str | None = None
    port: int | None = None
    routed_by: list[str] = field(default_factory=list)

    def timing(self, start_ns: int, end_ns: int) -> Timing:
        """The hop's timing; ``local_ms`` is what no phase holds (never below zero: the phases
        are disjoint spans of the hop)."""
        total = (end_ns - start_ns) / 1e6
        phases = (
            self.dns_ms,
            self.connect_ms,
            self.tls_ms,
            self.verify_ms,
            self.ttfb_ms,
            self.transfer_ms,
        )
        local = max(0.0, total - sum(p for p in phases if p is not None))
        return Timing(*phases, local_ms=local, total_ms=total)


def _shown(headers: list[tuple[str, str]], show_secrets: bool) -> tuple[tuple[str, str], ...]:
    return tuple(
        (n, v if show_secrets or n.lower() not in SECRET_HEADERS else REDACTED) for n, v in headers
    )


def _shown_cookie(value: str) -> str:
    """A ``Set-Cookie`` value with the cookie's value redacted; its name and the standard
    attributes (Path, Secure, SameSite...) stay, as they are what one usually diagnoses.
    Anything that does not look like a standard attribute is redacted too."""
    first, *attributes = value.split(";")
    name, eq, _ = first.partition("=")
    parts = [f"{name.strip()}={REDACTED}" if eq else REDACTED]
    for attribute in attributes:
        key, _, val = attribute.strip().partition("=")
        plain = "=" not in val and ("," not in val or key.lower() == "expires")
        parts.append(attribute.strip() if key.lower() in COOKIE_ATTRIBUTES and plain else "[?]")
    return "; ".join(parts)


def _shown_response(
    headers: tuple[tuple[str, str], ...], show_secrets: bool
) -> tuple[tuple[str, str], ...]:
    """Response headers as shown: cookie values redacted unless ``show_secrets``, as the
    ``Cookie`` request header is, and so is the user info of every URL in any header
    (``Location``, ``Link``, ``Content-Security-Policy``'s ``report-uri``...)."""
    if show_secrets:
        return headers
    return tuple(
        (
            n,
            _shown_cookie(v)
            if n.lower() in SET_COOKIE
            else redact_userinfo_in(redact_userinfo(v))
            if n.lower() in URL_HEADERS
            else redact_userinfo_in(v),
        )
        for n, v in headers
    )


def _origin(t: Target) -> tuple[str | None, str, int | None]:
    return t.scheme, t.host.lower(), t.port


def _decode(data: bytes | bytearray, encoding: str | None, limit: int) -> bytes | None:
    """Content-decode a body (gzip, deflate), bounded by ``limit`` bytes of output."""
    if not encoding or encoding.lower() == "identity":
        return bytes(data)
    enc = encoding.lower()
    if enc in ("gzip", "x-gzip"):
        d = zlib.decompressobj(wbits=31)
    elif enc == "deflate":
        d = zlib.decompressobj(wbits=47)
    else:
        return None
    try:
        return d.decompress(data, limit)
    except zlib.error:
        return None


def _max_time_limit(opts: HttpOptions) -> str:
    return f"the {opts.max_time:g} s of {opts.max_time_source}"


class _Run:
    def __init__(self, opts: HttpOptions, start_ns: int) -> None:
        self.opts = opts
        self.pool: dict[tuple[str, str, int], _Conn] = {}
        self.run_deadline = None if opts.max_time is None else start_ns + int(opts.max_time * 1e9)
        """--max-time's end of the whole run, when it is given."""
        self.limit = ""
        """What bounds the hop under way, as its timeout messages say."""
        self.hops = 0
        """Hops started."""

    def close(self) -> None:
        for c in self.pool.values():
            c.stream.close()
        self.pool.clear()

    def _route(self, t: Target, p: _Phases) -> tuple[str, int, ResolveRule | None]:
        """Where a hop connects: the URL's host and port, or what the first matching
        --connect-to rule says; and the --resolve rule for that host and port (a rule for
        the host itself before a ``*`` one), if any."""
        assert t.port is not None
        host, port = t.host, t.port
        for rule in self.opts.connect_to:
            if rule.matches(host, port):
                host, port = rule.to_host or host, rule.to_port or port
                p.routed_by.append(f"--connect-to {rule.text}")
                break
        if _is_ip(host):
            return host, port, None
        rules = [r for r in self.opts.resolve if r.matches(host, port)]
        rules.sort(key=lambda r: r.host == "*")
        if rules:
            p.routed_by.append(f"--resolve {rules[0].text}")
        return host, port, rules[0] if rules else None

    def _open(self, t: Target, deadline: int, p: _Phases) -> tuple[_Conn | None, ProbeError | None]:
        """A new connection for a hop: resolve, connect, TLS (with the certificate verdict),
        each phase's time recorded in ``p``, and where it stopped when it failed."""
        opts = self.opts

        def left() -> float:
            return max(0.001, (deadline - now_ns()) / 1e9)

        host, port, rule = self._route(t, p)
        if rule is not None:  # as curl: the address is used whatever -4/-6 say
            res = resolve(rule.addresses[0], port, timeout=left(), numeric=True)
        else:
            numeric = _is_ip(host)
            res = resolve(host, port, version=opts.version, timeout=left(), numeric=numeric)
            if not numeric:
                p.dns_ms = res.dns_ms
        if res.error is not None:
            p.stopped_in = Phase.DNS
            return None, res.error
        endpoint = res.endpoints[0]
        p.address, p.port = endpoint.address, endpoint.port
        conn = connect(endpoint, left())
        p.connect_ms = conn.connect_ms
        where = format_hostport(endpoint.address, endpoint.port)
        if conn.sock is None:
            assert conn.error is not None
            p.stopped_in = Phase.CONNECT
            failed = conn.error
            if failed.kind == "timeout":  # the connect had what was left of the hop's time
                failed = ProbeError(
                    ErrorKind.TIMEOUT, f"no answer to SYN from {where} within {self.limit}"
                )
            return None, failed
        routed = tuple(p.routed_by)
        if t.scheme != "https":
            stream: Stream = PlainStream(conn.sock)
            client = Http1(stream, opts.max_header_bytes)
            return _Conn(client, stream, endpoint.address, endpoint.port, routed, None), None

        from netdiag.net.certs import judge
        from netdiag.net.tlsconn import handshake

        alpn = ["h2", "http/1.1"] if opts.http2 else ["http/1.1"]
        # SNI and the name checked are the URL's host, whatever address was chosen.
        sni = None if t.is_ip else t.host
        tls_start = now_ns()
        session, err = handshake(conn.sock, sni=sni, alpn=alpn, timeout=left(), where=where)
        if session is None:
            assert err is not None
            p.tls_ms = (now_ns() - tls_start) / 1e6
            p.stopped_in = Phase.TLS
            if err.kind == "timeout":  # the handshake had what was left of the hop's time
                err = ProbeError(
                    ErrorKind.TIMEOUT,
                    f"no TLS answer from {where} within {self.limit}",
                )
            return None, err
        # The handshake as the server paced it (as ``netdiag tls`` shows it); setting up
        # OpenSSL's context before it is netdiag's work (local).
        p.tls_ms = session.handshake_ms
        verify_start = now_ns()
        verdict = judge(
            session.chain,
            t.host,
            ca_file=Path(opts.ca_file) if opts.ca_file else None,
            ca_pem=opts.ca_pem,
        )
        leaf = verdict.leaf
        summary = TlsSummary(
            protocol=session.protocol,
            cipher=session.cipher,
            alpn=session.alpn,
            sni=sni,
            verify_name=t.host,
            trusted=verdict.trusted,
            path_to_trust_anchor=verdict.path_to_trust_anchor,
            hostname_match=verdict.hostname_match,
            problems=verdict.problems,
            warnings=verdict.warnings,
            subject=leaf.subject if leaf else None,
            issuer=leaf.issuer if leaf else None,
            not_after=leaf.not_after if leaf else None,
            days_left=leaf.days_left if leaf else None,
        )
        p.verify_ms = (now_ns() - verify_start) / 1e6
        problems = summary.problems
        if problems and not opts.insecure:
            session.close()
            p.stopped_in = Phase.VERIFY
            first = problems[0]
            err = ProbeError(
                ErrorKind.TLS, f"{first.kind}: {first.message} (--insecure to go on)", first.hint
            )
            return _Conn(None, session, endpoint.address, endpoint.port, routed, summary), err
        h2 = session.alpn == "h2"
        tls_client = (Http2 if h2 else Http1)(session, opts.max_header_bytes)
        return _Conn(tls_client, session, endpoint.address, endpoint.port, routed, summary), None

    def hop(
        self,
        url: str,
        t: Target,
        method: str,
        body: bytes | None,
        headers: list[tuple[str, str]],
        host_override: str | None = None,
    ) -> Hop:
        _load_once(t, self.opts)  # a redirect to https, the first time
        start = now_ns()
        opts = self.opts
        deadline, limit = (
            start + int(opts.timeout * 1e9),
            f"the hop's {opts.timeout:g} s (--timeout)",
        )
        if self.run_deadline is not None and self.run_deadline < deadline:
            deadline = self.run_deadline
            # Named as the bound that ends this hop sooner; on the first hop the two clocks
            # start moments apart, so there the settings decide (-m 10 --timeout 10: --timeout).
            later = self.hops > 0
            if later or opts.max_time is None or opts.max_time < opts.timeout:
                limit = _max_time_limit(opts)
        self.hops += 1
        self.limit = limit
        assert t.port is not None and t.scheme is not None
        key = (t.scheme, t.host, t.port)
        conn = self.pool.pop(key, None)
        reused = conn is not None
        p = _Phases()
        ex: Exchange | None = None
        if conn is not None:
            ex = self._exchange(conn, t, method, body, headers, host_override, deadline)
            if ex.retryable:
                # curl's rule: the server had closed (or reset) the kept-alive connection and
                # not one byte of the response came, so the request goes again, once, on a
                # new connection; the hop then shows that connection's lookup and handshakes.
                conn.stream.close()
                conn, reused = None, False
        if conn is None:
            conn, err = self._open(t, deadline, p)
            if err is not None:
                return Hop(
                    url=url,
                    method=method,
                    status=None,
                    reason=None,
                    http_version=None,
                    remote_address=p.address,
                    remote_port=p.port,
                    routed_by=tuple(p.routed_by),
                    reused=False,
                    request_headers=(),  # never sent
                    response_headers=(),
                    timing=p.timing(start, now_ns()),
                    tls=conn.tls if conn else None,
                    body=None,
                    redirect_to=None,
                    stopped_in=p.stopped_in,
                    error=err,
                )
        assert conn is not None
        if not reused:
            ex = self._exchange(conn, t, method, body, headers, host_override, deadline)
        assert ex is not None
        end = now_ns()
        closing = any(
            n.lower() == "connection" and "close" in v.lower() for n, v in ex.response_headers
        )
        if ex.error is None and ex.reusable and not closing and not ex.truncated:
            self.pool[key] = conn
        else:
            conn.stream.close()
        sent, first = ex.request_sent_ns, ex.first_byte_ns
        if ex.error is not None:
            p.stopped_in = (
                Phase.REQUEST if sent is None else Phase.TTFB if first is None else Phase.TRANSFER
            )
        if sent is not None:  # the wait for the response, or for nothing until it failed
            p.ttfb_ms = ((first or end) - sent) / 1e6
        if first is not None:
            p.transfer_ms = ((ex.last_byte_ns or end) - first) / 1e6
        return Hop(
            url=url,
            method=method,
            status=ex.status,
            reason=ex.reason or None,
            http_version=ex.http_version if ex.status is not None else None,
            remote_address=conn.address,
            remote_port=conn.port,
            routed_by=conn.routed_by,
            reused=reused,
            request_headers=_shown(ex.request_headers, opts.show_secrets),
            response_headers=tuple(ex.response_headers),
            timing=p.timing(start, end),
            tls=conn.tls,
            body=self._body(ex, method),
            redirect_to=None,
            stopped_in=p.stopped_in,
            error=ex.error,
        )

    def _exchange(
        self,
        conn: _Conn,
        t: Target,
        method: str,
        body: bytes | None,
        headers: list[tuple[str, str]],
        host_override: str | None,
        deadline: int,
    ) -> Exchange:
        """One request and its response over ``conn`` (``request_headers`` as sent)."""
        assert conn.client is not None and t.scheme is not None
        request = Request(
            method=method,
            target=t.path or "/",
            headers=tuple(headers),
            body=body or b"",
            authority=host_override or _authority(t),
            scheme=t.scheme,
            deadline_ns=deadline,
            limit=self.limit,
            max_body_bytes=self.opts.max_body_bytes,
        )
        return conn.client.exchange(request)

    def _body(self, ex: Exchange, method: str) -> Body | None:
        if ex.status is None:
            return None
        h = {n.lower(): v for n, v in ex.response_headers}
        encoding = h.get("content-encoding")
        decoded = _decode(ex.body, encoding, self.opts.max_body_bytes) if not ex.truncated else None
        text = None
        if self.opts.show_body and method != "HEAD":
            shown = (decoded if decoded is not None else ex.body)[: self.opts.body_print_limit]
            text = shown.decode("utf-8", "replace")
        return Body(
            ex.body_bytes,
            h.get("content-type"),
            encoding,
            len(decoded) if decoded is not None and encoding else None,
            ex.truncated,
            text,
        )


def _request_headers(opts: HttpOptions, target: Target) -> list[tuple[str, str]]:
    """The headers of the first request (Host is added per hop). User info in the URL becomes
    Basic auth, as in curl, unless -H Authorization is given (which wins, as in curl)."""
    defaults = [("User-Agent", f"netdiag/{__version__}"), ("Accept", "*/*")]
    basic = target.basic_auth()
    if basic is not None:
        defaults.insert(0, ("Authorization", basic))
    if opts.compressed:
        defaults.append(("Accept-Encoding", "gzip, deflate"))
    given = {n.lower() for n, _ in opts.headers}
    out = [(n, v) for n, v in defaults if n.lower() not in given]
    out += [(n, v) for n, v in opts.headers if n.lower() != "host"]
    if opts.data is not None:
        if "content-type" not in given:
            out.append(("Content-Type", "application/x-www-form-urlencoded"))
        out.append(("Content-Length", str(len(opts.data))))
    return out


_LOADED: set[str] = set()


def _load_once(t: Target, opts: HttpOptions) -> None:
    """Load what a hop to ``t`` needs once per process, before its clock starts, so that no
    phase (nor ``local_ms``) holds netdiag's start-up: the TLS and X.509 code, OpenSSL's
    configuration and the trust store for https (about 40 ms), h2 with --http2 (about 10 ms).
    Cheap once done."""
    if t.scheme == "https" and "https" not in _LOADED:
        from OpenSSL import SSL

        SSL.Context(SSL.TLS_CLIENT_METHOD)  # OpenSSL reads its configuration once (~1 ms)
        _LOADED.add("https")
    if t.scheme == "https":  # the store in use: cached per bundle (and per file)
        from netdiag.net.certs import load_pem_bundle, system_trust_store

        if opts.ca_pem is not None:
            load_pem_bundle(opts.ca_pem)
        else:
            system_trust_store()
    if opts.http2 and t.scheme == "https" and "h2" not in _LOADED:
        from netdiag.net.httpclient import load_http2

        load_http2()
        _LOADED.add("h2")


def _authority(t: Target) -> str:
    """``host[:port]`` as the Host header carries it (no port when it is the scheme's; no
    IPv6 zone, which means something only on this host: RFC 6874, as curl sends it)."""
    assert t.port is not None
    host = t.host.split("%", 1)[0]
    if t.port == SCHEMES.get(t.scheme or "", 0):
        return format_hostport(host, None)
    return format_hostport(host, t.port)


def _host_header_warnings(
    target: Target, user_host: str | None, opts: HttpOptions
) -> tuple[ProbeError, ...]:
    """A warning when -H Host names another host than an https URL: the header goes to the
    server, but SNI and the certificate check follow the URL's host (as in curl)."""
    if user_host is None or target.scheme != "https":
        return ()
    given = _host_key(user_host.strip())
    if given in (_host_key(_authority(target)), _host_key(target.hostport())):
        return ()
    where = "Host header and HTTP/2 :authority say" if opts.http2 else "Host header says"
    port = target.port
    return (
        ProbeError(
            ErrorKind.HOST_HEADER,
            f"-H 'Host: {user_host}' is not the URL's host: the {where} {user_host}, but the "
            f"TLS name (SNI) and the certificate check use {target.host}, as in curl; to test "
            f"{user_host} on this server, put it in the URL and add --resolve "
            f"NAME:{port}:ADDRESS or --connect-to",
        ),
    )


def _next_target(url: str, shown: str, run: _Run) -> tuple[Target | None, ProbeError | None]:
    """Where a redirect leads, or why it is not followed: a bad URL, a host that
    :data:`REDIRECT_POLICY` refuses, or --max-time already over."""
    try:
        nxt = parse_target(url, schemes=SCHEMES)
    except TargetError as exc:
        return None, ProbeError(ErrorKind.REDIRECT, f"bad redirect target: {exc}")
    if nxt.scheme is None:  # ``https:443`` from an http URL: a scheme, then no authority
        return None, ProbeError(
            ErrorKind.REDIRECT, f"bad redirect target: '{shown}' has no '//' before a host"
        )
    policy = REDIRECT_POLICY.get()
    refused = policy(nxt.host) if policy is not None else None
    if refused is not None:
        why = f"refusing to follow a redirect to {shown}: {refused}"
        return None, ProbeError(ErrorKind.REDIRECT, why)
    if run.run_deadline is not None and now_ns() >= run.run_deadline:
        why = f"{_max_time_limit(run.opts)} ran out before the redirect to {shown}"
        return None, ProbeError(ErrorKind.TIMEOUT, why)
    return nxt, None


def probe_http(target: Target, opts: HttpOptions) -> HttpReport:
    """Request ``target`` (a parsed http/https URL), following redirects with ``follow``."""
    _load_once(target, opts)  # before the report's clock starts
    started_at = utc_now_iso()
    start = now_ns()
    run = _Run(opts, start)
    hops: list[Hop] = []
    method = opts.method
    body = opts.data
    headers = _request_headers(opts, target)
    user_host = next((v for n, v in opts.headers if n.lower() == "host"), None)
    warnings = _host_header_warnings(target, user_host, opts)
    # ``url`` is requested and joined with each Location; ``shown`` is what the report shows.
    # Neither holds a password: Target.text has it redacted, and user info is never joined.
    shown = target.text.strip()
    url = strip_userinfo(shown)
    t = target
    seen: set[tuple[str, str]] = set()
    error: ProbeError | None = None
    interrupted = False
    try:
        while True:
            seen.add((method, url))
            same_origin = (t.scheme, t.host, t.port) == (target.scheme, target.host, target.port)
            hop = run.hop(shown, t, method, body, headers, user_host if same_origin else None)
            received = hop.response_headers  # as received: the redirect reads these
            hop = dataclasses.replace(
                hop, response_headers=_shown_response(received, opts.show_secrets)
            )
            location = next((v for n, v in received if n.lower() == "location"), None)
            if hop.error is None and opts.follow and hop.status in REDIRECTS and location:
                nxt = urljoin(url, location)
                nxt_shown = redact_userinfo(nxt)
                hop = dataclasses.replace(hop, redirect_to=nxt_shown)
                hops.append(hop)
                scheme = urlsplit(nxt).scheme.lower()
                if scheme not in SCHEMES:
                    error = ProbeError(
                        ErrorKind.REDIRECT,
                        f"refusing to follow a redirect to {scheme}: {nxt_shown}",
                    )
                    break
                # As browsers do (the Fetch standard): 303 turns into GET, and so do 301 and
                # 302 after a POST; 307 and 308 repeat the method and the body.
                to_get = hop.status == 303 or (hop.status in (301, 302) and method == "POST")
                if to_get and method != "HEAD":
                    method, body = "GET", None
                    headers = [
                        (n, v)
                        for n, v in headers
                        if n.lower() not in ("content-length", "content-type")
                    ]
                # User info in a Location is not used (the server chose those credentials;
                # a browser does not send them either) and never shown.
                nxt = strip_userinfo(nxt)
                if (method, nxt) in seen:
                    error = ProbeError(
                        ErrorKind.REDIRECT_LOOP, f"redirect loop: {nxt_shown} was already requested"
                    )
                    break
                if len(hops) > opts.max_redirects:
                    error = ProbeError(
                        ErrorKind.TOO_MANY_REDIRECTS,
                        f"more than {opts.max_redirects} redirects (--max-redirects)",
                    )
                    break
                new_t, error = _next_target(nxt, nxt_shown, run)
                if new_t is None:
                    break
                if _origin(new_t) != _origin(t):
                    # As curl and requests do: no credentials to another scheme, host or port
                    # (nor back to the first origin once they were dropped).
                    headers = [(n, v) for n, v in headers if n.lower() not in SECRET_HEADERS]
                url, shown, t = nxt, nxt, new_t
                continue
            hops.append(hop)
            error = hop.error
            break
    except KeyboardInterrupt:
        interrupted = True
        error = ProbeError(ErrorKind.INTERRUPTED, "interrupted before the last response")
    finally:
        run.close()
    total = elapsed_ms(start)
    # The certificate warnings of every hop (once each), as `netdiag tls` would give them.
    for hop in hops:
        for w in hop.tls.warnings if hop.tls is not None else ():
            if w not in warnings:
                warnings += (w,)
    final = hops[-1] if hops else None
    status = final.status if final else None
    if (
        error is None
        and status is not None
        and not any(lo <= status <= hi for lo, hi in opts.expect_status)
    ):
        ranges = ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in opts.expect_status)
        error = ProbeError(
            ErrorKind.STATUS, f"status {status} is not among the expected ({ranges})"
        )
    if error is None and opts.max_ms is not None and total > opts.max_ms:
        error = ProbeError(
            ErrorKind.SLOW, f"took {total:.1f} ms, more than --max-ms {opts.max_ms:g}"
        )
    return HttpReport(
        command="http",
        ok=error is None and not interrupted,
        error=error,
        interrupted=interrupted,
        started_at=started_at,
        url=shown,
        status=status,
        hops=tuple(hops),
        duration_ms=total,
        warnings=warnings,
    )
