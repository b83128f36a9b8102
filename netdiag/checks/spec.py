"""The check file (TOML): one ``[[check]]`` table per check, whose keys are the long CLI
options of its command with ``-`` written ``_``; read and validated whole before anything runs.

The file's options never drift from the commands': each ``[[check]]`` table is mapped onto the
click parameters of its command (the very ones ``netdiag TYPE --help`` lists), its values are
checked against their kind (an integer option takes a TOML integer, a flag a boolean, a
repeatable option a list) and converted by the parameter's own click type (ranges), the
defaults are the command's, and the command's own ``prepare`` validates the whole and returns
the probe call that ``netdiag TYPE ... --json`` runs. Loading sends nothing: the probes run
only when a :class:`CheckSpec`'s ``run`` is called.

Keys of a ``[[check]]`` table:

- ``name`` (required, unique), ``type`` (tcp, dns, tls, http, ping or sockets), ``tags`` (a
  list of strings), ``retries`` (attempts after the first when the check fails, 0 to 100).
- ``target``: required except for sockets (which takes none) and for ping with ``file``. tcp
  and ping take a string or a list of strings (the commands take several); tls a
  ``HOST[:PORT]``, http a URL, dns the name to look up (an address with ``reverse``).
- every long option of the command, ``-`` written ``_``: ``max_ms``, ``expect_status``,
  ``ca_file``... An option with no long name takes the command's name for it: ``ipv4`` and
  ``ipv6`` (``-4``, ``-6``), ``reverse`` (dns ``-x``). Repeatable options (http ``header``,
  ``resolve``, ``connect_to``; dns ``server``, ``root``; sockets ``state``) take a list or one
  string.
- dns: ``types``, the record types (positional on the command line), a list or one string
  (default A, or PTR with ``reverse``); ``query_retries`` is the command's ``--retries``
  (``retries`` is the check's own).
- not in a file: ``json`` (a check's report is its command's ``--json`` document), dns
  ``short``, sockets ``watch`` and ``count`` (they shape a terminal's output).

``[defaults]`` takes any of these options (and ``retries``), applied to every check whose type
has it, unless the check sets it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdiag.results.check import AnyReport

TYPES = ("tcp", "dns", "tls", "http", "ping", "sockets")

MAX_RETRIES = 100
"""The most ``retries`` a check may ask for: every loop that sends traffic is bounded."""

SOCKETS_TIMEOUT_S = 10.0
"""sockets has no ``--timeout`` (it reads the kernel's table): its checks' time bound."""

RESERVED = ("name", "type", "target", "tags", "retries")
"""The keys of a ``[[check]]`` table that are the check's own, not its command's options."""


class SpecError(ValueError):
    """The check file is wrong: one line naming the check (name, or #index) and the key."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check, validated and ready to run."""

    index: int
    """1-based position among the file's ``[[check]]`` tables."""
    name: str
    type: str
    target: str | None
    """As written in the file; several targets (tcp, ping) joined by spaces, as on a command
    line."""
    tags: tuple[str, ...]
    retries: int
    """Attempts after the first when it fails (``retries`` key, else ``[defaults]``, else 0)."""
    timeout_s: float
    """The check's time bound: its command's ``--timeout`` as the file sets it or defaults
    (else the command's default; sockets, which has none: :data:`SOCKETS_TIMEOUT_S`)."""
    run: Callable[[], AnyReport]
    """One attempt: the command's probe with the file's options, exactly what
    ``netdiag TYPE ... --json`` would run. Raises :class:`SpecError` only for what the
    command itself finds wrong only when it runs (a dns ``server`` given by a name that does
    not resolve: a usage error, exit 2, on the command line)."""
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    """The command's parameters as the check runs them (every one, defaults included), by
    the command function's names: what the command's ``prepare`` was given."""
    types: tuple[str, ...] = ()
    """dns: the record types (positional on the command line)."""

    @property
    def bound_s(self) -> float:
        """How long one attempt may take by its own timeouts (:func:`attempt_bound_s`)."""
        return attempt_bound_s(self.type, self.options, self.types, self.timeout_s)


# What a [[check]] table cannot carry, with why; by type ("*": every type).
_NOT_IN_CHECKS: dict[str, dict[str, str]] = {
    "*": {"json_output": "a check's report is its command's --json document already"},
    "dns": {"short": "it only changes how dns prints; a check has netdiag check's formats"},
    "sockets": {
        "watch": "it redraws a terminal until Ctrl-C; netdiag check --every repeats checks",
        "count": "it goes with --watch",
    },
}

# The key of the command's parameters that a key of the file does not follow from the rule
# (the long option, '-' written '_').
_RENAMED: dict[str, dict[str, str]] = {
    "dns": {"retries": "query_retries"},  # 'retries' is the check's own
}

# The command's positional parameter that the file's 'target' fills.
_TARGET_PARAM: dict[str, str | None] = {
    "tcp": "targets",
    "dns": "words",
    "tls": "target",
    "http": "url",
    "ping": "hosts",
    "sockets": None,
}


@dataclass(frozen=True, slots=True)
class _Command:
    """One command as the file sees it: its module, and its click parameters by file key."""

    type: str
    module: ModuleType
    keys: dict[str, Any]
    """File key -> click parameter (options only; the target is apart)."""
    refused: dict[str, str]
    """File key -> why a check cannot carry it."""
    defaults: dict[str, Any]
    """click parameter name -> the command's default, for every parameter prepare takes."""


def _key_of(param: Any) -> str:
    """The file key of a click option: its first long name, ``-`` written ``_``; an option
    without one (``-4``, ``-x``) goes by the command function's name for it."""
    for opt in param.opts:
        if opt.startswith("--"):
            return str(opt[2:].replace("-", "_"))
    return str(param.name)


@cache
def _command(type_: str) -> _Command:
    import typer

    from netdiag.commands.options import finite_floats

    module = import_module(f"netdiag.commands.{type_}")
    app = typer.Typer(add_completion=False)
    module.register(app)
    command = typer.main.get_command(app)
    finite_floats(command)  # nan and inf refused, as on the command line
    renamed = _RENAMED.get(type_, {})
    not_in = {**_NOT_IN_CHECKS["*"], **_NOT_IN_CHECKS.get(type_, {})}
    keys: dict[str, Any] = {}
    refused: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    for param in command.params:
        name = str(param.name)
        if name == _TARGET_PARAM[type_]:
            defaults[name] = param.default
            continue
        key = _key_of(param)
        key = renamed.get(key, key)
        if name in not_in:
            refused[key] = not_in[name]
            continue
        keys[key] = param
        defaults[name] = param.default
    return _Command(type_, module, keys, refused, defaults)


def _toml_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


_WANTS = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "path": "a string",
}


def _fits(kind: str, value: object) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)  # str, path


