"""The exporter's HTTP server: asyncio, with h11 on the wire (HTTP is never parsed here).

The model, and its bounds:

- **One event loop** reads every connection; no thread or task is held by a client that
  is slow to send: a request (request line and headers) must arrive within
  :data:`REQUEST_DEADLINE_S` of its first byte, and an idle kept-alive connection is closed
  after :data:`IDLE_TIMEOUT_S`. A client that sends a byte a second costs one idle socket
  until its deadline, then is answered 408 and closed.
- **Bounded input**: the request line and headers together at most
  :data:`MAX_REQUEST_BYTES` (else 431, by h11's own bound); no request body is accepted
  (413); at most :data:`MAX_CONNECTIONS` connections open (one more is closed at once).
  Pipelined requests are answered one after the other, each read only when the previous one
  is answered.
- **Bounded probes**: probes are blocking functions, run on at most ``max_concurrent``
  daemon worker threads; a probe request beyond that is answered 503 at once, never queued.
  Each probe is bounded by its timeout; a request waits for its probe at most
  :func:`netdiag.serve.modules.wait_bound` (then answers a failed probe); a probe that
  outlives its request keeps its slot until it ends.
- **No traceback reaches a client**: a bug is a 500 with one line, logged on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import h11

from netdiag.checks.spec import ModuleSpec, SpecError
from netdiag.errors import ErrorKind
from netdiag.output import escape_controls
from netdiag.results import ProbeError
from netdiag.serve.allow import AllowList, target_host
from netdiag.serve.answer import ProbeOutcome, debug_text, exposition, run_probe
from netdiag.serve.modules import (
    DEFAULT_MODULE,
    SCRAPE_TIMEOUT_HEADER,
    probe_timeout,
    scrape_timeout,
    wait_bound,
)
from netdiag.serve.selfmetrics import ExporterMetrics
from netdiag.targets import TargetError

if TYPE_CHECKING:
    from netdiag.results.check import AnyReport
    from netdiag.serve.recent import Ring
    from netdiag.serve.webconfig import BasicAuth, WebConfig

MAX_REQUEST_BYTES = 8192
"""The request line and headers together."""
REQUEST_DEADLINE_S = 5.0
"""From a request's first byte to its last."""
IDLE_TIMEOUT_S = 30.0
"""A kept-alive connection with no request started is closed after this long."""
WRITE_DEADLINE_S = 10.0
"""A client that does not read its answer within this long is cut off."""
MAX_CONNECTIONS = 512
DEFAULT_MAX_CONCURRENT = 100
RECENT_PROBES = 100
"""Probes shown on ``GET /``."""
MAX_QUERY_FIELDS = 16
BOUND_CACHE = 1024
"""Probe calls kept ready, by module, target and timeout (the most recently used)."""
READ_CHUNK = 4096

