"""The JSON Schema of each command's ``--json`` document, shipped in the package.

The schemas in ``netdiag/schemas/`` are generated from the report dataclasses themselves (the
types are the contract) by pydantic, a development dependency: ``python -m netdiag.schema``
writes them, and a test fails when they differ from what the dataclasses say. At run time,
``netdiag schema COMMAND`` only reads the file: neither pydantic nor the probes are imported.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module, resources
from pathlib import Path
from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"

REPORTS: dict[str, tuple[str, ...]] = {
    "ping": ("netdiag.results.ping:PingReport",),
    "tcp": ("netdiag.results.tcp:TcpReport",),
    "dns": ("netdiag.results.dns:DnsLookupReport", "netdiag.results.dns:DnsTraceReport"),
    "tls": ("netdiag.results.tls:TlsReport",),
    "http": ("netdiag.results.http:HttpReport",),
    "sockets": ("netdiag.results.sockets:SocketsReport",),
    "neigh": ("netdiag.results.neigh:NeighReport",),
    "route": ("netdiag.results.route:RouteReport",),
    "lab": ("netdiag.results.lab:LabReport",),
    "check": ("netdiag.results.check:CheckReport",),
}
"""Each command with JSON output, and the report type(s) its document is one of."""

COMMANDS = tuple(REPORTS)


def _type(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def generate(command: str) -> dict[str, Any]:
    """The schema of ``command``'s document, from its report dataclasses (needs pydantic)."""
    from typing import Union

    from pydantic import TypeAdapter

    types = [_type(p) for p in REPORTS[command]]
    target: Any = types[0] if len(types) == 1 else Union[tuple(types)]  # noqa: UP007
    body = TypeAdapter(target).json_schema(mode="serialization")
    _strict(body)
    return {
        "$schema": DIALECT,
        "$id": f"urn:netdiag:schema:{command}",
        **body,
        "title": f"netdiag {command} --format json"
        if command == "check"
        else f"netdiag {command} --json",
    }


def _strict(node: Any) -> None:
    """Every object of the schema forbids unknown properties and requires every property:
    netdiag writes every field of every result, always."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


def text(command: str) -> str:
    """The schema as shipped in the package (what ``netdiag schema COMMAND`` prints)."""
    return resources.files("netdiag").joinpath("schemas", f"{command}.json").read_text("utf-8")


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for command in COMMANDS:
        path = directory / f"{command}.json"
        path.write_text(render(generate(command)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m netdiag.schema",
        description="Write the JSON Schema of every command's --json document into DIRECTORY "
        "(needs pydantic, a test dependency).",
    )
    default = Path(__file__).parent / "schemas"
    parser.add_argument(
        "directory",
        nargs="?",
        default=str(default),
        metavar="DIRECTORY",
        help="where to write them (default: the package's schemas/)",
    )
    args = parser.parse_args(argv)
    try:
        written = write_all(Path(args.directory))
    except ImportError as exc:
        parser.exit(1, f"{parser.prog}: error: {exc} (pip install -e '.[test]')\n")
    except OSError as exc:
        parser.exit(1, f"{parser.prog}: error: {args.directory}: {exc.strerror or exc}\n")
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
