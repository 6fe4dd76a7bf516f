"""Build a version's manifest from what a run wrote, and check that every document is counted.

The manifest is the version's definition: its shards with checksums, what went in and what
came out (count identity: input = kept + filtered + duplicates + quarantined), and lineage.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from catalog.contract import REMOVED_SCHEMA, STAGE_DEDUP_EXACT, STAGE_DEDUP_NEAR, STAGE_QUARANTINE
from catalog.errors import CatalogError

SCHEMA_VERSION = 1
PACKAGE_VERSION = "0.1.0"
# Files a run stages that are not part of the version (deleted before the commit).
SCRATCH_DIRS = ("_stats", "_sample", "_docs")  # run statistics, the built-in sample, staged documents
# The audit sample's path when a manifest predates the ``audit`` list (it named it in stages only).
LEGACY_AUDIT_PATH = "audit/filtered-sample.arrow"


class CountMismatch(RuntimeError):
    """The run lost or invented documents: refuse to publish it."""


class UnsafePath(CatalogError):
    """A manifest or artifact path that would leave its version directory."""


class UnlistedFile(RuntimeError):
    """A run staged a file its manifest does not describe: refuse to publish it unchecked."""


def check_relpath(rel: str) -> str:
    """``rel`` itself if it is a plain relative path inside a version, else :class:`UnsafePath`.

    Manifests are data a reader did not write, so an absolute path, a ``..`` part, a backslash
    or a NUL byte is refused before any ``root / rel`` join (export once overwrote files outside
    its folder through ``../../x``).
    """
    parts = rel.split("/") if isinstance(rel, str) else [""]
    if not isinstance(rel, str) or "\\" in rel or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"refusing the manifest path {rel!r}: paths must stay inside the version "
                         f"(relative, no '..' or '.', no empty part)")
    return rel


def safe_join(root: str | Path, rel: str) -> Path:
    """``root / rel`` for a manifest path ``rel``, refusing one that could leave ``root``."""
    return Path(root) / check_relpath(rel)


def file_entries(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, entry) of every data file a manifest lists, each with path, bytes, sha256 and rows.

    Kinds: ``shard``, ``removed``, ``dedup-bands``, ``dedup-clusters``, ``audit``. Artifacts are
    attached after publishing, so their own ``artifact.json`` records describe them instead.
    """
    dedup = manifest.get("dedup") or {}
    return ([("shard", e) for e in manifest.get("shards", [])]
            + [("removed", e) for e in manifest.get("removed_table", [])]
            + [("dedup-bands", e) for e in dedup.get("bands", [])]
            + [("dedup-clusters", e) for e in dedup.get("clusters", [])]
            + [("audit", e) for e in manifest.get("audit", [])])


def legacy_unlisted(manifest: dict[str, Any]) -> list[str]:
    """Files of the version that a manifest written before ``audit`` existed names without a checksum."""
    if "audit" in manifest:
        return []
    path = (manifest.get("stages", {}).get("filter") or {}).get("audit_sample", {}).get("path")
    return [path.replace(os.sep, "/")] if path else []


def _staged_rels(staging: str) -> list[str]:
    """Every file under a run's staging location (a local directory or an object-store prefix)."""
    if "://" not in staging:
        root = Path(staging)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    from apache_beam.io.filesystems import FileSystems

    prefix = staging.rstrip("/") + "/"
    found = FileSystems.match([prefix + "**"])[0].metadata_list
    return sorted(m.path[len(prefix):] for m in found)


