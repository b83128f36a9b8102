"""``netdiag check --format prometheus``: exposition text for node_exporter's textfile
collector, built with ``prometheus_client`` (imported only for this format).

Every sample carries the labels ``check`` (its name), ``type`` and ``target`` (empty for
sockets). Where blackbox_exporter has a metric that means the same thing, its name is used
(``probe_success``, ``probe_duration_seconds``, ``probe_dns_lookup_time_seconds``,
``probe_http_*``, ``probe_ssl_earliest_cert_expiry``, ``probe_tls_version_info``,
``probe_dns_*``, ``probe_icmp_duration_seconds``), so dashboards and alerts written for it
work; netdiag's own figures are under ``netdiag_``. All are gauges, in base units (seconds,
ratios 0-1, unix timestamps). A figure that was not measured is absent, never 0 or NaN. A
check that never started has only ``netdiag_check_outcome``. :func:`report_metrics` (one
report's figures) is shared with ``netdiag serve``, whose per-probe answers carry no
``check``/``target`` labels (Prometheus adds ``instance`` by relabeling). Label values are
written with their control characters escaped (``\x1b``), as netdiag writes them on a
terminal: a certificate subject comes from the peer, and ``cat`` of the file must be safe.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from netdiag.output import escape_controls
from netdiag.results.check import AnyReport, CheckReport, CheckResult, Outcome, outcome
from netdiag.results.dns import DnsLookupReport, DnsTraceReport
from netdiag.results.http import HttpReport
from netdiag.results.ping import PingReport
from netdiag.results.sockets import SocketsReport
from netdiag.results.tcp import TcpReport
from netdiag.results.tls import TlsReport
from netdiag.stats import Stats

HELP = {
    # blackbox_exporter's names, with its meaning
    "probe_success": "Whether the probe was healthy (1) or not (0) (a check: its last attempt)",
    "probe_duration_seconds": "How long the probe took (a check: its last attempt)",
    "probe_dns_lookup_time_seconds": "How long resolving the target's name took",
    "probe_http_status_code": "The final response's HTTP status code (0: no response)",
    "probe_http_version": "The final response's HTTP version (1.1, 2)",
    "probe_http_redirects": "The number of redirects followed",
    "probe_http_ssl": "Whether the final request went over TLS",
    "probe_http_uncompressed_body_length": "Length of the final response body, decoded",
    "probe_http_duration_seconds": "Duration of the HTTP request by phase, summed over all "
    "redirects (tls includes the certificate check)",
    "probe_tls_version_info": "The TLS version negotiated",
    "probe_ssl_earliest_cert_expiry": "When the served certificate that expires first "
    "expires, in unixtime",
    "probe_dns_answer_rrs": "Records in the answer section",
    "probe_dns_authority_rrs": "Records in the authority section",
    "probe_dns_additional_rrs": "Records in the additional section",
    "probe_dns_query_succeeded": "Whether the query got a valid, healthy response",
    "probe_dns_duration_seconds": "Duration of the DNS request by phase",
    "probe_icmp_duration_seconds": "Duration of the ICMP echo by phase (rtt: the mean over "
    "the replies)",
    "probe_ip_protocol": "Whether the probe used IPv4 (4) or IPv6 (6)",
    # netdiag's own
    "netdiag_probe_error_info": "Why the probe is not healthy: its error kind",
    "netdiag_tcp_info_rtt_seconds": "The kernel's smoothed RTT of the last connect (TCP_INFO)",
    "netdiag_tcp_info_rttvar_seconds": "The kernel's RTT variance of the last connect (TCP_INFO)",
    "netdiag_tcp_info_rto_seconds": "The kernel's retransmission timeout of the last connect "
    "(TCP_INFO)",
    "netdiag_tcp_info_snd_mss_bytes": "The largest segment this side sends (TCP_INFO)",
    "netdiag_tcp_info_advmss_bytes": "The MSS this side announced in its SYN (TCP_INFO)",
    "netdiag_tcp_info_pmtu_bytes": "The path MTU the kernel knows (TCP_INFO)",
    "netdiag_tcp_info_snd_cwnd_segments": "The congestion window after the handshake (TCP_INFO)",
    "netdiag_tls_path_to_trust_anchor": "Whether the chain builds to a trust anchor (dates aside)",
    "netdiag_tls_verdict_info": "The whole chain's verdict: its error kind, or ok",
    "netdiag_tls_problem_info": "Each kind of problem found with the chain or the handshake",
    "netdiag_dns_trace_disagreements": "Zone cuts whose servers disagreed",
    "netdiag_dns_trace_servers": "Servers the trace asked, by what their answer meant",
    "netdiag_check_outcome": "The check's outcome: 1 for the one that holds, 0 for the others",
    "netdiag_check_error_info": "Why the check is not healthy: its error kind",
    "netdiag_check_attempts": "How many times the check ran (1 + the retries it needed)",
    "netdiag_check_flaky": "Whether the check passed only on a retry",
    "netdiag_check_duration_seconds": "How long the check took, every attempt and backoff",
    "netdiag_check_run_timestamp_seconds": "When this run of netdiag check started, in unixtime",
    "netdiag_check_run_duration_seconds": "How long this run of netdiag check took",
    "netdiag_check_run_success": "Whether every check of the run was healthy",
    "netdiag_check_run_checks": "Checks of the run, by result",
    "netdiag_tcp_connects_sent": "Connects started",
    "netdiag_tcp_connects_received": "Connects that completed (SYN/ACK received)",
    "netdiag_tcp_connect_loss_ratio": "Share of connects that did not complete",
    "netdiag_tcp_connect_seconds": "Connect time statistics (min, avg, max, mdev, p50, p95)",
    "netdiag_http_phase_seconds": "Duration of the HTTP request by netdiag's phases, summed "
    "over all redirects (dns, connect, tls, verify, ttfb, transfer, local, total)",
    "netdiag_http_hops": "Requests made (1 + redirects followed)",
    "netdiag_http_cert_days_left": "Days until the final server's leaf certificate expires",
    "netdiag_http_cert_trusted": "Whether the final server's certificate verifies now",
    "netdiag_tls_cert_days_left": "Days until each served certificate expires (position 0: "
    "the leaf)",
    "netdiag_tls_earliest_expiry_days_left": "Days until the served certificate that "
    "expires first expires",
    "netdiag_tls_trusted": "Whether the chain verifies now (path to a trust anchor, dates)",
    "netdiag_tls_hostname_match": "Whether the certificate names the host",
    "netdiag_tls_connect_seconds": "How long the TCP connect took",
    "netdiag_tls_handshake_seconds": "How long the TLS handshake took",
    "netdiag_dns_rcode": "The response code of the answer (1 for the one received)",
    "netdiag_dns_response_bytes": "Size of the response",
    "netdiag_dns_rejected_responses": "Responses received but not trusted (garbage, wrong ID)",
    "netdiag_dns_trace_queries": "Queries the trace sent",
    "netdiag_dns_trace_zone_cuts": "Zone cuts the trace went through",
    "netdiag_ping_sent": "Echo requests sent",
    "netdiag_ping_received": "Echo replies received",
    "netdiag_ping_loss_ratio": "Share of echo requests without a reply",
    "netdiag_ping_duplicates": "Duplicate replies",
    "netdiag_ping_errors": "Requests answered by an ICMP error, or that could not be sent",
    "netdiag_ping_rtt_seconds": "Round-trip time statistics (min, avg, max, mdev, p50, p95)",
    "netdiag_sockets_total": "TCP sockets on this host",
    "netdiag_sockets_state": "TCP sockets by state",
    "netdiag_sockets_time_wait": "TCP sockets in TIME_WAIT",
    "netdiag_sockets_tw_buckets_used_ratio": "Share of tcp_max_tw_buckets in use",
}
"""Every metric netdiag writes, with its help text: a name missing here is a KeyError."""


class Metrics(Collector):
    """Gauge families filled one sample at a time, in the order they are first used."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[tuple[str, ...], GaugeMetricFamily]] = {}

    def add(self, name: str, labels: Mapping[str, str], value: float | bool | None) -> None:
        if value is None or not math.isfinite(value):
            return
        names = tuple(labels)
        entry = self._families.get(name)
        if entry is None:
            entry = (names, GaugeMetricFamily(name, HELP[name], labels=names))
            self._families[name] = entry
        assert entry[0] == names, f"{name}: labels {names} != {entry[0]}"
        entry[1].add_metric([escape_controls(labels[n]) for n in names], float(value))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for _, family in self._families.values():
            yield family


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _ratio(pct: float | None) -> float | None:
    return None if pct is None else pct / 100


