"""Staged documents: the text stays on the worker that made it.

The fused stage (read, normalise, identify, filter, redact) writes each batch of the documents it
keeps as one Arrow IPC file under ``<staging>/_docs/<pass>/`` (a local directory or an object-store
prefix, through ``transforms.shards.write_bytes``) and hands on only small records: per document a
``Location`` (uid, language, UTF-8 size, staged file, record batch, row), and the dedup key
records. No text goes through a shuffle or back to the runner; the shard writer reads back, per
bucket, only the rows it writes (``read_rows``: Arrow random access, memory-mapped locally).

A staged file holds one record batch per language (languages in sorted order), so a shard writer
reads only its language's part of each file. Its name is the SHA-256 of its bytes: a retried
bundle rewrites the same file, and nothing published depends on how documents were batched (the
shard writer sorts). Staged files are scratch: the launcher removes ``_docs`` before it commits,
a failed run's whole staging goes with ``Lake.discard`` or ``catalog gc``.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.ipc as ipc

from catalog.contract import DOC_SCHEMA, shard_dir
from transforms.document import Document, ShardRow
from transforms.shards import DEFAULT_TARGET_BYTES, shard_row, stable_bucket, write_bytes, write_partition

STAGED_DIR = "_docs"
STAGED_SCHEMA = DOC_SCHEMA.append(pa.field("_uid", pa.string()))
BATCH = {"min_batch_size": 64, "max_batch_size": 2048}  # documents per staged file

# uid, lang, UTF-8 bytes of the text, staged file (relative to the staging root), record batch, row
Location = tuple[str, str, int, str, int, int]


def staged_file_bytes(rows: list[ShardRow]) -> tuple[bytes, list[tuple[ShardRow, int, int]]]:
    """An Arrow IPC file of ``rows``, one record batch per language, and (row, batch, index) of each."""
    ordered = sorted(rows, key=lambda r: r["lang"])  # stable: the batch's order inside a language
    placed: list[tuple[ShardRow, int, int]] = []
    sink = io.BytesIO()
    with ipc.new_file(sink, STAGED_SCHEMA) as writer:
        for batch, (_, group) in enumerate(groupby(ordered, key=lambda r: r["lang"])):
            members = list(group)
            writer.write_batch(pa.RecordBatch.from_pylist(members, schema=STAGED_SCHEMA))
            placed += [(r, batch, i) for i, r in enumerate(members)]
    return sink.getvalue(), placed


def stage_rows(rows: list[ShardRow], root: str, part: str) -> tuple[str, list[Location]]:
    """Write ``rows`` as one staged file under ``root``; its relative path and the rows' locations."""
    data, placed = staged_file_bytes(rows)
    rel = f"{STAGED_DIR}/{part}/{hashlib.sha256(data).hexdigest()[:32]}.arrow"
    write_bytes(os.path.join(root, rel), data)
    return rel, [(r["_uid"], r["lang"], len(r["text"].encode("utf-8")), rel, b, i) for r, b, i in placed]


def open_staged(root: str, rel: str) -> Any:
    """A staged file for random access (a context manager): memory-mapped locally, read by ranges on an
    object store."""
    path = os.path.join(root, rel)
    if "://" in path:
        from apache_beam.io.filesystems import CompressionTypes, FileSystems

        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    return pa.memory_map(path)


def read_rows(root: str, locations: Iterable[Location]) -> Iterator[dict[str, Any]]:
    """The staged rows at ``locations`` (as dicts of ``STAGED_SCHEMA``), one record batch read at a time."""
    by_file = sorted(locations, key=lambda loc: (loc[3], loc[4], loc[5]))
    for rel, in_file in groupby(by_file, key=lambda loc: loc[3]):
        with open_staged(root, rel) as source:
            reader = ipc.open_file(source)
            for batch, in_batch in groupby(in_file, key=lambda loc: loc[4]):
                yield from reader.get_batch(batch).take([loc[5] for loc in in_batch]).to_pylist()


def staged_document(row: dict[str, Any]) -> Document:
    """A staged row as the document it was staged from (``meta`` parsed back from its JSON)."""
    return {"id": row["id"], "uid": row["_uid"], "text": row["text"], "source": row["source"], "lang": row["lang"],
            "lang_score": row["lang_score"], "meta": json.loads(row["meta"])}


