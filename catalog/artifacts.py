"""Files derived from a published version (tokenizers, token indexes), kept beside it.

A version's data is immutable, so derived files never touch it: each one lives in its own
content-addressed folder ``NAME/v<N>/artifacts/<kind>-<sha256[:12]>/`` with the file and an
``artifact.json`` record. The folder is assembled under a temporary name and renamed into place,
so a reader sees a complete artifact or none, and attaching the same file twice is a no-op.
The manifest is written before any artifact exists, so the record is what vouches for its file:
``catalog.artifact_records.artifact_problem`` checks the file's size and sha256 against it and the
record against its folder's content address; ``catalog verify`` and every reader of an artifact use it.
"""
from __future__ import annotations

import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catalog.artifact_records import ARTIFACTS, RECORD, ArtifactError, artifact_problem
from catalog.artifact_records import read_record as _read
from catalog.errors import CatalogError
from catalog.hashing import sha256_file
from catalog.lake import resolve, write_json_atomic

_KIND = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def attach_artifact(lake: str | Path, spec: str, file: str | Path, kind: str,
                    metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy ``file`` into the version's artifacts and return its record (with ``path``)."""
    if not _KIND.fullmatch(kind):
        raise CatalogError(f"invalid artifact kind {kind!r}: use lowercase letters, digits, '_' or '-'")
    ref = resolve(lake, spec)
    src = Path(file)
    digest, _ = sha256_file(src)
    root = Path(ref.path) / ARTIFACTS  # attaching is local: artifacts are written with os primitives
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


def verified(record: dict[str, Any], what: str = "artifact") -> dict[str, Any]:
    """``record`` if its file matches it; else :class:`ArtifactError` naming the file and the fix."""
    folder = Path(record["path"]).parent
    name, problem = artifact_problem(folder)
    if problem:
        raise ArtifactError(f"{what} {folder / name} is damaged ({problem}); every file of an artifact must match "
                            f"its artifact.json (remove the folder {folder} to rebuild or re-attach it)")
    return record


def record_for(path: str | Path) -> dict[str, Any] | None:
    """The record of the artifact whose file ``path`` is, or None when ``path`` is no artifact's file."""
    path = Path(path)
    if not (path.parent / RECORD).is_file():
        return None
    try:
        record = _read(path.parent)
    except (ValueError, CatalogError):
        return None
    return record if record["file"] == path.name else None


def list_artifacts(lake: str | Path, spec: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Complete artifacts of a version, oldest first; each record carries its file's ``path``.

    Listing does not hash: a reader checks the one it uses with :func:`verified`.
    """
    root = Path(resolve(lake, spec).path) / ARTIFACTS
    if not root.is_dir():
        return []
    records = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not (folder / RECORD).is_file():
            continue
        try:
            records.append(_read(folder))
        except (ValueError, CatalogError):  # a damaged record: ``catalog verify`` names it
            continue
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
