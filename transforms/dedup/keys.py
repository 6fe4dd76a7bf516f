"""Key records: what dedup needs of a document, without its text.

``batch_keys`` turns each batch of documents into key records (node, source, lang, size, exact
key, signature), where the documents are staged (``transforms.staging``); every dedup step
shuffles key records, pairs, edges or decisions, never text. Which copy survives is decided by
``rank``: documents of published versions first (``--dedup-against``; they are already out), then
source priority (lower first), then document id, then the internal uid, so the kept
representative does not depend on input order.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import apache_beam as beam

from catalog.contract import is_code
from transforms.code.dedup import code_exact_key, code_signatures
from transforms.dedup.minhash import MinHashConfig, dedup_normal_form, normal_forms, signatures
from transforms.dedup.nodes import Node, Rank
from transforms.document import Document, RemovedRow
from transforms.removed import removed_row

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


def batch_keys(docs: list[Document], priorities: dict[str, int], exact: bool,
               config: MinHashConfig | None) -> list[Key]:
    """The key records of one batch of documents (exact keys and signatures computed batch-wise);
    source code gets its own keys (``transforms.code.dedup``)."""
    prose = [d for d in docs if not is_code(d["lang"])]
    code = [d for d in docs if is_code(d["lang"])]
    texts = [d["text"] for d in prose]
    exacts = exact_keys(texts) if exact else [""] * len(prose)
    sigs = [s.tobytes() for s in signatures(texts, config).astype("<u4")] if config is not None else [b""] * len(prose)
    if code:
        exacts += [code_exact_key(d["text"], d["lang"]) for d in code] if exact else [""] * len(code)
        sigs += ([s.tobytes() for s in code_signatures([d["text"] for d in code], [d["lang"] for d in code], config)
                  .astype("<u4")] if config is not None else [b""] * len(code))
    return [key_record(doc, priorities, e, sig) for doc, e, sig in zip(prose + code, exacts, sigs)]


class DedupKeys(beam.PTransform):
    """Documents -> {"keys": their key records}: what dedup goes on with (the pipeline computes them
    where it stages the documents, ``transforms.staging.StageDocuments``)."""

    def __init__(self, priorities: dict[str, int], exact: bool, minhash: MinHashConfig | None):
        super().__init__()
        self.priorities, self.exact, self.minhash = priorities, exact, minhash

    def expand(self, docs):
        keys = (docs
                | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                | "Keys" >> beam.FlatMap(batch_keys, self.priorities, self.exact, self.minhash))
        return {"keys": keys}
