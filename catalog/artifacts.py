"""Files derived from a published version (tokenizers, token indexes), kept beside it.

A version's data is immutable, so derived files never touch it: each one lives in its own
content-addressed folder ``NAME/v<N>/artifacts/<kind>-<sha256[:12]>/`` with the file and an
``artifact.json`` record. The folder is assembled under a temporary name and renamed into place,
so a reader sees a complete artifact or none, and attaching the same file twice is a no-op.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catalog.lake import CatalogError, resolve, write_json_atomic

ARTIFACTS = "artifacts"
RECORD = "artifact.json"
_KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def attach_artifact(lake: str | Path, spec: str, file: str | Path, kind: str,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy ``file`` into the version's artifacts and return its record (with ``path``)."""
    if not _KIND.match(kind):
        raise CatalogError(f"invalid artifact kind {kind!r}: use lowercase letters, digits, '_' or '-'")
    ref = resolve(lake, spec)
    src = Path(file)
    digest = file_sha256(src)
    root = ref.path / ARTIFACTS
    final = root / f"{kind}-{digest[:12]}"
    if (final / RECORD).is_file():
        return _read(final)
    root.mkdir(exist_ok=True)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        shutil.copyfile(src, tmp / src.name)
        record = {
            "kind": kind,
            "file": src.name,
            "sha256": digest,
            "size": src.stat().st_size,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "dataset": ref.dataset,
            "version": ref.version,
            "metadata": dict(metadata or {}),
        }
        write_json_atomic(tmp / RECORD, record)
        try:
            tmp.rename(final)
        except OSError:
            if not (final / RECORD).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _read(final)


def _read(folder: Path) -> dict[str, Any]:
    with open(folder / RECORD, encoding="utf-8") as f:
        record = json.load(f)
    record["path"] = str(folder / record["file"])
    return record


def list_artifacts(lake: str | Path, spec: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Complete artifacts of a version, oldest first; each record carries its file's ``path``."""
    root = resolve(lake, spec).path / ARTIFACTS
    if not root.is_dir():
        return []
    records = [_read(p) for p in root.iterdir() if not p.name.startswith(".") and (p / RECORD).is_file()]
    return sorted((r for r in records if kind is None or r["kind"] == kind),
                  key=lambda r: (r["created_at"], r["sha256"]))


def find_artifact(lake: str | Path, spec: str, kind: str, *, sha256: str | None = None,
                  **metadata: Any) -> dict[str, Any] | None:
    """The newest artifact of ``kind`` whose hash starts with ``sha256`` and whose metadata match."""
    for record in reversed(list_artifacts(lake, spec, kind)):
        if sha256 and not record["sha256"].startswith(sha256):
            continue
        if all(record["metadata"].get(k) == v for k, v in metadata.items()):
            return record
    return None
