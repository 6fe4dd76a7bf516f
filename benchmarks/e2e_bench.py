"""The default ``python -m pipelines.curate`` against a minimal single-process script, same corpus, same command.

    python -m benchmarks.e2e_bench [--docs 20000[,200000]] [--files 1] [--repeat 3] [--keep DIR] [--record]

The corpus: ``--docs`` documents drawn from ``../shared/data`` (real texts cut to ``--max-chars``, one or two joined)
with planted duplicates, about 10 % exact copies and 10 % near copies (3 % of words replaced), in one
JSONL file (``--files 8``: spread over 8; ``benchmarks.pipeline_bench.build_corpus``): about 33 MB for
20k documents, 330 MB for 200k. Each side runs as a user runs it: a fresh subprocess, start-up and
imports included. Printed per run: wall time, MB/s, CPU seconds (user + system) and peak RSS of the
whole process tree, Beam's worker processes included (``benchmarks.proctree``); then the medians,
the ratio, and the number of fused stages of the pipeline's run (``benchmarks.fused_stages``).

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
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.fused_stages import fused_stages
from benchmarks.pipeline_bench import build_corpus, load_texts
from benchmarks.proctree import TreeUsage, run_measured
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


def measured(cmd: list[str]) -> TreeUsage:
    """Wall time, CPU time and peak RSS of one subprocess and every process it starts."""
    usage = run_measured(cmd, cwd=REPO)
    if usage.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{usage.stderr[-3000:]}")
    return usage


def compare(docs: int, args: argparse.Namespace, work: Path) -> dict:
    """Both sides ``args.repeat`` times on a corpus of ``docs`` documents, alternating; their figures."""
    corpus = work / f"corpus-{docs}-{args.files}"
    if not corpus.exists():
        build_corpus(load_texts(args.max_chars), docs, corpus, exact_rate=0.10, near_rate=0.10, files=args.files)
    mb = sum(p.stat().st_size for p in corpus.glob("*.jsonl")) / 1e6
    print(f"corpus: {docs:,} documents, {mb:.1f} MB in {args.files} file(s), about 20 % planted duplicates "
          f"({corpus})", flush=True)
    runs: dict[str, list[TreeUsage]] = {"pipeline": [], "naive": []}
    pipeline_args = ["--input", str(corpus / "*.jsonl"), "--dataset", "e2e", *args.pipeline_args.split()]
    for k in range(args.repeat):
        lake = work / f"lake-{docs}-{k}"
        shutil.rmtree(lake, ignore_errors=True)
        pipe = [sys.executable, "-m", "pipelines.curate", "--lake", str(lake), *pipeline_args]
        script = [sys.executable, "-m", "benchmarks.e2e_bench", "--naive", str(corpus), str(work / f"naive-{k}")]
        for name, cmd in (("pipeline", pipe), ("naive", script)) if k % 2 == 0 else (("naive", script),
                                                                                      ("pipeline", pipe)):
            usage = measured(cmd)
            runs[name].append(usage)
            print(f"  run {k + 1} {name:<8} {usage.wall_s:6.1f} s  {mb / usage.wall_s:5.2f} MB/s  "
                  f"{usage.cpu_s:6.1f} CPU-s  peak RSS {usage.peak_rss_mb / 1e3:5.2f} GB "
                  f"({usage.processes} process{'es' if usage.processes > 1 else ''})", flush=True)
    figures: dict = {"docs": docs, "mb": round(mb, 1), "files": args.files}
    for name, usages in runs.items():
        wall = statistics.median(u.wall_s for u in usages)
        figures[name] = {"wall_s": round(wall, 2), "mb_per_s": round(mb / wall, 2),
                         "cpu_s": round(statistics.median(u.cpu_s for u in usages), 1),
                         "peak_rss_gb": round(max(u.peak_rss_mb for u in usages) / 1e3, 2),
                         "runs_s": [round(u.wall_s, 2) for u in usages]}
        f = figures[name]
        print(f"{name:<8} median {f['wall_s']:6.1f} s ({f['mb_per_s']:.2f} MB/s), {f['cpu_s']:.1f} CPU-s, "
              f"peak RSS {f['peak_rss_gb']:.2f} GB; runs {', '.join(f'{x:.1f}' for x in f['runs_s'])}")
    walls = {name: [u.wall_s for u in usages] for name, usages in runs.items()}
    figures["ratio"] = round(figures["naive"]["wall_s"] / figures["pipeline"]["wall_s"], 2)
    print(f"pipeline speed / naive script speed: {figures['ratio']:.2f}x (median), "
          f"{min(walls['naive']) / max(walls['pipeline']):.2f}-{max(walls['naive']) / min(walls['pipeline']):.2f}x "
          f"(range)")
    figures["fused_stages"] = len(fused_stages(pipeline_args))
    print(f"fused stages of the pipeline's run: {figures['fused_stages']}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", default="20000", help="corpus sizes, comma-separated (default 20000; the "
                                                          "issue's second size: 200000)")
    parser.add_argument("--files", type=int, default=1, help="JSONL files the corpus is spread over (default 1)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--max-chars",
        type=int,
        default=1500,
        help="cut each shared text to this many characters (default 1500: about 33 MB for 20k documents)",
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
    try:
        results = [compare(int(n), args, work) for n in args.docs.split(",")]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.record:
        rows = [{"what": f"default python -m pipelines.curate, {r['docs']:,} documents ({r['mb']} MB, "
                         f"{r['files']} file(s)): {r['pipeline']['wall_s']} s, {r['pipeline']['cpu_s']} CPU-s, "
                         f"peak RSS {r['pipeline']['peak_rss_gb']} GB",
                 "result": f"{r['ratio']:.2f}x",
                 "baseline": f"naive script {r['naive']['wall_s']} s, peak RSS {r['naive']['peak_rss_gb']} GB"}
                for r in results]
        record("e2e_bench", section="End to end", rows=rows, figures={"sizes": results}, options=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