CONTENT_TYPE_TEXT = "text/plain; charset=utf-8"
CONTENT_TYPE_HTML = "text/html; charset=utf-8"

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def log(message: str) -> None:
    """One line on stderr, control characters escaped; a failing stderr is not an error."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"netdiag serve: {escape_controls(message)}\n")
        sys.stderr.flush()


@dataclass(frozen=True, slots=True)
class ServeConfig:
    host: str
    """The address to listen on ('' for every interface)."""
    port: int
    """0: any free port (the bound one is in :attr:`Exporter.addresses`)."""
    modules: dict[str, ModuleSpec]
    allow: AllowList | None = None
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    web: WebConfig | None = None
    request_deadline_s: float = REQUEST_DEADLINE_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_request_bytes: int = MAX_REQUEST_BYTES
    max_connections: int = MAX_CONNECTIONS


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = CONTENT_TYPE_TEXT
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


@dataclass(frozen=True, slots=True)
class RecentProbe:
    """One probe, as ``GET /`` lists it."""

    at_s: float
    """When it ended, in unixtime (formatted only when the page is asked for)."""
    module: str
    target: str
    ok: bool
    kind: str | None
    duration_s: float
    cut: bool = False
    """The target was too long to keep whole (several workers): its beginning only."""

    @property
    def at(self) -> str:
        """When it ended, UTC ISO 8601 to the second."""
        at = datetime.fromtimestamp(self.at_s, UTC)
        return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _cacheable(module: ModuleSpec) -> bool:
    """Whether a module's probe call may be kept for its target: not when binding it reads a
    file (--ca-file, --root-hints, -d @FILE), which is read again for every probe."""
    o = module.options
    data = o.get("data")
    return (
        o.get("ca_file") is None
        and o.get("root_hints") is None
        and not (isinstance(data, str) and data.startswith("@"))
    )


def _redirects_within(call: Callable[[], AnyReport], allow: AllowList) -> Callable[[], AnyReport]:
    """``call`` (an http probe) with its redirects held to ``allow``, as the request's own
    target is: a redirect elsewhere is the probe's failure (kind ``redirect``), never a hop."""
    from netdiag.probes.http import REDIRECT_POLICY

    def within() -> AnyReport:
        token = REDIRECT_POLICY.set(allow.refusal)  # this thread's context: this probe only
        try:
            return call()
        finally:
            REDIRECT_POLICY.reset(token)

    return within


class Slots(Protocol):
    """--max-concurrent's slots shared by worker processes (a multiprocessing semaphore)."""

    def acquire(self, block: bool = ..., timeout: float | None = ...) -> bool: ...

    def release(self) -> None: ...


class _Slow(Exception):
    """The request did not arrive within its deadline."""


_Done = Callable[[Any, BaseException | None], None]


class _Workers:
    """Daemon threads that run blocking probes, started as they are needed (never more than
    ``size``). The caller bounds what is submitted to ``size`` at once, so nothing waits in
    the queue for long; daemon threads let the process exit while a probe still runs (each
    is bounded by its timeout anyway).

    A job's ``done(result, exception)`` is called on the event loop. Jobs that end while the
    loop is busy are handed over together: one wake-up of the loop for all of them, not one
    each (a wake-up is a write to the loop's self-pipe and a turn of the loop)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], _Done]] = queue.SimpleQueue()
        self._threads = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended: deque[tuple[_Done, Any, BaseException | None]] = deque()
        self._wake_pending = False

    def submit(self, fn: Callable[[], Any], done: _Done, busy: int) -> None:
        """Run ``fn`` on a worker (from the running loop); ``busy`` jobs (this one included)
        are running."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        while self._threads < min(busy, self._size):
            self._threads += 1
            threading.Thread(target=self._work, name="serve-probe", daemon=True).start()
        self._jobs.put((fn, done))

    def _work(self) -> None:
        while True:
            fn, done = self._jobs.get()
            try:
                ended: tuple[_Done, Any, BaseException | None] = (done, fn(), None)
            except BaseException as exc:  # run_probe catches what a probe raises
                ended = (done, None, exc)
            self._ended.append(ended)
            # The flag is cleared by _hand_over before it empties the deque: a job appended
            # after that finds the flag clear and wakes the loop again.
            if not self._wake_pending:
                self._wake_pending = True
                loop = self._loop
                assert loop is not None
                with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
                    loop.call_soon_threadsafe(self._hand_over)

    def _hand_over(self) -> None:
        self._wake_pending = False
        ended = self._ended
        while ended:
            done, result, exc = ended.popleft()
            done(result, exc)


@cache
def _reason(status: int) -> bytes:
    return HTTPStatus(status).phrase.encode("ascii")


