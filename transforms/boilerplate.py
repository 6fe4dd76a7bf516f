"""Boilerplate lines across documents: a line that many documents of one source share is
template text (navigation, cookie notices, "All rights reserved"), and is removed from all of them.

As CCNet did for Common Crawl (and ROOTS after it), repetition is counted on hashes, not text: each
line's normal form (casefolded, digits as ``0``, whitespace collapsed) is hashed to 64 bits
(blake2b), a line counts once per document, and the counts are summed per (source, hash) by a
combiner, so partial sums are made before the shuffle and no line text travels. A line found in at
least ``min_docs`` documents of its source is boilerplate; the frequent hashes, only those, reach
the step that rewrites documents as a side input. Counts are sums, so the result does not depend on
input order or bundling. No document can be cleaned before every document is counted, so the
documents are staged as Arrow files (``transforms.staging``) while their lines are counted, and
cleaned in a second pass over those files, one file per element: the text stays on the workers
instead of waiting in the runner for the side input.

A document with nothing left but boilerplate is removed as a ``filter`` row with reason
``boilerplate_only`` (its details say how many lines went), which keeps the count identity. The
manifest's ``boilerplate`` section counts per source the lines removed, the documents changed and
emptied, and the distinct boilerplate lines.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Container, Iterable
from typing import Any

import apache_beam as beam

from catalog.contract import STAGE_FILTER, is_code
from transforms.document import DOC, REMOVED, Document, with_changes
from transforms.removed import removed_from_doc
from transforms.staging import StageDocuments, read_documents

VERSION = "boilerplate-lines-v1"
DEFAULT_MIN_DOCS = 10
KEY_DESCRIPTION = "blake2b-64 of the line casefolded, digits as 0, whitespace collapsed; once per document"
COUNTERS = ("docs", "docs_changed", "docs_emptied", "lines_removed", "boilerplate_lines")
_DIGITS = re.compile(r"\d")
_BLANK_RUNS = re.compile(r"\n{3,}")


def line_key(line: str) -> int | None:
    """The 64-bit hash of a line's normal form; ``None`` for a blank line (never boilerplate)."""
    norm = _DIGITS.sub("0", " ".join(line.casefold().split()))
    if not norm:
        return None
    return int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "big")


def document_line_keys(text: str) -> set[int]:
    """The distinct line hashes of a document: a line repeated inside one document counts once."""
    return {k for k in map(line_key, text.split("\n")) if k is not None}


def source_line_keys(doc: Document) -> list[tuple[tuple[str, int], int]]:
    """((source, line hash), 1) per distinct line of a document; none for source code, whose shared
    lines (imports, braces, licence headers) are code, not template text."""
    if is_code(doc.get("lang", "und")):
        return []
    return [((doc["source"], k), 1) for k in document_line_keys(doc["text"])]


def remove_lines(text: str, boilerplate: Container[int]) -> tuple[str, int]:
    """The text without its boilerplate lines (blank-line runs closed up), and how many went."""
    kept, removed = [], 0
    for line in text.split("\n"):
        if line_key(line) in boilerplate:
            removed += 1
        else:
            kept.append(line)
    if not removed:
        return text, 0
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip(), removed


def frequent_keys(doc_keys: Iterable[tuple[str, Iterable[int]]], min_docs: int) -> dict[str, set[int]]:
    """The boilerplate hashes per source from (source, line hashes of one document) pairs: what the
    Beam steps compute through the shuffle, for tests and small inputs."""
    counts: Counter = Counter()
    for source, keys in doc_keys:
        counts.update((source, k) for k in set(keys))
    out: dict[str, set[int]] = {}
    for (source, key), n in counts.items():
        if n >= min_docs:
            out.setdefault(source, set()).add(key)
    return out


