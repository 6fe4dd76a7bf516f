"""End-to-end throughput and scaling of ``pipelines.curate`` on the FnApiRunner.

Builds a corpus of N documents from the real texts in ``../shared/data`` (with planted exact and
near duplicates at known rates), runs the full pipeline as a subprocess for each N, and prints
docs/s, MB/s, CPU seconds, peak RSS and the cost ratio of each doubling. It then times every
stage's plain functions alone on the same documents, in this process, so the pipeline's overhead
shows as a ratio against its fastest single stage.

    python -m benchmarks.pipeline_bench --sizes 10000,20000
    python -m benchmarks.pipeline_bench --sizes 10000,100000,1000000 --workers 2
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED_DATA
from benchmarks.results import add_record_argument, record

REPO = Path(__file__).resolve().parent.parent
CORPORA = ["debian-gettext/gettext.jsonl", "debian-manpages-l10n/manpages_l10n.jsonl", "debian-fortunes/fortunes.jsonl",
           "neardup-spdx-licenses/spdx_licenses.jsonl", "neardup-debian-copyright/copyright.jsonl"]


def load_texts(max_chars: int = 20_000) -> list[str]:
    texts = []
    for rel in CORPORA:
        path = SHARED_DATA / rel
        if not path.exists():
            sys.exit(f"shared data missing: {path}")
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"][:max_chars] for line in f]
    return texts


def mutate(text: str, rng: random.Random) -> str:
    """A near duplicate: about 3% of words replaced."""
    words = text.split()
    for _ in range(max(1, len(words) // 33)):
        words[rng.randrange(len(words))] = rng.choice(["lorem", "ipsum", "dolor", "amet"])
    return " ".join(words)


def build_corpus(texts: list[str], n: int, out_dir: Path, *, exact_rate: float = 0.05, near_rate: float = 0.05,
                 files: int = 8, seed: int = 0) -> dict:
    """Write n documents over ``files`` JSONL files; a unique one is a real text or two joined.

    Every draw has the same distribution whatever n is (and the first n documents of a larger
    corpus are the n-corpus), so bytes grow in proportion to n and a doubling compares like with like.
    """
    rng = random.Random(seed)
    docs: list[str] = []
    planted = {"exact": 0, "near": 0}
    while len(docs) < n:
        r = rng.random()
        if docs and r < exact_rate:
            docs.append(docs[rng.randrange(len(docs))])
            planted["exact"] += 1
        elif docs and r < exact_rate + near_rate:
            docs.append(mutate(docs[rng.randrange(len(docs))], rng))
            planted["near"] += 1
        else:
            a, b = rng.choice(texts), rng.choice(texts)
            docs.append(a if rng.random() < 0.5 else f"{a}\n\n{b}")
    out_dir.mkdir(parents=True, exist_ok=True)
    handles = [open(out_dir / f"part-{i:03d}.jsonl", "w", encoding="utf-8") for i in range(files)]
    total_bytes = 0
    for i, text in enumerate(docs):
        line = json.dumps({"id": f"bench-{i:08d}", "text": text}, ensure_ascii=False) + "\n"
        total_bytes += len(line.encode("utf-8"))
        handles[i % files].write(line)
    for h in handles:
        h.close()
    return {"docs": n, "bytes": total_bytes, "planted": planted}


def run_pipeline(corpus: Path, lake: Path, workers: int) -> dict:
    cmd = [sys.executable, "-m", "pipelines.curate", "--input", str(corpus / "*.jsonl"), "--lake", str(lake),
           "--dataset", "bench"]
    cmd.append(f"--direct_num_workers={workers}")  # 1: in-process, whatever the input size (pipelines.runner)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"pipeline failed:\n{proc.stderr[-3000:]}")
    manifest = json.loads(
        subprocess.run(
            [sys.executable, "-m", "catalog", "show", "bench", "--lake", str(lake), "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_rss_mb": after.ru_maxrss / 1024, "counts": manifest["counts"]}


def time_stages(texts: list[str]) -> dict[str, float]:
    """Seconds each stage's plain functions take alone over ``texts`` (one core, this process)."""
    from transforms.dedup.keys import exact_keys
    from transforms.dedup.minhash import MinHashConfig, band_hashes, signatures
    from transforms.filters.config import load_filter_config
    from transforms.filters.scores import filter_document
    from transforms.langid.identify import LanguageIdentifier
    from transforms.normalize import normalize_text
    from transforms.pii import redact

    lid = LanguageIdentifier()
    cfg = MinHashConfig()
    langs = [p.lang for i in range(0, len(texts), 512) for p in lid.predict(texts[i:i + 512])]
    filters = load_filter_config()
    docs = [{"id": str(i), "uid": str(i), "text": t, "source": "bench", "lang": lang, "lang_score": 0.9, "meta": {}}
            for i, (t, lang) in enumerate(zip(texts, langs))]
    stages = {
        "normalize": lambda: [normalize_text(t) for t in texts],
        "langid": lambda: [lid.predict(texts[i:i + 512]) for i in range(0, len(texts), 512)],
        "filter": lambda: [filter_document(d, filters.params_for(d["lang"], d["source"])) for d in docs],
        "pii": lambda: [redact(t) for t in texts],
        "dedup-exact": lambda: [exact_keys(texts[i:i + 512]) for i in range(0, len(texts), 512)],
        "dedup-near": lambda: band_hashes(signatures(texts, cfg), cfg),
    }
    out = {}
    for name, fn in stages.items():
        start = time.process_time()
        fn()
        out[name] = time.process_time() - start
    return out


