"""The default ``python -m pipelines.curate`` against a minimal single-process script, same corpus, same command.

    python -m benchmarks.e2e_bench [--docs 20000] [--repeat 3] [--keep DIR]

The corpus: ``--docs`` documents drawn from ``../shared/data`` (real texts cut to ``--max-chars``, one or two joined)
with
planted duplicates, about 10 % exact copies and 10 % near copies (3 % of words replaced), over 8
JSONL files (``benchmarks.pipeline_bench.build_corpus``). Each side runs as a user runs it: a fresh
subprocess, start-up and imports included.

The pipeline: ``python -m pipelines.curate --input CORPUS --lake LAKE --dataset e2e``, every stage,
default options and runner. The naive script (``--naive``): read the JSONL, fastText lid.176 on
batches, a datasketch ``MinHash`` per document (word 5-grams of the lowercased text) queried against
and inserted into a ``MinHashLSH`` (threshold 0.7, 256 permutations), the survivors written as one
Arrow IPC file per language. The script does a fraction of the pipeline's work (no normalisation,
filters, PII, exact dedup, verification, removed table, manifest); the ratio says whether the
product is worth running instead of the script anyone would write. Runs alternate; every wall time
is printed, and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.pipeline_bench import build_corpus, load_texts
from benchmarks.results import add_record_argument, record

REPO = Path(__file__).resolve().parent.parent


def naive(corpus: Path, out: Path) -> None:
    """The minimal script: LID + datasketch MinHash/LSH + Arrow write, one process."""
    import fasttext
    import pyarrow as pa
    import pyarrow.ipc as ipc
    from datasketch import MinHash, MinHashLSH

    from transforms.langid.identify import default_model_path

    model = fasttext.load_model(default_model_path())
    docs = [json.loads(line) for path in sorted(corpus.glob("*.jsonl")) for line in open(path, encoding="utf-8")]
    langs = []
    for lo in range(0, len(docs), 512):
        labels, _ = model.predict([d["text"].replace("\n", " ") for d in docs[lo:lo + 512]], k=1)
        langs += [label[0].removeprefix("__label__") if label else "und" for label in labels]
    lsh = MinHashLSH(threshold=0.7, num_perm=256)
    kept: dict[str, list[dict]] = {}
    for i, (doc, lang) in enumerate(zip(docs, langs)):
        words = doc["text"].lower().split()
        m = MinHash(num_perm=256)
        m.update_batch([" ".join(words[k:k + 5]).encode("utf-8") for k in range(max(1, len(words) - 4))])
        if lsh.query(m):
            continue
        lsh.insert(str(i), m)
        kept.setdefault(lang, []).append({"id": doc["id"], "text": doc["text"], "lang": lang})
    out.mkdir(parents=True, exist_ok=True)
    for lang, rows in kept.items():
        table = pa.Table.from_pylist(rows)
        with ipc.new_file(str(out / f"{lang}.arrow"), table.schema) as writer:
            writer.write_table(table)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one subprocess."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--max-chars",
        type=int,
        default=1500,
        help="cut each shared text to this many characters (default 1500: about 26 MB for 20k documents)",
    )
    parser.add_argument("--keep", help="build (or reuse) the corpus here and keep the lakes")
    parser.add_argument("--pipeline-args", default="", help="extra options for pipelines.curate (quoted)")
    parser.add_argument("--naive", nargs=2, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS)
    add_record_argument(parser)
    args = parser.parse_args(argv)
    if args.naive:
        naive(Path(args.naive[0]), Path(args.naive[1]))
        return 0
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    corpus = work / "corpus"
    try:
        if not corpus.exists():
            build_corpus(load_texts(args.max_chars), args.docs, corpus, exact_rate=0.10, near_rate=0.10)
        mb = sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6
        print(f"corpus: {args.docs:,} documents, {mb:.1f} MB, about 20 % planted duplicates ({corpus})", flush=True)
        walls: dict[str, list[float]] = {"pipeline": [], "naive": []}
        for k in range(args.repeat):
            lake = work / f"lake-{k}"
            shutil.rmtree(lake, ignore_errors=True)
            pipe = [sys.executable, "-m", "pipelines.curate", "--input", str(corpus / "*.jsonl"), "--lake", str(lake),
                    "--dataset", "e2e", *args.pipeline_args.split()]
            script = [sys.executable, "-m", "benchmarks.e2e_bench", "--naive", str(corpus), str(work / f"naive-{k}")]
            for name, cmd in (
                (("pipeline", pipe), ("naive", script)) if k % 2 == 0 else (("naive", script), ("pipeline", pipe))
            ):
                wall, _ = timed(cmd)
                walls[name].append(wall)
                print(f"  run {k + 1} {name:<8} {wall:6.1f} s  {mb / wall:5.2f} MB/s", flush=True)
        med = {name: statistics.median(w) for name, w in walls.items()}
        for name, w in walls.items():
            print(f"{name:<8} median {med[name]:6.1f} s ({mb / med[name]:.2f} MB/s), runs "
                  f"{', '.join(f'{x:.1f}' for x in w)}")
        print(
            f"pipeline speed / naive script speed: {med['naive'] / med['pipeline']:.2f}x (median), "
            f"{min(walls['naive']) / max(walls['pipeline']):.2f}-"
            f"{max(walls['naive']) / min(walls['pipeline']):.2f}x (range)"
        )
        if args.record:
            runs = {name: ", ".join(f"{x:.1f}" for x in w) for name, w in walls.items()}
            record("e2e_bench", section="End to end", options=vars(args),
                   figures={"mb": round(mb, 1), "walls": walls, "median": med, "ratio": med["naive"] / med["pipeline"]},
                   rows=[{"what": f"default `python -m pipelines.curate` against a naive script, {args.docs:,} docs "
                                  f"({mb:.1f} MB, 20 % planted duplicates), subprocesses, start-up included",
                          "result": f"median {med['pipeline']:.1f} s (runs {runs['pipeline']}), "
                                    f"{mb / med['pipeline']:.2f} MB/s: "
                                    f"{med['naive'] / med['pipeline']:.2f}x the script",
                          "baseline": f"fastText lid.176 + datasketch MinHash/LSH + Arrow write, one process: median "
                                      f"{med['naive']:.1f} s (runs {runs['naive']}), {mb / med['naive']:.2f} MB/s"}])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
