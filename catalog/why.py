"""Answer "where is this document, or why is it gone?" from a version's shards and removed table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.read import find_row, version_spec

_DUPLICATE = {"dedup-exact": "an exact", "dedup-near": "a near"}


def explain(root: str | Path, manifest: dict[str, Any], doc_id: str, *, verify: bool = True) -> dict[str, Any]:
    """A structured answer: ``status`` is ``kept``, ``filtered``, ``duplicate``, ``quarantined`` or ``unknown``.

    Each shard and removed-table file is checked against the manifest when first opened
    (``verify=False`` skips that), so an answer never comes from a damaged file.
    """
    root = Path(root)
    checked: set[str] = set()

    def find(entries: list[dict[str, Any]], wanted: str):
        return find_row(root, entries, wanted, spec=version_spec(manifest), verify=verify, checked=checked)

    found = find(manifest["shards"], doc_id)
    if found:
        entry, index, row = found
        return {"status": "kept", "id": doc_id, "shard": entry["path"], "row": index, "lang": row["lang"],
                "source": row["source"]}
    found = find(manifest.get("removed_table", []), doc_id)
    if not found:
        return {"status": "unknown", "id": doc_id}
    _, _, row = found
    details = json.loads(row["details"] or "{}")
    answer = {"id": doc_id, "stage": row["stage"], "reason": row["reason"], "details": details,
              "lang": row["lang"], "source": row["source"]}
    if row["stage"] == "filter":
        return dict(answer, status="filtered")
    if row["stage"] in _DUPLICATE:
        kept = find(manifest["shards"], details.get("duplicate_of", ""))
        return dict(answer, status="duplicate", kept_shard=kept[0]["path"] if kept else None)
    return dict(answer, status="quarantined")


def format_explanation(answer: dict[str, Any], spec: str) -> str:
    """One or two plain sentences a person can act on."""
    doc = repr(answer["id"])
    status = answer["status"]
    if status == "unknown":
        return f"{doc} is not in {spec}: no shard row and no removed row has this id"
    where = f"(source {answer['source']}, lang {answer['lang']})"
    if status == "kept":
        return f"{doc} is kept in {spec}: {answer['shard']}, row {answer['row']} {where}"
    d = answer["details"]
    if status == "filtered":
        return (f"{doc} was dropped by the filter {answer['reason']}: value {d.get('value')}, "
                f"threshold {d.get('threshold')} {where}")
    if status == "duplicate":
        kept = f"kept in {answer['kept_shard']}" if answer["kept_shard"] else "which is not in this version's shards"
        return (f"{doc} was removed as {_DUPLICATE[answer['stage']]} duplicate of {d.get('duplicate_of')!r}, "
                f"{kept} {where}")
    context = ", ".join(f"{k} {v}" for k, v in d.items() if k != "error")
    error = f": {d['error']}" if "error" in d else ""
    return f"{doc} was quarantined as {answer['reason']}{error} ({context}) {where}"
