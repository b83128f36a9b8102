"""``GET /``: a small HTML page, the modules and the recent probes, each with a link to its
debug view. Every string in it that a request or a peer supplied (targets, error kinds) is
escaped by :func:`html.escape`; links are built with :func:`urllib.parse.urlencode`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from netdiag.checks.spec import ModuleSpec
    from netdiag.serve.server import RecentProbe


def _option_text(module: ModuleSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(module.written.items()) if k != "timeout")


def index_page(modules: Mapping[str, ModuleSpec], recent: Sequence[RecentProbe]) -> str:
    rows = []
    for m in modules.values():
        rows.append(
            f"<tr><td>{escape(m.name)}</td><td>{escape(m.type)}</td>"
            f"<td>{m.timeout_s:g} s</td><td>{escape(_option_text(m))}</td></tr>"
        )
    probes = []
    for p in reversed(recent):
        link = "/probe?" + urlencode({"target": p.target, "module": p.module, "debug": "true"})
        result = "success" if p.ok else f"failure ({p.kind})"
        debug = "" if p.cut else f'<a href="{escape(link)}">debug</a>'
        target = p.target + ("…" if p.cut else "")
        probes.append(
            f"<tr><td>{escape(p.at)}</td><td>{escape(p.module)}</td><td>{escape(target)}</td>"
            f"<td>{escape(result)}</td><td>{p.duration_s * 1000:.1f} ms</td>"
            f"<td>{debug}</td></tr>"
        )
    no_probes = '<tr><td colspan="6">none yet</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>netdiag serve</title></head>
<body>
<h1>netdiag serve</h1>
<p>Probe with <code>/probe?target=TARGET&amp;module=NAME</code> (add <code>&amp;debug=true</code>
for the probe's text view); the exporter's own metrics are at <a href="/metrics">/metrics</a>.</p>
<h2>Modules</h2>
<table>
<tr><th>name</th><th>type</th><th>timeout</th><th>options</th></tr>
{"".join(rows)}
</table>
<h2>Recent probes</h2>
<table>
<tr><th>time (UTC)</th><th>module</th><th>target</th><th>result</th><th>duration</th><th></th></tr>
{"".join(probes) or no_probes}
</table>
</body>
</html>
"""
