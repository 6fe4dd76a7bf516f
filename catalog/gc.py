"""Collect what aborted or superseded runs left in a lake, never anything a reader can see.

Removed: staging runs, unpublished version directories (claimed by a run that died before its
manifest) and stray files inside published versions that nothing references, each only when
nothing in it changed for ``grace`` seconds (a live publisher keeps writing). Referenced are every
file the manifest lists (``catalog.manifest.file_entries``: shards, removed table, dedup bands
and clusters, audit sample, plus the audit sample an older manifest names only in ``stages``) and
everything under ``artifacts/`` (each artifact is described by its own record, written after the
manifest); only an ``artifacts/.tmp-*`` folder, an attachment that died half-way, is stray. With
``keep_last`` also published versions older than the newest N, except tagged ones: the manifest
goes first, so a version disappears atomically before its files do. Emptied version directories
stay as tombstones so their numbers are never handed out again.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from catalog import lake as lakelib
from catalog.artifacts import ARTIFACTS
from catalog.manifest import file_entries, legacy_unlisted


@dataclass
class GcResult:
    removed: list[Path] = field(default_factory=list)
    bytes: int = 0

    def add(self, path: Path) -> None:
        self.removed.append(path)
        self.bytes += _tree_size(path)


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _newest_mtime(path: Path) -> float:
    stamps = [path.stat().st_mtime] + ([p.stat().st_mtime for p in path.rglob("*")] if path.is_dir() else [])
    return max(stamps)


def _remove(path: Path, dry_run: bool) -> None:
    if dry_run:
        return
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _empty_contents(vdir: Path, result: GcResult, dry_run: bool) -> None:
    for child in sorted(vdir.iterdir(), key=lambda p: (p.name != lakelib.MANIFEST, p.name)):  # manifest first
        result.add(child)
        _remove(child, dry_run)


def _unreferenced(vdir: Path, manifest: dict) -> list[Path]:
    """Files (and dead ``artifacts/.tmp-*`` folders) of a published version that nothing references."""
    referenced = ({lakelib.MANIFEST} | {e["path"] for _, e in file_entries(manifest)}
                  | set(legacy_unlisted(manifest)))
    artifacts = vdir / ARTIFACTS
    stray = [p for p in sorted(vdir.rglob("*")) if p.is_file() and artifacts not in p.parents
             and p.relative_to(vdir).as_posix() not in referenced]
    if artifacts.is_dir():
        stray += sorted(p for p in artifacts.iterdir() if p.name.startswith(".tmp-"))
    return stray


def collect(lake: str | Path, *, grace: float = 24 * 3600, keep_last: int | None = None, dry_run: bool = False,
            now: float | None = None) -> GcResult:
    """Remove (or with ``dry_run`` only list) collectable files in every dataset of the lake."""
    lake = Path(lake)
    cutoff = (time.time() if now is None else now) - grace
    result = GcResult()
    for ds in sorted(p for p in lake.iterdir() if p.is_dir() and lakelib._NAME.match(p.name)) if lake.is_dir() else []:
        staging = ds / lakelib.STAGING
        for run in sorted(staging.iterdir()) if staging.is_dir() else []:
            if _newest_mtime(run) < cutoff:
                result.add(run)
                _remove(run, dry_run)
        published = lakelib.list_versions(lake, ds.name)
        tagged = set(lakelib.list_tags(lake, ds.name).values())
        retired = set(published[:-keep_last] if keep_last else []) - tagged
        for version, vdir in sorted(lakelib._version_dirs(lake, ds.name).items()):
            manifest_path = vdir / lakelib.MANIFEST
            if version in retired and manifest_path.stat().st_mtime < cutoff:
                _empty_contents(vdir, result, dry_run)
            elif version not in published:
                if any(vdir.iterdir()) and _newest_mtime(vdir) < cutoff:
                    _empty_contents(vdir, result, dry_run)
            else:
                _, manifest = lakelib.load_manifest(lake, f"{ds.name}@v{version}")
                for stray in _unreferenced(vdir, manifest):
                    if _newest_mtime(stray) < cutoff:
                        result.add(stray)
                        _remove(stray, dry_run)
    return result
