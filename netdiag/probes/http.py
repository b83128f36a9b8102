"""The ``http`` probe: one request, and with ``-L`` every redirect hop, each with its own
waterfall: ``dns_ms`` -> ``connect_ms`` -> ``tls_ms`` -> ``ttfb_ms`` -> ``transfer_ms``.

Built from netdiag's own blocks: name resolution (:mod:`netdiag.resolve`), the TCP connect
(:mod:`netdiag.tcpconnect`), the TLS handshake and certificate verdict (:mod:`netdiag.tlsconn`,
:mod:`netdiag.probes.tls`), and h11/h2 for HTTP (:mod:`netdiag.httpclient`). A hop to the same
scheme, host and port as an earlier one reuses its kept-alive connection, and shows that no
lookup, connect or handshake was needed.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from netdiag import __version__
from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
from netdiag.httpclient import Exchange, Http1, Http2, PlainStream, Stream
from netdiag.resolve import resolve
from netdiag.result import Envelope, ProbeError
from netdiag.targets import (
    Target,
    TargetError,
    format_hostport,
    parse_target,
    redact_userinfo,
    strip_userinfo,
)
from netdiag.tcpconnect import connect

SCHEMES = {"http": 80, "https": 443}
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Request headers shown redacted, and never sent to another origin after a redirect."""
SET_COOKIE = frozenset({"set-cookie", "set-cookie2"})
"""Response headers whose cookie values are shown redacted."""
URL_HEADERS = frozenset({"location", "content-location"})
"""Response headers holding a URL, whose user info is shown redacted."""
COOKIE_ATTRIBUTES = frozenset(
    {"expires", "max-age", "domain", "path", "secure", "httponly", "samesite", "partitioned"}
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
REDACTED = "[redacted: --show-secrets to show]"


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
    max_header_bytes: int = 65536
    max_body_bytes: int = 10 << 20
    expect_status: tuple[tuple[int, int], ...] = ((100, 399),)
    max_ms: float | None = None
    show_body: bool = False
    body_print_limit: int = 65536
    show_secrets: bool = False
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    """From the request's last byte sent to the response's first byte: the server's time."""
    transfer_ms: float | None
    """From the first response byte to the last."""
    total_ms: float


@dataclass(frozen=True, slots=True)
class TlsSummary:
    protocol: str
    cipher: str
    alpn: str | None
    trusted: bool | None
    """Verifies now, for this name or not (``tls``'s meaning): a path to a trust anchor and
    every certificate within its validity period now."""
    path_to_trust_anchor: bool | None
    """Builds to a trust anchor (checked at a moment every certificate is valid)."""
    hostname_match: bool | None
    problems: tuple[ProbeError, ...]
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
    reused: bool
    """This hop reused the previous hop's kept-alive connection: no lookup, connect, handshake."""
    request_headers: tuple[tuple[str, str], ...]
    response_headers: tuple[tuple[str, str], ...]
    timing: Timing
    tls: TlsSummary | None
    body: Body | None
    redirect_to: str | None
    error: ProbeError | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReport(Envelope):
    url: str
    """The last URL requested (after redirects)."""
    status: int | None
    hops: tuple[Hop, ...]


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

    client: Http1 | Http2 | None
    stream: Stream
    address: str
    tls: TlsSummary | None


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
    ``Cookie`` request header is, and so is the user info of a URL (``Location``)."""
    if show_secrets:
        return headers
    return tuple(
        (
            n,
            _shown_cookie(v)
            if n.lower() in SET_COOKIE
            else redact_userinfo(v)
            if n.lower() in URL_HEADERS
            else v,
        )
        for n, v in headers
    )


def _origin(t: Target) -> tuple[str | None, str, int | None]:
    return t.scheme, t.host.lower(), t.port


def _decode(data: bytes, encoding: str | None, limit: int) -> bytes | None:
    """Content-decode a body (gzip, deflate), bounded by ``limit`` bytes of output."""
    if not encoding or encoding.lower() == "identity":
        return data
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


class _Run:
    def __init__(self, opts: HttpOptions) -> None:
        self.opts = opts
        self.pool: dict[tuple[str, str, int], _Conn] = {}

    def close(self) -> None:
        for c in self.pool.values():
            c.stream.close()
        self.pool.clear()

    def _open(self, t: Target, deadline: int) -> tuple[_Conn | None, dict, ProbeError | None]:
        """A new connection for a hop: resolve, connect, TLS (with the certificate verdict)."""
        times: dict[str, float | None] = {"dns_ms": None, "connect_ms": None, "tls_ms": None}
        assert t.port is not None
        left = max(0.001, (deadline - now_ns()) / 1e9)
        res = resolve(t.host, t.port, version=self.opts.version, timeout=left, numeric=t.is_ip)
        if not t.is_ip:
            times["dns_ms"] = res.dns_ms
        if res.error is not None:
            return None, times, res.error
        endpoint = res.endpoints[0]
        conn = connect(endpoint, max(0.001, (deadline - now_ns()) / 1e9))
        if conn.sock is None:
            assert conn.error is not None
            return None, times, conn.error
        times["connect_ms"] = conn.connect_ms
        if t.scheme != "https":
            stream: Stream = PlainStream(conn.sock)
            return (
                _Conn(Http1(stream, self.opts.max_header_bytes), stream, endpoint.address, None),
                times,
                None,
            )

        from netdiag.probes.tls import TlsOptions, judge
        from netdiag.tlsconn import handshake

        alpn = ["h2", "http/1.1"] if self.opts.http2 else ["http/1.1"]
        tls_start = now_ns()
        where = format_hostport(endpoint.address, endpoint.port)
        session, err = handshake(
            conn.sock,
            sni=None if t.is_ip else t.host,
            alpn=alpn,
            timeout=max(0.001, (deadline - now_ns()) / 1e9),
            where=where,
        )
        if session is None:
            assert err is not None
            if err.kind == "timeout":  # the handshake had what was left of the hop's time
                err = ProbeError(
                    "timeout",
                    f"no TLS answer from {where} within the hop's {self.opts.timeout:g} s "
                    "(--timeout)",
                )
            return None, times, err
        from pathlib import Path

        verdict = judge(
            session.chain,
            t.host,
            TlsOptions(
                ca_file=Path(self.opts.ca_file) if self.opts.ca_file else None,
                ca_pem=self.opts.ca_pem,
            ),
        )
        chain = verdict["chain"]
        leaf = chain[0] if chain else None  # type: ignore[index]
        # Verifying the certificate is part of the TLS phase, as in a browser or curl.
        times["tls_ms"] = (now_ns() - tls_start) / 1e6
        summary = TlsSummary(
            protocol=session.protocol,
            cipher=session.cipher,
            alpn=session.alpn,
            trusted=verdict["trusted"],  # type: ignore[arg-type]
            path_to_trust_anchor=verdict["path_to_trust_anchor"],  # type: ignore[arg-type]
            hostname_match=verdict["hostname_match"],  # type: ignore[arg-type]
            problems=verdict["problems"],  # type: ignore[arg-type]
            subject=leaf.subject if leaf else None,
            issuer=leaf.issuer if leaf else None,
            not_after=leaf.not_after if leaf else None,
            days_left=leaf.days_left if leaf else None,
        )
        problems = summary.problems
        if problems and not self.opts.insecure:
            session.close()
            first = problems[0]
            err = ProbeError(
                "tls", f"{first.kind}: {first.message} (--insecure to go on)", first.hint
            )
            return _Conn(None, session, endpoint.address, summary), times, err
        client: Http1 | Http2
        client = (
            Http2(session, self.opts.max_header_bytes)
            if session.alpn == "h2"
            else Http1(session, self.opts.max_header_bytes)
        )
        return _Conn(client, session, endpoint.address, summary), times, None

    def hop(
        self,
        url: str,
        t: Target,
        method: str,
        body: bytes | None,
        headers: list[tuple[str, str]],
        host_override: str | None = None,
    ) -> Hop:
        start = now_ns()
        opts = self.opts
        deadline = start + int(opts.timeout * 1e9)
        assert t.port is not None and t.scheme is not None
        key = (t.scheme, t.host, t.port)
        conn = self.pool.pop(key, None)
        reused = conn is not None
        times: dict = {"dns_ms": None, "connect_ms": None, "tls_ms": None}
        ex: Exchange | None = None
        if conn is not None:
            ex, wire_headers = self._exchange(
                conn, t, method, body, headers, host_override, deadline
            )
            if ex.retryable:
                # curl's rule: the server had closed (or reset) the kept-alive connection and
                # not one byte of the response came, so the request goes again, once, on a
                # new connection; the hop then shows that connection's lookup and handshakes.
                conn.stream.close()
                conn, reused = None, False
        if conn is None:
            conn, times, err = self._open(t, deadline)
            if err is not None:
                return Hop(
                    url,
                    method,
                    None,
                    None,
                    None,
                    conn.address if conn else None,
                    False,
                    _shown(headers, opts.show_secrets),
                    (),
                    Timing(**times, ttfb_ms=None, transfer_ms=None, total_ms=elapsed_ms(start)),
                    conn.tls if conn else None,
                    None,
                    None,
                    err,
                )
        assert conn is not None
        if not reused:
            ex, wire_headers = self._exchange(
                conn, t, method, body, headers, host_override, deadline
            )
        assert ex is not None
        end = now_ns()
        closing = any(
            n.lower() == "connection" and "close" in v.lower() for n, v in ex.response_headers
        )
        if ex.error is None and ex.reusable and not closing and not ex.truncated:
            self.pool[key] = conn
        else:
            conn.stream.close()
        timing = Timing(
            dns_ms=times["dns_ms"],
            connect_ms=times["connect_ms"],
            tls_ms=times["tls_ms"],
            ttfb_ms=(ex.first_byte_ns - ex.request_sent_ns) / 1e6
            if ex.first_byte_ns and ex.request_sent_ns
            else None,
            transfer_ms=(ex.last_byte_ns - ex.first_byte_ns) / 1e6
            if ex.last_byte_ns and ex.first_byte_ns
            else None,
            total_ms=(end - start) / 1e6,
        )
        return Hop(
            url=url,
            method=method,
            status=ex.status,
            reason=ex.reason or None,
            http_version=ex.http_version if ex.status is not None else None,
            remote_address=conn.address,
            reused=reused,
            request_headers=_shown(wire_headers, opts.show_secrets),
            response_headers=tuple(ex.response_headers),
            timing=timing,
            tls=conn.tls,
            body=self._body(ex, method),
            redirect_to=None,
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
    ) -> tuple[Exchange, list[tuple[str, str]]]:
        """One request and its response over ``conn``; also the headers as sent."""
        assert conn.client is not None and t.port is not None and t.scheme is not None
        opts = self.opts
        default_port = 443 if t.scheme == "https" else 80
        authority = t.host if t.port == default_port else format_hostport(t.host, t.port)
        if ":" in t.host and t.port == default_port:
            authority = f"[{t.host}]"
        authority = host_override or authority
        wire_headers = (
            [("Host", authority), *headers] if isinstance(conn.client, Http1) else list(headers)
        )
        # HTTP/2 carries the authority and scheme as pseudo-headers, HTTP/1.1 in Host.
        h2_only = (
            {"authority": authority, "scheme": t.scheme} if isinstance(conn.client, Http2) else {}
        )
        ex = conn.client.exchange(
            method,
            t.path or "/",
            wire_headers,
            body or b"",
            deadline_ns=deadline,
            timeout=opts.timeout,
            max_body_bytes=opts.max_body_bytes,
            **h2_only,
        )
        return ex, wire_headers

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


def probe_http(target: Target, opts: HttpOptions) -> HttpReport:
    """Request ``target`` (a parsed http/https URL), following redirects with ``follow``."""
    if target.scheme == "https":  # load TLS and X.509 code before the clock starts
        import netdiag.probes.tls
        import netdiag.tlsconn  # noqa: F401

    started_at = utc_now_iso()
    start = now_ns()
    run = _Run(opts)
    hops: list[Hop] = []
    method = opts.method
    body = opts.data
    headers = _request_headers(opts, target)
    user_host = next((v for n, v in opts.headers if n.lower() == "host"), None)
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
                        "redirect", f"refusing to follow a redirect to {scheme}: {nxt_shown}"
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
                        "redirect_loop", f"redirect loop: {nxt_shown} was already requested"
                    )
                    break
                if len(hops) > opts.max_redirects:
                    error = ProbeError(
                        "too_many_redirects",
                        f"more than {opts.max_redirects} redirects (--max-redirects)",
                    )
                    break
                try:
                    new_t = parse_target(nxt, schemes=SCHEMES)
                except TargetError as exc:
                    error = ProbeError("redirect", f"bad redirect target: {exc}")
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
        error = ProbeError("interrupted", "interrupted before the last response")
    finally:
        run.close()
    total = elapsed_ms(start)
    final = hops[-1] if hops else None
    status = final.status if final else None
    if (
        error is None
        and status is not None
        and not any(lo <= status <= hi for lo, hi in opts.expect_status)
    ):
        ranges = ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in opts.expect_status)
        error = ProbeError("status", f"status {status} is not among the expected ({ranges})")
    if error is None and opts.max_ms is not None and total > opts.max_ms:
        error = ProbeError("slow", f"took {total:.1f} ms, more than --max-ms {opts.max_ms:g}")
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
    )