def clean_document(doc: Document, boilerplate: Container[int]) -> tuple[str, Any, Counter]:
    """("doc", document) or ("removed", a ``boilerplate_only`` row), with the counters it adds.
    Source code is handed on untouched."""
    if is_code(doc.get("lang", "und")):
        return DOC, doc, Counter(docs=1, lines_removed=0, docs_changed=0)
    text, removed = remove_lines(doc["text"], boilerplate)
    stats = Counter(docs=1, lines_removed=removed, docs_changed=int(removed > 0))
    if not removed:
        return DOC, doc, stats
    if not text:
        stats["docs_emptied"] = 1
        return "removed", removed_from_doc(doc, STAGE_FILTER, "boilerplate_only",
                                           {"lines_removed": removed, "stage": VERSION}), stats
    return DOC, with_changes(doc, text=text), stats


def nest_stats(pairs: Iterable[tuple[tuple[str, str], int]]) -> dict[str, Any]:
    """[((source, counter), n)] -> the manifest's ``boilerplate`` section: totals and per source."""
    by_source: dict[str, dict[str, int]] = {}
    for (source, name), n in sorted(pairs):
        by_source.setdefault(source, dict.fromkeys(COUNTERS, 0))[name] = n
    totals = {name: sum(s[name] for s in by_source.values()) for name in COUNTERS}
    return {**totals, "by_source": by_source}


class _CleanStagedFile(beam.DoFn):
    """Reads one staged file and rewrites each of its documents with its source's boilerplate hashes (a
    side input: one dict per worker, of the frequent hashes only)."""

    def __init__(self, root: str):
        self.root = root

    def process(self, rel, frequent):
        for doc in read_documents(self.root, rel):
            tag, item, stats = clean_document(doc, frequent.get(doc["source"], ()))
            yield item if tag == DOC else beam.pvalue.TaggedOutput(REMOVED, item)
            for name, n in stats.items():
                if n:
                    yield beam.pvalue.TaggedOutput("stats", ((doc["source"], name), n))


class RemoveBoilerplate(beam.PTransform):
    """Documents -> {"kept", "removed", "stats"}; ``stats`` is one element, the manifest section.
    The documents wait as staged files under ``root`` (a run's staging) until the counts are known."""

    def __init__(self, root: str, min_docs: int = DEFAULT_MIN_DOCS):
        super().__init__()
        if min_docs < 2:
            raise ValueError(f"boilerplate: a line must be shared by at least 2 documents, got {min_docs}")
        self.root, self.min_docs = root, min_docs

    def expand(self, docs):
        min_docs = self.min_docs
        counts = (docs
                  | "LineKeys" >> beam.FlatMap(source_line_keys)
                  | "CountPerSource" >> beam.CombinePerKey(sum))
        frequent = counts | "Frequent" >> beam.Filter(lambda kv: kv[1] >= min_docs)
        by_source = (frequent
                     | "BySource" >> beam.Map(lambda kv: (kv[0][0], kv[0][1]))
                     | "GroupBySource" >> beam.GroupByKey()
                     | "AsSets" >> beam.MapTuple(lambda source, keys: (source, frozenset(keys))))
        staged = docs | "Stage" >> StageDocuments(self.root, "boilerplate")
        cleaned = (staged["files"]
                   | "SpreadFiles" >> beam.Reshuffle()
                   | "DropLines" >> beam.ParDo(_CleanStagedFile(self.root), beam.pvalue.AsDict(by_source))
                   .with_outputs("removed", "stats", main="kept"))
        distinct = frequent | "DistinctLines" >> beam.Map(lambda kv: ((kv[0][0], "boilerplate_lines"), 1))
        stats = ((cleaned.stats, distinct) | "AllStats" >> beam.Flatten()
                 | "SumStats" >> beam.CombinePerKey(sum)
                 | "StatsList" >> beam.combiners.ToList()
                 | "Nest" >> beam.Map(nest_stats))
        return {"kept": cleaned.kept, "removed": cleaned.removed, "stats": stats}

    def describe(self) -> dict[str, Any]:
        return {"version": VERSION, "min_docs": self.min_docs, "unit": "line", "key": KEY_DESCRIPTION}
