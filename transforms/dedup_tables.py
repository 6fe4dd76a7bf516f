"""The dedup tables a version keeps beside its shards, and reading them back for later runs.

``dedup/bands/part-*.arrow``: one row per kept document: id, source, MinHash signature and its
LSH band hashes, so a later run can dedup against this version without recomputing it.
``dedup/clusters/part-*.arrow``: one row per duplicate removed: who was kept (and from which
published version), who was removed, the estimated Jaccard and the stage, for audits.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.ipc as ipc

from catalog.lakefs import Location, location
from transforms.dedup import Node, published_node
from transforms.removed import STAGE_DEDUP_EXACT, STAGE_DEDUP_NEAR
from transforms.shards import stable_bucket, write_partition

BANDS_DIR = "dedup/bands"
CLUSTERS_DIR = "dedup/clusters"
BANDS_SCHEMA = pa.schema([
    ("id", pa.string()), ("source", pa.string()), ("signature", pa.binary()), ("bands", pa.list_(pa.uint64())),
])
CLUSTERS_SCHEMA = pa.schema([
    ("kept_id", pa.string()), ("kept_version", pa.string()), ("id", pa.string()), ("source", pa.string()),
    ("lang", pa.string()), ("jaccard", pa.float32()), ("stage", pa.string()),
])
ROWS_PER_FILE = 1_000_000


def cluster_row(removed: dict[str, Any]) -> dict[str, Any]:
    """The audit row of a dedup removal (exact duplicates have Jaccard 1)."""
    details = json.loads(removed["details"])
    return {"kept_id": details["duplicate_of"], "kept_version": details.get("duplicate_of_version", ""),
            "id": removed["id"], "source": removed["source"], "lang": removed["lang"],
            "jaccard": details.get("jaccard", 1.0), "stage": removed["stage"], "_uid": removed["uid"]}


def is_dedup_removal(removed: dict[str, Any]) -> bool:
    return removed["stage"] in (STAGE_DEDUP_EXACT, STAGE_DEDUP_NEAR)


class WriteTable(beam.PTransform):
    """rows (with ``_uid``) -> info dicts of deterministic Arrow files under ``root/subdir``.

    Memory bound: one file's rows (at most ``ROWS_PER_FILE``, spread by a stable hash of uid).
    """

    def __init__(self, root: str, subdir: str, schema: pa.Schema):
        super().__init__()
        self.root, self.subdir, self.schema = root, subdir, schema

    def expand(self, rows):
        root, subdir, schema = self.root, self.subdir, self.schema
        total = rows | "Count" >> beam.combiners.Count.Globally()

        def key(row, total):
            return stable_bucket(row["_uid"], math.ceil(max(total, 1) / ROWS_PER_FILE)), row

        return (rows
                | "KeyByBucket" >> beam.Map(key, total=beam.pvalue.AsSingleton(total))
                | "GroupByBucket" >> beam.GroupByKey()
                | "Write" >> beam.FlatMap(lambda kv: write_partition(
                    kv[1], root=root, subdir=subdir, bucket=kv[0], schema=schema,
                    target_bytes=1 << 62, size_of=lambda r: 0)))


def read_published(file: dict[str, Any], parent_index: int, parent: str) -> Iterator[tuple[Node, bytes]]:
    """(node, signature) of every kept document in one bands file of a published version.

    ``file`` is its manifest entry plus the version's ``root`` (from :func:`bands_files`); the
    bytes read are checked against the entry in the same pass, so a file damaged after the
    launcher checked it still fails, naming it, instead of changing what the run keeps.
    """
    from catalog.verify import open_verified_table

    table = open_verified_table(file["root"], file, parent, override=False)
    for doc_id, sig in zip(table.column("id").to_pylist(), table.column("signature").to_pylist()):
        yield published_node(parent_index, doc_id, parent), sig


def bands_files(version_dir: Path | Location, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest entries of a version's bands files, each with the version's ``root`` to read it from
    (a ``catalog.lakefs.Location``: it pickles with its S3 settings, so workers reach the same bucket)."""
    return [dict(info, root=location(version_dir)) for info in manifest.get("dedup", {}).get("bands", [])]
