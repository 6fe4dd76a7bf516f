"""Build a version's manifest from what a run wrote, and check that every document is counted.

The manifest is the version's definition: its shards with checksums, what went in and what
came out (count identity: input = kept + filtered + duplicates + quarantined), and lineage.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

SCHEMA_VERSION = 1
PACKAGE_VERSION = "0.1.0"


class CountMismatch(RuntimeError):
    """The run lost or invented documents: refuse to publish it."""


def read_removed(root: str | Path, infos: list[dict[str, Any]]) -> pa.Table:
    """The removed table under ``root``, a local directory or a ``gs://``/``s3://`` prefix (read via Beam)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    from transforms.shards import REMOVED_SCHEMA

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
    import apache_beam
    import platform

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
        elif stage == "quarantine":
            quarantined[reason] += n

    languages: dict[str, dict[str, int]] = {}
    kept_by_source: Counter = Counter()
    for s in shards:
        lang = languages.setdefault(s["lang"], {"docs": 0, "chars": 0, "bytes": 0, "shards": 0})
        lang["docs"] += s["rows"]
        lang["chars"] += s["chars"]
        lang["bytes"] += s["bytes"]
        lang["shards"] += 1
        kept_by_source.update(s["sources"])

    counts = {
        "input": sum(input_by_source.values()),
        "kept": sum(s["rows"] for s in shards),
        "filtered": dict(sorted(filtered.items())),
        "duplicates": {"exact": by_stage.get("dedup-exact", 0), "near": by_stage.get("dedup-near", 0)},
        "quarantined": by_stage.get("quarantine", 0),
        "quarantined_by_reason": dict(sorted(quarantined.items())),
        "duplicates_by_language": {lang: {"exact": c.get("dedup-exact", 0), "near": c.get("dedup-near", 0)}
                                   for lang, c in sorted(removed_by_lang.items())
                                   if c.get("dedup-exact", 0) or c.get("dedup-near", 0)},
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
            "duplicates": removed_by_source[name].get("dedup-exact", 0) + removed_by_source[name].get("dedup-near", 0),
            "duplicates_exact": removed_by_source[name].get("dedup-exact", 0),
            "duplicates_near": removed_by_source[name].get("dedup-near", 0),
            "quarantined": removed_by_source[name].get("quarantine", 0),
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
