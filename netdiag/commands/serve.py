"""``netdiag serve``: a Prometheus exporter with blackbox_exporter's multi-target interface."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netdiag.commands.options import usage_error

if TYPE_CHECKING:
    from netdiag.serve.server import ServeConfig

HELP = """\
Run a Prometheus exporter, as blackbox_exporter does: GET /probe?target=TARGET&module=NAME
runs one probe and answers its metrics (blackbox_exporter's names, such as probe_success and
probe_duration_seconds, where they mean the same; netdiag's own under netdiag_); add
&debug=true for the probe's text view, as netdiag TYPE prints it. GET /metrics has the
exporter's own metrics, GET / a page with the modules and the recent probes.

Modules (--config, a TOML file) are [[module]] tables written like netdiag check's [[check]]
tables without a target: name, type (tcp, dns, tls, http or ping) and the command's long
options with '-' written '_'; [defaults] applies to every module. Without --config:
tcp_connect (one connect), http_2xx (GET following redirects, healthy on 2xx), dns (an A
lookup with the system's resolvers), tls (netdiag tls's verdict) and icmp (one echo
request), each with a 5 s timeout. A request without module= uses http_2xx.

The probe's timeout is the module's, or Prometheus's X-Prometheus-Scrape-Timeout-Seconds
less 0.5 s when that is smaller.

Safety: it listens on 127.0.0.1 unless --listen says otherwise. --allow-target (repeatable)
limits what may be probed: host names (*.example.org for the names under it) and CIDR
blocks or addresses; an IP target must be in a block, a name must be listed as a name (names
are never resolved to check them: DNS rebinding). A refused target is a 403, never a probe.
At most --max-concurrent probes run at once (503 beyond). A request must arrive whole within
5 s and hold at most 8 KiB of request line and headers; no body is accepted. --web-config
takes exporter-toolkit's web-config.yml (tls_server_config cert_file/key_file,
basic_auth_users with bcrypt hashes; needs the netdiag[serve-auth] extra).

--workers N runs N worker processes on the same address (SO_REUSEPORT; default: the CPUs it
may use, at most 8); --max-concurrent bounds them all together, and /metrics and / tell the
whole exporter's, whichever worker answers.

Exit status: 0 never (it serves until stopped); 1 a worker process died on its own (the
others are stopped); 2 bad usage, a bad --config or --web-config; 3 the address cannot be
bound; 130 stopped by SIGINT (Ctrl-C); 143 stopped by SIGTERM."""

EXIT_BIND = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def command(
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Address to listen on ([v6]:PORT for IPv6, :PORT for every interface; port 0 "
            "for any free port, printed on stderr).",
        ),
    ] = "127.0.0.1:9115",
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="Modules file (TOML, [[module]] tables)."),
    ] = None,
    allow_target: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-target",
            metavar="HOST_OR_CIDR",
            help="Allow only these targets: names, *.names, addresses, CIDR blocks (repeatable).",
        ),
    ] = None,
    max_concurrent: Annotated[
        int,
        typer.Option(
            "--max-concurrent",
            min=1,
            max=4096,
            metavar="N",
            help="Probes running at once; 503 beyond.",
        ),
    ] = 100,
    web_config: Annotated[
        Path | None,
        typer.Option(
            "--web-config",
            metavar="FILE",
            help="TLS and basic auth for the listener (exporter-toolkit's web-config.yml).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            metavar="N",
            help="Worker processes sharing the address (default: the CPUs it may use, at "
            "most 8; 1: a single process).",
            show_default=False,
        ),
    ] = None,
) -> None:
    settings = prepare(
        listen=listen,
        config=config,
        allow_target=allow_target,
        max_concurrent=max_concurrent,
        web_config=web_config,
    )
    if workers is None:
        from netdiag.serve.workers import default_workers

        workers = default_workers()
    raise typer.Exit(run(settings, workers))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (every interface)."""
    from netdiag.targets import TargetError, parse_port, parse_target

    any_port = text.endswith(":0")  # any free port: parsed as port 1, bound as 0
    if any_port:
        text = text[:-1] + "1"
    if text.startswith(":"):
        try:
            return "", 0 if any_port else parse_port(text[1:], text)
        except TargetError as exc:
            raise usage_error(f"--listen: {exc}", param="listen") from None
    try:
        t = parse_target(text)
    except TargetError as exc:
        raise usage_error(f"--listen: {exc}", param="listen") from None
    if t.port is None:
        raise usage_error(f"--listen: give HOST:PORT, not '{text}'", param="listen")
    return t.host, 0 if any_port else t.port


