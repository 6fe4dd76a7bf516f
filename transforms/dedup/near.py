"""Near-duplicate removal as a Beam DAG over key records (``transforms.dedup.keys``).

Batched signatures -> per batch, band hashes split by (band, partition) -> GroupByKey ->
candidate pairs inside each LSH bucket (every pair, or each member with its ``bucket_fanout``
best-ranked members in a larger bucket), each tagged with the band that found it -> each pair
meets both signatures (a join by node, then by pair) -> kept only if found by the first band its
two documents share (so a pair counts once, whatever the bands that found it) and verified by
estimated Jaccard >= threshold -> greedy star clustering, distributed in rounds (the rule:
documents are walked in rank order and one is removed only if it has a verified edge to a
document already kept; it then points to its most similar kept neighbour). Unlike connected
components this never removes a document through a chain (A~B, B~C, A!~C keeps A and C), so
every removed document is a verified near-duplicate of its kept ``duplicate_of``.

Past the key records every step names a document by its node key (``transforms.dedup.nodes``):
one small bytes object that sorts in rank order. The FnApiRunner holds each GroupByKey's input
decoded, as Python objects, so what a group's values are decides the memory per document (see
docs/dedup.md, "At scale").

Memory bounds of the aggregating steps:
- exact dedup groups key records by exact key: one group holds the key records of one text's copies;
- signatures: see ``transforms.dedup.minhash`` (bounded per character group, whatever the batch);
- GroupByBand: one group holds one band's postings of one partition (no text), about
  ``documents / partitions`` of them (at most about ``POSTINGS_PER_GROUP``: the partitions grow with
  the corpus), each an 8-byte band hash and a node key, packed in a few bytes objects per batch;
- bucket pairs: at most ``bucket_fanout`` pairs per bucket member and band;
- verification's join by node: one signature plus that document's candidate pairs; then a
  GroupByKey by pair holds that pair's two signatures;
- star clustering (``transforms.dedup.clustering``) runs in rounds grouped by node: a group holds one
  document's verified edges and the statuses sent to it; what is still undecided after the rounds
  (dependency chains longer than the rounds, in practice few) is resolved in one group;
- the join of removals with key records holds one document's key record and its removal.
"""
from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from functools import reduce
from operator import or_
from typing import Any

import apache_beam as beam
import numpy as np

from catalog.contract import STAGE_DEDUP_NEAR
from transforms.dedup.clustering import StarClusters
from transforms.dedup.keys import Key, removed_from_key
from transforms.dedup.minhash import MinHashConfig, band_hashes, estimated_jaccards, has_shingles
from transforms.dedup.nodes import NodeKey, is_published, node_key, node_of

