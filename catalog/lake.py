"""The lake's layout and the commit that makes a dataset version visible.

Layout (every path relative to the lake root)::

    NAME/v<N>/manifest.json                      written last; a version exists only once it does
    NAME/v<N>/data/lang=<code>/part-BBBBB-SSS.arrow   Arrow IPC file shards, Hive-partitioned
    NAME/v<N>/removed/part-BBBBB-SSS.arrow       one row per input document that was not kept
    NAME/_staging/<run-id>/...                   what a running job writes before it commits

Publishing claims a version number with ``mkdir`` (atomic, refuses an existing name), moves the
staged files in, then links the manifest into place with ``os.link``, which, unlike
``os.rename``, refuses to replace an existing manifest. A run killed at any point therefore leaves
either a complete version or nothing a reader can see.

Readers never trust what they find: a version directory counts only under its canonical name
(``v1``, not ``v01``, and at most 18 digits), and an unreadable manifest or tag raises
``ManifestError`` for that one version, so callers can show it as broken and carry on.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STAGING = "_staging"
VERSION_NUMBER = r"[1-9][0-9]{0,17}"  # canonical: no leading zero, and always fits an int64
_VERSION_DIR = re.compile(rf"^v({VERSION_NUMBER})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CatalogError(Exception):
    """A catalog request that cannot be served (unknown dataset, version, bad name)."""


class ManifestError(CatalogError):
    """A published version (or tag) whose file cannot be read or parsed: that version is broken."""


@dataclass(frozen=True)
class VersionRef:
    dataset: str
    version: int
    path: Path | str  # a local directory, or a URL (str: pathlib would fold ``gs://`` to ``gs:/``)

    @property
    def spec(self) -> str:
        return f"{self.dataset}@v{self.version}"


def check_name(name: str) -> str:
    """Dataset names become directory names, so they are restricted to a safe alphabet."""
    if not _NAME.match(name or ""):
        raise CatalogError(f"invalid dataset name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def parse_spec(spec: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@vN`` (``NAME@N`` is accepted too)."""
    name, _, ver = spec.partition("@")
    check_name(name)
    if not ver:
        return name, None
    m = re.fullmatch(r"v?(\d{1,18})", ver)
    if not m:
        raise CatalogError(f"invalid version {ver!r} in {spec!r}: expected NAME@vN")
    return name, int(m.group(1))


def list_datasets(lake: str | Path) -> list[str]:
    root = Path(lake)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _NAME.match(p.name) and list_versions(root, p.name))


def _version_dirs(lake: Path, name: str) -> dict[int, Path]:
    base = Path(lake) / name
    if not base.is_dir():
        return {}
    found = {}
    for p in base.iterdir():
        m = _VERSION_DIR.match(p.name)
        if m and p.is_dir():
            found[int(m.group(1))] = p
    return found


def list_versions(lake: str | Path, name: str) -> list[int]:
    """Published versions only: a directory without its manifest is invisible."""
    return sorted(v for v, p in _version_dirs(Path(lake), name).items() if (p / MANIFEST).is_file())


def resolve(lake: str | Path, spec: str) -> VersionRef:
    name, version = parse_spec(spec)
    versions = list_versions(lake, name)
    if not versions:
        raise CatalogError(f"no published version of dataset {name!r} in lake {lake}")
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise CatalogError(f"{name}@v{version} is not published (published: {', '.join(f'v{v}' for v in versions)})")
    return VersionRef(name, version, Path(lake) / name / f"v{version}")


def _read_json(path: Path, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise ManifestError(f"{what} is unreadable: {type(e).__name__}: {e}") from None


def load_manifest(lake: str | Path, spec: str) -> tuple[VersionRef, dict[str, Any]]:
    """A version and its manifest; ``ManifestError`` when the manifest is not a readable JSON object."""
    ref = resolve(lake, spec)
    manifest = _read_json(ref.path / MANIFEST, f"{ref.spec}: {MANIFEST}")
    if not isinstance(manifest, dict):
        raise ManifestError(f"{ref.spec}: {MANIFEST} is not a JSON object")
    return ref, manifest


def new_staging_dir(lake: str | Path, name: str) -> Path:
    """A private directory for one run's output; invisible to readers until committed."""
    check_name(name)
    path = Path(lake) / name / STAGING / uuid.uuid4().hex
    path.mkdir(parents=True)
    return path


def is_url(lake: str | Path) -> bool:
    """A ``gs://``/``s3://`` lake lives on an object store that workers reach without the launcher's disk."""
    return "://" in str(lake)


def new_staging(lake: str | Path, name: str) -> str:
    """One run's staging location: a fresh local directory, or a fresh prefix on an object store
    (object stores have no directories, so nothing is created there until the run writes)."""
    if is_url(lake):
        return f"{str(lake).rstrip('/')}/{check_name(name)}/{STAGING}/{uuid.uuid4().hex}"
    return str(new_staging_dir(lake, name))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _claim_version(lake: Path, name: str) -> tuple[int, Path]:
    """Create ``v<N>`` for the next free N; ``mkdir`` makes exactly one publisher win each N."""
    while True:
        taken = _version_dirs(lake, name)
        n = max(taken, default=0) + 1
        path = lake / name / f"v{n}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return n, path


def write_json_atomic(path: Path, payload: Any, *, replace: bool = False) -> None:
    """Write JSON through a temp file; with ``replace=False`` an existing file is never replaced."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def commit_version(lake: str | Path, name: str, staging: Path, manifest: dict[str, Any]) -> VersionRef:
    """Publish a staged run as the next version: files first, manifest last, never overwritten."""
    lake = Path(lake)
    version, vdir = _claim_version(lake, name)
    for entry in sorted(staging.iterdir()):
        os.rename(entry, vdir / entry.name)
    _fsync_dir(vdir)
    manifest = dict(manifest, dataset=name, version=version)
    try:
        write_json_atomic(vdir / MANIFEST, manifest)
    except FileExistsError:
        raise CatalogError(f"{name}@v{version} already has a manifest: another publisher won this version") from None
    shutil.rmtree(staging, ignore_errors=True)
    return VersionRef(name, version, vdir)


TAGS = "_tags"


def list_tags(lake: str | Path, name: str) -> dict[str, int]:
    """Tag name -> version. Tagged versions are pinned: ``gc`` never collects them."""
    base = Path(lake) / check_name(name) / TAGS
    if not base.is_dir():
        return {}
    tags = {}
    for p in sorted(base.glob("*.json")):
        data = _read_json(p, f"{name}: tag {p.stem!r}")
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, bool) or not isinstance(version, int):
            raise ManifestError(f"{name}: tag {p.stem!r} names no version number")
        tags[p.stem] = version
    return tags


def add_tag(lake: str | Path, spec: str, tag: str) -> VersionRef:
    """Point ``tag`` at a published version; an existing tag is never moved (tags are for pinning)."""
    ref = resolve(lake, spec)
    if not _NAME.match(tag or "") or re.fullmatch(r"v\d+", tag):
        raise CatalogError(f"invalid tag {tag!r}: use letters, digits, '.', '_' or '-', and not the form vN")
    base = Path(lake) / ref.dataset / TAGS
    base.mkdir(exist_ok=True)
    try:
        write_json_atomic(base / f"{tag}.json", {"version": ref.version})
    except FileExistsError:
        raise CatalogError(f"tag {tag!r} already points at {ref.dataset}@v{list_tags(lake, ref.dataset)[tag]}") from None
    return ref