def record_result(args: argparse.Namespace, runs: list[tuple[int, dict, dict]], stage_secs: dict[str, float],
                  mb: float) -> None:
    per_cpu = [info["bytes"] / 1e6 / res["cpu"] for _, info, res in runs]
    sizes = " / ".join(f"{n // 1000:,}k" for n, _, _ in runs)
    scaling = "; ".join(f"x{n1 / n0:.0f} docs (bytes x{i1['bytes'] / i0['bytes']:.2f}): time "
                        f"x{r1['wall'] / r0['wall']:.2f}, peak RSS x{r1['peak_rss_mb'] / r0['peak_rss_mb']:.2f}"
                        for (n0, i0, r0), (n1, i1, r1) in zip(runs, runs[1:]))
    fastest = min(stage_secs, key=stage_secs.__getitem__)
    stages = ", ".join(f"{name} {mb / secs:.1f}" for name, secs in sorted(stage_secs.items(), key=lambda kv: kv[1]))
    mbs = " / ".join(f"{info['bytes'] / 1e6:.1f}" for _, info, _ in runs)
    rows = [{"what": f"full pipeline, DirectRunner ({args.workers} worker(s)), {sizes} docs ({mbs} MB)",
             "result": " / ".join(f"{x:.2f}" for x in per_cpu) + " MB per CPU-second (start-up included)"
                       + (f"; {scaling}" if scaling else "")
                       + f"; peak RSS {runs[-1][2]['peak_rss_mb'] / 1024:.1f} GB at {runs[-1][0]:,}",
             "baseline": f"fastest single stage alone ({fastest}) {mb / stage_secs[fastest]:.1f} MB/s: the pipeline is "
                         f"{per_cpu[0] / (mb / stage_secs[fastest]):.3f}x of it, "
                         f"{per_cpu[0] / (mb / sum(stage_secs.values())):.2f}x the sum of all stages alone"},
            {"what": f"each stage's plain functions alone, MB/s on one core ({args.stage_docs:,} docs, {mb:.1f} MB)",
             "result": stages, "baseline": "none (the stages side by side)"}]
    record("pipeline_bench", section="Pipeline throughput", rows=rows, options=vars(args),
           figures={"runs": [{"docs": n, **info, **res} for n, info, res in runs], "stage_cpu_seconds": stage_secs,
                    "stage_mb": mb})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,20000", help="comma-separated corpus sizes (default 10000,20000)")
    parser.add_argument("--workers", type=int, default=1, help="FnApiRunner worker processes (default 1: in-process)")
    parser.add_argument(
        "--stage-docs", type=int, default=5000, help="documents for the per-stage timing (default 5000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora and lakes")
    add_record_argument(parser)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = load_texts()
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    rows = []
    try:
        for n in sizes:
            corpus = work / f"corpus-{n}"
            info = build_corpus(texts, n, corpus)
            res = run_pipeline(corpus, work / f"lake-{n}", args.workers)
            rows.append((n, info, res))
            print(f"N={n:>9,}  {info['bytes'] / 1e6:8.1f} MB  wall {res['wall']:7.1f} s  cpu {res['cpu']:7.1f} s  "
                  f"{n / res['wall']:8.0f} docs/s  {info['bytes'] / 1e6 / res['wall']:6.2f} MB/s  "
                  f"{info['bytes'] / 1e6 / res['cpu']:6.2f} MB/s per CPU-second  peak RSS {res['peak_rss_mb']:7.0f} MB",
                  flush=True)
            c = res["counts"]
            print(
                f"           kept {c['kept']:,}  exact dups {c['duplicates']['exact']:,} "
                f"(planted {info['planted']['exact']:,})"
                f"  near dups {c['duplicates']['near']:,} (planted {info['planted']['near']:,})"
                f"  filtered {sum(c['filtered'].values()):,}  quarantined {c['quarantined']:,}",
                flush=True,
            )
        for (n0, i0, r0), (n1, i1, r1) in zip(rows, rows[1:]):
            print(f"scaling N {n0:,} -> {n1:,} (x{n1 / n0:.1f}, bytes x{i1['bytes'] / i0['bytes']:.2f}): "
                  f"time x{r1['wall'] / r0['wall']:.2f}, cpu x{r1['cpu'] / r0['cpu']:.2f}, "
                  f"peak RSS x{r1['peak_rss_mb'] / r0['peak_rss_mb']:.2f}")

        sample = [
            json.loads(line)["text"]
            for line in open(next((work / f"corpus-{sizes[0]}").glob("*.jsonl")), encoding="utf-8")
        ]
        sample = (sample * (args.stage_docs // max(1, len(sample)) + 1))[: args.stage_docs]
        mb = sum(len(t.encode("utf-8")) for t in sample) / 1e6
        stage_secs = time_stages(sample)
        full_mb_per_cpu_s = rows[0][1]["bytes"] / 1e6 / rows[0][2]["cpu"]
        print(f"\nper-stage CPU on {len(sample):,} docs ({mb:.1f} MB), plain functions alone:")
        for name, secs in sorted(stage_secs.items(), key=lambda kv: kv[1]):
            print(f"  {name:<12} {secs:7.2f} s  {mb / secs:8.2f} MB/s")
        fastest = min(stage_secs, key=stage_secs.get)
        print(
            f"full pipeline: {full_mb_per_cpu_s:.2f} MB per CPU-second = "
            f"{full_mb_per_cpu_s / (mb / stage_secs[fastest]):.3f}x "
            f"the fastest single stage ({fastest}); "
            f"{full_mb_per_cpu_s / (mb / sum(stage_secs.values())):.2f}x the sum of all stages alone"
        )
        if args.record:
            record_result(args, rows, stage_secs, mb)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
