"""Key records: what dedup needs of a document, without its text.

``dedup_keys`` turns each batch of documents into shard rows (text, written once by the shard
writer) and key records (node, source, lang, size, exact key, signature); every dedup step
shuffles key records, pairs, edges or decisions, never text. Which copy survives is decided by
``rank``: documents of published versions first (``--dedup-against``; they are already out), then
source priority (lower first), then document id, then the internal uid, so the kept
representative does not depend on input order.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam

from transforms.dedup.minhash import MinHashConfig, dedup_normal_form, normal_forms, signatures
from transforms.dedup.nodes import Node, Rank
from transforms.document import Document, RemovedRow
from transforms.removed import removed_row
from transforms.shards import shard_row

Key = tuple[Node, str, str, int, str, bytes]  # node, source, lang, UTF-8 bytes of the text, exact key, signature


def rank(doc: Mapping[str, Any], priorities: dict[str, int]) -> Rank:
    return (1, priorities.get(doc["source"], 0), doc["id"], doc["uid"])


def published_node(parent_index: int, doc_id: str, parent: str) -> Node:
    """A document of a published version: ranks before every new document, never removed."""
    uid = f"{parent}/{doc_id}"
    return (0, parent_index, doc_id, uid), uid


def exact_key(text: str) -> str:
    return hashlib.blake2b(dedup_normal_form(text).encode("utf-8"), digest_size=16).hexdigest()


def exact_keys(texts: list[str]) -> list[str]:
    """``exact_key`` of many texts at once."""
    return [hashlib.blake2b(form, digest_size=16).hexdigest() for form in normal_forms(texts)]


def key_record(doc: Mapping[str, Any], priorities: dict[str, int], exact: str, sig: bytes) -> Key:
    """What dedup needs of a document, without its text: node, source, lang, UTF-8 size, exact key, signature."""
    size = len(doc["text"].encode("utf-8"))
    return (rank(doc, priorities), doc["uid"]), doc["source"], doc["lang"], size, exact, sig


def removed_from_key(key: Key, stage: str, reason: str, details: dict[str, Any]) -> RemovedRow:
    """The removed row of a deduplicated document: the same row ``removed_from_doc`` gives for it."""
    (node_rank, uid), source, lang = key[0], key[1], key[2]
    return removed_row(node_rank[2], source, stage, reason, details, uid=uid, lang=lang)


def dedup_keys(docs: list[Document], priorities: dict[str, int], exact: bool,
               config: MinHashConfig | None) -> Iterator[Any]:
    """One batch of documents -> tagged ``rows`` (their shard rows, text included, written once at the
    end) and ``keys`` (their key records, which are all that the dedup steps shuffle)."""
    texts = [d["text"] for d in docs]
    exacts = exact_keys(texts) if exact else [""] * len(docs)
    sigs = [s.tobytes() for s in signatures(texts, config).astype("<u4")] if config is not None else [b""] * len(docs)
    for doc, e, sig in zip(docs, exacts, sigs):
        yield beam.pvalue.TaggedOutput("rows", shard_row(doc))
        yield beam.pvalue.TaggedOutput("keys", key_record(doc, priorities, e, sig))



class DedupKeys(beam.PTransform):
    """Documents -> {"rows": their shard rows (text included), "keys": their key records}: the
    documents leave here for the shard writer, and dedup goes on with key records only."""

    def __init__(self, priorities: dict[str, int], exact: bool, minhash: MinHashConfig | None):
        super().__init__()
        self.priorities, self.exact, self.minhash = priorities, exact, minhash

    def expand(self, docs):
        split = (docs
                 | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                 | "RowsAndKeys" >> beam.FlatMap(dedup_keys, self.priorities, self.exact, self.minhash)
                 .with_outputs("rows", "keys"))
        return {"rows": split.rows, "keys": split.keys}
