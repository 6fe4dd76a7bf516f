"""Exact and near-duplicate removal as Beam DAGs.

Which copy survives is decided by ``rank``: source priority (lower first), then document id,
then the internal uid, so the kept representative does not depend on input order.

Memory bounds of the aggregating steps:
- exact dedup groups by normalised-text hash: one group holds the copies of one text;
- near dedup groups by LSH band key: one group holds ``(uid, rank)`` tuples of the documents that
  share that band (no text);
- connected components gather only the candidate edges (two small tuples per edge), i.e. memory
  grows with the number of near-duplicate documents, not with the corpus.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Iterator

import apache_beam as beam

from transforms.minhash import MinHashConfig, band_keys, dedup_normal_form, shingles, signature
from transforms.removed import STAGE_DEDUP_EXACT, STAGE_DEDUP_NEAR, removed_from_doc

Rank = tuple[int, str, str]


def rank(doc: dict[str, Any], priorities: dict[str, int]) -> Rank:
    return (priorities.get(doc["source"], 0), doc["id"], doc["uid"])


def exact_key(text: str) -> str:
    return hashlib.blake2b(dedup_normal_form(text).encode("utf-8"), digest_size=16).hexdigest()


def keep_first(docs: Iterable[dict[str, Any]], priorities: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("kept", doc) for the best-ranked copy and ("removed", row) for the rest.

    Iterates twice instead of sorting, so a group of many copies is never copied into a list.
    """
    best = min(docs, key=lambda d: rank(d, priorities))
    yield "kept", best
    for d in docs:
        if d["uid"] != best["uid"]:
            yield "removed", removed_from_doc(d, STAGE_DEDUP_EXACT, "exact_duplicate",
                                              {"duplicate_of": best["id"], "duplicate_of_uid": best["uid"]})


def star_edges(members: Iterable[tuple[Rank, str]]) -> Iterator[tuple[tuple[Rank, str], tuple[Rank, str]]]:
    """Connect every member of one LSH bucket to its best-ranked member (n-1 edges, not n^2)."""
    members = sorted(set(members))
    for other in members[1:]:
        yield members[0], other


def connected_components(edges: Iterable[tuple[tuple[Rank, str], tuple[Rank, str]]]) -> Iterator[tuple[str, dict[str, str]]]:
    """Union-find over candidate edges; yields (removed uid, info about the kept representative)."""
    parent: dict[tuple[Rank, str], tuple[Rank, str]] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the best rank is always the root
    for node in sorted(parent):
        root = find(node)
        if root != node:
            yield node[1], {"duplicate_of": root[0][1], "duplicate_of_uid": root[1]}


class ExactDedup(beam.PTransform):
    """docs -> tagged outputs ``kept`` (documents) and ``removed`` (removed rows)."""

    def __init__(self, priorities: dict[str, int]):
        super().__init__()
        self.priorities = priorities

    def expand(self, docs):
        priorities = self.priorities
        return (
            docs
            | "KeyByTextHash" >> beam.Map(lambda d: (exact_key(d["text"]), d))
            | "GroupByTextHash" >> beam.GroupByKey()
            | "KeepFirst" >> beam.FlatMap(lambda kv: (beam.pvalue.TaggedOutput(tag, v) for tag, v in keep_first(kv[1], priorities)))
            .with_outputs("kept", "removed")
        )


class NearDedup(beam.PTransform):
    """MinHash LSH: signature -> band keys -> GroupByKey -> edges -> components -> join."""

    def __init__(self, priorities: dict[str, int], config: MinHashConfig):
        super().__init__()
        self.priorities = priorities
        self.config = config

    def expand(self, docs):
        priorities, config = self.priorities, self.config

        def bands(doc):
            sig = signature(shingles(doc["text"], config.ngram), config)
            node = (rank(doc, priorities), doc["uid"])
            return [(key, node) for key in band_keys(sig, config)]

        removals = (
            docs
            | "BandKeys" >> beam.FlatMap(bands)
            | "GroupByBand" >> beam.GroupByKey()
            | "StarEdges" >> beam.FlatMap(lambda kv: star_edges(kv[1]))
            | "DistinctEdges" >> beam.Distinct()
            | "GatherEdges" >> beam.combiners.ToList()
            | "Components" >> beam.FlatMap(connected_components)
        )
        keyed_docs = docs | "KeyByUid" >> beam.Map(lambda d: (d["uid"], d))

        def split(kv):
            _, grouped = kv
            for doc in grouped["docs"]:
                info = next(iter(grouped["removal"]), None)
                if info is None:
                    yield beam.pvalue.TaggedOutput("kept", doc)
                else:
                    yield beam.pvalue.TaggedOutput("removed", removed_from_doc(doc, STAGE_DEDUP_NEAR, "near_duplicate", info))

        return (
            {"docs": keyed_docs, "removal": removals}
            | "JoinRemovals" >> beam.CoGroupByKey()
            | "Split" >> beam.FlatMap(split).with_outputs("kept", "removed")
        )