def prepare(
    *,
    listen: str,
    config: Path | None,
    allow_target: list[str] | None,
    max_concurrent: int,
    web_config: Path | None,
) -> ServeConfig:
    """The exporter's settings, every file read and checked (a usage error, exit 2, for
    what is wrong). Binds nothing."""
    from netdiag.serve import modules as modules_file
    from netdiag.serve.allow import AllowError, parse_allow
    from netdiag.serve.server import ServeConfig
    from netdiag.serve.webconfig import WebConfigError, load_web_config

    host, port = parse_listen(listen)
    try:
        modules = modules_file.load(str(config) if config is not None else None)
    except modules_file.ModulesError as exc:
        raise usage_error(f"--config: {exc}", param="config") from None
    try:
        allow = parse_allow(allow_target or [])
    except AllowError as exc:
        raise usage_error(str(exc), param="allow_target") from None
    web = None
    if web_config is not None:
        try:
            web = load_web_config(str(web_config))
        except WebConfigError as exc:
            raise usage_error(f"--web-config: {exc}", param="web_config") from None
    return ServeConfig(
        host=host,
        port=port,
        modules=modules,
        allow=allow,
        max_concurrent=max_concurrent,
        web=web,
    )


def run(settings: ServeConfig, workers: int = 1) -> int:
    """Serve until SIGINT or SIGTERM (with ``workers`` processes); the exit status."""
    import asyncio
    import signal

    from netdiag.output import error_line
    from netdiag.serve.server import log, serve

    web = settings.web
    scheme = "https" if web is not None and web.cert_file is not None else "http"
    got: list[int] = []

    def listening(addresses: list[tuple[str, int]]) -> None:
        shown = ", ".join(f"{scheme}://{f'[{h}]' if ':' in h else h}:{p}/" for h, p in addresses)
        names = ", ".join(settings.modules)
        procs = f"; {workers} worker processes" if workers > 1 else ""
        log(f"listening on {shown} (modules: {names}{procs})")
        if settings.allow is None and not _loopback(settings.host):
            log(
                "warning: not on loopback and without --allow-target: anyone who reaches this "
                "port can make it probe any host"
            )

    if workers > 1:
        from netdiag.serve.workers import supervise

        try:
            return supervise(settings, workers, listening)
        except OSError as exc:
            where = f"{settings.host or '*'}:{settings.port}"
            error_line("serve", f"cannot listen on {where}: {exc.strerror or exc}")
            return EXIT_BIND

    from netdiag.serve.server import Exporter

    exporter = Exporter(settings)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def stopped(sig: int) -> None:
            got.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped, sig)
        await serve(exporter, stop, listening)

    try:
        asyncio.run(main())
    except OSError as exc:
        where = f"{settings.host or '*'}:{settings.port}"
        error_line("serve", f"cannot listen on {where}: {exc.strerror or exc}")
        return EXIT_BIND
    if got and got[0] == signal.SIGTERM:
        log("stopped (SIGTERM)")
        return EXIT_SIGTERM
    log("stopped (SIGINT)")
    return EXIT_SIGINT


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        help=HELP,
        short_help="A Prometheus exporter (blackbox_exporter's /probe interface).",
    )(command)
