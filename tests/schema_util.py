"""Every --json document the tests read is validated against the schema netdiag ships
(``netdiag schema COMMAND``), with jsonschema: the schema is the contract, the tests hold the
output to it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from netdiag.schema import text


@cache
def validator(command: str) -> Draft202012Validator:
    schema = json.loads(text(command))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(doc: Any) -> Any:
    """``doc`` itself, once it is known to match its command's schema (AssertionError with
    every violation otherwise)."""
    assert isinstance(doc, dict) and isinstance(doc.get("command"), str), doc
    errors = sorted(validator(doc["command"]).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10]
    )
    return doc


def loads(text_: str) -> Any:
    """``json.loads`` of a --json document, validated."""
    return validate(json.loads(text_))
