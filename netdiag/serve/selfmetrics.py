"""The exporter's own metrics (``GET /metrics``), in a registry of their own (never the
process-wide default one), with the process's CPU, memory and file descriptors."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

REFUSAL_REASONS = (
    "forbidden_target",  # 403: --allow-target
    "overloaded",  # 503: --max-concurrent probes already in flight
    "bad_request",  # 400: a malformed request, query, target or unknown module
    "not_found",  # 404
    "method",  # 405
    "unauthorized",  # 401: basic auth
    "too_large",  # 431/413: request line and headers over the bound, or a body
    "slow_client",  # the request did not arrive within its deadline
    "connections",  # closed at once: too many connections open
)


class ExporterMetrics:
    def __init__(self, modules: Iterable[str]) -> None:
        from prometheus_client import disable_created_metrics

        # No *_created series: this process has no other counters.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.probes = Counter(
            "netdiag_serve_probes",
            "Probes run, by module and result (success, failure)",
            ["module", "result"],
            registry=r,
        )
        self.durations = Histogram(
            "netdiag_serve_probe_duration_seconds",
            "How long probes took, by module",
            ["module"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.errors = Counter(
            "netdiag_serve_probe_errors",
            "Probes that failed, by module and error kind",
            ["module", "kind"],
            registry=r,
        )
        self.in_flight = Gauge("netdiag_serve_probes_in_flight", "Probes running now", registry=r)
        self.timed_out = Counter(
            "netdiag_serve_probes_over_deadline",
            "Probes answered as failed because they outlasted the scrape's deadline (they "
            "keep their --max-concurrent slot until they end)",
            ["module"],
            registry=r,
        )
        self.refused = Counter(
            "netdiag_serve_requests_refused",
            "Requests answered without a probe, by reason",
            ["reason"],
            registry=r,
        )
        self.requests = Counter(
            "netdiag_serve_http_requests",
            "HTTP requests answered, by status code",
            ["code"],
            registry=r,
        )
        self.connections = Gauge(
            "netdiag_serve_connections_open", "HTTP connections open now", registry=r
        )
        self.internal = Counter(
            "netdiag_serve_internal_errors",
            "Requests answered 500 (each logged on stderr): a bug in netdiag",
            registry=r,
        )
        ProcessCollector(registry=r)
        for name in modules:
            for result in ("success", "failure"):
                self.probes.labels(name, result)
            self.durations.labels(name)
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)

    def render(self) -> bytes:
        return generate_latest(self.registry)
