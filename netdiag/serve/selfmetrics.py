"""The exporter's own metrics (``GET /metrics``), in a registry of their own (never the
process-wide default one), with the process's CPU, memory and file descriptors.

With several worker processes (``--workers``), each worker's figures live in files of
prometheus_client's multiprocess mode, in a private directory of the exporter, and
``/metrics`` answers their sum, whichever worker answers it: counters and histograms summed,
the gauges (probes in flight, connections open) summed over the live workers, and the
``process_*`` figures summed over the exporter's processes (the supervisor and its workers;
its start time is the supervisor's)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from functools import partial

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

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
    def __init__(self, modules: Iterable[str], multiprocess_dir: str | None = None) -> None:
        """``multiprocess_dir``: this worker's figures go to prometheus_client's multiprocess
        files there (set before any metric is made), and :meth:`render` sums every
        worker's."""
        from prometheus_client import disable_created_metrics

        # No *_created series: this process has no other counters.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir is not None:
            from prometheus_client import values

            os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
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
        self.in_flight = Gauge(
            "netdiag_serve_probes_in_flight",
            "Probes running now",
            registry=r,
            multiprocess_mode="livesum",
        )
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
            "netdiag_serve_connections_open",
            "HTTP connections open now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.internal = Counter(
            "netdiag_serve_internal_errors",
            "Requests answered 500 (each logged on stderr): a bug in netdiag",
            registry=r,
        )
        ProcessCollector(registry=r)
        # Each probe updates these: their children are looked up once, not on every probe.
        self._probes = {
            (name, ok): self.probes.labels(name, "success" if ok else "failure")
            for name in modules
            for ok in (True, False)
        }
        self._durations = {name: self.durations.labels(name) for name in modules}
        self._requests: dict[int, Counter] = {}
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
        self._render_registry = r
        if multiprocess_dir is not None:
            from prometheus_client.multiprocess import MultiProcessCollector

            self._render_registry = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self._render_registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
            self._render_registry.register(_Processes(multiprocess_dir))

    def probe(self, module: str, ok: bool, kind: str | None, duration_s: float) -> None:
        """One probe ended (``kind``: its error kind when it failed)."""
        self._probes[module, ok].inc()
        self._durations[module].observe(duration_s)
        if kind is not None:
            self.errors.labels(module, kind).inc()

    def request(self, status: int) -> None:
        """One HTTP request answered."""
        child = self._requests.get(status)
        if child is None:
            child = self._requests[status] = self.requests.labels(str(status))
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self._render_registry)


_DB_PID = re.compile(r"_(\d+)\.db$")


class _Processes(Collector):
    """The ``process_*`` figures of the whole exporter: summed over the supervisor (this
    worker's parent) and every worker that has metric files in ``path`` (each worker makes
    its files when it starts); the start time is the supervisor's, the file limit this
    process's."""

    def __init__(self, path: str) -> None:
        self._path = path

    def _pids(self) -> list[int]:
        pids = {os.getppid(), os.getpid()}
        try:
            names = os.listdir(self._path)
        except OSError:
            names = []
        for name in names:
            m = _DB_PID.search(name)
            if m is not None:
                pids.add(int(m.group(1)))
        return sorted(pids)

    def collect(self) -> Iterator[Metric]:
        parent = os.getppid()
        sums: dict[str, float] = {}
        docs: dict[str, tuple[str, str]] = {}
        for pid in self._pids():
            collector = ProcessCollector(pid=partial(str, pid), registry=None)
            for family in collector.collect():
                docs.setdefault(family.name, (family.documentation, family.type))
                for sample in family.samples:
                    if sample.name == "process_start_time_seconds":
                        if pid == parent or sample.name not in sums:
                            sums[sample.name] = sample.value
                    elif sample.name == "process_max_fds":
                        if pid == os.getpid():
                            sums[sample.name] = sample.value
                    else:
                        sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
        for name, (doc, typ) in docs.items():
            key = f"{name}_total" if typ == "counter" else name
            if key not in sums:
                continue
            if typ == "counter":
                yield CounterMetricFamily(name, doc, value=sums[key])
            else:
                yield GaugeMetricFamily(name, doc, value=sums[key])
