"""``netdiag lab``: run the local lab on loopback, for trying netdiag by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from netdiag.commands.options import json_option

HELP = """\
Start netdiag's lab servers on loopback and keep them running until Ctrl-C or --duration
seconds have passed, then stop them. Prints each service's address; with --json, one JSON
document (then waits), for scripts and benchmarks that need the servers in another process;
its duration_ms is the time the servers took to start, stops_after_s when they will stop.
SIGTERM and SIGHUP stop it as cleanly as Ctrl-C: the lab's private keys and certificates are
removed (exit status 143 or 129)."""


def command(
    duration: Annotated[
        float,
        typer.Option(
            "--duration",
            min=0.0,
            max=86400.0,
            metavar="SECONDS",
            help="Seconds to run before stopping.",
        ),
    ] = 600.0,
    extra_tcp: Annotated[
        int,
        typer.Option(
            "--extra-tcp",
            min=0,
            max=4000,
            metavar="N",
            help="Also open N more TCP listeners on 127.0.0.1 (for load tests).",
        ),
    ] = 0,
    json_output: Annotated[bool, json_option("Print the endpoints as one JSON document.")] = False,
) -> None:
    from netdiag.lab.signals import Terminated, terminate_gracefully

    try:
        with terminate_gracefully():
            _serve(duration, extra_tcp, json_output)
    except Terminated as stop:  # the lab has stopped and removed its files
        raise typer.Exit(stop.exit_status) from None


def _serve(duration: float, extra_tcp: int, json_output: bool) -> None:
    import contextlib
    import threading

    from netdiag.clock import elapsed_ms, now_ns, utc_now_iso
    from netdiag.lab import Lab
    from netdiag.output import TextOutput, emit_json
    from netdiag.results.lab import LabReport

    started_at, start = utc_now_iso(), now_ns()
    with Lab() as lab:
        extra = lab.add_tcp_listeners(extra_tcp) if extra_tcp else []
        if json_output:
            emit_json(
                LabReport(
                    command="lab",
                    ok=True,
                    error=None,
                    interrupted=False,
                    started_at=started_at,
                    duration_ms=elapsed_ms(start),
                    endpoints=dict(lab.endpoints),
                    tls_names=dict(lab.tls_names),
                    files=dict(lab.files),
                    urls=dict(lab.urls),
                    extra_tcp=tuple(extra),
                    stops_after_s=duration,
                )
            )
        else:
            from rich.text import Text

            out = TextOutput()
            out.print(Text("netdiag lab is running on loopback:", style="bold"))
            for name, where in lab.endpoints.items():
                sni = lab.tls_names.get(name)
                out.print(Text(f"  {name:<22} {where}" + (f"  (SNI {sni})" if sni else "")))
            for name, url in lab.urls.items():
                out.print(Text(f"  {name + ' url':<22} {url}"))
            for name, path in lab.files.items():
                out.print(Text(f"  {name:<22} {path}"))
            if extra:
                out.print(Text(f"  {len(extra)} more TCP listeners: {extra[0]} ... {extra[-1]}"))
            out.print(Text(f"Stops after {duration:g} s, or on Ctrl-C.", style="dim"))
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
            threading.Event().wait(duration)


def register(app: typer.Typer) -> None:
    app.command("lab", help=HELP, short_help="Run the local lab servers on loopback.")(command)
