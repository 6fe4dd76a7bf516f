"""Tokens per second of the packed stream against a naive reader, in the same run and process.

The naive baseline reads the same documents in the same order, row by row with pyarrow, and
encodes one document at a time with the same tokenizer, packing into the same sequence length.
The stream is ``PackedStream`` itself, iterated as a training DataLoader worker iterates it, once
with the tokenizer's threads (all cores, its default) and once with one thread, so its gain per
core reads apart from its use of more cores. Every reader starts from a freshly loaded tokenizer
(BPE word cache empty) and is warmed up on the epoch's last documents (outside the timed ones),
then timed over the same tokens in the order naive, stream, stream on one thread, naive, so drift
on a shared machine shows as a gap between the two baselines. Each line gives wall-clock tokens/s
of the process and the cores it kept busy (CPU seconds over wall seconds): on a shared machine a
multi-threaded reader gets fewer cores than it asks for. The token index is built first, by a
stream of its own, and timed apart: a training run builds it once per version and tokenizer and
finds it ready afterwards, as the timed streams do.

The memory allocator matters to HF ``tokenizers``, which allocates per word and per token; the
first line names the one in use. Like ``python -m model.train``, the benchmark restarts itself on
mimalloc when the ``train`` extra installed it (``model.allocator``), for both readers alike;
``LAKE_ALLOCATOR=system python -m benchmarks.stream_bench`` measures glibc's malloc.

    python -m benchmarks.stream_bench                      # a sample lake from ../shared/data
    python -m benchmarks.stream_bench --lake L --dataset NAME@v3 --tokenizer tok.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.results import add_record_argument, command_line, record  # noqa: E402
from model.allocator import current_allocator, exec_with_mimalloc  # noqa: E402

if __name__ == "__main__":
    exec_with_mimalloc()  # before the heavy imports, which the restart would load again

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from benchmarks import SHARED_DATA  # noqa: E402
from model.data import PackedStream, StreamConfig  # noqa: E402
from model.sample_lake import synthetic_records, write_version  # noqa: E402
from model.shard_reader import ShardReader, open_version  # noqa: E402
from model.tokenizer import language_sample, load_tokenizer, train_tokenizer  # noqa: E402


def sample_lake(root: Path, vocab: int) -> tuple[str, str, str]:
    """A lake from the shared multilingual samples (synthetic text when they are absent) and a tokenizer."""
    files = sorted(SHARED_DATA.glob("debian-*/*.jsonl"))
    records = [json.loads(line) for f in files for line in f.open(encoding="utf-8")]
    if not records:
        records = synthetic_records(20_000, {"eng": "etaoinshrdlu", "rus": "оеаинтсрвл", "ell": "αβγδεζηθ"})
    write_version(root, "bench", records, rows_per_shard=2000)
    version = open_version(str(root), "bench")
    budgets, texts = language_sample(version, ShardReader(version, root / "cache"), 0.3, 3_000_000, 0)
    tok = train_tokenizer(texts, vocab, sum(budgets.values()))
    tok.save(str(root / "tok.json"))
    return str(root), "bench", str(root / "tok.json")


@dataclass
class Timing:
    """Wall and CPU seconds, the CPU time summed over all the process's threads."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


@contextmanager
def timed() -> Iterator[Timing]:
    timing, wall, cpu = Timing(), time.perf_counter(), time.process_time()
    yield timing
    timing.wall, timing.cpu = time.perf_counter() - wall, time.process_time() - cpu


def naive_tokens(stream: PackedStream, tok, docs: np.ndarray, want: int) -> tuple[int, Timing]:
    """Tokens packed from ``docs``, read row by row with pyarrow and encoded one at a time, and their timing."""
    version, eod, size = stream.version, stream.eod_id, stream.config.seq_len + 1
    produced, buffer, tables = 0, [], {}
    with timed() as timing:
        for doc in docs:
            shard = int(np.searchsorted(stream.shard_start, doc, side="right")) - 1
            if shard not in tables:
                path = str(Path(version.base) / version.shards[shard]["path"])
                tables[shard] = pa.ipc.open_file(pa.memory_map(path)).read_all()
            text = tables[shard].column("text")[int(doc - stream.shard_start[shard])].as_py()
            buffer.extend(tok.encode(text, add_special_tokens=False).ids)
            buffer.append(eod)
            while len(buffer) >= size:
                produced += size
                buffer = buffer[size:]
            if produced >= want:
                break
    return produced, timing


def stream_tokens(stream: PackedStream, batches: int, threads: bool = True) -> tuple[int, Timing]:
    """Tokens in ``batches`` micro-batches of the stream from its start, and their timing.

    ``threads=False`` confines the tokenizer to one thread (``TOKENIZERS_PARALLELISM``, read per call).
    """
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads else "false"
    try:
        with timed() as timing:
            produced = sum(int(b["input_ids"].numel()) + len(b["input_ids"])
                           for b in itertools.islice(iter(stream), batches))
    finally:
        os.environ.pop("TOKENIZERS_PARALLELISM")
    return produced, timing


