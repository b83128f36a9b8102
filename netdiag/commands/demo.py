"""``netdiag demo``: start the lab, run each subcommand against it, stop everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import typer

if TYPE_CHECKING:
    from netdiag.output import TextOutput

Runner = Callable[[list[str]], int]
"""Runs ``netdiag ARGS`` and returns its exit status: :func:`netdiag.cli.run`, handed to
:func:`register` by the CLI, so that this module does not import it."""

HELP = """\
Start the lab servers on loopback, run each available subcommand against them with the
output you would see yourself, and stop everything it started. Needs no internet and no
root. Exit status 0 when every step behaved as the lab says it should."""


class Step(NamedTuple):
    title: str
    explain: str
    argv: list[str]
    expect: int
    shown: str = ""
    """A file the step reads, printed before it runs."""


def _ping_step() -> Step:
    from netdiag.net import icmp

    sock, _err = icmp.open_socket(4)
    if sock is not None:
        sock.sock.close()
    return Step(
        "ICMP: what ping does",
        "An ICMP echo request goes out, the kernel at the other end answers with an echo "
        "reply; the time between them is the round trip. "
        + ("" if sock else "Here no ICMP socket may be opened, so netdiag says how to allow it."),
        ["ping", "127.0.0.1", "-c", "3", "-i", "0.2"],
        0 if sock else 3,
    )


def _neigh_step() -> Step:
    import sys

    linux = sys.platform.startswith("linux")
    return Step(
        "ARP: this host's neighbour table",
        "Before a packet leaves on a link, the IP address of the next hop is resolved into "
        "its MAC address (ARP for IPv4, neighbour discovery for IPv6) and cached here; the "
        "kernel keeps checking that each neighbour still answers. The lab lives on loopback, "
        "which needs no resolution: this is the machine's own table, read, not changed."
        + ("" if linux else " It is read over netlink, which only Linux has."),
        ["neigh"],
        0 if linux else 3,
    )


def _route_step() -> Step:
    return Step(
        "Routing: the path hop by hop",
        "Each probe leaves with a TTL one higher than the last; the router where it runs out "
        "answers 'time exceeded', the destination answers the probe itself. The lab is on "
        "loopback, so the path is one hop: the first UDP probe reaches it, and its 'port "
        "unreachable' ends the trace (udp needs no privilege: IP_RECVERR, as tracepath).",
        ["route", "127.0.0.1", "-n", "--method", "udp", "-c", "2", "-i", "0.2"],
        0,
    )


def steps(
    endpoints: dict[str, str],
    names: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    urls: dict[str, str] | None = None,
) -> list[Step]:
    """The demo's steps for the lab's endpoints (each later subcommand adds its own)."""
    out = [_ping_step(), _route_step()]
    out += [
        Step(
            "TCP: a three-way handshake, timed",
            "connect() returns when the SYN/ACK is back: that wait is one round trip. "
            "TCP_INFO shows the kernel's smoothed RTT (srtt) and the MSS agreed in the SYNs.",
            ["tcp", endpoints["tcp_open"], "-c", "3", "-i", "0.2"],
            0,
        ),
        Step(
            "TCP: nothing listening",
            "The kernel answers a SYN to a closed port with RST: refused at once, exit status 1.",
            ["tcp", endpoints["tcp_refused"], "-c", "1"],
            1,
        ),
        Step(
            "TCP: a SYN that is never answered",
            "This listener's accept queue is full, so Linux drops new SYNs; the client "
            "retransmits until --timeout, then reports a timeout.",
            ["tcp", endpoints["tcp_silent"], "-c", "1", "--timeout", "1"],
            1,
        ),
    ]
    if "tcp_open_v6" in endpoints:
        out.append(
            Step(
                "TCP over IPv6, several targets at once",
                "Targets are probed concurrently: the run takes as long as the slowest one.",
                ["tcp", endpoints["tcp_open"], endpoints["tcp_open_v6"], "-c", "2", "-i", "0.2"],
                0,
            )
        )
    port = endpoints["tcp_open"].rsplit(":", 1)[1]
    out.append(
        Step(
            "Sockets: the TIME_WAIT the TCP steps left behind",
            "netdiag tcp closed each connection first, so this host keeps each one in "
            "TIME_WAIT for 60 s (2MSL), holding an ephemeral port towards the lab server.",
            ["sockets", "--port", port, "--state", "time-wait", "--state", "listen"],
            0,
        )
    )
    out.append(_neigh_step())
    if "dns_root" in endpoints:
        root, port = endpoints["dns_root"].rsplit(":", 1)
        example = endpoints["dns_example"].rsplit(":", 1)[0]
        out += [
            Step(
                "DNS: a lookup, as a stub resolver sees it",
                "One query with recursion desired to the server of example.test.: the header "
                "flags (aa: an authoritative answer), the sections, TTLs, the query time.",
                ["dns", "host.example.test", "A", "AAAA", "--server", example, "--port", port],
                0,
            ),
            Step(
                "DNS: iterative resolution from the root",
                "netdiag asks the root, follows the referral to test., then to example.test.; "
                "the answer is a CNAME into another zone, which gets a new trace from the root.",
                ["dns", "www.example.test", "--trace", "--root", root, "--port", port],
                0,
            ),
            Step(
                "DNS: a lame delegation",
                "test. delegates lame.test. to two servers: one never answers, one says REFUSED. "
                "Both are asked at once; neither gives an answer.",
                [
                    "dns",
                    "www.lame.test",
                    "--trace",
                    "--root",
                    root,
                    "--port",
                    port,
                    "--timeout",
                    "0.5",
                ],
                1,
            ),
        ]
    if urls and files:
        out.append(
            Step(
                "HTTP: what happens when a browser opens a URL",
                "A redirect to https: the first hop is plain HTTP (lookup, connect, request, "
                "response); the second adds the TLS handshake. Each hop has its own waterfall.",
                ["http", urls["http"] + "/redirect/https", "-L", "--ca-file", files["tls_ca_file"]],
                0,
            )
        )
    if "tls_good" in endpoints and names and files:
        ca = files["tls_ca_file"]
        out += [
            Step(
                "TLS: a good certificate chain",
                "The server sends its certificate and the intermediate that signed it; the chain "
                "builds to the lab's root CA, and the certificate names the host we asked for.",
                ["tls", endpoints["tls_good"], "--sni", names["tls_good"], "--ca-file", ca],
                0,
            ),
            Step(
                "TLS: a server that forgot its intermediate",
                "Browsers may paper over this by fetching it; most clients fail. netdiag says "
                "exactly that: the chain is incomplete, not merely untrusted.",
                [
                    "tls",
                    endpoints["tls_no_intermediate"],
                    "--sni",
                    names["tls_no_intermediate"],
                    "--ca-file",
                    ca,
                ],
                1,
            ),
        ]
    return out


def check_file(
    endpoints: dict[str, str],
    names: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    urls: dict[str, str] | None = None,
) -> str:
    """A small check file (TOML) for the lab: one check of each kind the lab serves, and a
    closed port retried once."""

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    checks = [
        ("lab tcp server", "tcp", endpoints["tcp_open"], ["count = 1"]),
        ("closed port", "tcp", endpoints["tcp_refused"], ["count = 1", "retries = 1"]),
    ]
    if urls and "http" in urls:
        checks.append(("web page", "http", urls["http"] + "/", []))
    if "dns_example" in endpoints:
        server, port = endpoints["dns_example"].rsplit(":", 1)
        checks.append(
            ("dns answer", "dns", "host.example.test", [f"server = {q(server)}", f"port = {port}"])
        )
    if "tls_good" in endpoints and names and files:
        extra = [f"sni = {q(names['tls_good'])}", f"ca_file = {q(files['tls_ca_file'])}"]
        checks.append(("certificate", "tls", endpoints["tls_good"], [*extra, "min_days = 30"]))
    lines = ["[defaults]", "timeout = 2", ""]
    for name, type_, target, options in checks:
        lines += ["[[check]]", f"name = {q(name)}", f"type = {q(type_)}"]
        lines += [f"target = {q(target)}", *options, ""]
    return "\n".join(lines)


def check_step(path: str, text: str) -> Step:
    """The ``check`` step: ``text`` is the file at ``path``, shown before it runs."""
    return Step(
        "Many checks from one file: what a CI job runs",
        "netdiag check runs every [[check]] of a TOML file at once, through the same probes as "
        "the commands above; a failing check is retried (here once), and the exit status says "
        "whether everything is healthy. --format junit, tap or prometheus write what CI and "
        "monitoring read.",
        ["check", path],
        1,
        text,
    )


def command(run: Runner) -> None:
    """The demo, running each step through ``run``."""
    from rich.text import Text

    from netdiag.lab.signals import Terminated, terminate_gracefully
    from netdiag.output import TextOutput

    out = TextOutput()
    failures = 0
    try:
        with terminate_gracefully():
            failures = _run_steps(out, run)
    except Terminated as stop:  # the lab has stopped and removed its files
        raise typer.Exit(stop.exit_status) from None
    out.print(Text(""), Text("lab stopped", style="dim"))
    raise typer.Exit(1 if failures else 0)


def _run_steps(out: TextOutput, run: Runner) -> int:
    """Start the lab, run every step against it, stop it; the number of steps that failed."""
    import shlex
    import tempfile
    from pathlib import Path

    from rich.rule import Rule
    from rich.text import Text

    from netdiag.lab import Lab

    failures = 0
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="netdiag-demo-") as tmp:
        out.print(Text("netdiag demo: lab started on loopback", style="bold"))
        for name, where in lab.endpoints.items():
            out.print(Text(f"  {name:<14} {where}", style="dim"))
        checks = Path(tmp, "checks.toml")
        text = check_file(lab.endpoints, lab.tls_names, lab.files, lab.urls)
        checks.write_text(text)
        all_steps = steps(lab.endpoints, lab.tls_names, lab.files, lab.urls)
        for step in [*all_steps, check_step(str(checks), text)]:
            out.print(
                Text(""),
                Rule(step.title, align="left") if out.is_terminal else Text(f"== {step.title}"),
            )
            out.print(Text(step.explain, style="italic"))
            if step.shown:
                out.print(Text(f"$ cat {step.argv[-1]}", style="bold cyan"))
                out.print(Text(step.shown.rstrip("\n"), style="dim"))
            out.print(Text("$ netdiag " + shlex.join(step.argv), style="bold cyan"))
            out.console.file.flush()
            status = run(step.argv)
            good = status == step.expect
            failures += not good
            mark = Text(f"exit status {status}", style="green" if good else "bold red")
            if not good:
                mark.append(f" (expected {step.expect})")
            out.print(mark)
    return failures


def register(app: typer.Typer, run: Runner) -> None:
    """Add ``demo`` to ``app``; its steps run through ``run`` (the CLI's own entry point)."""

    def demo() -> None:
        command(run)

    app.command("demo", help=HELP, short_help="Run every subcommand against the local lab.")(demo)