def _split_target(raw: bytes) -> tuple[str, str]:
    """The path and the query of a request target (origin form, or absolute form whose
    scheme and authority are ignored); ValueError for anything else."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("the request target is not ASCII") from None
    if text.startswith("/"):
        path, _, query = text.partition("?")
        return path, query
    if text.lower().startswith(("http://", "https://")):
        parts = urlsplit(text)
        return parts.path or "/", parts.query
    raise ValueError("the request target is neither a path nor an http URL")


def _params(query: str) -> dict[str, list[str]]:
    """The query's parameters (ValueError when it is malformed: a bad percent-escape, bytes
    that are not UTF-8, too many fields)."""
    if _BAD_PERCENT.search(query):
        raise ValueError("malformed percent-encoding in the query")
    params: dict[str, list[str]] = {}
    pairs = parse_qsl(
        query, keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_FIELDS
    )
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def _single(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    if values is None:
        return None
    if len(values) > 1:
        raise ValueError(f"{key} is given {len(values)} times")
    return values[0]


class Exporter:
    """The exporter: :meth:`start` binds and serves on the running loop, :meth:`close`
    stops.

    As one of several worker processes (:mod:`netdiag.serve.workers`), it is given its
    listening ``sockets`` (bound by the supervisor), the ``slots`` semaphore that bounds the
    probes of every worker together, and the ``shared_dir`` where every worker keeps its
    metrics and recent probes, so that ``/metrics`` and ``/`` tell the whole exporter's."""

    def __init__(
        self,
        config: ServeConfig,
        *,
        sockets: Sequence[socket.socket] = (),
        slots: Slots | None = None,
        shared_dir: str | None = None,
    ) -> None:
        self.config = config
        self.metrics = ExporterMetrics(config.modules, shared_dir)
        self.recent: deque[RecentProbe] = deque(maxlen=RECENT_PROBES)
        self.addresses: list[tuple[str, int]] = []
        self._sockets = list(sockets)
        self._slots = slots
        self._shared_dir = shared_dir
        self._ring: Ring | None = None
        if shared_dir is not None:
            from netdiag.serve.recent import Ring

            self._ring = Ring(shared_dir, RECENT_PROBES)
        self._in_flight = 0
        self._workers = _Workers(config.max_concurrent)
        self._bound: OrderedDict[tuple[str, str, float], Callable[[], AnyReport]] = OrderedDict()
        self._connections: set[asyncio.Task[Any]] = set()
        self._servers: list[asyncio.Server] = []
        self._auth: BasicAuth | None = None
        if config.web is not None and config.web.users:
            from netdiag.serve.webconfig import BasicAuth

            self._auth = BasicAuth(config.web.users)

    @property
    def scheme(self) -> str:
        web = self.config.web
        return "https" if web is not None and web.cert_file is not None else "http"

    async def start(self) -> list[tuple[str, int]]:
        """Listen; the addresses bound. OSError when it cannot bind."""
        ssl_context = None
        web = self.config.web
        if web is not None and web.cert_file is not None:
            from netdiag.serve.webconfig import server_ssl_context

            ssl_context = server_ssl_context(web)
        handshake = self.config.request_deadline_s if ssl_context else None
        if self._sockets:  # bound by the supervisor
            for sock in self._sockets:
                server = await asyncio.start_server(
                    self._connection, sock=sock, ssl=ssl_context, ssl_handshake_timeout=handshake
                )
                self._servers.append(server)
        else:
            server = await asyncio.start_server(
                self._connection,
                self.config.host or None,
                self.config.port,
                ssl=ssl_context,
                ssl_handshake_timeout=handshake,
                backlog=1024,
                reuse_address=True,
            )
            self._servers.append(server)
        self.addresses = [
            (str(s.getsockname()[0]), int(s.getsockname()[1]))
            for server in self._servers
            for s in server.sockets
        ]
        return self.addresses

    async def close(self) -> None:
        """Stop listening and close every connection (a probe still running ends on its
        own, bounded by its timeout)."""
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2.0)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        if self._ring is not None:
            self._ring.close()
            self._ring = None

    # --- connections --------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= self.config.max_connections:
            self.metrics.refused.labels("connections").inc()
            writer.transport.abort()
            return
        self._connections.add(task)
        self.metrics.connections.inc()
        try:
            await self._serve_connection(reader, writer)
        except (OSError, EOFError, TimeoutError, asyncio.CancelledError):
            pass  # the client went away, was too slow to read, or we are stopping
        except Exception as exc:  # a bug: never a traceback, never the server down
            self.metrics.internal.inc()
            log(f"internal error on a connection: {type(exc).__name__}: {exc}")
        finally:
            self._connections.discard(task)
            self.metrics.connections.dec()
            writer.transport.abort()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_request_bytes)
        while True:
            try:
                request = await self._read_request(conn, reader)
            except _Slow:
                self.metrics.refused.labels("slow_client").inc()
                deadline = self.config.request_deadline_s
                await self._send_early(
                    conn, writer, 408, f"the request did not arrive within {deadline:g} s"
                )
                return
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                reason = "too_large" if status == 431 else "bad_request"
                self.metrics.refused.labels(reason).inc()
                if status == 431:
                    limit = self.config.max_request_bytes
                    message = f"the request line and headers exceed {limit} bytes"
                else:
                    message = f"malformed HTTP request: {exc}"
                await self._send_early(conn, writer, status, message)
                return
            if request is None:
                return
            response = await self._guarded_handle(conn, request)
            await self._send(conn, writer, request, response)
            if response.close or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Request | None:
        """The next request (None: the client closed, or stayed idle too long), within its
        deadline from its first byte (:class:`_Slow` when it is late)."""
        loop = asyncio.get_running_loop()
        idle_until = loop.time() + self.config.idle_timeout_s
        deadline: float | None = None
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                return event
            if event is not h11.NEED_DATA:
                return None  # ConnectionClosed (or PAUSED, which cannot happen here)
            if deadline is None and conn.trailing_data[0]:
                deadline = loop.time() + self.config.request_deadline_s
            until = deadline if deadline is not None else idle_until
            try:
                if until <= loop.time():
                    raise TimeoutError
                # Never more than the bound past what is buffered: a request larger than
                # the bound is then still incomplete when it passes it, and h11 refuses it.
                room = self.config.max_request_bytes + 1 - len(conn.trailing_data[0])
                async with asyncio.timeout_at(until):  # no task of its own, unlike wait_for
                    data = await reader.read(max(1, min(READ_CHUNK, room)))
            except TimeoutError:
                if deadline is not None:
                    raise _Slow from None
                return None
            if deadline is None and data:
                deadline = loop.time() + self.config.request_deadline_s
            conn.receive_data(data)

    async def _send_early(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str
    ) -> None:
        """An error answer to a request that never arrived whole, then close."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        response = Response(status, (message + "\n").encode(), close=True)
        self.metrics.request(status)
        with contextlib.suppress(h11.LocalProtocolError):
            await self._write(writer, self._encode(conn, None, response))

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        response: Response,
    ) -> None:
        self.metrics.request(response.status)
        await self._write(writer, self._encode(conn, request, response))

    def _encode(self, conn: h11.Connection, request: h11.Request | None, r: Response) -> bytes:
        headers = [
            ("content-type", r.content_type),
            ("content-length", str(len(r.body))),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            *r.headers,
        ]
        if r.close:
            headers.append(("connection", "close"))
        reason = _reason(r.status)
        out = conn.send(h11.Response(status_code=r.status, headers=headers, reason=reason)) or b""
        if r.body and (request is None or request.method != b"HEAD"):
            out += conn.send(h11.Data(data=r.body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        return out

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(WRITE_DEADLINE_S):
            await writer.drain()

    # --- requests -----------------------------------------------------------------------

    async def _guarded_handle(self, conn: h11.Connection, request: h11.Request) -> Response:
        try:
            return await self._handle(conn, request)
        except Exception as exc:  # a bug: a 500 with one line, logged
            self.metrics.internal.inc()
            log(f"internal error: {type(exc).__name__}: {exc}")
            return Response(500, b"internal error (logged by netdiag serve)\n", close=True)

    def _refuse(
        self,
        status: int,
        reason: str,
        message: str,
        headers: tuple[tuple[str, str], ...] = (),
        close: bool = False,
    ) -> Response:
        self.metrics.refused.labels(reason).inc()
        body = (escape_controls(message) + "\n").encode("utf-8", "backslashreplace")
        return Response(status, body, headers=headers, close=close)

    async def _handle(self, conn: h11.Connection, request: h11.Request) -> Response:
        headers = {name: value for name, value in request.headers}  # names are lower case
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            return self._refuse(413, "too_large", "no request body is accepted", close=True)
        if not isinstance(conn.next_event(), h11.EndOfMessage):
            return self._refuse(400, "bad_request", "unexpected request body", close=True)
        try:
            path, query = _split_target(request.target)
        except ValueError as exc:
            return self._refuse(400, "bad_request", str(exc))
        if self._auth is not None:
            denied = await self._check_auth(headers.get(b"authorization"))
            if denied is not None:
                return denied
        method = request.method
        allowed = {"/probe": (b"GET",)}.get(path, (b"GET", b"HEAD"))
        if path not in ("/", "/metrics", "/probe", "/-/healthy", "/-/ready"):
            return self._refuse(404, "not_found", "not found: try /probe, /metrics or /")
        if method not in allowed:
            return self._refuse(
                405,
                "method",
                f"method {method.decode('ascii', 'replace')} not allowed here",
                headers=(("allow", ", ".join(m.decode() for m in allowed)),),
            )
        if path == "/metrics":
            from prometheus_client.exposition import CONTENT_TYPE_LATEST

            return Response(200, self.metrics.render(), content_type=CONTENT_TYPE_LATEST)
        if path == "/":
            from netdiag.serve.page import index_page

            page = index_page(self.config.modules, self._recent())
            return Response(200, page.encode("utf-8"), content_type=CONTENT_TYPE_HTML)
        if path in ("/-/healthy", "/-/ready"):
            return Response(200, b"Healthy\n")
        return await self._probe(query, headers)

    async def _check_auth(self, value: bytes | None) -> Response | None:
        assert self._auth is not None
        ok = await asyncio.get_running_loop().run_in_executor(None, self._auth.check, value)
        if ok:
            return None
        return self._refuse(
            401,
            "unauthorized",
            "unauthorized",
            headers=(("www-authenticate", 'Basic realm="netdiag serve", charset="UTF-8"'),),
        )

    async def _probe(self, query: str, headers: dict[bytes, bytes]) -> Response:
        try:
            params = _params(query)
            target = _single(params, "target")
            name = _single(params, "module") or DEFAULT_MODULE
            debug = (_single(params, "debug") or "").lower() == "true"
            scrape = headers.get(SCRAPE_TIMEOUT_HEADER.encode())
            scrape_s = scrape_timeout(scrape.decode("ascii") if scrape is not None else None)
        except ValueError as exc:
            return self._refuse(400, "bad_request", f"bad request: {exc}")
        if not target:
            return self._refuse(400, "bad_request", "the target parameter is missing")
        module = self.config.modules.get(name)
        if module is None:
            return self._refuse(
                400, "bad_request", f"unknown module {name!r} (see / for the modules)"
            )
        timeout_s = probe_timeout(module, scrape_s)
        key = (name, target, timeout_s)
        call = self._bound.get(key)
        if call is not None:  # this target passed every check below with this module
            self._bound.move_to_end(key)
        else:
            try:
                host = target_host(module.type, target)
            except TargetError as exc:
                return self._refuse(400, "bad_request", f"target: {exc}")
            if self.config.allow is not None:
                why = self.config.allow.refusal(host)
                if why is not None:
                    return self._refuse(403, "forbidden_target", f"target refused: {why}")
            try:
                call = module.bind(target, timeout_s)
            except SpecError as exc:
                return self._refuse(400, "bad_request", f"target: {exc}")
            if self.config.allow is not None and module.type == "http":
                call = _redirects_within(call, self.config.allow)
            if _cacheable(module):
                self._bound[key] = call
                if len(self._bound) > BOUND_CACHE:
                    self._bound.popitem(last=False)
        if not self._take_slot():
            return self._refuse(
                503,
                "overloaded",
                f"too many probes in flight ({self.config.max_concurrent}, --max-concurrent); "
                "try again",
                headers=(("retry-after", "1"),),
            )
        outcome = await self._run(module, call, wait_bound(module, timeout_s, scrape_s))
        self._record(module.name, target, outcome)
        if debug:
            text = debug_text(module.name, target, timeout_s, outcome)
            return Response(200, text.encode("utf-8", "backslashreplace"))
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        return Response(200, exposition(outcome), content_type=CONTENT_TYPE_LATEST)

    def _take_slot(self) -> bool:
        """One of --max-concurrent's slots for a probe (False: none is free). With several
        worker processes the slots are shared by all of them (a semaphore)."""
        slots = self._slots
        if slots is not None:
            return slots.acquire(False)
        return self._in_flight < self.config.max_concurrent

    async def _run(
        self, module: ModuleSpec, call: Callable[[], AnyReport], bound_s: float
    ) -> ProbeOutcome:
        """Run the probe on a worker thread (its slot taken by the caller), and wait for it at
        most ``bound_s``; the slot is given back when the probe ends, answered or not."""
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        self.metrics.in_flight.inc()
        started = time.perf_counter()
        answer: asyncio.Future[tuple[AnyReport | None, ProbeError | None]] = loop.create_future()

        def done(result: Any, exc: BaseException | None) -> None:
            self._release()
            if answer.done():
                return  # answered already: over the scrape's bound
            if exc is not None:
                answer.set_exception(exc)
            else:
                answer.set_result(result)

        def late() -> None:
            if not answer.done():
                answer.set_result((None, None))

        self._workers.submit(partial(run_probe, call), done, self._in_flight)
        timer = loop.call_later(bound_s, late)
        try:
            report, error = await answer
        finally:
            timer.cancel()
        if report is None and error is None:
            self.metrics.timed_out.labels(module.name).inc()
            error = ProbeError(
                ErrorKind.TIMEOUT,
                f"the probe did not end within {bound_s:g} s (the scrape's bound)",
            )
        duration = time.perf_counter() - started
        return ProbeOutcome(report, error is None, error, duration)

    def _release(self) -> None:
        self._in_flight -= 1
        self.metrics.in_flight.dec()
        if self._slots is not None:
            self._slots.release()

    def _record(self, module: str, target: str, outcome: ProbeOutcome) -> None:
        kind = str(outcome.error.kind) if outcome.error is not None else None
        self.metrics.probe(module, outcome.ok, kind, outcome.duration_s)
        at = time.time()
        if self._ring is not None:
            self._ring.append(at, module, target, outcome.ok, kind, outcome.duration_s)
        else:
            self.recent.append(
                RecentProbe(at, module, target, outcome.ok, kind, outcome.duration_s)
            )

    def _recent(self) -> list[RecentProbe]:
        """The recent probes, oldest first: this process's, or every worker's."""
        if self._shared_dir is None:
            return list(self.recent)
        from netdiag.serve.recent import read_all

        return [
            RecentProbe(e.at_s, e.module, e.target, e.ok, e.kind, e.duration_s, e.cut)
            for e in read_all(self._shared_dir, RECENT_PROBES)
        ]


async def serve(
    exporter: Exporter,
    stop: asyncio.Event,
    on_listening: Callable[[list[tuple[str, int]]], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (OSError when it cannot bind)."""
    addresses = await exporter.start()
    if on_listening is not None:
        on_listening(addresses)
    try:
        await stop.wait()
    finally:
        await exporter.close()


class Running:
    """The exporter on a thread of its own (tests, benchmarks): ``with Running(config) as
    r: r.url``. Leaving the block stops it."""

    def __init__(self, config: ServeConfig) -> None:
        self.exporter = Exporter(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="netdiag-serve", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.exporter.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        return f"{self.exporter.scheme}://{shown}:{port}"

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(self.exporter, self._stop, lambda _: self._ready.set())

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def __enter__(self) -> Running:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)
