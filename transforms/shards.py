"""Deterministic Arrow IPC shard writing.

Rows are spread over ``ceil(bytes / target)`` buckets per partition by a stable hash of their uid,
each bucket is sorted by id and written as Arrow IPC *file* format (random access, memory-mappable,
read by ``pyarrow.dataset``), rolled to a new file once the target size is reached. The same rows
always give the same files, byte for byte. Memory bound: one bucket (about one target size).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa

from transforms.document import Document, ShardRow

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
_BATCH_ROWS = 4096


def stable_bucket(uid: str, buckets: int) -> int:
    return zlib.crc32(uid.encode("utf-8")) % max(1, buckets)


def doc_to_row(doc: Document) -> dict[str, Any]:
    return {
        "id": doc["id"], "text": doc["text"], "lang": doc["lang"], "lang_score": float(doc["lang_score"]),
        "source": doc["source"],
        "meta": json.dumps(doc["meta"], sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str),
    }


def arrow_file_bytes(rows: list[dict[str, Any]], schema: pa.Schema) -> bytes:
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table, max_chunksize=_BATCH_ROWS)
    return sink.getvalue()


def write_bytes(path: str, data: bytes) -> None:
    """Write a whole file so that no reader ever sees it torn.

    Locally through a temp name and ``os.replace``; on object stores (``gs://``, ``s3://``) an
    object only appears once its upload completes, so Beam's filesystem writes it directly.
    """
    if "://" in path:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(path) as f:
            f.write(data)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_partition(rows: Iterable[dict[str, Any]], *, root: str, subdir: str, bucket: int, schema: pa.Schema,
                    target_bytes: int, size_of=lambda r: len(r.get("text", "")) * 2 + 128) -> Iterator[dict[str, Any]]:
    """Sort one bucket's rows and write them as one or more shards; yield one info dict per shard."""
    ordered = sorted(rows, key=lambda r: (r["id"], r.get("_uid", "")))
    chunks, current, size = [], [], 0
    for row in ordered:
        current.append(row)
        size += size_of(row)
        if size >= target_bytes:
            chunks.append(current)
            current, size = [], 0
    if current or not chunks:
        chunks.append(current)
    for seq, chunk in enumerate(chunks):
        if not chunk:
            continue
        data = arrow_file_bytes([{k: v for k, v in r.items() if k in schema.names} for r in chunk], schema)
        rel = f"{subdir}/part-{bucket:05d}-{seq:03d}.arrow"
        write_bytes(os.path.join(root, rel), data)
        sources: dict[str, int] = {}
        for r in chunk:
            sources[r["source"]] = sources.get(r["source"], 0) + 1
        yield {
            "path": rel, "rows": len(chunk), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "chars": sum(len(r.get("text", "")) for r in chunk), "sources": dict(sorted(sources.items())),
        }


def shard_row(doc: Document) -> ShardRow:
    """A document as the row it is written as (plus ``_uid``), made once, where the document is made."""
    return {**doc_to_row(doc), "_uid": doc["uid"]}  # type: ignore[typeddict-item]


class WriteTable(beam.PTransform):
    """rows -> info dicts of deterministic Arrow files under ``root/subdir`` (the removed table, the
    dedup tables): rows spread over files of at most ``ROWS_PER_FILE`` by a stable hash of their
    uid (the ``uid`` field, kept as ``_uid``), each file sorted by (id, uid). Memory bound: one file's rows.
    """

    ROWS_PER_FILE = 1_000_000

    def __init__(self, root: str, subdir: str, schema: pa.Schema, uid: str = "_uid"):
        super().__init__()
        self.root, self.subdir, self.schema, self.uid = root, subdir, schema, uid

    def expand(self, rows):
        root, subdir, schema, uid, per_file = self.root, self.subdir, self.schema, self.uid, self.ROWS_PER_FILE
        total = rows | "Count" >> beam.combiners.Count.Globally()

        def key(row, total):
            return (stable_bucket(row[uid], math.ceil(max(total, 1) / per_file)),
                    row if uid == "_uid" else dict(row, _uid=row[uid]))

        return (rows
                | "KeyByBucket" >> beam.Map(key, total=beam.pvalue.AsSingleton(total))
                | "GroupByBucket" >> beam.GroupByKey()
                | "Write" >> beam.FlatMap(lambda kv: write_partition(
                    kv[1], root=root, subdir=subdir, bucket=kv[0], schema=schema,
                    target_bytes=1 << 62, size_of=lambda r: 0)))