def _stats(m: Metrics, name: str, labels: dict[str, str], s: Stats) -> None:
    for stat in ("min", "avg", "max", "mdev", "p50", "p95"):
        m.add(name, {**labels, "stat": stat}, _s(getattr(s, f"{stat}_ms")))


def _tls_version(protocol: str) -> str:
    """OpenSSL's ``TLSv1.3`` as blackbox_exporter writes it: ``TLS 1.3``."""
    if protocol.startswith("TLSv"):
        number = protocol[4:]
        return f"TLS {number if '.' in number else number + '.0'}"
    return protocol


def _unixtime(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _tcp(m: Metrics, labels: dict[str, str], r: TcpReport) -> None:
    if not r.results:
        return
    t = r.results[0]  # a check has one target
    m.add("probe_dns_lookup_time_seconds", labels, _s(t.dns_ms))
    m.add("netdiag_tcp_connects_sent", labels, t.stats.sent)
    m.add("netdiag_tcp_connects_received", labels, t.stats.received)
    m.add("netdiag_tcp_connect_loss_ratio", labels, _ratio(t.stats.loss_pct))
    _stats(m, "netdiag_tcp_connect_seconds", labels, t.stats)
    if t.probes:
        m.add("probe_ip_protocol", labels, 6 if ":" in t.probes[-1].address else 4)
    info = next((p.tcp_info for p in reversed(t.probes) if p.tcp_info is not None), None)
    if info is not None:  # the kernel's view of the last connect that has one (Linux)
        m.add("netdiag_tcp_info_rtt_seconds", labels, _s(info.rtt_ms))
        m.add("netdiag_tcp_info_rttvar_seconds", labels, _s(info.rttvar_ms))
        m.add("netdiag_tcp_info_rto_seconds", labels, _s(info.rto_ms))
        m.add("netdiag_tcp_info_snd_mss_bytes", labels, info.snd_mss)
        m.add("netdiag_tcp_info_advmss_bytes", labels, info.advmss)
        m.add("netdiag_tcp_info_pmtu_bytes", labels, info.pmtu)
        m.add("netdiag_tcp_info_snd_cwnd_segments", labels, info.snd_cwnd)


def _http_phases(m: Metrics, labels: dict[str, str], r: HttpReport) -> None:
    def total(attr: str) -> float:
        return sum(getattr(h.timing, attr) or 0.0 for h in r.hops)

    blackbox = {
        "resolve": total("dns_ms"),
        "connect": total("connect_ms"),
        "tls": total("tls_ms") + total("verify_ms"),
        "processing": total("ttfb_ms"),
        "transfer": total("transfer_ms"),
    }
    for phase, ms in blackbox.items():
        m.add("probe_http_duration_seconds", {**labels, "phase": phase}, _s(ms))
    for phase in ("dns", "connect", "tls", "verify", "ttfb", "transfer", "local", "total"):
        m.add("netdiag_http_phase_seconds", {**labels, "phase": phase}, _s(total(f"{phase}_ms")))


def _http(m: Metrics, labels: dict[str, str], r: HttpReport) -> None:
    if not r.hops:
        return
    last = r.hops[-1]
    m.add("probe_dns_lookup_time_seconds", labels, _s(r.hops[0].timing.dns_ms))
    m.add("probe_http_status_code", labels, r.status or 0)
    if last.http_version is not None:
        with contextlib.suppress(ValueError):
            m.add("probe_http_version", labels, float(last.http_version.removeprefix("HTTP/")))
    m.add("probe_http_redirects", labels, len(r.hops) - 1)
    m.add("probe_http_ssl", labels, last.tls is not None)
    if last.body is not None:
        decoded = last.body.decoded_bytes
        m.add("probe_http_uncompressed_body_length", labels, decoded or last.body.bytes)
    _http_phases(m, labels, r)
    m.add("netdiag_http_hops", labels, len(r.hops))
    if last.tls is not None:
        m.add("probe_tls_version_info", {**labels, "version": _tls_version(last.tls.protocol)}, 1)
        m.add("netdiag_http_cert_days_left", labels, last.tls.days_left)
        m.add("netdiag_http_cert_trusted", labels, last.tls.trusted)


def _tls(m: Metrics, labels: dict[str, str], r: TlsReport) -> None:
    m.add("probe_dns_lookup_time_seconds", labels, _s(r.dns_ms))
    if r.earliest_expiry is not None:
        expiry = _unixtime(r.earliest_expiry.not_after)
        m.add("probe_ssl_earliest_cert_expiry", labels, expiry)
        m.add("netdiag_tls_earliest_expiry_days_left", labels, r.earliest_expiry.days_left)
    if r.protocol is not None:
        m.add("probe_tls_version_info", {**labels, "version": _tls_version(r.protocol)}, 1)
    for c in r.chain:
        cert = {**labels, "position": str(c.position), "subject": c.subject}
        m.add("netdiag_tls_cert_days_left", cert, c.days_left)
    m.add("netdiag_tls_trusted", labels, r.trusted)
    m.add("netdiag_tls_path_to_trust_anchor", labels, r.path_to_trust_anchor)
    verdict = str(r.error.kind) if r.error is not None else "ok"
    m.add("netdiag_tls_verdict_info", {**labels, "kind": verdict}, 1)
    for kind in sorted({str(p.kind) for p in r.problems}):
        m.add("netdiag_tls_problem_info", {**labels, "kind": kind}, 1)
    m.add("netdiag_tls_hostname_match", labels, r.hostname_match)
    m.add("netdiag_tls_connect_seconds", labels, _s(r.tcp_connect_ms))
    m.add("netdiag_tls_handshake_seconds", labels, _s(r.handshake_ms))


def _dns_lookup(m: Metrics, labels: dict[str, str], r: DnsLookupReport) -> None:
    for q in r.results:
        ql = {**labels, "server": q.server, "qtype": q.type}
        m.add("probe_dns_query_succeeded", ql, q.ok)
        m.add("probe_dns_duration_seconds", {**ql, "phase": "request"}, _s(q.query_ms))
        if q.rcode is None:
            continue  # no valid response: no sections to count
        m.add("probe_dns_answer_rrs", ql, len(q.answer))
        m.add("probe_dns_authority_rrs", ql, len(q.authority))
        m.add("probe_dns_additional_rrs", ql, len(q.additional))
        m.add("netdiag_dns_rcode", {**ql, "rcode": q.rcode}, 1)
        m.add("netdiag_dns_response_bytes", ql, q.size)
        m.add("netdiag_dns_rejected_responses", ql, q.rejected_count)


def _dns_trace(m: Metrics, labels: dict[str, str], r: DnsTraceReport) -> None:
    ql = {**labels, "server": "", "qtype": r.type}
    m.add("probe_dns_query_succeeded", ql, r.ok)
    m.add("probe_dns_answer_rrs", ql, len(r.answer))
    m.add("netdiag_dns_trace_queries", labels, r.queries)
    m.add("netdiag_dns_trace_zone_cuts", labels, len(r.hops))
    m.add(
        "netdiag_dns_trace_disagreements", labels, sum(h.disagreement is not None for h in r.hops)
    )
    outcomes: dict[str, int] = {}
    for hop in r.hops:
        for server in hop.servers:
            outcomes[server.outcome] = outcomes.get(server.outcome, 0) + 1
    for name, n in sorted(outcomes.items()):
        m.add("netdiag_dns_trace_servers", {**labels, "outcome": name}, n)


def _ping(m: Metrics, labels: dict[str, str], r: PingReport) -> None:
    if not r.results:
        return
    h = r.results[0]  # a check has one target
    m.add("probe_dns_lookup_time_seconds", labels, _s(h.dns_ms))
    m.add("probe_icmp_duration_seconds", {**labels, "phase": "resolve"}, _s(h.dns_ms or 0.0))
    m.add("probe_icmp_duration_seconds", {**labels, "phase": "rtt"}, _s(h.stats.avg_ms))
    m.add("netdiag_ping_sent", labels, h.stats.sent)
    m.add("netdiag_ping_received", labels, h.stats.received)
    m.add("netdiag_ping_loss_ratio", labels, _ratio(h.stats.loss_pct))
    m.add("netdiag_ping_duplicates", labels, h.stats.duplicates)
    m.add("netdiag_ping_errors", labels, h.stats.errors)
    _stats(m, "netdiag_ping_rtt_seconds", labels, h.stats)


def _sockets(m: Metrics, labels: dict[str, str], r: SocketsReport) -> None:
    m.add("netdiag_sockets_total", labels, r.total)
    for state, n in r.states.items():
        m.add("netdiag_sockets_state", {**labels, "state": state}, n)
    m.add("netdiag_sockets_time_wait", labels, r.time_wait.count)
    m.add("netdiag_sockets_tw_buckets_used_ratio", labels, _ratio(r.kernel.tw_buckets_used_pct))


def _check(m: Metrics, c: CheckResult) -> None:
    labels = {"check": c.name, "type": c.type, "target": c.target or ""}
    state = outcome(c)
    for o in Outcome:
        m.add("netdiag_check_outcome", {**labels, "outcome": o.value}, o is state)
    if state is Outcome.NOT_RUN:
        return
    m.add("probe_success", labels, c.ok)
    if c.error is not None and not c.ok:
        m.add("netdiag_check_error_info", {**labels, "kind": str(c.error.kind)}, 1)
    m.add("netdiag_check_attempts", labels, c.attempts)
    m.add("netdiag_check_flaky", labels, c.flaky)
    m.add("netdiag_check_duration_seconds", labels, _s(c.duration_ms))
    r = c.report
    if r is None:
        return
    m.add("probe_duration_seconds", labels, _s(r.duration_ms))
    report_metrics(m, labels, r)


def report_metrics(m: Metrics, labels: dict[str, str], r: AnyReport) -> None:
    """The figures of one command's report, each sample with ``labels`` (and its own): what
    ``netdiag check`` writes per check and ``netdiag serve`` answers per probe."""
    if isinstance(r, TcpReport):
        _tcp(m, labels, r)
    elif isinstance(r, HttpReport):
        _http(m, labels, r)
    elif isinstance(r, TlsReport):
        _tls(m, labels, r)
    elif isinstance(r, DnsLookupReport):
        _dns_lookup(m, labels, r)
    elif isinstance(r, DnsTraceReport):
        _dns_trace(m, labels, r)
    elif isinstance(r, PingReport):
        _ping(m, labels, r)
    elif isinstance(r, SocketsReport):
        _sockets(m, labels, r)


def collect(report: CheckReport) -> Metrics:
    m = Metrics()
    for c in report.checks:
        _check(m, c)
    run = {"file": report.file}
    m.add("netdiag_check_run_timestamp_seconds", run, _unixtime(report.started_at))
    m.add("netdiag_check_run_duration_seconds", run, _s(report.duration_ms))
    m.add("netdiag_check_run_success", run, report.ok)
    s = report.summary
    for result, n in (
        ("total", s.total),
        ("passed", s.passed),
        ("failed", s.failed),
        ("flaky", s.flaky),
        ("not_run", s.not_run),
    ):
        m.add("netdiag_check_run_checks", {**run, "result": result}, n)
    return m


def render(report: CheckReport) -> str:
    """The report as Prometheus text exposition format (version 0.0.4)."""
    from prometheus_client.exposition import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collect(report))
    return generate_latest(registry).decode("utf-8")
