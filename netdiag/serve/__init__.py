"""``netdiag serve``: a Prometheus exporter with blackbox_exporter's multi-target interface.

- :mod:`.modules`: the default modules, and the probe's time bound from Prometheus's scrape
  timeout;
- :mod:`.allow`: ``--allow-target`` (host names, CIDR blocks);
- :mod:`.webconfig`: ``--web-config`` (TLS and basic auth, as exporter-toolkit's file);
- :mod:`.answer`: one probe's answer (exposition text built with prometheus_client, one
  registry per probe) and its debug view;
- :mod:`.selfmetrics`: the exporter's own metrics (``GET /metrics``);
- :mod:`.page`: the HTML page of ``GET /``;
- :mod:`.server`: the asyncio server (h11 on the wire) and its bounds.

The probes are the commands' own (:class:`netdiag.checks.spec.ModuleSpec`); nothing here
parses HTTP by hand nor writes exposition text by string concatenation.
"""
