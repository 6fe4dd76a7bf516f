"""An artifact's record (``artifact.json``) and the check of its file against it.

Below the lake in the catalog's layers: ``catalog verify`` checks every artifact folder with
``artifact_problem`` without resolving versions, and ``catalog.artifacts`` (attaching, listing,
finding, on top of the lake) builds on the same record.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.errors import CatalogError
from catalog.lakefs import Location, location
from catalog.manifest import check_relpath

ARTIFACTS = "artifacts"
RECORD = "artifact.json"


class ArtifactError(CatalogError):
    """An artifact whose file does not match its record (or whose record is gone or unreadable)."""


def read_record(folder: Path | Location) -> dict[str, Any]:
    where = location(folder)
    record = json.loads(where.read_bytes(RECORD).decode("utf-8"))
    name = record.get("file")
    if not isinstance(name, str) or "/" in name or name == RECORD:
        raise ArtifactError(f"artifact record {where / RECORD} names the file {name!r}: not a file of its folder")
    record["path"] = str(where / check_relpath(name))
    return record


def artifact_problem(folder: Path | Location) -> tuple[str, str | None]:
    """(the artifact's file name, what is wrong with it or None), checked against its own record."""
    where = location(folder)
    try:
        record = read_record(where)
    except FileNotFoundError:
        return RECORD, "missing: the folder has no artifact.json record"
    except (ValueError, CatalogError) as e:
        return RECORD, f"unreadable record: {e}"
    size = where.size(record["file"])
    if size is None:
        return record["file"], "missing"
    if size != record.get("size"):
        return record["file"], f"size {size:,} B, artifact.json says {record.get('size')} B"
    digest, _ = where.sha256(record["file"])
    if digest != record.get("sha256"):
        return record["file"], f"sha256 {digest[:16]}..., artifact.json says {str(record.get('sha256'))[:16]}..."
    if where.name != f"{record.get('kind')}-{digest[:12]}":
        return RECORD, f"record (kind {record.get('kind')!r}, sha256 {digest[:12]}...) does not match its folder name"
    return record["file"], None
