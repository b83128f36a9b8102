"""The tcp and ping summaries on narrow terminals: a table that does not fit is laid out
another way, and no address or number is ever cut (``127.0.0…``, ``0.1…``) or dropped.

The views are rendered as rich renders them on a terminal (a Console of 80 and 60 columns,
``force_terminal=True``) from reports built here, with wide values (IPv6 with a zone, four-
digit times, fractional loss); then the real process runs with ``COLUMNS=80 FORCE_COLOR=1``
against the lab on loopback."""

from __future__ import annotations

import io
import re

import pytest
from conftest import requires_icmp, run_process
from rich.console import Console

from netdiag.results import ProbeError
from netdiag.results.ping import PingHostResult, PingReport, PingStats
from netdiag.results.tcp import AddressStats, TcpReport, TcpTargetResult
from netdiag.stats import Stats, summarize
from netdiag.views import ping as ping_view
from netdiag.views import tcp as tcp_view
from netdiag.views.common import fmt_ms, fmt_pct

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ENVELOPE = {"started_at": "2026-01-01T00:00:00Z", "duration_ms": 2345.6, "interrupted": False}
NX = ProbeError("dns", "www.nx.test does not resolve (Name or service not known)")


def render(items, width: int) -> str:
    """What a terminal of ``width`` columns shows, escape sequences removed."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system="truecolor")
    for item in items:
        console.print(item)
    return ANSI.sub("", buf.getvalue())


def assert_whole(out: str, values: list[str], width: int) -> None:
    """Every value appears whole (not as a piece of a longer number), nothing is cut with an
    ellipsis, and no line is wider than the terminal."""
    assert "…" not in out, out
    for line in out.splitlines():
        assert len(line.rstrip()) <= width, line
    for v in values:
        pattern = rf"(?<![\w.:%]){re.escape(v)}(?!\w|[.:%]\w)"
        assert re.search(pattern, out), f"{v!r} is not whole in:\n{out}"


def stats_values(s: Stats) -> list[str]:
    values = [str(s.sent), str(s.received), fmt_pct(s.loss_pct)]
    return values + [fmt_ms(v) for v in (s.min_ms, s.avg_ms, s.max_ms, s.p95_ms) if v is not None]


def tcp_report() -> TcpReport:
    """Three targets: one with two addresses (--all), slow and lossy; a refused one; one whose
    name did not resolve."""
    slow = summarize([1234.567, 2345.678, 987.654], 4)  # 25% loss, four-digit times
    lossy = summarize([0.041, 0.052, 0.107], 3)
    both = summarize([1234.567, 2345.678, 987.654, 0.041, 0.052, 0.107], 7)
    results = (
        TcpTargetResult(
            target="dual-stack-service.example.test:65535",
            host="dual-stack-service.example.test",
            port=65535,
            ok=True,
            error=None,
            dns_ms=12.345,
            addresses=("fd12:3456:789a:1::1234", "127.0.0.123"),
            probes=(),
            stats=both,
            per_address=(
                AddressStats("fd12:3456:789a:1::1234", slow),
                AddressStats("127.0.0.123", lossy),
            ),
        ),
        TcpTargetResult(
            target="[fe80::1%enp0s31f6]:8443",
            host="fe80::1%enp0s31f6",
            port=8443,
            ok=False,
            error=ProbeError("refused", "connection refused"),
            dns_ms=None,
            addresses=("fe80::1%enp0s31f6",),
            probes=(),
            stats=summarize([], 2),
            per_address=(AddressStats("fe80::1%enp0s31f6", summarize([], 2)),),
        ),
        TcpTargetResult(
            target="www.nx.test:443",
            host="www.nx.test",
            port=443,
            ok=False,
            error=NX,
            dns_ms=3.5,
            addresses=(),
            probes=(),
            stats=summarize([], 0),
            per_address=(),
        ),
    )
    return TcpReport(
        command="tcp",
        ok=False,
        error=ProbeError("refused", "2 of 3 targets unhealthy"),
        **ENVELOPE,
        count=4,
        interval_s=1.0,
        timeout_s=2.0,
        close="fin",
        results=results,
    )


def ping_stats(rtts: list[float], sent: int, dups: int = 0, errors: int = 0) -> PingStats:
    base = summarize(rtts, sent)
    return PingStats(
        **{k: getattr(base, k) for k in Stats.__dataclass_fields__},
        duplicates=dups,
        errors=errors,
        p99_ms=base.max_ms,
        jitter_ms=12.5 if rtts else None,
    )


def ping_report() -> PingReport:
    def host(target, address, stats, error=None):
        return PingHostResult(
            target=target,
            address=address,
            ok=error is None,
            error=error,
            dns_ms=None,
            socket="raw" if stats.sent else None,
            probes=(),
            stats=stats,
        )

    results = (
        host("fd12:3456:789a:1::1234", "fd12:3456:789a:1::1234", ping_stats([1.5, 2.5], 3)),
        host(
            "very-long-host-name.example.test",
            "127.0.0.123",
            ping_stats([1234.567, 2345.678, 987.654], 1000, dups=2, errors=1),
        ),
        host("fe80::1%enp0s31f6", "fe80::1%enp0s31f6", ping_stats([0.041], 1)),
        host("www.nx.test", None, ping_stats([], 0), NX),
    )
    return PingReport(
        command="ping",
        ok=False,
        error=NX,
        **ENVELOPE,
        count=3,
        interval_s=1.0,
        timeout_s=1.0,
        size=56,
        gap_ms=2.0,
        foreign_replies=0,
        results=results,
    )


def tcp_values(report: TcpReport) -> list[str]:
    values = []
    for r in report.results:
        values.append(r.target)
        for a in r.per_address:
            values += [a.address, *stats_values(a.stats), fmt_ms(a.stats.p50_ms)]
    return [v for v in values if v != "-"]


def ping_values(report: PingReport) -> list[str]:
    values = []
    for r in report.results:
        values += [r.target, *stats_values(r.stats)]
        if r.address:
            values.append(r.address)
    return [v for v in values if v != "-"]


@pytest.mark.parametrize("width", [80, 60])
def test_tcp_summary_fits_narrow_terminals_without_cutting(width):
    report = tcp_report()
    out = render(tcp_view.summary(report, terminal=True), width)
    assert_whole(out, tcp_values(report), width)
    assert "min ms" not in out  # the table did not fit: stacked instead
    assert "nothing sent: dns: www.nx.test does not resolve" in " ".join(out.split())
    assert "25% loss" in out  # 3 of 4 sent to the slow address
    assert "1 of 3 targets healthy" in out


@pytest.mark.parametrize("width", [80, 60])
def test_ping_summary_fits_narrow_terminals_without_cutting(width):
    report = ping_report()
    out = render(ping_view.summary(report, terminal=True), width)
    assert_whole(out, ping_values(report), width)
    words = " ".join(out.split())  # lines may wrap (between words) at 60 columns
    assert "+2 duplicates, +1 errors, 99.7% loss" in words  # 3 of 1000: not rounded to 100
    assert "nothing sent: dns: www.nx.test does not resolve" in words


def test_tables_are_kept_where_they_fit():
    tcp = render(tcp_view.summary(tcp_report(), terminal=True), 200)
    assert "min ms" in tcp and "p95 ms" in tcp
    assert_whole(tcp, tcp_values(tcp_report()), 200)
    # The table has no room for why nothing was sent: a line after it says.
    assert "www.nx.test:443: nothing sent: dns: www.nx.test does not resolve" in tcp
    ping = render(ping_view.summary(ping_report(), terminal=True), 200)
    assert "min ms" in ping and "status" in ping
    assert_whole(ping, ping_values(ping_report()), 200)
    assert "www.nx.test: nothing sent: dns:" in ping


def test_markup_like_targets_are_shown_as_given():
    # '[fe80::1%enp0s31f6]:8443' looks like a rich markup tag: it must not be swallowed.
    report = tcp_report()
    out = render(tcp_view.summary(report, terminal=True), 200)
    assert "[fe80::1%enp0s31f6]:8443" in out


@pytest.mark.parametrize("width", [80, 60])
def test_single_target_blocks_fit(width):
    tcp = tcp_report()
    one = TcpReport(**_fields(tcp), results=tcp.results[:1])
    out = render(tcp_view.summary(one, terminal=True), width)
    s = one.results[0].stats
    assert_whole(out, [*stats_values(s), fmt_ms(s.mdev_ms)], width)
    ping = ping_report()
    single = PingReport(**_fields(ping), results=ping.results[1:2])
    out = render(ping_view.summary(single, terminal=True), width)
    s = single.results[0].stats
    assert_whole(out, [*stats_values(s), fmt_ms(s.mdev_ms), fmt_ms(s.p99_ms)], width)
    words = " ".join(out.split())
    assert "1000 packets transmitted, 3 received, +2 duplicates, +1 errors, 99.7% packet" in words


def test_shared_table_folds_rather_than_cuts():
    # sockets' tables (and any other view's) come from views.common.table: on a terminal too
    # narrow for them, a cell may fold onto the next line, but no character of it is lost.
    from rich.text import Text

    from netdiag.views.common import table

    t = table("destination", "in use", "TIME_WAIT", "% of ephemeral range", terminal=True)
    t.add_row(Text("[fd12:3456:789a:1::1234]:65535"), "12345", "678", "0.0437")
    out = render([t], 40)
    assert "…" not in out
    first_column = "".join(line[:12].strip() for line in out.splitlines()[4:])
    assert first_column.startswith("[fd12:3456:789a:1::1234]:65535"), out
    for v in ("12345", "678", "0.0437"):
        assert_whole(out, [v], 40)


def _fields(report):
    import dataclasses

    return {
        f.name: getattr(report, f.name) for f in dataclasses.fields(report) if f.name != "results"
    }


# -- the real process, on an 80-column terminal ------------------------------------------------

TIME = re.compile(r"time=(\d+\.\d{3}) ms")


def probe_times(out: str, marker: str) -> list[str]:
    return [m.group(1) for line in out.splitlines() if marker in line for m in TIME.finditer(line)]


def test_tcp_process_at_80_columns(lab):
    targets = [lab.endpoints["tcp_open"], lab.endpoints["tcp_refused"]]
    if "tcp_open_v6" in lab.endpoints:
        targets.append(lab.endpoints["tcp_open_v6"])
    targets.append("[fe80::1%nosuchif0]:80")  # fails in getaddrinfo(AI_NUMERICHOST): no lookup
    r = run_process(
        "tcp", *targets, "-c", "3", "-i", "0", env={"COLUMNS": "80", "FORCE_COLOR": "1"}
    )
    assert r.code == 1, r.err
    assert "\x1b[" in r.out  # a terminal, as far as rich knows
    out = ANSI.sub("", r.out)
    summary = out[out.index("\n\n") :]
    values = [*targets, "127.0.0.1", "3 sent, 3 received", "3 sent, 0 received"]
    opened = [
        t for t in targets if t in (lab.endpoints["tcp_open"], lab.endpoints.get("tcp_open_v6"))
    ]
    for target in opened:  # the slowest and fastest connect of each open target, whole
        times = sorted(probe_times(out, f"connected to {target}"), key=float)
        assert len(times) == 3
        values += [times[0], times[-1]]
    assert_whole(summary, values, 80)
    assert "nothing sent: unreachable: fe80::1%nosuchif0" in " ".join(summary.split())


@requires_icmp  # the default socket
def test_ping_process_at_80_columns():
    hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "fe80::1%nosuchif0"]
    r = run_process(
        "ping", *hosts, "-c", "3", "-i", "0.05", env={"COLUMNS": "80", "FORCE_COLOR": "1"}
    )
    assert r.code == 1, r.err
    out = ANSI.sub("", r.out)
    summary = out[out.index("\n\n") :]
    values = [*hosts, "3 sent, 3 received"]
    for h in hosts[:3]:
        times = sorted(probe_times(out, f"{h}: 64 bytes"), key=float)
        assert len(times) == 3
        values += [times[0], times[-1]]
    assert_whole(summary, values, 80)
    assert "nothing sent: unreachable: fe80::1%nosuchif0" in " ".join(summary.split())


@pytest.mark.parametrize("path", ["/", "/hostile/silent"])
def test_http_waterfall_at_80_columns(lab, path):
    # A failed hop marks where it stopped; neither the phase names nor the times are cut.
    r = run_process(
        "http", lab.urls["http"] + path, "--timeout", "1", env={"COLUMNS": "80", "FORCE_COLOR": "1"}
    )
    out = ANSI.sub("", r.out)
    assert "…" not in out, out
    assert all(len(line.rstrip()) <= 80 for line in out.splitlines()), out
    assert "tcp connect" in out and "other (local)" in out and "total" in out
    if path != "/":
        assert "stopped here: timeout" in out