Posting = tuple[bytes, bytes, bytes]  # band hashes (<u8), node key lengths (<u4), the node keys concatenated
Pair = tuple[NodeKey, NodeKey]  # better-ranked first
BAND_BATCH = 8192  # documents per BandPostings call: a (band, partition) chunk then holds several postings


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + size)`` for each pair, without a Python loop."""
    ends = np.cumsum(sizes)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - ends + sizes, sizes)


def band_postings(nodes: list[NodeKey], sigs: np.ndarray, config: MinHashConfig,
                  partitions: int | None = None) -> list[tuple[tuple[int, int], Posting]]:
    """The band hashes of a batch as one chunk per (band, partition of that band's hash).

    Few elements instead of one per band per document: a chunk is three bytes objects (band
    hashes, node key lengths, node keys), which Beam's coder copies and the runner holds as three
    objects whatever the number of postings in it; documents without shingles take no part.
    """
    rows = np.flatnonzero(has_shingles(sigs))
    hashes = band_hashes(sigs[rows], config)
    keys = [nodes[r] for r in rows.tolist()]
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    blob = np.frombuffer(b"".join(keys), dtype=np.uint8)
    offsets = np.cumsum(lengths) - lengths
    out = []
    for band in range(hashes.shape[1]):
        partition = (hashes[:, band] % np.uint64(partitions or config.partitions)).astype(np.int64)
        order = np.argsort(partition, kind="stable")
        partition, band_hash, size = partition[order], hashes[order, band].astype("<u8"), lengths[order]
        ordered_keys = blob[_ranges(offsets[order], size)]
        key_end = np.cumsum(size)
        starts = np.flatnonzero(np.diff(partition, prepend=-1))
        stops = np.append(starts[1:], len(partition))
        for part, lo, hi, byte_lo, byte_hi in zip(partition[starts].tolist(), starts.tolist(), stops.tolist(),
                                                  (key_end[starts] - size[starts]).tolist(),
                                                  key_end[stops - 1].tolist()):
            out.append(((band, part), (band_hash[lo:hi].tobytes(), size[lo:hi].astype("<u4").tobytes(),
                                       ordered_keys[byte_lo:byte_hi].tobytes())))
    return out


def bucket_pairs(postings: Iterable[Posting], config: MinHashConfig) -> list[Pair]:
    """Candidate pairs (better rank first) of the LSH buckets in one band's partition.

    A bucket of up to ``bucket_fanout + 1`` members yields all its pairs, a larger one pairs each
    member with its ``bucket_fanout`` best-ranked members: those are where clustering keeps
    documents, and it caps the pairs of a bucket of many near-copies at ``members x bucket_fanout``.
    Node keys are cut out of the chunks only for the members of buckets of two or more.
    """
    postings = list(postings)
    hashes = np.frombuffer(b"".join(p[0] for p in postings), dtype="<u8")
    if not len(hashes):
        return []
    lengths = np.frombuffer(b"".join(p[1] for p in postings), dtype="<u4").astype(np.int64)
    blob = b"".join(p[2] for p in postings)
    key_end = np.cumsum(lengths)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.flatnonzero(np.append(True, ordered[1:] != ordered[:-1]))
    sizes = np.diff(np.append(starts, len(ordered)))
    members = order[_ranges(starts[sizes > 1], sizes[sizes > 1])].tolist()
    nodes = {r: blob[e - n:e] for r, e, n in zip(members, key_end[members].tolist(), lengths[members].tolist())}
    twins = starts[sizes == 2]
    better, later = _large_bucket_pairs(order, starts[sizes > 2], sizes[sizes > 2], nodes, config.bucket_fanout)
    first = np.concatenate((order[twins], better)).tolist()
    second = np.concatenate((order[twins + 1], later)).tolist()
    ones, others = map(nodes.__getitem__, first), map(nodes.__getitem__, second)
    return [(a, b) if a < b else (b, a) for a, b in zip(ones, others) if a != b]


def _large_bucket_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, nodes: Mapping[int, NodeKey],
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


def band_pairs(kv: tuple[tuple[int, int], Iterable[Posting]], config: MinHashConfig) -> list[tuple[Pair, int]]:
    """One (band, partition) group -> its candidate pairs, each with the bit of the band that found it."""
    (band, _), postings = kv
    return [(pair, 1 << band) for pair in bucket_pairs(postings, config)]


def either_band(found: Iterable[int]) -> int:
    """The bands that found a pair, as one bit mask (near copies share several bands)."""
    return reduce(or_, found, 0)


def found_first(sigs_a: np.ndarray, sigs_b: np.ndarray, found: list[int], config: MinHashConfig) -> np.ndarray:
    """Per pair: was it found by the first band its two documents share (``found``: bit b set when band b
    found it)? Near copies share several bands, and each band that put them in one bucket may have paired
    them or, in a bucket larger than the fan-out, not: the pair counts as found by its first shared band
    alone, whatever the bands' order of arrival (a pair left out there is not tried again in a later band:
    the fan-out can only cost recall, never precision)."""
    first = (band_hashes(sigs_a, config) == band_hashes(sigs_b, config)).argmax(axis=1)
    return np.array([(bands >> b) & 1 == 1 for bands, b in zip(found, first.tolist())], dtype=bool)


def verify_pairs(pairs: list[Pair], sigs_a: np.ndarray, sigs_b: np.ndarray,
                 config: MinHashConfig) -> list[tuple[NodeKey, NodeKey, float]]:
    """(a, b, estimated Jaccard) of the pairs that pass verification (all of them with ``verify`` off)."""
    jaccard = estimated_jaccards(sigs_a, sigs_b)
    passed = jaccard >= config.threshold if config.verify else np.ones(len(pairs), dtype=bool)
    return [(a, b, j) for (a, b), j, ok in zip(pairs, jaccard.tolist(), passed.tolist()) if ok]


def star_clusters(edges: Iterable[tuple[NodeKey, NodeKey, float]]) -> list[tuple[NodeKey, NodeKey, float]]:
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


def _greedy_removals(nodes: list[NodeKey], lo: np.ndarray, hi: np.ndarray) -> list[bool]:
    """Removed?, per node in rank order: a new node with an edge to a better-ranked kept node.

    Edges are walked by their worse-ranked end, so each node's better neighbours are decided first.
    """
    removed = [False] * len(nodes)
    new = [not is_published(node) for node in nodes]
    by_hi = np.argsort(hi, kind="stable")
    for better, worse in zip(lo[by_hi].tolist(), hi[by_hi].tolist()):
        if new[worse] and not removed[better]:
            removed[worse] = True
    return removed


def _sig(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<u4")


def sign_requests(kv: tuple[NodeKey, Iterable[Any]]) -> Iterator[Any]:
    """One node's signature (bytes) sent to each of its candidate pairs (requests are tuples):
    (pair, (side, signature, bands)), side 0 for the better-ranked document, bit b of ``bands`` set when
    band b found the pair; and, tagged ``signatures``, (node, (1, signature)) of a new document for the
    join with its key record. A node without a signature (impossible in a consistent run) sends none."""
    node, values = kv
    sig: bytes | None = None
    found: dict[tuple[NodeKey, int], int] = {}
    for v in values:
        if isinstance(v, bytes):
            sig = v
        else:
            other, bands, side = v
            found[other, side] = found.get((other, side), 0) | bands
    if sig is None:
        return
    if not is_published(node):
        yield beam.pvalue.TaggedOutput("signatures", (node, (1, sig)))
    for (other, side), bands in found.items():
        yield ((node, other) if side == 0 else (other, node)), (side, sig, bands)


def ask_both_nodes(found: tuple[Pair, int]) -> list[tuple[NodeKey, tuple[NodeKey, int, int]]]:
    """A candidate pair and its bands as a request to each of its nodes: (node, (the other, bands, its side))."""
    (a, b), bands = found
    return [(a, (b, bands, 0)), (b, (a, bands, 1))]


def _pair_signatures(kv: tuple[Pair, Iterable[tuple[int, bytes, int]]]) -> tuple[Pair, bytes, bytes, int]:
    pair, sides = kv
    by_side = {side: (sig, bands) for side, sig, bands in sides}
    return pair, by_side[0][0], by_side[1][0], by_side[0][1]


class WithSignatures(beam.PTransform):
    """(pair, bands that found it) -> {"pairs": (pair, signature of a, signature of b, bands that found it),
    "signatures": (node, (1, signature)) of every new document}.

    Each pair asks both its nodes for their signature (one join by node: a GroupByKey of signatures and
    requests, told apart by type), and the two
    answers meet by pair (one GroupByKey). The join also hands every new document's signature on, so
    that the join with the key records gets it only now, after the band groups are gone."""

    def __init__(self, sigs):
        super().__init__()
        self.sigs = sigs

    def expand(self, pairs):
        requests = pairs | "AskBothNodes" >> beam.FlatMap(ask_both_nodes)
        sent = ((self.sigs, requests)
                | "SigsAndRequests" >> beam.Flatten()
                | "JoinByNode" >> beam.GroupByKey()
                | "SendSignatures" >> beam.FlatMap(sign_requests).with_outputs("signatures", main="pairs"))
        both = (sent.pairs
                | "GroupByPair" >> beam.GroupByKey()
                | "BothSignatures" >> beam.Map(_pair_signatures))
        return {"pairs": both, "signatures": sent.signatures}


POSTINGS_PER_GROUP = 5_000


def band_partitions(documents: int, config: MinHashConfig) -> int:
    """Partitions per band: ``config.partitions``, more for a corpus whose groups would hold more than
    ``POSTINGS_PER_GROUP`` postings. A bucket lies in one partition whatever their number, so the
    pairs do not depend on it; the groups stay bounded whatever the corpus."""
    return max(config.partitions, -(-documents // POSTINGS_PER_GROUP))


def _postings(batch: list[tuple[NodeKey, bytes]], config: MinHashConfig, documents: int):
    return band_postings([n for n, _ in batch], np.stack([_sig(s) for _, s in batch]), config,
                         band_partitions(documents, config))


def _verify(batch: list[tuple[Pair, bytes, bytes, int]], config: MinHashConfig):
    sigs_a, sigs_b = np.stack([_sig(a) for _, a, _, _ in batch]), np.stack([_sig(b) for _, _, b, _ in batch])
    first = found_first(sigs_a, sigs_b, [bands for *_, bands in batch], config)
    pairs = [p for (p, *_), ok in zip(batch, first.tolist()) if ok]
    return verify_pairs(pairs, sigs_a[first], sigs_b[first], config)


def removal_info(kept: NodeKey, jaccard: float, parents: list[str]) -> dict[str, Any]:
    (flag, index, doc_id, _), uid = node_of(kept)
    info = {"duplicate_of": doc_id, "duplicate_of_uid": uid, "jaccard": round(jaccard, 4)}
    if flag == 0:
        info["duplicate_of_version"] = parents[index]
    return info


def bands_rows(kept: list[Key], config: MinHashConfig) -> list[dict[str, Any]]:
    """Rows of the version's bands table (what a later run dedups against) for a batch of kept
    documents: one vectorised ``band_hashes`` call instead of one per document."""
    hashes = band_hashes(np.stack([_sig(k[5]) for k in kept]), config).tolist()
    return [{"id": k[0][0][2], "source": k[1], "_uid": k[0][1], "signature": k[5], "bands": h}
            for k, h in zip(kept, hashes)]


def key_without_signature(key: Key) -> tuple[NodeKey, tuple[int, bytes]]:
    """(node key, (0, the key record without its signature, pickled)): what the join with the removals
    holds from the start, one small bytes object; the signature joins it later (``sign_requests``)."""
    return node_key(key[0]), (0, pickle.dumps(key[:5], protocol=pickle.HIGHEST_PROTOCOL))


def split_near(kv):
    """One node's key record without signature, its signature (tagged tuples) and its removal info (a dict),
    if any -> kept key or removed row."""
    _, values = kv
    info, sig, keys = None, b"", []
    for v in values:
        if isinstance(v, dict):
            info = v
        elif v[0] == 0:
            keys.append(v[1])
        else:
            sig = v[1]
    for packed in keys:
        key = (*pickle.loads(packed), sig)
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
        nodes = keys | "NodeAndSig" >> beam.Map(lambda k: (node_key(k[0]), k[5]))
        if self.published is not None:
            published = self.published | "PublishedNodeKeys" >> beam.Map(lambda ns: (node_key(ns[0]), ns[1]))
            nodes = (nodes, published) | "WithPublished" >> beam.Flatten()
        pairs = (nodes
                 | "BatchForBands" >> beam.BatchElements(min_batch_size=BAND_BATCH, max_batch_size=BAND_BATCH)
                 | "BandPostings" >> beam.FlatMap(_postings, config, beam.pvalue.AsSingleton(
                     nodes | "CountNodes" >> beam.combiners.Count.Globally()))
                 | "GroupByBand" >> beam.GroupByKey()
                 | "BucketPairs" >> beam.FlatMap(band_pairs, config)
                 | "BandsPerPair" >> beam.CombinePerKey(either_band))
        signed = pairs | "PairSignatures" >> WithSignatures(nodes)
        removals = (signed["pairs"]
                    | "BatchForVerify" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                    | "Verify" >> beam.FlatMap(_verify, config)
                    | "StarClusters" >> StarClusters()
                    | "Info" >> beam.Map(lambda e: (e[1], removal_info(e[0], e[2], parents))))
        split = ((keys | "KeyByNode" >> beam.Map(key_without_signature), signed["signatures"], removals)
                 | "KeysSignaturesAndRemovals" >> beam.Flatten()
                 | "JoinRemovals" >> beam.GroupByKey()
                 | "Split" >> beam.FlatMap(split_near).with_outputs("kept", "removed"))
        bands = (split.kept
                 | "BatchForBandsTable" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                 | "BandsRows" >> beam.FlatMap(bands_rows, config))
        return {"kept": split.kept, "removed": split.removed, "bands": bands}

    def describe(self) -> dict[str, Any]:
        return self.config.describe()
