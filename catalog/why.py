"""Answer "where is this document, or why is it gone?" from a version's shards and removed table.

Ids are only as unique as the inputs made them: two sources may both have a document ``7`` (and a
JSON ``7`` and ``"7"`` are both the id ``"7"``), so every row with the id is reported, never one
picked silently; ``source`` narrows the answer to one source.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from catalog.lakefs import Location, location
from catalog.read import iter_rows_with_id, version_spec

_DUPLICATE = {"dedup-exact": "an exact", "dedup-near": "a near"}


def explain(root: str | Path | Location, manifest: dict[str, Any], doc_id: str, source: str | None = None, *,
            verify: bool = True) -> dict[str, Any]:
    """A structured answer: ``status`` is ``kept``, ``filtered``, ``duplicate``, ``quarantined`` or
    ``unknown``; or ``ambiguous``, with one such answer per row in ``matches``, when several rows
    have the id.

    Each shard and removed-table file is checked against the manifest when first opened
    (``verify=False`` skips that), so an answer never comes from a damaged file.
    """
    root = location(root)
    checked: set[str] = set()

    def rows(entries: list[dict[str, Any]], wanted: str):
        return iter_rows_with_id(root, entries, wanted, spec=version_spec(manifest), verify=verify, checked=checked)

    answers = [{"status": "kept", "id": doc_id, "shard": entry["path"], "row": index, "lang": row["lang"],
                "source": row["source"]}
               for entry, index, row in rows(manifest["shards"], doc_id)]
    answers += [_removed(manifest, row, doc_id, rows) for _, _, row in rows(manifest.get("removed_table", []), doc_id)]
    if source is not None:
        answers = [a for a in answers if a["source"] == source]
    if not answers:
        return {"status": "unknown", "id": doc_id} | ({"source": source} if source is not None else {})
    if len(answers) == 1:
        return answers[0]
    return {"status": "ambiguous", "id": doc_id, "matches": answers}


def _removed(manifest: dict[str, Any], row: dict[str, Any], doc_id: str,
             rows: Callable[[list[dict[str, Any]], str], Iterator]) -> dict[str, Any]:
    details = json.loads(row["details"] or "{}")
    answer = {"id": doc_id, "stage": row["stage"], "reason": row["reason"], "details": details,
              "lang": row["lang"], "source": row["source"]}
    if row["stage"] == "filter":
        return dict(answer, status="filtered")
    if row["stage"] in _DUPLICATE:
        kept = [entry["path"] for entry, _, _ in rows(manifest["shards"], details.get("duplicate_of", ""))]
        return dict(answer, status="duplicate", kept_shard=kept[0] if kept else None,
                    **({"kept_shards": kept} if len(kept) > 1 else {}))
    return dict(answer, status="quarantined")


def format_explanation(answer: dict[str, Any], spec: str) -> str:
    """One or two plain sentences a person can act on (one line per match when the id is ambiguous)."""
    doc = repr(answer["id"])
    status = answer["status"]
    if status == "unknown":
        within = f" from source {answer['source']!r}" if "source" in answer else ""
        return f"{doc} is not in {spec}: no shard row and no removed row{within} has this id"
    if status == "ambiguous":
        lines = [f"{doc} matches {len(answer['matches'])} documents in {spec} (ids are unique only within an "
                 f"input; --source NAME narrows):"]
        return "\n".join(lines + [f"  {k}. {format_explanation(a, spec)}" for k, a in enumerate(answer["matches"], 1)])
    where = f"(source {answer['source']}, lang {answer['lang']})"
    if status == "kept":
        return f"{doc} is kept in {spec}: {answer['shard']}, row {answer['row']} {where}"
    d = answer["details"]
    if status == "filtered":
        return (f"{doc} was dropped by the filter {answer['reason']}: value {d.get('value')}, "
                f"threshold {d.get('threshold')} {where}")
    if status == "duplicate":
        kept = f"kept in {answer['kept_shard']}" if answer["kept_shard"] else "which is not in this version's shards"
        if answer.get("kept_shards"):
            kept = (f"kept in one of {len(answer['kept_shards'])} documents with that id "
                    f"({', '.join(answer['kept_shards'])})")
        return (f"{doc} was removed as {_DUPLICATE[answer['stage']]} duplicate of {d.get('duplicate_of')!r}, "
                f"{kept} {where}")
    context = ", ".join(f"{k} {v}" for k, v in d.items() if k != "error")
    error = f": {d['error']}" if "error" in d else ""
    return f"{doc} was quarantined as {answer['reason']}{error} ({context}) {where}"
