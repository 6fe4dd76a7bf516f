"""Check a manifest against ``catalog/manifest.schema.json``, the contract it promises, on every read.

A manifest is data a reader did not write: ``bytes: "abc"``, ``sha256: null`` or ``shards`` as an
object would otherwise surface as a ``TypeError`` deep inside whichever command touched it. Every
catalog command and reader therefore loads manifests through :func:`catalog.lake.Lake.load_manifest`,
which refuses one that breaks the schema with one line naming the first field at fault.

The checker implements the part of JSON Schema (draft 2020-12) that the schema uses: ``type``,
``const``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``$ref`` to ``$defs``,
``allOf``, ``anyOf``, ``minimum`` and ``pattern`` (``format`` is an annotation, as the draft says by
default). A schema using any other keyword is refused, so a new keyword cannot be silently ignored;
``tests/test_hostile_lake.py`` checks that it agrees with the ``jsonschema`` package on valid and
broken manifests. Why not ``jsonschema`` itself: it lives in the dev extra, and readers run on
Dataflow workers and training nodes, where it would add four packages (one compiled) for a check
this small.
"""
from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
KEYWORDS = frozenset({"$schema", "$id", "$defs", "title", "description", "format", "type", "const", "required",
                      "properties", "additionalProperties", "items", "$ref", "allOf", "anyOf", "minimum", "pattern"})
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


@cache
def manifest_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    unknown = _keywords(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"{SCHEMA_PATH.name} uses JSON Schema keywords this checker lacks: {sorted(unknown)}")
    return schema


def _keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in a schema (property names under ``properties``/``$defs`` are not keywords)."""
    if isinstance(schema, list):
        return set().union(*map(_keywords, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            found |= set().union(*map(_keywords, value.values())) if value else set()
        elif key not in ("const", "required", "description", "title", "pattern", "type", "format"):
            found |= _keywords(value)
    return found


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    """An ECMA-262 pattern for ``re.search``: its ``$`` matches at the very end only (Python's ``\\Z``)."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def schema_errors(value: Any, schema: dict[str, Any] | None = None, where: str = "") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (the manifest schema by default); [] when valid."""
    root = manifest_schema() if schema is None else schema
    errors: list[str] = []
    _check(value, root, root, where or "manifest", errors)
    return errors


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str, errors: list[str]) -> None:
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        _check(value, target, root, where, errors)
    for sub in schema.get("allOf", []):
        _check(value, sub, root, where, errors)
    if "anyOf" in schema and all(_errors_under(value, sub, root, where) for sub in schema["anyOf"]):
        errors.append(f"{where} matches none of its allowed forms")
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        errors.append(f"{where} must be {schema['const']!r}, got {value!r}")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[kind](value) for kind in kinds):
            errors.append(f"{where} must be {' or '.join(kinds)}, got {_show(value)}")
            return
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        errors.append(f"{where} must be >= {schema['minimum']}, got {value!r}")
    if "pattern" in schema and isinstance(value, str) and not _pattern(schema["pattern"]).search(value):
        errors.append(f"{where} does not match {schema['pattern']!r}: {value!r}")
    if isinstance(value, dict):
        errors += [f"{where}.{key} is missing" for key in schema.get("required", []) if key not in value]
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], root, f"{where}.{key}", errors)
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{where}[{key!r}]", errors)
            elif extra is False:
                errors.append(f"{where}.{key} is not allowed")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _check(item, schema["items"], root, f"{where}[{i}]", errors)


def _errors_under(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    _check(value, schema, root, where, errors)
    return errors


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
