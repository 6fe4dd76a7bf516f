"""Publish small versions in the lake's exact format, for tests, smoke runs and benchmarks.

It writes what the curation pipeline writes (Arrow IPC file shards per language, rows sorted by
id, a manifest with per-shard sha256 and per-language counts) and commits through
``catalog.lake``, so the training side can be exercised without running the pipeline.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from catalog.lake import VersionRef, commit_version, new_staging_dir
from catalog.manifest import build_manifest

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("lang", pa.string()),
                    ("lang_score", pa.float32()), ("source", pa.string()), ("meta", pa.string())])


def _write_shard(path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({name: [r.get(name) for r in rows] for name in SCHEMA.names}, schema=SCHEMA)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        writer.write_table(table)
    data = path.read_bytes()
    return {"rows": len(rows), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_version(lake: str | Path, name: str, records: Iterable[dict[str, Any]],
                  rows_per_shard: int = 10_000) -> VersionRef:
    """Publish ``records`` (dicts with at least id, text, lang) as the next version of ``name``."""
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_lang[r["lang"]].append({"id": r["id"], "text": r["text"], "lang": r["lang"],
                                   "lang_score": float(r.get("lang_score", 1.0)), "source": r.get("source", ""),
                                   "meta": json.dumps(r.get("meta", {}), sort_keys=True)})
    staging = new_staging_dir(lake, name)
    shards = []
    for lang in sorted(by_lang):
        rows = sorted(by_lang[lang], key=lambda r: r["id"])
        for k, start in enumerate(range(0, len(rows), rows_per_shard)):
            rel = f"data/lang={lang}/part-00000-{k:03d}.arrow"
            chunk = rows[start:start + rows_per_shard]
            info = _write_shard(staging / rel, chunk)
            shards.append({"path": rel, "lang": lang, "chars": sum(len(r["text"]) for r in chunk),
                           "sources": dict(sorted(Counter(r["source"] for r in chunk).items())), **info})
    inputs = Counter(r["source"] for rows in by_lang.values() for r in rows)
    manifest = build_manifest(  # the pipeline's own manifest, so every reader's schema check holds
        shards=shards, removed_infos=[], removed_counts=[], input_by_source=dict(inputs), pii={},
        sources=[{"name": source, "license": "synthetic"} for source in sorted(inputs)], inputs=[], options={},
        runner="model.sample_lake", stages={})
    return commit_version(lake, name, staging, manifest)


def synthetic_records(n: int, langs: dict[str, str], seed: int = 0, words: tuple[int, int] = (20, 120)) -> list[dict]:
    """Documents drawn from per-language alphabets (``langs`` maps code to alphabet), seeded."""
    rng = np.random.default_rng(seed)
    codes = sorted(langs)
    out = []
    for i in range(n):
        lang = codes[i % len(codes)]
        alphabet = langs[lang]
        n_words = int(rng.integers(*words))
        text = " ".join("".join(alphabet[j] for j in rng.integers(0, len(alphabet), int(rng.integers(2, 9))))
                        for _ in range(n_words))
        out.append({"id": f"synthetic:{lang}:{i:07d}", "text": text, "lang": lang})
    return out