class _Bad(Exception):
    """One value is wrong: the message, and the key (None: the check as a whole)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def _convert(key: str, param: Any, value: object) -> Any:
    """The TOML value of ``key`` as the command receives it from the command line: checked
    against the parameter's kind, converted by its click type (ranges), finite."""
    from netdiag.commands.typercompat import BadParameter, param_kind

    kind = param_kind(param)
    many = bool(param.multiple) or param.nargs == -1
    items = value if many and isinstance(value, list) else [value]
    wants = _WANTS[kind]
    if many:
        wants = f"{wants} or an array of them" if kind == "str" else f"an array of {wants}"
    converted = []
    for item in items:
        if not _fits(kind, item):
            raise _Bad(f"takes {wants}, not {_toml_kind(item)}", key)
        try:
            done: Any = param.type.convert(item, param, None)
        except BadParameter as exc:
            raise _Bad(exc.message, key) from None
        converted.append(Path(done) if kind == "path" else done)  # as typer hands it over
    return converted if many else converted[0]


def _spec_error(
    label: str, bad: _Bad, table: dict[str, Any], defaults: dict[str, Any]
) -> SpecError:
    """One line naming the check or module, its key, and whether the value came from
    ``[defaults]``."""
    where = f" {bad.key}:" if bad.key else ""
    if bad.key is not None and bad.key in defaults and bad.key not in table:
        where = f" {bad.key} (from [defaults]):"
    return SpecError(f"{label}:{where} {bad.message}")


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _types_with(key: str) -> list[str]:
    if key == "types":
        return ["dns"]
    return [t for t in TYPES if key in _command(t).keys or key in _command(t).refused]