def line(name: str, tokens: int, timing: Timing, note: str) -> str:
    return (
        f"{name:<13}{tokens / timing.wall:>12,.0f} tokens/s per process, {timing.cpu / timing.wall:.2f} cores busy, "
        f"{tokens / timing.cpu:>10,.0f} tokens per CPU-second  ({note})"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Packed-stream throughput against a naive row-by-row reader.")
    p.add_argument("--lake", help="lake root (default: build a sample lake in a temp dir)")
    p.add_argument("--dataset", help="NAME[@vN] in --lake")
    p.add_argument("--tokenizer", help="tokenizer.json (required with --lake)")
    p.add_argument("--vocab-size", type=int, default=16000, help="vocab of the sample lake's tokenizer")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=3_000_000, help="tokens to time each reader over")
    add_record_argument(p)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.lake:
            lake, spec, tok_path = args.lake, args.dataset, args.tokenizer
        else:
            print("building a sample lake and tokenizer (not timed)…", file=sys.stderr)
            lake, spec, tok_path = sample_lake(Path(tmp), args.vocab_size)
        config = StreamConfig(seq_len=args.seq_len, micro_batch=args.micro_batch, alpha=1.0,
                              cache_dir=str(Path(tmp) / "cache"))
        t = time.perf_counter()
        PackedStream(lake, spec, tok_path, config)
        index_s = time.perf_counter() - t
        stream, single = (PackedStream(lake, spec, tok_path, config) for _ in range(2))
        tok, _ = load_tokenizer(tok_path)
        docs = stream.epoch_docs(0)
        batch_tokens = args.micro_batch * (args.seq_len + 1)
        last = stream.samples_in_epoch(0) - args.micro_batch
        batches = max(1, min(args.tokens, last * (args.seq_len + 1)) // batch_tokens)

        stream.batch_at(last)
        single.batch_at(last)
        naive_tokens(stream, tok, docs[::-1], batch_tokens)
        naive_first = naive_tokens(stream, tok, docs, batches * batch_tokens)
        produced, stream_t = stream_tokens(stream, batches)
        single_t = stream_tokens(single, batches, threads=False)[1]
        naive_last = naive_tokens(stream, tok, docs, produced)

    index_tokens = int(stream.doc_tokens.sum() - len(stream.doc_tokens))
    stream_tps, single_tps = produced / stream_t.wall, produced / single_t.wall
    naive_tps = [n / timing.wall for n, timing in (naive_first, naive_last)]
    naive_mean = sum(naive_tps) / 2
    print(f"version      {stream.version.spec}: {len(stream.doc_tokens):,} docs, {len(stream.langs)} languages, "
          f"vocab {tok.get_vocab_size():,}, {len(os.sched_getaffinity(0))} cores, {current_allocator()}")
    print(f"token index  {index_tokens:,} tokens in {index_s:.1f}s ({index_tokens / index_s:,.0f} tokens/s; built "
          f"once per version and tokenizer, then loaded)")
    print(
        line("stream", produced, stream_t, f"{produced:,} tokens, seq {args.seq_len}, micro-batch {args.micro_batch}")
    )
    print(line("stream 1 thr", produced, single_t, "the same, tokenizer on one thread"))
    print(line("naive", naive_first[0] + naive_last[0], naive_first[1] + naive_last[1],
               f"before {naive_tps[0]:,.0f}, after {naive_tps[1]:,.0f}; pyarrow row by row, one encode per doc"))
    print(
        f"ratio        {stream_tps / naive_mean:.2f}x ({single_tps / naive_mean:.2f}x on one thread)   target: "
        f">= 1,000,000 tokens/s or >= 3x: {'met' if stream_tps >= 1e6 or stream_tps >= 3 * naive_mean else 'NOT met'}"
    )
    if args.record:
        allocator = current_allocator()
        chosen = os.environ.get("LAKE_ALLOCATOR")  # the allocator is chosen by the environment, not a flag
        record(f"stream_bench.{allocator.split()[0].lower()}", section="Training", options=vars(args),
               command=f"LAKE_ALLOCATOR={chosen} {command_line()}" if chosen else None,
               figures={"stream_tokens_per_s": stream_tps, "one_thread_tokens_per_s": single_tps,
                        "naive_tokens_per_s": naive_tps, "stream_cpu_s": stream_t.cpu, "stream_wall_s": stream_t.wall,
                        "tokens": produced, "allocator": allocator},
               rows=[{"what": f"training stream, tokens/s per process ({allocator}; seq {args.seq_len}, "
                              f"micro-batch {args.micro_batch}, {len(os.sched_getaffinity(0))} cores)",
                      "result": f"{stream_tps:,.0f} tokens/s ({produced / stream_t.cpu:,.0f} per CPU-second): "
                                f"{stream_tps / naive_mean:.2f}x; on one tokenizer thread {single_tps:,.0f}",
                      "baseline": f"pyarrow row by row + one encode per doc, same allocator: "
                                  f"{naive_mean:,.0f} tokens/s"}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
