"""The README's `netdiag serve` section says what the code does: its modules file loads, its
scrape configuration is the one tests/test_prometheus_integration.py runs against a real
Prometheus, and its metric names are the ones netdiag writes, every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from netdiag.checks.prometheus import HELP
from netdiag.serve import modules as modules_file
from netdiag.serve.selfmetrics import ExporterMetrics

README = Path(__file__).resolve().parent.parent / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("## `netdiag serve`")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", section(), flags=re.S)


def test_the_modules_example_loads(tmp_path: Path) -> None:
    (toml,) = blocks("toml")
    path = tmp_path / "modules.toml"
    path.write_text(toml)
    modules = modules_file.load(str(path))
    assert set(modules) == {
        "tcp_connect",
        "http_2xx",
        "api_json",
        "tls_30_days",
        "dns_internal",
        "icmp_loss",
    }
    assert modules["tcp_connect"].options["count"] == 1  # from [defaults], as the text says
    assert modules["icmp_loss"].options["count"] == 5


def test_the_default_modules_table_is_the_code_s() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", section(), flags=re.M)
    assert {name: type_ for name, type_ in rows} == {
        m["name"]: m["type"] for m in modules_file.DEFAULT_MODULES
    }


def test_the_scrape_configuration_is_the_one_the_integration_test_runs() -> None:
    from test_prometheus_integration import scrape_config

    (documented,) = blocks("yaml")
    doc = yaml.safe_load(documented)
    ours = yaml.safe_load(
        scrape_config("127.0.0.1:9115", {"netdiag_http": ("http_2xx", ["http://x/"])})
    )
    by_name = {job["job_name"]: job for job in doc["scrape_configs"]}
    tested = {job["job_name"]: job for job in ours["scrape_configs"]}
    for name in ("netdiag_http", "netdiag"):
        assert name in by_name
    for job in (by_name["netdiag_http"], by_name["netdiag_tcp"]):
        assert job["metrics_path"] == tested["netdiag_http"]["metrics_path"] == "/probe"
        assert job["relabel_configs"] == tested["netdiag_http"]["relabel_configs"]
        assert set(job["params"]["module"]) <= {m["name"] for m in modules_file.DEFAULT_MODULES}
    assert by_name["netdiag"]["static_configs"] == tested["netdiag"]["static_configs"]


def _serve_names() -> set[str]:
    """Every metric name netdiag serve can write: the per-probe ones (those of
    checks/prometheus.py but the check file's and sockets', which a module cannot be) and the
    exporter's own, as exposed (counters with _total)."""
    probe = {n for n in HELP if not n.startswith(("netdiag_check_", "netdiag_sockets_"))}
    own = set()
    for family in ExporterMetrics(["m"]).registry.collect():
        if family.name.startswith("process_"):
            continue
        own.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return probe | own


def test_every_metric_is_documented_and_every_documented_one_exists() -> None:
    text = section()
    start = text.index("### Metrics")
    metrics = text[start : text.index("\n### ", start + 1)]
    documented = set(re.findall(r"`((?:probe|netdiag)_[a-z0-9_]+)", metrics))
    names = _serve_names()
    assert documented - names == set(), "documented, but netdiag serve never writes them"
    assert names - documented == set(), "written by netdiag serve, missing from the README"