def _check_keys(cmd: _Command, table: dict[str, Any]) -> None:
    """Every key of ``table`` is one this type takes."""
    for key in table:
        if key in RESERVED or key in cmd.keys or (cmd.type == "dns" and key == "types"):
            continue
        if key in cmd.refused:
            raise _Bad(f"not in a check file: {cmd.refused[key]}", key)
        others = _types_with(key)
        if others:
            have = " and ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
            raise _Bad(
                f"not a {cmd.type} option (only {have} {'has' if len(others) == 1 else 'have'} it)",
                key,
            )
        known = [*RESERVED, *cmd.keys, *(["types"] if cmd.type == "dns" else [])]
        raise _Bad(f"unknown option{_suggest(key, known)}", key)


def _no_stdin(merged: dict[str, Any]) -> None:
    """``data = "@-"`` (http's body from standard input) is for a command line: a file of
    checks or modules is read once and run many times, with no input to read from."""
    if merged.get("data") == "@-":
        raise _Bad('"@-" (standard input) is for the command line: name a file, "@PATH"', "data")


def _body_file_is_regular(merged: dict[str, Any]) -> None:
    """A module's ``data = "@PATH"`` is read again for each new target, on the exporter's
    event loop: only a regular file may be (a pipe, a FIFO or ``/dev/stdin`` would stall
    the exporter, or give each probe another body)."""
    import stat

    data = merged.get("data")
    if not isinstance(data, str) or not data.startswith("@") or data == "@-":
        return
    try:
        mode = os.stat(data[1:]).st_mode
    except OSError:
        return  # the command's own reading says what is wrong, as for a check
    if not stat.S_ISREG(mode):
        raise _Bad(f"{data}: a module's body file must be a regular file", "data")


def _string_list(key: str, value: object, *, single: bool = True) -> list[str]:
    """A string, or a list of strings (``single``: a lone string is allowed)."""
    if single and isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        wants = "a string or an array of strings" if single else "an array of strings"
        raise _Bad(f"takes {wants}, not {_toml_kind(value)}", key)
    return list(value)


def _target(cmd: _Command, table: dict[str, Any]) -> tuple[str | None, Any]:
    """The file's ``target`` as written, and as the command's positional parameter takes it."""
    value = table.get("target")
    if cmd.type == "sockets":
        if value is not None:
            raise _Bad("sockets takes no target (it reads this host's socket table)", "target")
        return None, None
    if value is None:
        if cmd.type == "ping" and table.get("file") is not None:
            return None, None
        raise _Bad("missing: every check but sockets names its target", "target")
    if cmd.type in ("tcp", "ping"):
        targets = _string_list("target", value)
        if not targets or not all(t.strip() for t in targets):
            raise _Bad("takes a non-empty string or an array of them", "target")
        return " ".join(targets), targets
    if not isinstance(value, str):
        raise _Bad(f"takes a string, not {_toml_kind(value)}", "target")
    if not value.strip():
        raise _Bad("is empty", "target")
    if cmd.type == "dns":
        if value.startswith(("@", "+")):
            raise _Bad("the name to look up only; name servers go in server = [...]", "target")
        types = _string_list("types", table.get("types", []))
        return value, [value, *types]
    return value, value


def _label(index: int, table: dict[str, Any]) -> str:
    name = table.get("name")
    if isinstance(name, str) and name:
        return f"check {name!r} (#{index})"
    return f"check #{index}"


def _name_and_type(table: dict[str, Any], what: str, types: Sequence[str]) -> tuple[str, str]:
    """A check's or a module's ``name`` and ``type`` (one of ``types``); :class:`_Bad`."""
    name = table.get("name")
    if name is None:
        raise _Bad(f"missing: every {what} has a unique name", "name")
    if not isinstance(name, str) or not name.strip():
        raise _Bad(f"takes a non-empty string, not {_toml_kind(name)}", "name")
    type_ = table.get("type")
    if type_ is None:
        raise _Bad(f"missing: one of {', '.join(types)}", "type")
    if not isinstance(type_, str) or type_ not in types:
        hint = _suggest(type_, types) if isinstance(type_, str) else ""
        raise _Bad(f"{type_!r} is not one of {', '.join(types)}{hint}", "type")
    return name, type_


