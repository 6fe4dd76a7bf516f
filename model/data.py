"""A resumable, exactly-once stream of packed token sequences over a catalog version.

The stream is one global sequence of samples, a pure function of (manifest, tokenizer, seed,
epoch): each epoch takes ``k_l`` documents of every language ``l`` (``k_l`` chosen so the
language's share of tokens meets its target weight; with alpha 1 and no explicit weights
``k_l`` is the language's document count, so every document appears exactly once), interleaves
them in a seeded random order, appends an end-of-document token to each, concatenates them and
cuts the result into samples of ``seq_len + 1`` tokens (the last one padded).

Micro-batch ``j`` is samples ``[start + j*b, start + (j+1)*b)``. Rank ``r`` of ``R`` serves the
micro-batches ``j = k*R + r`` and its DataLoader worker ``w`` of ``W`` serves ``k % W == w``, which
is the order a DataLoader hands them out. After ``n`` optimizer micro-steps the world has consumed
exactly the prefix up to ``start + n*R*b``, so the stream's whole state is that one position: a
run resumes at its next sample with any number of ranks and workers. The token index (per-document
token counts) turns a position into the documents that cover it by binary search, so serving or
skipping to a position tokenizes only the documents it needs.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from model.mixing import alpha_weights, normalise_weights, with_code_share
from model.shard_reader import ShardReader, Version, open_version
from model.token_index import load_or_build
from model.tokenizer import load_tokenizer, special_ids

IGNORE = -100
CACHE_TOKENS = 4_000_000
READ_AHEAD = 16  # micro-batches a worker encodes per tokenizer call (at most a quarter of the LRU)
_HOLDOUT_SALT = np.uint64(0x5EED_1DEA_F00D_CAFE)


@dataclass(frozen=True)
class StreamConfig:
    """What defines the stream; any change gives a different sample order."""

    seq_len: int
    micro_batch: int
    seed: int = 0
    alpha: float = 1.0
    weights: dict[str, float] | None = None
    code_share: float | None = None  # programming languages' share of the mix (model.mixing.with_code_share)
    holdout: float = 0.0
    cache_dir: str | None = None
    return_ids: bool = False


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def held_out(n_docs: int, fraction: float) -> np.ndarray:
    """A fixed pseudo-random subset of documents for evaluation, the same for every seed and run."""
    if fraction <= 0:
        return np.zeros(n_docs, dtype=bool)
    with np.errstate(over="ignore"):
        mixed = (np.arange(n_docs, dtype=np.uint64) + _HOLDOUT_SALT) * np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(29)
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53) < fraction


class PackedStream(IterableDataset):
    """Micro-batches of packed sequences from a catalog version; see the module docstring."""

    def __init__(self, lake: str, spec: str, tokenizer_path: str, config: StreamConfig, *,
                 rank: int | None = None, world_size: int | None = None,
                 expect_tokenizer_sha256: str | None = None, expect_manifest_sha256: str | None = None,
                 progress: bool = False):
        super().__init__()
        self.config = config
        self.version: Version = open_version(lake, spec)
        if expect_manifest_sha256 and self.version.manifest_sha256 != expect_manifest_sha256:
            raise ValueError(f"{self.version.spec} has manifest sha256 {self.version.manifest_sha256[:12]}…, "
                             f"the run was recorded on {expect_manifest_sha256[:12]}…: pass the same dataset version")
        tok, self.tokenizer_sha256 = load_tokenizer(tokenizer_path, expect_tokenizer_sha256)
        self.eod_id, self.pad_id = special_ids(tok)
        self.reader = ShardReader(self.version, config.cache_dir)
        lengths = load_or_build(lake, self.version, self.reader, tok, self.tokenizer_sha256, progress)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank = torch.distributed.get_rank() if rank is None else rank
            world_size = torch.distributed.get_world_size() if world_size is None else world_size
        self.rank, self.world_size = rank or 0, world_size or 1
        self.position = 0
        self._tok = tok
        self._plan(lengths)
        self.reader.verify(self.plan_shards())  # before step 0: a bad shard must not surface at step 40
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._encoded: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached_tokens = 0
        self._epoch_starts = [0]

    def _plan(self, lengths: np.ndarray) -> None:
        """Per-language document lists, target token shares and documents per epoch ``k_l``."""
        shards = self.version.shards
        rows = np.array([s["rows"] for s in shards], dtype=np.int64)
        self.shard_start = np.concatenate([[0], np.cumsum(rows)])
        self.langs = sorted({s["lang"] for s in shards if s["rows"]})
        lang_of_shard = np.array([self.langs.index(s["lang"]) if s["rows"] else -1 for s in shards])
        self.doc_lang = np.repeat(lang_of_shard, rows)
        self.doc_tokens = lengths.astype(np.int64) + 1
        self.eval_mask = held_out(len(lengths), self.config.holdout)
        self.lang_docs = [np.flatnonzero((self.doc_lang == i) & ~self.eval_mask) for i in range(len(self.langs))]
        tokens = {lang: int(self.doc_tokens[d].sum()) for lang, d in zip(self.langs, self.lang_docs) if len(d)}
        if self.config.weights:
            self.targets = normalise_weights(self.config.weights, set(tokens))
        else:
            self.targets = alpha_weights(tokens, self.config.alpha)
        if self.config.code_share is not None:
            self.targets = with_code_share(self.targets, self.config.code_share)
        natural = not self.config.weights and self.config.alpha == 1.0 and self.config.code_share is None
        total = sum(tokens.values())
        self.per_epoch = np.zeros(len(self.langs), dtype=np.int64)
        for i, lang in enumerate(self.langs):
            if lang in self.targets:
                n = len(self.lang_docs[i])
                self.per_epoch[i] = n if natural else max(1, round(self.targets[lang] * total * n / tokens[lang]))

    def plan_shards(self) -> list[int]:
        """Indices of the shards the stream can read: its languages' (every language's when some are held out)."""
        wanted = set(self.langs) if self.config.holdout > 0 else set(self.targets)
        return [i for i, s in enumerate(self.version.shards) if s["rows"] and s["lang"] in wanted]

    def epoch_docs(self, epoch: int) -> np.ndarray:
        """Document indices of an epoch in stream order (each language cycles through its own shuffles)."""
        parts = []
        for i, k in enumerate(self.per_epoch):
            docs = self.lang_docs[i]
            n = len(docs)
            if not k:
                continue
            first, last = epoch * k, (epoch + 1) * k
            for cycle in range(first // n, (last - 1) // n + 1):
                perm = _rng(self.config.seed, 1, i, cycle).permutation(n)
                lo, hi = max(first - cycle * n, 0), min(last - cycle * n, n)
                parts.append(docs[perm[lo:hi]])
        order = np.concatenate(parts)
        return order[_rng(self.config.seed, 2, epoch).permutation(len(order))]

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(documents, their start and end offsets in tokens) of an epoch, computed once per process."""
        if epoch not in self._epochs:
            if len(self._epochs) > 2:
                self._epochs.pop(min(self._epochs))
            docs = self.epoch_docs(epoch)
            ends = np.cumsum(self.doc_tokens[docs])
            self._epochs[epoch] = (docs, ends - self.doc_tokens[docs], ends)
        return self._epochs[epoch]

    def samples_in_epoch(self, epoch: int) -> int:
        ends = self._epoch(epoch)[2]
        return -(-int(ends[-1]) // (self.config.seq_len + 1))

    def locate(self, position: int) -> tuple[int, int]:
        """(epoch, sample index within it) of a global sample position."""
        while self._epoch_starts[-1] <= position:
            self._epoch_starts.append(self._epoch_starts[-1] + self.samples_in_epoch(len(self._epoch_starts) - 1))
        epoch = int(np.searchsorted(self._epoch_starts, position, side="right")) - 1
        return epoch, position - self._epoch_starts[epoch]

    def _texts(self, docs: np.ndarray, column: str = "text") -> list[str]:
        shard = np.searchsorted(self.shard_start, docs, side="right") - 1
        out: list[str] = [""] * len(docs)
        for s in np.unique(shard):
            where = np.flatnonzero(shard == s)
            for k, value in zip(where, self.reader.column(int(s), docs[where] - self.shard_start[s], column)):
                out[k] = value
        return out

    def _fill(self, docs: np.ndarray) -> None:
        """Encode the documents the LRU lacks, each followed by the end-of-document token.

        They go to the tokenizer in one ``encode_batch_fast`` call, which spreads them over its
        threads and skips the character offsets the stream never reads. The LRU keeps a document
        that spans several micro-batches, or was read ahead, from being encoded again.
        """
        cache = self._encoded
        missing = np.array([d for d in dict.fromkeys(docs.tolist()) if d not in cache], dtype=np.int64)
        if len(missing):
            encoded = self._tok.encode_batch_fast(self._texts(missing), add_special_tokens=False)
            for doc, enc in zip(missing.tolist(), encoded):
                ids = np.asarray(enc.ids + [self.eod_id], dtype=np.int32)
                if len(ids) != self.doc_tokens[doc]:
                    raise ValueError(f"document {doc} encodes to {len(ids) - 1} tokens but the token index says "
                                     f"{self.doc_tokens[doc] - 1}: the index was built with another tokenizer")
                cache[doc] = ids
                self._cached_tokens += len(ids)
        for d in docs.tolist():
            cache.move_to_end(d)
        while self._cached_tokens > CACHE_TOKENS and len(cache) > len(docs):
            self._cached_tokens -= len(cache.popitem(last=False)[1])

    def _encode(self, docs: np.ndarray) -> np.ndarray:
        """Token ids of documents, each followed by the end-of-document token, concatenated."""
        self._fill(docs)
        if not len(docs):
            return np.zeros(0, np.int64)
        return np.concatenate([self._encoded[d] for d in docs.tolist()]).astype(np.int64)

    def _covering(self, epoch: int, first: int, count: int) -> tuple[int, int]:
        """The range ``[j0, j1)`` of an epoch's documents that samples ``first .. first+count-1`` touch."""
        _, starts, ends = self._epoch(epoch)
        size = self.config.seq_len + 1
        j0 = int(np.searchsorted(ends, first * size, side="right"))
        return j0, int(np.searchsorted(starts, (first + count) * size, side="left"))

    def _span(self, epoch: int, first: int, count: int) -> dict[str, Any]:
        """Samples ``first .. first+count-1`` of an epoch, tokenizing only the documents they touch."""
        docs, starts, ends = self._epoch(epoch)
        size = self.config.seq_len + 1
        a, z = first * size, (first + count) * size
        j0, j1 = self._covering(epoch, first, count)
        tokens = self._encode(docs[j0:j1])
        offset = a - (int(starts[j0]) if j0 < len(docs) else a)
        tokens = tokens[offset:offset + z - a]
        flat = np.full(count * size, self.pad_id, np.int64)
        flat[:len(tokens)] = tokens
        ids = flat.reshape(count, size)
        labels = ids.copy()
        labels.reshape(-1)[len(tokens):] = IGNORE
        in_window = np.minimum(ends[j0:j1], z) - np.maximum(starts[j0:j1], a)
        lang_tokens = np.bincount(self.doc_lang[docs[j0:j1]], weights=in_window, minlength=len(self.langs))
        out = {"input_ids": ids[:, :-1], "labels": labels[:, 1:], "lang_tokens": lang_tokens.astype(np.int64)}
        if self.config.return_ids:
            owner = (starts[j0:j1] - a) // size
            names = self._texts(docs[j0:j1], "id")
            out["doc_ids"] = [[n for n, o in zip(names, owner) if o == s] for s in range(count)]
        return out

    def _parts(self, position: int) -> Iterator[tuple[int, int, int]]:
        """(epoch, first sample, count) pieces of the micro-batch at a position (it may straddle two epochs)."""
        left, pos = self.config.micro_batch, position
        while left:
            epoch, index = self.locate(pos)
            take = min(left, self.samples_in_epoch(epoch) - index)
            yield epoch, index, take
            left, pos = left - take, pos + take

    def _read_ahead(self, positions: list[int]) -> None:
        """Encode the documents of several upcoming micro-batches in one call.

        A micro-batch alone holds a few dozen documents of very uneven length, too few to keep the
        tokenizer's threads busy to the end of the call; a few hundred balance them.
        """
        docs = [self._epoch(e)[0][slice(*self._covering(e, i, n))] for p in positions for e, i, n in self._parts(p)]
        self._fill(np.concatenate(docs))

    def batch_at(self, position: int) -> dict[str, Any]:
        """The micro-batch starting at a global sample position."""
        parts = [self._span(*part) for part in self._parts(position)]
        batch: dict[str, Any] = {
            "input_ids": torch.from_numpy(np.concatenate([p["input_ids"] for p in parts])),
            "labels": torch.from_numpy(np.concatenate([p["labels"] for p in parts])),
            "lang_tokens": torch.from_numpy(sum(p["lang_tokens"] for p in parts)),
            "position": position,
            "epoch": self.locate(position)[0],
        }
        if self.config.return_ids:
            batch["doc_ids"] = [ids for p in parts for ids in p["doc_ids"]]
        return batch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        b, ranks, start = self.config.micro_batch, self.world_size, self.position
        ahead = max(1, min(READ_AHEAD, CACHE_TOKENS // 4 // (b * (self.config.seq_len + 1))))
        k = worker
        while True:
            steps = [k + i * workers for i in range(ahead)]
            self._read_ahead([start + (j * ranks + self.rank) * b for j in steps])
            for j in steps:
                batch = self.batch_at(start + (j * ranks + self.rank) * b)
                batch["next_position"] = start + (j + 1) * ranks * b
                yield batch
            k += ahead * workers

    def mark_consumed(self, batch: dict[str, Any]) -> None:
        """Record that the world consumed the step ``batch`` belongs to (call on every rank)."""
        self.position = int(batch["next_position"])

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "seed": self.config.seed, "seq_len": self.config.seq_len,
                "targets": self.targets, "holdout": self.config.holdout, "dataset": self.version.spec,
                "manifest_sha256": self.version.manifest_sha256, "tokenizer_sha256": self.tokenizer_sha256}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue at the saved position; refuse a state that describes a different stream."""
        mine = self.state_dict()
        for key in ("manifest_sha256", "tokenizer_sha256", "seed", "seq_len", "holdout", "targets"):
            if state[key] != mine[key]:
                raise ValueError(f"stream state does not match this stream: {key} is {str(state[key])[:40]!r} "
                                 f"in the state, {str(mine[key])[:40]!r} here")
        self.position = int(state["position"])
        self._epoch_starts = [0]

    def eval_batches(self, samples_per_lang: int) -> dict[str, dict[str, torch.Tensor]]:
        """Packed held-out samples per language, for a per-language evaluation loss."""
        size, out = self.config.seq_len + 1, {}
        for i, lang in enumerate(self.langs):
            docs = np.flatnonzero(self.eval_mask & (self.doc_lang == i))
            need = samples_per_lang * size
            keep = docs[: int(np.searchsorted(np.cumsum(self.doc_tokens[docs]), need)) + 1]
            if not len(keep):
                continue
            tokens = self._encode(keep)[:need]
            count = -(-len(tokens) // size)
            short = count * size - len(tokens)
            ids = np.concatenate([tokens, np.full(short, self.pad_id, np.int64)]).reshape(count, size)
            valid = (np.arange(count * size) < len(tokens)).reshape(count, size)
            out[lang] = {"input_ids": torch.from_numpy(ids[:, :-1]),
                         "labels": torch.from_numpy(np.where(valid, ids, IGNORE)[:, 1:])}
        return out

    def describe_mix(self, realised: np.ndarray) -> dict[str, dict[str, float]]:
        """Target versus realised token shares per language, for the training log."""
        total = max(int(realised.sum()), 1)
        return {lang: {"target": round(self.targets.get(lang, 0.0), 5), "realised": round(int(realised[i]) / total, 5)}
                for i, lang in enumerate(self.langs)}
