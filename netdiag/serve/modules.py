"""The modules a ``/probe`` request names: from ``--config`` (``[[module]]`` tables, read by
:func:`netdiag.checks.spec.load_modules`) or, without it, one default per type, named as
blackbox_exporter's example modules are."""

from __future__ import annotations

import math
from typing import Any

from netdiag.checks.spec import ModuleSpec, load_modules, prepare_module

DEFAULT_MODULES: tuple[dict[str, Any], ...] = (
    {"name": "tcp_connect", "type": "tcp", "count": 1, "timeout": 5.0},
    {"name": "http_2xx", "type": "http", "expect_status": "200-299", "timeout": 5.0},
    {"name": "dns", "type": "dns", "timeout": 5.0},
    {"name": "tls", "type": "tls", "timeout": 5.0},
    {"name": "icmp", "type": "ping", "count": 1, "timeout": 5.0},
)
"""Without ``--config``: one connect (tcp_connect), one GET following redirects, healthy on
2xx (http_2xx), an A lookup with the system's resolvers (dns), a handshake with
netdiag tls's verdict (tls), one echo request (icmp); each within 5 s."""

DEFAULT_MODULE = "http_2xx"
"""The module of a ``/probe`` request that names none, as in blackbox_exporter."""

TIMEOUT_MARGIN_S = 0.5
"""Taken off Prometheus's scrape timeout, so that the answer arrives before Prometheus gives
up (blackbox_exporter's default ``--timeout-offset``)."""

SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"

MAX_WAIT_S = 600.0
"""The longest a request waits for its probe, without a scrape timeout from Prometheus."""


class ModulesError(ValueError):
    """The modules file is wrong: one line naming the module and the key."""


def load(path: str | None) -> dict[str, ModuleSpec]:
    """The modules by name: ``path``'s, or the defaults."""
    from netdiag.checks.spec import SpecError

    try:
        if path is None:
            modules = [prepare_module(dict(table)) for table in DEFAULT_MODULES]
        else:
            modules = load_modules(path)
    except SpecError as exc:
        raise ModulesError(str(exc)) from None
    return {m.name: m for m in modules}


def scrape_timeout(value: str | None) -> float | None:
    """Prometheus's scrape timeout from its header (None: no header); ValueError when the
    header is not a positive number of seconds."""
    if value is None:
        return None
    seconds = float(value.strip())  # ValueError for what is not a number
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"not a positive number of seconds: {value!r}")
    return seconds


def probe_timeout(module: ModuleSpec, scrape_s: float | None) -> float:
    """The probe's timeout: the module's, or less when Prometheus's scrape timeout minus
    :data:`TIMEOUT_MARGIN_S` is less (never more than the module's, never less than the
    command's smallest)."""
    timeout = module.timeout_s
    if scrape_s is not None:
        budget = scrape_s - TIMEOUT_MARGIN_S
        if budget <= 0:  # a scrape timeout of 0.5 s or less: half of it
            budget = scrape_s / 2
        timeout = min(timeout, budget)
    return max(module.min_timeout_s, timeout)


def wait_bound(module: ModuleSpec, timeout_s: float, scrape_s: float | None) -> float:
    """How long a request waits for its probe before it answers a failure: with a scrape
    timeout from Prometheus, past the probe's timeout and before Prometheus's; else the
    module's own bound (:func:`netdiag.checks.spec.attempt_bound_s`: its timeout for each
    step and the waits between attempts). The probe itself is bounded by ``timeout_s`` per
    step and keeps its --max-concurrent slot until it ends."""
    if scrape_s is not None:
        # Half the margin left before Prometheus gives up, so that a probe ending at its own
        # timeout answers with its own reason, not with this bound's (they were equal: the
        # bound won the race by a millisecond under load).
        budget = max(scrape_s - TIMEOUT_MARGIN_S, timeout_s)
        return budget + max(0.0, scrape_s - budget) / 2
    from netdiag.checks.spec import attempt_bound_s

    bound = attempt_bound_s(module.type, module.options, module.types, timeout_s)
    if module.type == "http":  # its timeout bounds it whole (--max-time, set by bind)
        bound = min(bound, timeout_s + 1.0)
    return min(bound, MAX_WAIT_S)