def _one(index: int, table: dict[str, Any], defaults: dict[str, Any]) -> CheckSpec:
    """One ``[[check]]`` table, with ``[defaults]`` for what it does not set, as a ready
    check; :class:`_Bad` for what is wrong."""
    from netdiag.commands.options import error_param
    from netdiag.commands.typercompat import UsageError

    name, type_ = _name_and_type(table, "check", TYPES)
    cmd = _command(type_)
    merged = {k: v for k, v in defaults.items() if k in cmd.keys or k == "retries"}
    merged.update(table)
    _check_keys(cmd, table)
    _no_stdin(merged)
    tags = tuple(_string_list("tags", merged.get("tags", []), single=False))
    retries = merged.get("retries", 0)
    if not _fits("int", retries) or not 0 <= retries <= MAX_RETRIES:
        raise _Bad(f"takes an integer from 0 to {MAX_RETRIES}, not {retries!r}", "retries")
    shown_target, target_value = _target(cmd, merged)

    kwargs, by_name = _options(cmd, merged)
    target_param = _TARGET_PARAM[type_]
    if target_param is not None:
        kwargs[target_param] = target_value
    if type_ != "dns":  # dns's words are the name and the types: its messages say which
        by_name[target_param] = "target"
    try:
        call = cmd.module.prepare(**kwargs)
    except UsageError as exc:
        at = error_param(exc)
        raise _Bad(exc.message, by_name.get(at)) from None  # type: ignore[attr-defined]
    timeout = float(kwargs["timeout"]) if "timeout" in kwargs else SOCKETS_TIMEOUT_S
    return CheckSpec(
        index=index,
        name=name,
        type=type_,
        target=shown_target,
        tags=tags,
        retries=int(retries),
        timeout_s=timeout,
        run=_guarded(call, _label(index, table)),
        options=kwargs,
        types=tuple(target_value[1:]) if type_ == "dns" else (),
    )