def read_documents(root: str, rel: str) -> Iterator[Document]:
    """Every document of one staged file."""
    with open_staged(root, rel) as source:
        reader = ipc.open_file(source)
        for i in range(reader.num_record_batches):
            yield from map(staged_document, reader.get_batch(i).to_pylist())


KeyFn = Callable[[list[Document]], list[Any]]


def stage_batch(docs: list[Document], root: str, part: str, keys: KeyFn | None) -> Iterator[Any]:
    """One batch of documents -> its staged file, tagged ``files`` (the file), ``locations`` and
    ``keys`` (``keys(docs)``: the dedup key records, when dedup runs)."""
    rel, locations = stage_rows([shard_row(d) for d in docs], root, part)
    yield beam.pvalue.TaggedOutput("files", rel)
    for loc in locations:
        yield beam.pvalue.TaggedOutput("locations", loc)
    for key in keys(docs) if keys is not None else ():
        yield beam.pvalue.TaggedOutput("keys", key)


class StageDocuments(beam.PTransform):
    """Documents -> {"files": staged files, "locations": a ``Location`` per document, "keys": dedup key
    records (``keys`` of each batch; none without it)}: where the documents' text leaves the pipeline."""

    def __init__(self, root: str, part: str, keys: KeyFn | None = None):
        super().__init__()
        self.root, self.part, self.keys = root, part, keys

    def expand(self, docs):
        out = (docs
               | "Batch" >> beam.BatchElements(**BATCH)
               | "Write" >> beam.FlatMap(stage_batch, self.root, self.part, self.keys)
               .with_outputs("files", "locations", "keys"))
        return {"files": out.files, "locations": out.locations, "keys": out.keys}


def bucket_of(lang: str, uid: str, sizes: dict[str, int], target: int) -> tuple[str, int]:
    """The (language, bucket) a document's shard comes from: ``ceil(language bytes / target)`` buckets."""
    return lang, stable_bucket(uid, max(1, math.ceil(sizes.get(lang, 0) / target)))


class WriteDocShards(beam.PTransform):
    """locations -> shard info dicts; shards land under ``root/data/lang=<code>/``.

    ``sizes`` ((lang, UTF-8 bytes) of every kept document) and ``drops`` ((lang, uid) of every
    document dedup removed) come from the dedup steps' key records; without them every staged
    document is kept and sized from its location. Locations and drops meet by (language, bucket):
    a group holds one bucket's small records, whose rows (text) are then read from the staged files,
    sorted and written (``write_partition``). A language bigger than ``target_bytes`` is spread over
    several buckets, written by whichever workers get them.
    """

    def __init__(self, root: str, target_bytes: int = DEFAULT_TARGET_BYTES, sizes=None, drops=None):
        super().__init__()
        self.root, self.target_bytes = root, target_bytes
        self.sizes, self.drops = sizes, drops

    def expand(self, locations):
        root, target = self.root, self.target_bytes
        sizes = self.sizes
        if sizes is None:
            sizes = locations | "SizeOfDoc" >> beam.Map(lambda loc: (loc[1], loc[2]))
        sizes = sizes | "SumByLang" >> beam.CombinePerKey(sum)

        def write(kv):
            (lang, bucket), values = kv
            dropped = {v for v in values if isinstance(v, str)}
            kept = [v for v in values if not isinstance(v, str) and v[0] not in dropped]
            for info in write_partition(read_rows(root, kept), root=root, subdir=shard_dir(lang), bucket=bucket,
                                        schema=DOC_SCHEMA, target_bytes=target):
                yield dict(info, lang=lang)

        if self.drops is not None:
            locations = (locations, self.drops) | "LocationsAndDrops" >> beam.Flatten()
        keyed = locations | "KeyByShard" >> beam.Map(
            lambda r, sizes: ((bucket_of(r[1], r[0], sizes, target), r) if len(r) == 6
                              else (bucket_of(r[0], r[1], sizes, target), r[1])), sizes=beam.pvalue.AsDict(sizes))
        return (keyed
                | "GroupByShard" >> beam.GroupByKey()
                | "WriteShards" >> beam.FlatMap(write))
