"""Reading rows back out of a version's Arrow IPC files (memory-mapped, so only touched pages load)."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def read_table(path: str | Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all()


def iter_rows_with_id(root: Path, entries: list[dict[str, Any]], doc_id: str):
    """Every (file entry, row index, row) whose ``id`` is ``doc_id``, in file and row order: ids are
    only as unique as the inputs made them (two sources may both have a document ``7``)."""
    for entry in entries:
        table = read_table(root / entry["path"])
        for index in pc.indices_nonzero(pc.equal(table["id"], doc_id)).to_pylist():
            yield entry, index, table.slice(index, 1).to_pylist()[0]


def sample_rows(root: Path, manifest: dict[str, Any], lang: str | None, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` documents drawn uniformly (reproducibly, by ``seed``) from the shards of ``lang`` (all when None)."""
    entries = [s for s in manifest["shards"] if lang is None or s["lang"] == lang]
    total = sum(s["rows"] for s in entries)
    picks = sorted(random.Random(seed).sample(range(total), min(n, total)))
    rows, offset, i = [], 0, 0
    for entry in entries:
        wanted = [p - offset for p in picks[i:] if p < offset + entry["rows"]]
        if wanted:
            rows += read_table(root / entry["path"]).take(wanted).to_pylist()
            i += len(wanted)
        offset += entry["rows"]
    return rows