def attempt_bound_s(
    type_: str, options: dict[str, Any], types: Sequence[str], timeout_s: float
) -> float:
    """How long one run of a probe may take by its own bounds, each step (a lookup, a
    connect, a query, a handshake, a hop) within ``timeout_s``: what the probe does one
    after another, and in how many rounds what it does at once (the targets of a tcp or ping
    check, a dns check's queries), plus 1 s. A trace has its own bound. ``netdiag check``'s
    watchdog waits twice this before it calls a probe stuck, ``netdiag serve`` waits this
    long without a scrape timeout."""
    t = timeout_s
    o = options
    if type_ == "dns" and o.get("do_trace"):
        return float(o.get("trace_timeout") or 15 * t) + 1.0
    interval = float(o.get("interval", 0.0) or 0.0)
    count = int(o.get("count", 1) or 1)
    if type_ in ("tcp", "ping"):
        hosts = o.get(_TARGET_PARAM[type_] or "")
        n = len(hosts) if isinstance(hosts, list) and hosts else 1
        if type_ == "tcp":  # lookups 32 at once, then every target's connects at once
            from netdiag.probes.tcp import inflight_limit

            rounds = -(-n // inflight_limit())
            bound = -(-n // 32) * t + rounds * (count * t + (count - 1) * interval)
        else:  # names looked up 16 at once (each up to 2 s), then rounds --gap-ms apart
            named = sum(1 for h in hosts or () if not _is_address(str(h)))
            gap = float(o.get("gap_ms", 0.0) or 0.0) / 1000
            bound = -(-named // 16) * max(t, 2.0) + count * max(interval, n * gap) + t
    elif type_ == "dns":  # named servers looked up one by one, then 8 queries at once
        servers = o.get("servers") or []
        named = sum(1 for s in servers if not _is_address(str(s)))
        queries = max(len(servers), 3) * max(len(types), 1)  # 3: resolv.conf's most
        tries = int(o.get("retries", 0) or 0) + 2  # the retries, and TCP after truncation
        bound = named * t + -(-queries // 8) * tries * t
    elif type_ == "tls":  # lookup, connect, STARTTLS, handshake
        bound = (4 if o.get("starttls") else 3) * t
    elif type_ == "http":  # each hop within t, lookup to last byte; a closed connection again
        hops = int(o.get("max_redirects", 10)) + 1 if o.get("follow") else 1
        bound = 2 * hops * t
        if o.get("max_time"):
            bound = min(bound, float(o["max_time"]))
    else:
        bound = t
    return bound + 1.0


def _is_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _options(cmd: _Command, merged: dict[str, Any]) -> tuple[dict[str, Any], dict[str | None, str]]:
    """The command's parameters (its defaults, and what ``merged`` sets, converted) by the
    command function's names; and each parameter's file key by that name."""
    kwargs = dict(cmd.defaults)
    by_name: dict[str | None, str] = {}
    for key, param in cmd.keys.items():
        by_name[param.name] = key
        if key in merged:
            kwargs[param.name] = _convert(key, param, merged[key])
    return kwargs, by_name


def _guarded(call: Callable[[], Any], label: str) -> Callable[[], AnyReport]:
    """``call``, with a usage error found only when it runs (see CheckSpec.run) as a
    :class:`SpecError` naming the check."""

    def run() -> AnyReport:
        from netdiag.commands.typercompat import UsageError

        try:
            report: AnyReport = call()
        except UsageError as exc:
            raise SpecError(f"{label}: {exc.message}") from None  # type: ignore[attr-defined]
        return report

    return run


def _read(path: str) -> dict[str, Any]:
    import tomllib

    from netdiag.files import MAX_LIST_BYTES, FileError, read_text_bounded

    try:
        text = read_text_bounded(path, MAX_LIST_BYTES)
    except FileError as exc:
        raise SpecError(str(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not a TOML file: {exc}") from None


_NOT_IN_DEFAULTS = {
    "port": "tcp, dns and sockets each mean something else by it (the targets' port, the "
    "servers' port, a filter): set it in the checks or modules it is for",
}
"""Options that [defaults] cannot hold, with why."""


def _defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """``[defaults]``: every key an option of some type (or ``retries``), of a kind that
    option takes."""
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SpecError("defaults: takes a table ([defaults]), not " + _toml_kind(defaults))
    every: dict[str, list[Any]] = {}
    for t in TYPES:
        for key, param in _command(t).keys.items():
            every.setdefault(key, []).append(param)
    for key, value in defaults.items():
        if key == "retries":
            if not _fits("int", value) or not 0 <= value <= MAX_RETRIES:
                raise SpecError(
                    f"[defaults] retries: takes an integer from 0 to {MAX_RETRIES}, not {value!r}"
                )
            continue
        if key in RESERVED or key == "types":
            raise SpecError(f"[defaults] {key}: is set per check, not in [defaults]")
        if key in _NOT_IN_DEFAULTS:
            raise SpecError(f"[defaults] {key}: {_NOT_IN_DEFAULTS[key]}")
        if key not in every:
            refused = [t for t in TYPES if key in _command(t).refused]
            if refused:
                raise SpecError(f"[defaults] {key}: not for a check file")
            raise SpecError(f"[defaults] {key}: unknown option{_suggest(key, every)}")
        from netdiag.commands.typercompat import param_kind

        kinds = {param_kind(p) for p in every[key]}
        items = value if isinstance(value, list) else [value]
        if not any(all(_fits(k, i) for i in items) for k in kinds):
            wants = " or ".join(sorted(_WANTS[k] for k in kinds))
            raise SpecError(f"[defaults] {key}: takes {wants}, not {_toml_kind(value)}")
    return dict(defaults)


def _checks(doc: dict[str, Any]) -> list[Any]:
    for key in doc:
        if key not in ("defaults", "check"):
            raise SpecError(
                f"{key}: unknown top-level key{_suggest(key, ('check', 'defaults'))} "
                "(a check file has [defaults] and [[check]] tables)"
            )
    checks = doc.get("check")
    if checks is None:
        raise SpecError("no checks: add [[check]] tables")
    if not isinstance(checks, list):
        raise SpecError("check: write each check as a [[check]] table (an array of tables)")
    if not checks:
        raise SpecError("no checks: add [[check]] tables")
    return checks


def parse(doc: dict[str, Any], *, only: Sequence[str] = ()) -> list[CheckSpec]:
    """The checks of a parsed check file (see :func:`load`)."""
    defaults = _defaults(doc)
    specs: list[CheckSpec] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(_checks(doc), start=1):
        if not isinstance(table, dict):
            raise SpecError(f"check #{index}: takes a table, not {_toml_kind(table)}")
        label = _label(index, table)
        try:
            spec = _one(index, table, defaults)
        except _Bad as bad:
            raise _spec_error(label, bad, table, defaults) from None
        if spec.name in seen:
            raise SpecError(f"{label}: name: duplicate name (check #{seen[spec.name]} has it)")
        seen[spec.name] = index
        specs.append(spec)
    return select(specs, only)


def select(specs: list[CheckSpec], only: Sequence[str]) -> list[CheckSpec]:
    """The checks that ``only`` names, by name or tag (all when empty); each of ``only`` must
    select something."""
    if not only:
        return specs
    names = {s.name for s in specs}
    tags = {t for s in specs for t in s.tags}
    for word in only:
        if word not in names and word not in tags:
            hint = _suggest(word, names | tags)
            raise SpecError(f"--only {word!r}: no check has this name or tag{hint}")
    wanted = set(only)
    return [s for s in specs if s.name in wanted or wanted.intersection(s.tags)]


def load(path: str, *, only: Sequence[str] = ()) -> list[CheckSpec]:
    """The checks of ``path`` (selected by name or tag with ``only``); SpecError when the file
    is unreadable, not TOML, or any check is invalid. Sends nothing."""
    return parse(_read(path), only=only)


def loads(text: str, *, only: Sequence[str] = ()) -> list[CheckSpec]:
    """The checks of a check file's text (see :func:`load`)."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"not a TOML file: {exc}") from None
    return parse(doc, only=only)


# netdiag serve's modules: [[module]] tables, written like [[check]] tables without a target.

MODULE_TYPES = ("tcp", "dns", "tls", "http", "ping")
"""The types a module may have: every check type that probes a target (not sockets)."""

_NOT_IN_MODULES: dict[str, str] = {
    "target": "each request names its target (/probe?target=...&module=NAME)",
    "tags": "a module has no tags",
    "retries": "a scrape is one attempt (Prometheus scrapes again)",
    "file": "each request names its target (/probe?target=...&module=NAME)",  # ping -f FILE
}

MODULE_DEFAULTS: dict[str, Any] = {"count": 1, "location": True}
"""What a module has unless it (or ``[defaults]``) says otherwise, where its command has the
option, as blackbox_exporter's modules do: one attempt per scrape (tcp, ping; the commands'
own 4 attempts, 1 s apart, would make every scrape last over 3 s: Prometheus's scrape
interval is what repeats a probe), and redirects followed (http; with --allow-target, only
to hosts it allows)."""

# What each type's prepare is given for the target when a module is validated at start-up
# (nothing is sent: prepare only parses it); an error it finds there is not the module's.
_PLACEHOLDER: dict[str, str] = {
    "tcp": "placeholder.invalid:1",
    "tls": "placeholder.invalid:1",
    "http": "http://placeholder.invalid/",
    "dns": "placeholder.invalid",
    "ping": "placeholder.invalid",
}


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """One ``[[module]]`` of a modules file, validated: :meth:`bind` makes it a probe call
    for one target."""

    name: str
    type: str
    timeout_s: float
    """The command's ``--timeout`` as the module sets it (else the command's default)."""
    min_timeout_s: float
    """The smallest ``--timeout`` the command takes."""
    options: dict[str, Any] = field(compare=False)
    """The command's parameters but the target, by the command function's names."""
    types: tuple[str, ...] = ()
    """dns: the record types (positional on the command line)."""
    written: dict[str, Any] = field(default_factory=dict, compare=False)
    """The module's keys as the file wrote them, with what ``[defaults]`` and
    :data:`MODULE_DEFAULTS` give it (the page at ``/`` shows them), name and type aside."""

    def bind(self, target: str, timeout_s: float | None = None) -> Callable[[], AnyReport]:
        """The probe call for ``target`` (as the command line takes it: host[:port] for tcp,
        tls and ping, a URL for http, the name to look up for dns), with ``timeout_s`` (else
        the module's; at least the command's smallest). :class:`SpecError` with the
        command's own message when ``target`` is wrong. Sends nothing."""
        from netdiag.commands.options import error_param
        from netdiag.commands.typercompat import UsageError

        cmd = _command(self.type)
        kwargs = dict(self.options)
        param = _TARGET_PARAM[self.type]
        assert param is not None
        if self.type in ("tcp", "ping"):
            kwargs[param] = [target]
        elif self.type == "dns":
            kwargs[param] = [target, *self.types]
        else:
            kwargs[param] = target
        if timeout_s is not None:
            kwargs["timeout"] = max(self.min_timeout_s, min(timeout_s, self.timeout_s))
        if self.type == "http":  # the timeout bounds the whole probe, redirects included,
            own = kwargs.get("max_time")  # as blackbox_exporter's module timeout does
            if not own or own > kwargs["timeout"]:
                kwargs["max_time"] = kwargs["timeout"]
                kwargs["max_time_source"] = "the probe's timeout"
        try:
            call = cmd.module.prepare(**kwargs)
        except UsageError as exc:
            at = error_param(exc)
            where = "" if at in (param, None) else f"{at}: "
            raise SpecError(f"{where}{exc.message}") from None  # type: ignore[attr-defined]
        return _guarded(call, f"module {self.name!r}")


def _module_label(index: int, table: dict[str, Any]) -> str:
    name = table.get("name")
    if isinstance(name, str) and name:
        return f"module {name!r} (#{index})"
    return f"module #{index}"


def _module(table: dict[str, Any], defaults: dict[str, Any]) -> ModuleSpec:
    """One ``[[module]]`` table, with ``[defaults]`` for what it does not set; :class:`_Bad`
    for what is wrong."""
    name, type_ = _name_and_type(table, "module", MODULE_TYPES)
    if not all(c.isascii() and (c.isalnum() or c in "_-.") for c in name):
        raise _Bad(f"{name!r}: letters, digits, '_', '-' and '.' only (it goes in a URL)", "name")
    cmd = _command(type_)
    merged = {k: v for k, v in MODULE_DEFAULTS.items() if k in cmd.keys}
    merged.update((k, v) for k, v in defaults.items() if k in cmd.keys)
    merged.update(table)
    for key in merged:
        if key in _NOT_IN_MODULES and (key != "file" or type_ == "ping"):
            raise _Bad(f"not in a module: {_NOT_IN_MODULES[key]}", key)
    _check_keys(cmd, {k: v for k, v in table.items() if k != "target"})
    _no_stdin(merged)
    _body_file_is_regular(merged)
    types: tuple[str, ...] = ()
    if type_ == "dns":
        types = tuple(_string_list("types", merged.get("types", [])))
    kwargs, by_name = _options(cmd, merged)
    placeholder = "192.0.2.1" if kwargs.get("reverse") else _PLACEHOLDER[type_]
    spec = ModuleSpec(
        name=name,
        type=type_,
        timeout_s=float(kwargs["timeout"]),
        min_timeout_s=float(cmd.keys["timeout"].type.min),
        options=kwargs,
        types=types,
        written={k: v for k, v in merged.items() if k not in ("name", "type")},
    )
    _validate_options(cmd, kwargs, by_name, placeholder, types)
    return spec


def _validate_options(
    cmd: _Command,
    kwargs: dict[str, Any],
    by_name: dict[str | None, str],
    placeholder: str,
    types: tuple[str, ...],
) -> None:
    """:class:`_Bad` naming the key when the command's ``prepare`` refuses the module's
    options (with a stand-in target, whose own errors are not the module's)."""
    from netdiag.commands.options import error_param
    from netdiag.commands.typercompat import UsageError

    param = _TARGET_PARAM[cmd.type]
    assert param is not None
    args = dict(kwargs)
    if cmd.type in ("tcp", "ping"):
        args[param] = [placeholder]
    elif cmd.type == "dns":
        args[param] = [placeholder, *types]
    else:
        args[param] = placeholder
    try:
        cmd.module.prepare(**args)
    except UsageError as exc:
        at = error_param(exc)
        if at == param and cmd.type != "dns":
            return
        key = by_name.get(at) or ("types" if cmd.type == "dns" and at == param else None)
        raise _Bad(exc.message, key) from None  # type: ignore[attr-defined]


def parse_modules(doc: dict[str, Any]) -> list[ModuleSpec]:
    """The modules of a parsed modules file (see :func:`load_modules`)."""
    for key in doc:
        if key not in ("defaults", "module"):
            raise SpecError(
                f"{key}: unknown top-level key{_suggest(key, ('module', 'defaults'))} "
                "(a modules file has [defaults] and [[module]] tables)"
            )
    defaults = _defaults(doc)
    if "retries" in defaults:
        raise SpecError(f"[defaults] retries: not in a module: {_NOT_IN_MODULES['retries']}")
    tables = doc.get("module")
    if not isinstance(tables, list) or not tables:
        raise SpecError("no modules: add [[module]] tables")
    modules: list[ModuleSpec] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise SpecError(f"module #{index}: takes a table, not {_toml_kind(table)}")
        label = _module_label(index, table)
        try:
            module = _module(table, defaults)
        except _Bad as bad:
            raise _spec_error(label, bad, table, defaults) from None
        if module.name in seen:
            raise SpecError(f"{label}: name: duplicate name (module #{seen[module.name]} has it)")
        seen[module.name] = index
        modules.append(module)
    return modules


def prepare_module(table: dict[str, Any]) -> ModuleSpec:
    """One ``[[module]]`` table (name, type and the command's options, as in a check file
    but without a target) validated by the same code as the check file; :class:`SpecError`
    naming the module and the key. Sends nothing."""
    return parse_modules({"module": [table]})[0]


def load_modules(path: str) -> list[ModuleSpec]:
    """The modules of ``path`` (``netdiag serve --config``); :class:`SpecError` when the file
    is unreadable, not TOML, or any module is invalid. Sends nothing."""
    return parse_modules(_read(path))


def example() -> str:
    """A commented example file covering every type (``netdiag check --example``)."""
    return EXAMPLE


EXAMPLE = """\
# netdiag check file (TOML): netdiag check FILE [--only NAME_OR_TAG] [--format FORMAT]
#
# The names and addresses below are documentation-only (example.org, 192.0.2.0/24,
# RFC 2606 and RFC 5737): they stand for your own hosts. Replace them before running.
#
# Every key of a [[check]] is the long option of its command with '-' written '_'
# (netdiag TYPE --help lists them): --max-ms is max_ms, --ca-file is ca_file. Options
# without a long name go by the command's name for them: ipv4 (-4), ipv6 (-6), reverse
# (dns -x). Numbers are TOML numbers, flags true or false, repeatable options an array.

# Applied to every check whose command has the option, unless the check sets it (not port:
# tcp, dns and sockets each read it differently).
[defaults]
timeout = 2           # seconds, each command's --timeout
count = 1             # tcp and ping: one attempt per target is enough for a check
retries = 1           # the check's own: run it once more when it fails (flaky if it then passes)

[[check]]
name = "api over https"          # required, unique
type = "http"                    # tcp | dns | tls | http | ping | sockets
target = "https://api.example.org/health"
expect_status = "200"
max_ms = 800
header = ["Accept: application/json"]
tags = ["prod", "api"]           # --only prod runs every check tagged prod

[[check]]
name = "certificate lasts a month"
type = "tls"
target = "api.example.org"       # HOST[:PORT], port 443 by default
min_days = 30

[[check]]
name = "mail submission upgrades to TLS"
type = "tls"
target = "mail.example.org"
starttls = "smtp"                # port 25 by default with starttls
tags = ["mail"]

[[check]]
name = "database port answers"
type = "tcp"
target = ["db1.example.org:5432", "db2.example.org:5432"]   # a string, or several
max_connect_ms = 50
tags = ["prod"]

[[check]]
name = "zone answers"
type = "dns"
target = "example.org"           # the name to look up
types = ["A", "MX"]              # record types (positional on the command line); default A
server = ["192.0.2.53"]          # --server, repeatable; default: the system's resolvers
query_retries = 2                # dns's own --retries (retries is the check's)

[[check]]
name = "delegation from the root"
type = "dns"
target = "www.example.org"
trace = true
trace_timeout = 10

[[check]]
name = "gateway is up"
type = "ping"
target = ["192.0.2.1", "192.0.2.2"]
max_loss = 0
max_rtt_ms = 20

[[check]]
name = "no TIME_WAIT pile-up"
type = "sockets"                 # no target: this host's socket table
max_time_wait = 20000
"""
