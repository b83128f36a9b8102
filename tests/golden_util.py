"""Golden JSON files: a command's JSON with volatile values (timings, ports, timestamps)
replaced by placeholders. ``UPDATE_GOLDEN=1 pytest`` rewrites them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"
VOLATILE_KEYS = {"time", "started_at", "local_port", "tcp_info"}


def normalise(doc: Any, replacements: dict[str, str]) -> Any:
    """Placeholders for volatile values; ``replacements`` maps literal substrings (such as
    the lab's ports) to stable names. ``doc`` is validated against its schema first."""
    from schema_util import validate

    validate(doc)

    def fix_str(s: str) -> str:
        for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
            s = s.replace(old, new)
        return re.sub(r"\d+(\.\d+)? ms", "<N> ms", s)

    def walk(value: Any, key: str | None = None) -> Any:
        volatile = key is not None and (key.endswith("_ms") or key in VOLATILE_KEYS)
        if volatile and value is not None:
            return f"<{key}>"
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if key == "port" and isinstance(value, int):
            return replacements.get(str(value), value)
        if isinstance(value, str):
            return fix_str(value)
        return value

    return walk(doc)


def assert_golden(name: str, doc: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    # A missing golden file fails: writing it would make the test pass on whatever came out.
    assert path.exists(), f"{path} is missing; UPDATE_GOLDEN=1 writes it (then review it)"
    assert json.loads(path.read_text()) == doc, f"{path} differs; UPDATE_GOLDEN=1 to accept"
