"""Near-duplicate removal as a Beam DAG over key records (``transforms.dedup.keys``).

Batched signatures -> per batch, band hashes split by (band, partition) -> GroupByKey ->
candidate pairs inside each LSH bucket, each pair once, by the first band it shares (every pair, or
each member with its ``bucket_fanout`` best-ranked members in a larger bucket) -> verified by
estimated Jaccard >= threshold -> greedy star clustering, distributed in rounds (the rule: documents
are walked in rank order and one is removed only if it has a verified edge to a document already
kept; it then points to its most similar kept neighbour). Unlike connected components this never
removes a document through a chain (A~B, B~C, A!~C keeps A and C), so every removed document is a
verified near-duplicate of its kept ``duplicate_of``.

Memory bounds of the aggregating steps:
- exact dedup groups key records by exact key: one group holds the key records of one text's copies;
- signatures: see ``transforms.dedup.minhash`` (bounded per character group, whatever the batch);
- GroupByBand: one group holds one band's postings of one partition (no text), about
  ``documents / partitions`` of them (at most about ``POSTINGS_PER_GROUP``: the partitions grow with
  the corpus), each a node plus at most ``bands`` 8-byte band hashes;
- bucket pairs: at most ``bucket_fanout`` pairs per bucket member;
- verification's join by uid: one signature plus that document's candidate pairs, streamed; then
  a GroupByKey by pair holds that pair's two signatures;
- star clustering (``transforms.dedup.clustering``) runs in rounds grouped by node: a group holds one
  document's verified edges and the statuses sent to it; what is still undecided after the rounds
  (dependency chains longer than the rounds, in practice none) is resolved in one group;
- the join of removals with key records holds one document's key record and its removal.
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any

import apache_beam as beam
import numpy as np

from catalog.contract import STAGE_DEDUP_NEAR
from transforms.dedup.clustering import Node, StarClusters
from transforms.dedup.keys import Key, removed_from_key
from transforms.dedup.minhash import MinHashConfig, band_hashes, estimated_jaccards, has_shingles

Posting = tuple[bytes, list[Node]]  # (documents x bands 0..b) uint64 band hashes as bytes, and the nodes


def band_postings(nodes: list[Node], sigs: np.ndarray, config: MinHashConfig,
                  partitions: int | None = None) -> list[tuple[tuple[int, int], Posting]]:
    """The band hashes of a batch as one chunk per (band, partition of that band's hash).

    Few elements instead of one per band per document. A chunk of band ``b`` holds its documents'
    hashes of bands 0..b (so ``bucket_pairs`` can tell a pair's first shared band) as raw bytes,
    which Beam's coder copies where it would pickle an array, and their nodes; documents without
    shingles take no part.
    """
    rows = np.flatnonzero(has_shingles(sigs))
    hashes = band_hashes(sigs[rows], config)
    out = []
    for band in range(hashes.shape[1]):
        partition = (hashes[:, band] % np.uint64(partitions or config.partitions)).astype(np.int64)
        order = np.argsort(partition, kind="stable")
        prefix, partition = hashes[order, :band + 1], partition[order]
        ordered_nodes = list(map(nodes.__getitem__, rows[order].tolist()))
        starts = np.flatnonzero(np.diff(partition, prepend=-1))
        ends = np.append(starts[1:], len(partition)).tolist()
        out += [((band, part), (prefix[lo:hi].tobytes(), ordered_nodes[lo:hi]))
                for part, lo, hi in zip(partition[starts].tolist(), starts.tolist(), ends)]
    return out


def bucket_pairs(postings: Iterable[Posting], config: MinHashConfig) -> list[tuple[Node, Node]]:
    """Candidate pairs (better rank first) of the LSH buckets in one band's partition.

    A pair is emitted only by the first band its two documents share, so across all bands a
    candidate pair is produced at most once (no Distinct). A bucket of up to ``bucket_fanout + 1``
    members yields all such pairs, a larger one pairs each member with its ``bucket_fanout``
    best-ranked members: those are where clustering keeps documents, and it caps the pairs of a
    bucket of many near-copies at ``members x bucket_fanout`` (a pair left out there is not tried
    again in a later band: the cap can only cost recall, never precision).
    """
    postings = list(postings)
    nodes = list(chain.from_iterable(chunk for _, chunk in postings))
    if not nodes:
        return []
    band = len(postings[0][0]) // (8 * len(postings[0][1])) - 1
    prefix = np.frombuffer(b"".join(h for h, _ in postings), dtype=np.uint64).reshape(len(nodes), band + 1)
    order = np.argsort(prefix[:, band], kind="stable")
    ordered = prefix[order, band]
    starts = np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1]))
    sizes = np.diff(np.append(starts, len(ordered)))
    twins = starts[sizes == 2]
    better, later = _large_bucket_pairs(order, starts[sizes > 2], sizes[sizes > 2], nodes, config.bucket_fanout)
    first = np.concatenate((order[twins], better))
    second = np.concatenate((order[twins + 1], later))
    fresh = ~(prefix[first, :band] == prefix[second, :band]).any(axis=1)  # no earlier band in common
    ones, others = map(nodes.__getitem__, first[fresh].tolist()), map(nodes.__getitem__, second[fresh].tolist())
    return [(a, b) if a < b else (b, a) for a, b in zip(ones, others) if a != b]


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + size)`` for each pair, without a Python loop."""
    ends = np.cumsum(sizes)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - ends + sizes, sizes)


def _large_bucket_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, nodes: list[Node],
                        fanout: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs (better, later) of buckets of more than two rows: each distinct member with its ``fanout``
    best-ranked members, as arrays, so that one sort ranks the members of every bucket of the partition."""
    if not len(starts):
        return np.empty(0, dtype=order.dtype), np.empty(0, dtype=order.dtype)
    rows = order[_ranges(starts, sizes)]
    bucket = np.repeat(np.arange(len(starts)), sizes)
    ranked = sorted({nodes[r] for r in rows.tolist()})
    position = dict(zip(ranked, range(len(ranked))))
    node_rank = np.array([position[nodes[r]] for r in rows.tolist()], dtype=np.int64)
    by_rank = np.lexsort((node_rank, bucket))
    rows, bucket, node_rank = rows[by_rank], bucket[by_rank], node_rank[by_rank]
    distinct = np.append(True, (bucket[1:] != bucket[:-1]) | (node_rank[1:] != node_rank[:-1]))
    rows, bucket = rows[distinct], bucket[distinct]
    first = np.flatnonzero(np.append(True, bucket[1:] != bucket[:-1]))
    first_of = np.repeat(first, np.diff(np.append(first, len(rows))))  # per member: its bucket's first member
    count = np.minimum(np.arange(len(rows)) - first_of, fanout)
    return rows[_ranges(first_of, count)], np.repeat(rows, count)


def verify_pairs(pairs: list[tuple[Node, Node]], sigs_a: np.ndarray, sigs_b: np.ndarray,
                 config: MinHashConfig) -> list[tuple[Node, Node, float]]:
    """(a, b, estimated Jaccard) of the pairs that pass verification (all of them with ``verify`` off)."""
    jaccard = estimated_jaccards(sigs_a, sigs_b)
    passed = jaccard >= config.threshold if config.verify else np.ones(len(pairs), dtype=bool)
    return [(a, b, j) for (a, b), j, ok in zip(pairs, jaccard.tolist(), passed.tolist()) if ok]


def star_clusters(edges: Iterable[tuple[Node, Node, float]]) -> list[tuple[Node, Node, float]]:
    """Greedy star clustering: (kept, removed, Jaccard) for every removed new document.

    Documents are walked in rank order; one with a verified edge to an already kept document is
    removed, any other is kept (published documents always are). A removed document then points to
    its most similar kept neighbour (highest estimated Jaccard, then best rank), which need not be
    the one that removed it. Decisions depend only on the set of edges, not on their order.
    """
    edges = list(edges)
    nodes = sorted({node for a, b, _ in edges for node in (a, b)})  # rank order
    index = dict(zip(nodes, range(len(nodes))))
    a = np.fromiter((index[e[0]] for e in edges), dtype=np.int64, count=len(edges))
    b = np.fromiter((index[e[1]] for e in edges), dtype=np.int64, count=len(edges))
    jaccard = np.fromiter((e[2] for e in edges), dtype=np.float64, count=len(edges))
    removed = np.array(_greedy_removals(nodes, np.minimum(a, b), np.maximum(a, b)), dtype=bool)
    # each removed document's kept neighbours, best first: (removed, -Jaccard, kept)
    to_kept = removed[a] & ~removed[b]
    to_kept_b = removed[b] & ~removed[a]
    gone = np.concatenate((a[to_kept], b[to_kept_b]))
    kept = np.concatenate((b[to_kept], a[to_kept_b]))
    similarity = np.concatenate((jaccard[to_kept], jaccard[to_kept_b]))
    order = np.lexsort((kept, -similarity, gone))
    first = order[np.flatnonzero(np.diff(gone[order], prepend=-1))]
    return [(nodes[k], nodes[r], j)
            for k, r, j in zip(kept[first].tolist(), gone[first].tolist(), similarity[first].tolist())]


def _greedy_removals(nodes: list[Node], lo: np.ndarray, hi: np.ndarray) -> list[bool]:
    """Removed?, per node in rank order: a new node with an edge to a better-ranked kept node.

    Edges are walked by their worse-ranked end, so each node's better neighbours are decided first.
    """
    removed = [False] * len(nodes)
    new = [node[0][0] == 1 for node in nodes]
    by_hi = np.argsort(hi, kind="stable")
    for better, worse in zip(lo[by_hi].tolist(), hi[by_hi].tolist()):
        if new[worse] and not removed[better]:
            removed[worse] = True
    return removed


def _sig(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<u4")


def sign_requests(kv):
    """One uid's signature (bytes) sent to each of its candidate pairs (tuples): (pair, (side, signature)),
    side 0 for the better-ranked document. A uid without a signature (impossible in a consistent run)
    sends none."""
    uid, values = kv
    sig = next((v for v in values if isinstance(v, bytes)), None)
    if sig is not None:
        for pair in values:
            if not isinstance(pair, bytes):
                yield pair, (int(pair[0][1] != uid), sig)


def _pair_signatures(kv):
    pair, sides = kv
    by_side = dict(sides)
    return pair, by_side[0], by_side[1]


class WithSignatures(beam.PTransform):
    """(a, b) node pairs -> (pair, signature of a, signature of b): each pair asks both its uids for
    their signature (one join by uid: a GroupByKey of signatures and requests, told apart by type), and
    the two answers meet by pair (one GroupByKey)."""

    def __init__(self, sigs):
        super().__init__()
        self.sigs = sigs

    def expand(self, pairs):
        requests = pairs | "AskBothUids" >> beam.FlatMap(lambda e: [(e[0][1], e), (e[1][1], e)])
        return ((self.sigs, requests)
                | "SigsAndRequests" >> beam.Flatten()
                | "JoinByUid" >> beam.GroupByKey()
                | "SendSignatures" >> beam.FlatMap(sign_requests)
                | "GroupByPair" >> beam.GroupByKey()
                | "BothSignatures" >> beam.Map(_pair_signatures))


POSTINGS_PER_GROUP = 5_000


def band_partitions(documents: int, config: MinHashConfig) -> int:
    """Partitions per band: ``config.partitions``, more for a corpus whose groups would hold more than
    ``POSTINGS_PER_GROUP`` postings. A bucket lies in one partition whatever their number, so the
    pairs do not depend on it; the groups stay bounded whatever the corpus."""
    return max(config.partitions, -(-documents // POSTINGS_PER_GROUP))


def _postings(batch: list[tuple[Node, bytes]], config: MinHashConfig, documents: int):
    return band_postings([n for n, _ in batch], np.stack([_sig(s) for _, s in batch]), config,
                         band_partitions(documents, config))


def _verify(batch: list[tuple[tuple[Node, Node], bytes, bytes]], config: MinHashConfig):
    return verify_pairs([p for p, _, _ in batch], np.stack([_sig(a) for _, a, _ in batch]),
                        np.stack([_sig(b) for _, _, b in batch]), config)


def removal_info(kept: Node, jaccard: float, parents: list[str]) -> dict[str, Any]:
    info = {"duplicate_of": kept[0][2], "duplicate_of_uid": kept[1], "jaccard": round(jaccard, 4)}
    if kept[0][0] == 0:
        info["duplicate_of_version"] = parents[kept[0][1]]
    return info


def bands_rows(kept: list[Key], config: MinHashConfig) -> list[dict[str, Any]]:
    """Rows of the version's bands table (what a later run dedups against) for a batch of kept
    documents: one vectorised ``band_hashes`` call instead of one per document."""
    hashes = band_hashes(np.stack([_sig(k[5]) for k in kept]), config).tolist()
    return [{"id": k[0][0][2], "source": k[1], "_uid": k[0][1], "signature": k[5], "bands": h}
            for k, h in zip(kept, hashes)]


def split_near(kv):
    """One uid's key record (a tuple) and its removal info (a dict), if any -> kept key or removed row."""
    _, values = kv
    info = next((v for v in values if isinstance(v, dict)), None)
    for key in values:
        if isinstance(key, dict):
            continue
        if info is None:
            yield beam.pvalue.TaggedOutput("kept", key)
        else:
            yield beam.pvalue.TaggedOutput("removed", removed_from_key(key, STAGE_DEDUP_NEAR, "near_duplicate", info))


class NearDedup(beam.PTransform):
    """key records (with signatures) -> {"kept": key records, "removed": removed rows, "bands": bands-table
    rows of the kept documents}.

    ``published`` is a PCollection of (node, signature bytes) from earlier versions (``parents``,
    in the order their node ranks index); they take part in clustering and always win.
    """

    def __init__(self, config: MinHashConfig, parents: list[str] | None = None, published=None):
        super().__init__()
        self.config = config
        self.parents, self.published = list(parents or []), published

    def expand(self, keys):
        config, parents = self.config, self.parents
        nodes = keys | "NodeAndSig" >> beam.Map(lambda k: (k[0], k[5]))
        if self.published is not None:
            nodes = (nodes, self.published) | "WithPublished" >> beam.Flatten()
        pairs = (nodes
                 | "BatchForBands" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                 | "BandPostings" >> beam.FlatMap(_postings, config, beam.pvalue.AsSingleton(
                     nodes | "CountNodes" >> beam.combiners.Count.Globally()))
                 | "GroupByBand" >> beam.GroupByKey()
                 | "BucketPairs" >> beam.FlatMap(lambda kv: bucket_pairs(kv[1], config)))
        removals = (pairs
                    | "PairSignatures" >> WithSignatures(nodes | "SigByUid" >> beam.Map(lambda ns: (ns[0][1], ns[1])))
                    | "BatchForVerify" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                    | "Verify" >> beam.FlatMap(_verify, config)
                    | "StarClusters" >> StarClusters()
                    | "Info" >> beam.Map(lambda e: (e[1][1], removal_info(e[0], e[2], parents))))
        keyed = keys | "KeyByUid" >> beam.Map(lambda k: (k[0][1], k))
        split = ((keyed, removals)
                 | "KeysAndRemovals" >> beam.Flatten()
                 | "JoinRemovals" >> beam.GroupByKey()
                 | "Split" >> beam.FlatMap(split_near).with_outputs("kept", "removed"))
        bands = (split.kept
                 | "BatchForBandsTable" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                 | "BandsRows" >> beam.FlatMap(bands_rows, config))
        return {"kept": split.kept, "removed": split.removed, "bands": bands}

    def describe(self) -> dict[str, Any]:
        return self.config.describe()
