"""Reading rows back out of a version's Arrow IPC files (memory-mapped, so only touched pages load).

Every file is checked against its manifest entry the first time it is opened here (sha256,
size, rows, in the same pass that maps it), so a damaged file raises
:class:`catalog.verify.IntegrityError` naming it instead of answering from other data;
``verify=False`` (the CLI's ``--no-verify``) skips the check.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from catalog.lakefs import Location
from catalog.verify import open_verified_table


def read_table(path: str | Path) -> pa.Table:
    """An Arrow IPC file as a table, unchecked (for files no manifest describes)."""
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all()


def version_spec(manifest: dict[str, Any]) -> str:
    return f"{manifest.get('dataset', '?')}@v{manifest.get('version', '?')}"


def iter_rows_with_id(
    root: str | Path | Location,
    entries: list[dict[str, Any]],
    doc_id: str,
    *,
    spec: str = "",
    verify: bool = True,
    checked: set[str] | None = None,
):
    """Every (file entry, row index, row) whose ``id`` is ``doc_id``, in file and row order: ids are
    only as unique as the inputs made them (two sources may both have a document ``7``).

    Each file is checked against its manifest entry when first opened; paths in ``checked`` were
    verified by an earlier call and are not hashed again, the ones verified here are added to it.
    """
    checked = set() if checked is None else checked
    for entry in entries:
        table = open_verified_table(root, entry, spec, verify=verify and entry["path"] not in checked)
        checked.add(entry["path"])
        for index in pc.indices_nonzero(pc.equal(table["id"], doc_id)).to_pylist():
            yield entry, index, table.slice(index, 1).to_pylist()[0]


def sample_rows(root: str | Path | Location, manifest: dict[str, Any], lang: str | None, n: int, seed: int, *,
                verify: bool = True, remember: bool = False) -> list[dict[str, Any]]:
    """``n`` documents drawn uniformly (reproducibly, by ``seed``) from the shards of ``lang`` (all when None);
    ``remember``: see :func:`catalog.verify.open_verified_table`."""
    entries = [s for s in manifest["shards"] if lang is None or s["lang"] == lang]
    total = sum(s["rows"] for s in entries)
    picks = sorted(random.Random(seed).sample(range(total), min(n, total)))
    rows, offset, i = [], 0, 0
    for entry in entries:
        wanted = [p - offset for p in picks[i:] if p < offset + entry["rows"]]
        if wanted:
            table = open_verified_table(root, entry, version_spec(manifest), verify=verify, remember=remember,
                                        kind="shard")
            rows += table.take(wanted).to_pylist()
            i += len(wanted)
        offset += entry["rows"]
    return rows