def describe_staged(staging: str, subdir: str) -> list[dict[str, Any]]:
    """path, bytes, sha256 and rows of every Arrow file a run staged under ``subdir`` (small files: read whole)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    entries = []
    for rel in _staged_rels(staging):
        if not rel.startswith(subdir.rstrip("/") + "/"):
            continue
        with FileSystems.open(FileSystems.join(staging, rel), compression_type=CompressionTypes.UNCOMPRESSED) as f:
            data = f.read()
        entries.append({"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "rows": ipc.open_file(pa.BufferReader(data)).read_all().num_rows})
    return entries


def require_listed(staging: str, manifest: dict[str, Any]) -> None:
    """Refuse to publish a run that staged a file the manifest does not describe with a checksum."""
    listed = {e["path"] for _, e in file_entries(manifest)}
    unlisted = [rel for rel in _staged_rels(staging)  # ".tmp-": a write a retried worker left; gc collects it
                if rel.split("/", 1)[0] not in SCRATCH_DIRS and rel not in listed and ".tmp-" not in rel]
    if unlisted:
        raise UnlistedFile(f"the run staged {len(unlisted)} file(s) the manifest does not list: "
                           f"{', '.join(unlisted[:5])}")


class MissingFile(CatalogError):
    """A run about to publish a manifest that lists a file it does not have: refuse to publish it."""


def require_present(where: Any, manifest: dict[str, Any], spec: str) -> None:
    """Refuse to publish ``manifest`` unless every file it lists is under ``where`` (a
    :class:`catalog.lakefs.Location`) with the listed size: the last check before the manifest
    makes a version visible, so nothing that removed staged files can publish a version without them."""
    for _, entry in file_entries(manifest):
        size, listed = where.size(check_relpath(entry["path"])), entry.get("bytes")
        if size is None or (isinstance(listed, int) and size != listed):
            found = "missing" if size is None else f"{size:,} B, the manifest says {listed:,} B"
            raise MissingFile(f"refusing to publish {spec}: {entry['path']} is {found} "
                              f"(was the run's staging removed while it ran?)")


def read_removed(root: str | Path, infos: list[dict[str, Any]]) -> pa.Table:
    """The removed table under ``root``, a local directory or a ``gs://``/``s3://`` prefix (read via Beam)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems


    def read(rel: str) -> pa.Table:
        with FileSystems.open(FileSystems.join(str(root), rel), compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return ipc.open_file(pa.BufferReader(f.read())).read_all()

    tables = [read(i["path"]) for i in sorted(infos, key=lambda i: i["path"])]
    return pa.concat_tables(tables) if tables else REMOVED_SCHEMA.empty_table()


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def code_version() -> dict[str, Any]:
    import platform

    import apache_beam

    return {"package_version": PACKAGE_VERSION, "git_commit": _git_commit(),
            "beam_version": apache_beam.__version__, "python": platform.python_version()}


def build_manifest(*, shards: list[dict[str, Any]], removed_infos: list[dict[str, Any]],
                   removed_counts: list[tuple[tuple[str, str, str, str], int]],
                   input_by_source: dict[str, int], pii: dict[str, int], sources: list[dict[str, Any]],
                   inputs: list[dict[str, Any]], options: dict[str, Any], runner: str,
                   stages: dict[str, Any], filter_skipped: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """``removed_counts``: how many removed rows have each (source, lang, stage, reason), counted by
    the pipeline (a combiner), so the launcher never reads the removed table back."""
    by_stage: Counter = Counter()
    filtered: Counter = Counter()
    quarantined: Counter = Counter()
    removed_by_lang: dict[str, Counter] = defaultdict(Counter)
    removed_by_source: dict[str, Counter] = defaultdict(Counter)
    filtered_by_lang: dict[str, Counter] = defaultdict(Counter)
    filtered_by_source: dict[str, Counter] = defaultdict(Counter)
    for (source, lang, stage, reason), n in removed_counts:
        by_stage[stage] += n
        removed_by_lang[lang][stage] += n
        removed_by_source[source][stage] += n
        if stage == "filter":
            filtered[reason] += n
            filtered_by_lang[lang][reason] += n
            filtered_by_source[source][reason] += n
        elif stage == STAGE_QUARANTINE:
            quarantined[reason] += n

    languages: dict[str, dict[str, int]] = {}
    kept_by_source: Counter = Counter()
    for s in shards:
        sizes = languages.setdefault(s["lang"], {"docs": 0, "chars": 0, "bytes": 0, "shards": 0})
        sizes["docs"] += s["rows"]
        sizes["chars"] += s["chars"]
        sizes["bytes"] += s["bytes"]
        sizes["shards"] += 1
        kept_by_source.update(s["sources"])

    counts = {
        "input": sum(input_by_source.values()),
        "kept": sum(s["rows"] for s in shards),
        "filtered": dict(sorted(filtered.items())),
        "duplicates": {"exact": by_stage.get(STAGE_DEDUP_EXACT, 0), "near": by_stage.get(STAGE_DEDUP_NEAR, 0)},
        "quarantined": by_stage.get(STAGE_QUARANTINE, 0),
        "quarantined_by_reason": dict(sorted(quarantined.items())),
        "duplicates_by_language": {lang: {"exact": c.get(STAGE_DEDUP_EXACT, 0), "near": c.get(STAGE_DEDUP_NEAR, 0)}
                                   for lang, c in sorted(removed_by_lang.items())
                                   if c.get(STAGE_DEDUP_EXACT, 0) or c.get(STAGE_DEDUP_NEAR, 0)},
    }
    accounted = counts["kept"] + sum(filtered.values()) + sum(counts["duplicates"].values()) + counts["quarantined"]
    if accounted != counts["input"]:
        raise CountMismatch(f"input {counts['input']} != kept + removed {accounted}")
    written = sum(i["rows"] for i in removed_infos)
    if written != sum(by_stage.values()):
        raise CountMismatch(f"removed table holds {written} rows, the run counted {sum(by_stage.values())}")

    source_stats = {}
    for src in sources:
        name = src["name"]
        source_stats[name] = {
            "license": src.get("license", "unknown"), "input": input_by_source.get(name, 0),
            "kept": kept_by_source.get(name, 0),
            "filtered": removed_by_source[name].get("filter", 0),
            "duplicates": (removed_by_source[name].get(STAGE_DEDUP_EXACT, 0)
                           + removed_by_source[name].get(STAGE_DEDUP_NEAR, 0)),
            "duplicates_exact": removed_by_source[name].get(STAGE_DEDUP_EXACT, 0),
            "duplicates_near": removed_by_source[name].get(STAGE_DEDUP_NEAR, 0),
            "quarantined": removed_by_source[name].get(STAGE_QUARANTINE, 0),
        }

    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "shards": sorted(shards, key=lambda s: s["path"]),
        "removed_table": sorted(removed_infos, key=lambda s: s["path"]),
        "counts": counts,
        "languages": dict(sorted(languages.items())),
        "removed_by_language": {k: dict(sorted(v.items())) for k, v in sorted(removed_by_lang.items())},
        "sources": source_stats,
        "pii": dict(sorted(pii.items())),
        "filter": {"by_language": {k: dict(sorted(v.items())) for k, v in sorted(filtered_by_lang.items())},
                   "by_source": {k: dict(sorted(v.items())) for k, v in sorted(filtered_by_source.items())},
                   "skipped": filter_skipped or {}},
        "stages": stages,
        "lineage": {"inputs": inputs, "options": options, "runner": runner, "code": code_version(),
                    "host": os.uname().nodename if hasattr(os, "uname") else None},
    }
