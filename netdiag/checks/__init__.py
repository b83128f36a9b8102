"""``netdiag check``: many health checks from one TOML file, run concurrently in one process
through the same probe functions as the commands.

- :mod:`netdiag.checks.spec`: the file, read and validated whole before anything runs, each
  check prepared as a call of its command's probe (:class:`~netdiag.checks.spec.CheckSpec`).
- :mod:`netdiag.checks.runner`: runs them (concurrency, retries with backoff, Ctrl-C) into a
  :class:`netdiag.results.check.CheckReport`.
- :mod:`netdiag.checks.formats`: the report as JSON, JSON lines, JUnit XML, TAP 14 and
  Prometheus exposition text; the text view is :mod:`netdiag.views.check`.
"""
