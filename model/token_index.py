"""Token counts of every document of a version for one tokenizer: the index that makes positions cheap.

With each document's length known, any position of the packed stream maps to the documents that
cover it by a binary search, so a worker tokenizes only what it serves and a resumed run jumps
straight to its next sample. The index is built once per (version, tokenizer), by one pass of
tokenization, and kept as a ``token-lengths`` artifact of the version (or in the reader's local cache
for remote lakes and local ones that cannot be written); it holds lengths only, never tokens, so it is
no second copy of the data.
An index found in the lake is checked against its ``artifact.json`` (size, sha256) before use:
wrong lengths would silently shift every packed sample.
"""
from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from catalog.lake import READ_ONLY_ERRNOS
from model.shard_reader import ShardReader, Version

KIND = "token-lengths"
BATCH = 1024


def count_tokens(reader: ShardReader, tok: Tokenizer, progress: bool = True) -> np.ndarray:
    """Tokens per document (without the end-of-document token), in manifest shard order."""
    shards = reader.version.shards
    lengths: list[int] = []
    bar = tqdm(total=sum(s["rows"] for s in shards), unit="doc", unit_scale=True, desc="token index",
               disable=not progress, file=sys.stderr)
    for i, entry in enumerate(shards):
        texts = reader.table(i).column("text")
        for start in range(0, entry["rows"], BATCH):
            batch = texts.slice(start, BATCH).to_pylist()
            lengths.extend(len(e.ids) for e in tok.encode_batch_fast(batch, add_special_tokens=False))
            bar.update(len(batch))
    bar.close()
    return np.asarray(lengths, dtype=np.int32)


def _store(path: Path, lengths: np.ndarray) -> None:
    """Save an index into the reader's local cache (remote and read-only lakes), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{uuid.uuid4().hex}.npy")
    np.save(tmp, lengths)
    tmp.replace(path)


def load_or_build(lake: str, version: Version, reader: ShardReader, tok: Tokenizer, tokenizer_sha256: str,
                  progress: bool = True) -> np.ndarray:
    """The version's token index for this tokenizer, building and storing it on first use.

    Stored as an artifact of a local version; in the reader's cache for a remote lake, and for a
    local lake that cannot be written (a read-only mount, no permission), so such a lake trains
    like a remote one instead of failing after the whole tokenization pass.
    """
    total = sum(s["rows"] for s in version.shards)
    cache = reader.cache_dir / "token-lengths" / f"{version.manifest_sha256[:16]}-{tokenizer_sha256[:16]}.npy"
    if version.is_remote:
        if not cache.is_file():
            _store(cache, count_tokens(reader, tok, progress))
        lengths = np.load(cache)
    else:
        from catalog.artifacts import attach_artifact, find_artifact, verified

        record = find_artifact(lake, version.spec, KIND, tokenizer_sha256=tokenizer_sha256)
        if record is None and cache.is_file():  # built before, while the lake was read-only
            lengths = np.load(cache)
        elif record is None:
            built_lengths = count_tokens(reader, tok, progress)
            with tempfile.TemporaryDirectory() as tmp_dir:
                built = Path(tmp_dir) / "lengths.npy"
                np.save(built, built_lengths)
                try:
                    record = attach_artifact(lake, version.spec, built, KIND,
                                             {"tokenizer_sha256": tokenizer_sha256, "docs": total,
                                              "manifest_sha256": version.manifest_sha256})
                except OSError as e:
                    if e.errno not in READ_ONLY_ERRNOS:
                        raise
                    print(f"token index: {lake} is read-only ({e.strerror}); keeping the index in {cache}",
                          file=sys.stderr)
                    _store(cache, built_lengths)
            lengths = built_lengths
        if record is not None:
            verified(record, f"token index of {version.spec} for tokenizer {tokenizer_sha256[:12]}…:")
            lengths = np.load(record["path"])
    if len(lengths) != total:
        raise ValueError(f"token index of {version.spec} has {len(lengths)} entries for {total} documents")
    return lengths
