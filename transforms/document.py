"""The one document type that travels from reader to shard, and how every stage hands it on.

A document is a plain ``dict`` (cheap for Beam to encode) with the keys of ``Document``; ``uid``
is an internal key, unique per input record (derived from source, file and position), used for
joins, while ``id`` is the user's record id and need not be unique. A document that is not kept
becomes a ``RemovedRow`` (``transforms.removed``) saying which stage removed it and why.

Every stage is a ``beam.PTransform`` whose ``expand`` returns a dict of named outputs: ``kept``
(documents, or key records inside dedup) always, ``removed`` (removed rows) when the stage can
remove, and the stage's own statistics under names it documents; and whose ``describe()`` is the
stage's record in the manifest (versions and settings: the pipeline adds ``enabled``). Stages
never mutate a document they were handed (Beam may give the same element to two consumers):
``with_changes`` makes the copy.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypedDict

import apache_beam as beam

DOC = "doc"  # a stage function's tag for a document it hands on
REMOVED = "removed"  # ... and for the removed row of one it does not
KEPT = "kept"  # a stage's output of the documents it hands on


class Document(TypedDict):
    id: str
    uid: str
    text: str
    source: str
    lang: str  # "und" until language id (or the source's hint) sets it
    lang_score: float
    meta: dict[str, Any]  # the record's other fields, then what stages add (META_KEYS)


class RemovedRow(TypedDict):
    id: str
    uid: str
    source: str
    lang: str
    stage: str  # catalog.contract.STAGE_*
    reason: str
    details: str  # JSON: e.g. the filter value and threshold, or the kept duplicate


# A kept document as the shard writer receives it: ``catalog.contract.DOC_SCHEMA``'s columns, ``meta``
# as sorted JSON, plus ``_uid`` (not written) to join it with dedup's decisions and to order ties.
class ShardRow(TypedDict):
    id: str
    text: str
    lang: str
    lang_score: float
    source: str
    meta: str
    _uid: str


# What the stages add to ``meta``, beside a JSONL or Parquet record's own fields.
META_KEYS = {
    "url": "the record's WARC-Target-URI (read, WARC)",
    "crawl_date": "the record's WARC-Date (read, WARC)",
    "content_type": "the HTTP Content-Type of the page (read, WARC)",
    "charset": "the codec its text was decoded with (read, WARC)",
    "warc_type": "response, resource or conversion (read, WARC)",
    "warc_truncated": "WARC-Truncated, when the crawler cut the record (read, WARC)",
    "lang_alternatives": "lid.176's top labels as [code, probability], best first (langid)",
    "lang_script": "the dominant script of the text the model saw (langid)",
    "filter_scores": "every quality score of the document (filter)",
    "filter_scorer": "the scorer set's version (filter)",
    "pii": "how many spans of each PII kind were redacted (pii)",
    "split": "{part, parts, of}: a part of a document cut at --max-doc-chars (read)",
    "repo": "the repository a source file belongs to (read, code)",
    "path": "the source file's path inside its repository (read, code)",
    "license": "the file's licence: an SPDX expression, or the source's declared licence (read, code)",
    "license_from": "where the licence came from: spdx (the file's header), file (LICENSE/COPYING), record, source",
    "lang_rule": "what decided the programming language: extension, filename, content:.h, modeline, shebang",
    "decode": ("how a text not read as plain UTF-8 was decoded: {encoding, method[, markup, extract]}, or "
               "{encoding, invalid_bytes} for a repaired JSONL line (read)"),
}

Item = tuple[str, Any]  # what a stage's plain function yields: (DOC, document), (REMOVED, row), (other tag, stat)


def new_document(doc_id: str, uid: str, text: str, source: str, meta: dict[str, Any]) -> Document:
    """A document as a reader makes it: no language yet."""
    return {"id": doc_id, "uid": uid, "text": text, "source": source, "lang": "und", "lang_score": 0.0, "meta": meta}


def with_changes(doc: Document, *, meta: dict[str, Any] | None = None, **fields: Any) -> Document:
    """A copy of ``doc`` with ``fields`` replaced and ``meta`` keys added (a new meta dict only then)."""
    out: Document = {**doc, **fields}  # type: ignore[typeddict-item]
    if meta:
        out["meta"] = {**doc["meta"], **meta}
    return out


def nest_counts(counts: Iterable[tuple[tuple[str, str], int]]) -> dict[str, dict[str, int]]:
    """[((a, b), n)] -> {a: {b: n}}, sorted: how a stage's counted statistics go into the manifest."""
    nested: dict[str, dict[str, int]] = {}
    for (a, b), n in sorted(counts):
        nested.setdefault(a, {})[b] = n
    return nested


class CountNested(beam.PTransform):
    """(a, b) pairs -> one element, ``nest_counts`` of how often each pair occurred."""

    def expand(self, pairs):
        return (pairs
                | "Count" >> beam.combiners.Count.PerElement()
                | "AsList" >> beam.combiners.ToList()
                | "Nest" >> beam.Map(nest_counts))


def tagged(items: Iterable[Item], main: str = DOC) -> Iterator[Any]:
    """A stage function's (tag, value) pairs as Beam outputs: ``main`` untagged (the stage's ``kept``),
    the rest tagged."""
    for tag, value in items:
        yield value if tag == main else beam.pvalue.TaggedOutput(tag, value)
