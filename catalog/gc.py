"""Collect what aborted or superseded runs left in a lake, never anything a reader can see.

Removed: staging runs, unpublished version directories (claimed by a run that died before its
manifest) and stray files inside published versions that nothing references, each only when
nothing in it changed for ``grace`` seconds. A run's staging is never removed while its lease is
alive (``catalog.lease``), whatever the grace, zero included; an unpublished version directory is
never emptied while any run of its dataset holds a lease (that run may be committing it).
Referenced are every file the manifest lists (``catalog.manifest.file_entries``: shards, removed
table, dedup bands and clusters, audit sample, plus the audit sample an older manifest names only
in ``stages``) and everything under ``artifacts/`` (each artifact is described by its own record,
written after the manifest); only an ``artifacts/.tmp-*`` folder, an attachment that died
half-way, is stray. With ``keep_last`` also published versions older than the newest N, except
tagged ones: under the dataset's pin lock (``catalog.lake.pin_lock``, which ``tag`` takes too) the
tags are read again and the manifest goes first, so a version disappears atomically before its
files do and a tag set while gc works is never ignored. Emptied version directories stay as
tombstones so their numbers are never handed out again.

Damage stops nothing but itself: a version whose manifest cannot be read, or a dataset whose tags
cannot be, is skipped with the reason (``GcResult.skipped``), and gc goes on with the rest. Links
are never followed: a link is removed as itself. On an object-store lake gc collects staging only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from catalog import lake as lakelib
from catalog.artifacts import ARTIFACTS
from catalog.lakefs import LocalLocation, Location
from catalog.lease import LEASE_SUFFIX, lease_alive
from catalog.manifest import file_entries, legacy_unlisted


@dataclass
class GcResult:
    removed: list[Path | str] = field(default_factory=list)
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # what could not be judged, with the reason
    live: list[str] = field(default_factory=list)  # staging of runs that hold their lease

    def add(self, path: Path | str, size: int = 0) -> None:
        self.removed.append(path)
        self.bytes += _tree_size(path) if isinstance(path, Path) else size


def _tree_size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_symlink() or p.is_file())


def _newest_mtime(path: Path) -> float:
    return LocalLocation(path).newest_mtime() or 0.0


def _remove(path: Path, dry_run: bool) -> None:
    if not dry_run:
        LocalLocation(path).remove("")


def _empty_contents(vdir: Path, result: GcResult, dry_run: bool) -> None:
    for child in sorted(vdir.iterdir(), key=lambda p: (p.name != lakelib.MANIFEST, p.name)):  # manifest first
        result.add(child)
        _remove(child, dry_run)


def _unreferenced(vdir: Path, manifest: dict) -> list[Path]:
    """Files (and dead ``artifacts/.tmp-*`` folders) of a published version that nothing references."""
    referenced = ({lakelib.MANIFEST} | {e["path"] for _, e in file_entries(manifest)}
                  | set(legacy_unlisted(manifest)))
    artifacts = vdir / ARTIFACTS
    stray = [p for p in sorted(vdir.rglob("*")) if (p.is_symlink() or p.is_file()) and artifacts not in p.parents
             and p.relative_to(vdir).as_posix() not in referenced]
    if artifacts.is_dir():
        stray += sorted(p for p in artifacts.iterdir() if p.name.startswith(".tmp-"))
    return stray


def _live_runs(root: Location, name: str) -> list[str]:
    """Run ids of ``name`` whose lease is alive, read now."""
    return [entry[:-len(LEASE_SUFFIX)] for entry, is_dir in root.children(f"{name}/{lakelib.STAGING}")
            if not is_dir and entry.endswith(LEASE_SUFFIX) and lease_alive(root, name, entry[:-len(LEASE_SUFFIX)])]


def collect_staging(root: Location, name: str, cutoff: float, result: GcResult, dry_run: bool) -> None:
    """Remove the staging of dead runs of ``name`` unchanged since ``cutoff``, and leases nobody holds."""
    base = f"{name}/{lakelib.STAGING}"
    entries = root.children(base)
    runs = {entry for entry, _ in entries if not entry.endswith(LEASE_SUFFIX)}
    for entry, _ in entries:
        rel = f"{base}/{entry}"
        display: Path | str = root.local / rel if root.local is not None else f"{root.url}/{rel}"
        if entry.endswith(LEASE_SUFFIX):
            run_id = entry[:-len(LEASE_SUFFIX)]
            if run_id not in runs and not lease_alive(root, name, run_id):  # its run is gone, and so is its staging
                result.add(display, root.size(rel) or 0)
                if not dry_run:
                    root.remove(rel)
            continue
        newest = root.newest_mtime(rel)
        if newest is None or newest >= cutoff:
            continue
        if lease_alive(root, name, entry):  # read right before deleting: a run leases before it stages
            result.live.append(str(display))
            continue
        size = sum(root.size(f) or 0 for f in root.files(rel)) if root.local is None else 0
        result.add(display, size)
        if not dry_run:
            root.remove(rel)
            root.remove(f"{rel}{LEASE_SUFFIX}")  # a dead run's lease goes with its staging


def _retire(lake: Path, name: str, version: int, vdir: Path, result: GcResult, dry_run: bool) -> None:
    """Retire one published version unless a tag pins it, judged under the pin lock that ``tag`` takes."""
    if dry_run:
        _empty_contents(vdir, result, dry_run)
        return
    with lakelib.pin_lock(lake / name):
        if version in lakelib.list_tags(lake, name).values():  # tagged while gc worked
            return
        manifest = vdir / lakelib.MANIFEST
        result.add(manifest)
        _remove(manifest, dry_run)  # unpublished from here on: a tag can no longer point at it
    _empty_contents(vdir, result, dry_run)


def _collect_versions(lake: Path, ds: Path, cutoff: float, keep_last: int | None, result: GcResult,
                      dry_run: bool) -> None:
    name = ds.name
    published = lakelib.list_versions(lake, name)
    try:
        tagged = set(lakelib.list_tags(lake, name).values())
        retired = set(published[:-keep_last] if keep_last else []) - tagged
    except lakelib.ManifestError as e:  # what the tags pin is unknown: retire nothing in this dataset
        result.skipped.append(f"{name}: no version retired: {e}")
        retired = set()
    for version, vdir in sorted(lakelib._version_dirs(lake, name).items()):
        manifest_path = vdir / lakelib.MANIFEST
        if version in retired and manifest_path.stat().st_mtime < cutoff:
            _retire(lake, name, version, vdir, result, dry_run)
        elif version not in published:
            if any(vdir.iterdir()) and _newest_mtime(vdir) < cutoff and not _live_runs(LocalLocation(lake), name):
                _empty_contents(vdir, result, dry_run)
        else:
            try:
                _, manifest = lakelib.load_manifest(lake, f"{name}@v{version}")
                stray = _unreferenced(vdir, manifest)
            except (lakelib.CatalogError, KeyError, TypeError, AttributeError) as e:
                result.skipped.append(f"{name}@v{version}: not collected: {e}")
                continue
            for path in stray:
                if _newest_mtime(path) < cutoff:
                    result.add(path)
                    _remove(path, dry_run)


def collect(lake: str | Path | lakelib.Lake, *, grace: float = 24 * 3600, keep_last: int | None = None,
            dry_run: bool = False, now: float | None = None) -> GcResult:
    """Remove (or with ``dry_run`` only list) collectable files in every dataset of the lake."""
    opened = lakelib.open_lake(lake)
    cutoff = (time.time() if now is None else now) - grace
    result = GcResult()
    if opened.is_remote:
        for name, is_dir in opened.root.children():
            if is_dir and lakelib._NAME.fullmatch(name):
                collect_staging(opened.root, name, cutoff, result, dry_run)
        return result
    root = Path(opened.root.local or "")
    datasets = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                      and lakelib._NAME.fullmatch(p.name)) if root.is_dir() else []
    for ds in datasets:
        collect_staging(opened.root, ds.name, cutoff, result, dry_run)
        _collect_versions(root, ds, cutoff, keep_last, result, dry_run)
    return result
