"""Tokens per second of the packed stream against a naive reader, in the same run and process.

The naive baseline reads the same documents in the same order, row by row with pyarrow, and
encodes one document at a time with the same tokenizer, packing into the same sequence length. Both are timed over
the same number of tokens, after the tokenizer and the token index exist (built first, timed
apart, as a training run would find them ready).

    python benchmarks/stream_bench.py                      # a sample lake from ../shared/data
    python benchmarks/stream_bench.py --lake L --dataset NAME@v3 --tokenizer tok.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.data import PackedStream, StreamConfig  # noqa: E402
from model.sample_lake import synthetic_records, write_version  # noqa: E402
from model.shards import ShardReader, open_version  # noqa: E402
from model.token_index import count_tokens  # noqa: E402
from model.tokenizer import language_sample, load_tokenizer, train_tokenizer  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def sample_lake(root: Path, vocab: int) -> tuple[str, str, str]:
    """A lake from the shared multilingual samples (synthetic text when they are absent) and a tokenizer."""
    files = sorted(SHARED.glob("debian-*/*.jsonl"))
    records = [json.loads(line) for f in files for line in f.open(encoding="utf-8")]
    if not records:
        records = synthetic_records(20_000, {"eng": "etaoinshrdlu", "rus": "оеаинтсрвл", "ell": "αβγδεζηθ"})
    write_version(root, "bench", records, rows_per_shard=2000)
    version = open_version(str(root), "bench")
    budgets, texts = language_sample(version, ShardReader(version, root / "cache"), 0.3, 3_000_000, 0)
    tok = train_tokenizer(texts, vocab, sum(budgets.values()))
    tok.save(str(root / "tok.json"))
    return str(root), "bench", str(root / "tok.json")


def naive_tokens(stream: PackedStream, tok, seq_len: int, want: int) -> tuple[int, float]:
    """The same documents in the same order, read row by row with pyarrow and encoded one at a time."""
    version, eod = stream.version, stream.eod_id
    start, produced, buffer, tables = time.perf_counter(), 0, [], {}
    for doc in stream.epoch_docs(0):
        shard = int(np.searchsorted(stream.shard_start, doc, side="right")) - 1
        if shard not in tables:
            path = str(Path(version.base) / version.shards[shard]["path"])
            tables[shard] = pa.ipc.open_file(pa.memory_map(path)).read_all()
        text = tables[shard].column("text")[int(doc - stream.shard_start[shard])].as_py()
        buffer.extend(tok.encode(text, add_special_tokens=False).ids)
        buffer.append(eod)
        while len(buffer) >= seq_len + 1:
            produced += seq_len + 1
            buffer = buffer[seq_len + 1:]
        if produced >= want:
            break
    return produced, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Packed-stream throughput against a naive row-by-row reader.")
    p.add_argument("--lake", help="lake root (default: build a sample lake in a temp dir)")
    p.add_argument("--dataset", help="NAME[@vN] in --lake")
    p.add_argument("--tokenizer", help="tokenizer.json (required with --lake)")
    p.add_argument("--vocab-size", type=int, default=16000, help="vocab of the sample lake's tokenizer")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=3_000_000, help="tokens to time each reader over")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.lake:
            lake, spec, tok_path = args.lake, args.dataset, args.tokenizer
        else:
            print("building a sample lake and tokenizer (not timed)…", file=sys.stderr)
            lake, spec, tok_path = sample_lake(Path(tmp), args.vocab_size)
        version = open_version(lake, spec)
        tok, _ = load_tokenizer(tok_path)
        t = time.perf_counter()
        index_tokens = int(count_tokens(ShardReader(version, Path(tmp) / "cache"), tok, progress=False).sum())
        index_s = time.perf_counter() - t
        stream = PackedStream(lake, spec, tok_path, StreamConfig(seq_len=args.seq_len, micro_batch=args.micro_batch,
                                                                 alpha=1.0, cache_dir=str(Path(tmp) / "cache")))
        batches = max(1, args.tokens // (args.seq_len * args.micro_batch))
        next(iter(stream))  # shard verification and epoch plan happen once; a long run amortises them
        t = time.perf_counter()
        produced = sum(int(b["input_ids"].numel()) + args.micro_batch for b in itertools.islice(iter(stream), batches))
        stream_s = time.perf_counter() - t
        naive, naive_s = naive_tokens(stream, tok, args.seq_len, produced)

    stream_tps, naive_tps = produced / stream_s, naive / naive_s
    print(f"version      {version.spec}: {sum(s['rows'] for s in version.shards):,} docs, "
          f"{len(version.manifest['languages'])} languages, vocab {tok.get_vocab_size():,}")
    print(f"token index  {index_tokens:,} tokens in {index_s:.1f}s ({index_tokens / index_s:,.0f} tokens/s, once "
          f"per version and tokenizer)")
    print(f"stream       {stream_tps:>12,.0f} tokens/s per process  ({produced:,} tokens, seq {args.seq_len}, "
          f"micro-batch {args.micro_batch})")
    print(f"naive        {naive_tps:>12,.0f} tokens/s per process  (pyarrow row by row, one encode per doc)")
    print(f"ratio        {stream_tps / naive_tps:.2f}x   target: >= 1,000,000 tokens/s or >= 3x: "
          f"{'met' if stream_tps >= 1e6 or stream_tps >= 3 * naive_tps else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
