"""Scale of the dedup DAG: synthetic short documents with 30 % near duplicates, the largest group any step held.

    python -m benchmarks.dedup_scale [--sizes 100000,1000000]

Each size runs in a fresh subprocess on the default runner: synthetic documents (60 words drawn
from a 20,000-word vocabulary; 30 % of them copy an earlier document of their chunk with one or two
words replaced, Jaccard of word 5-grams about 0.7-0.85) are generated inside the pipeline, then
``dedup_keys`` -> ``ExactDedup`` -> ``NearDedup`` (default settings) run as in ``pipelines.curate``.
Every GroupByKey of the pipeline (those inside CoGroupByKey included) is followed by a step that
records its groups' sizes (elements; a band posting chunk counts as its postings) in a Beam
distribution metric, so the run prints the largest group each
step held, the wall time, the removals and the process's peak RSS; then the time ratio between sizes.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.results import add_record_argument, record

REPO = Path(__file__).resolve().parent.parent
CHUNK = 2000
WORDS = 60


def synthetic(chunk: int, n: int, vocabulary: list[str]) -> list[dict]:
    """Documents chunk*CHUNK .. (the same for a given chunk whatever n is); 30 % near copies of an earlier
    document of the chunk."""
    rng = random.Random(chunk)
    texts: list[list[str]] = []
    docs = []
    for i in range(chunk * CHUNK, min(n, (chunk + 1) * CHUNK)):
        if texts and rng.random() < 0.3:
            words = list(rng.choice(texts))
            for _ in range(rng.choice((1, 2))):
                words[rng.randrange(WORDS)] = rng.choice(vocabulary)
        else:
            words = [rng.choice(vocabulary) for _ in range(WORDS)]
        texts.append(words)
        uid = f"s:{i:08d}"
        docs.append({"id": f"d{i:08d}", "uid": uid, "source": "s", "text": " ".join(words), "lang": "en",
                     "lang_score": 1.0, "meta": {}})
    return docs


def measure_groups() -> None:
    """Make every GroupByKey built from now on record its groups' sizes (distribution ``group_size``)."""
    import apache_beam as beam
    import apache_beam.transforms.util as beam_util
    from apache_beam.metrics import Metrics

    real = beam.GroupByKey

    def size(value) -> int:  # a band posting chunk counts as the postings (nodes) it carries
        chunk = (
            isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bytes) and isinstance(value[1], list)
        )
        return len(value[1]) if chunk else 1

    def record(kv):
        values = kv[1] if isinstance(kv[1], list) else list(kv[1])
        Metrics.distribution("scale", "group_size").update(sum(map(size, values)))
        return kv[0], values

    class MeasuredGroupByKey(beam.PTransform):
        def expand(self, pcoll):
            return pcoll | "Group" >> real() | "Measure" >> beam.Map(record)

    beam.GroupByKey = MeasuredGroupByKey
    beam_util.GroupByKey = MeasuredGroupByKey


def one_run(n: int) -> dict:
    measure_groups()
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter

    from transforms.dedup.exact import ExactDedup
    from transforms.dedup.keys import DedupKeys
    from transforms.dedup.minhash import MinHashConfig
    from transforms.dedup.near import NearDedup

    config = MinHashConfig()
    vocabulary = [f"w{k}" for k in range(20_000)]

    def count(name):
        def inc(x):
            Metrics.counter("scale", name).inc()
        return inc

    started = time.perf_counter()
    p = beam.Pipeline()
    keys = (p
            | "Chunks" >> beam.Create(range((n + CHUNK - 1) // CHUNK))
            | "Spread" >> beam.Reshuffle()
            | "Generate" >> beam.FlatMap(synthetic, n, vocabulary)
            | "DedupKeys" >> DedupKeys({}, True, config))["keys"]
    exact = keys | "ExactDedup" >> ExactDedup()
    near = exact["kept"] | "NearDedup" >> NearDedup(config)
    exact["removed"] | "CountExact" >> beam.Map(count("exact"))
    near["removed"] | "CountNear" >> beam.Map(count("near"))
    near["bands"] | "CountBands" >> beam.Map(count("kept"))
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - started
    metrics = result.metrics().query(MetricsFilter().with_namespace("scale"))
    counters = {c.key.metric.name: c.committed for c in metrics["counters"]}
    groups = {d.key.step.rsplit("/Measure", 1)[0]: d.committed.max for d in metrics["distributions"]}
    return {"docs": n, "wall": wall, "counters": counters, "groups": groups,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    add_record_argument(parser)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one)))
        return 0
    runs = []
    for n in map(int, args.sizes.split(",")):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.dedup_scale", "--one", str(n)], cwd=REPO,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"run of {n:,} failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        runs.append(r)
        c = r["counters"]
        print(f"N={n:>9,}  wall {r['wall']:7.1f} s  {n / r['wall']:7.0f} docs/s  peak RSS {r['peak_rss_mb']:6.0f} MB  "
              f"removed exact {c.get('exact', 0):,} near {c.get('near', 0):,}  kept {c.get('kept', 0):,}", flush=True)
        largest = sorted(r["groups"].items(), key=lambda kv: -kv[1])
        print("  largest group per step: " + ", ".join(f"{step} {size:,}" for step, size in largest), flush=True)
    for a, b in zip(runs, runs[1:]):
        grew = {
            s: (a["groups"].get(s, 0), size)
            for s, size in b["groups"].items()
            if size > 2 * max(1, a["groups"].get(s, 0))
        }
        print(f"{a['docs']:,} -> {b['docs']:,} (x{b['docs'] / a['docs']:.0f}): time x{b['wall'] / a['wall']:.2f}, "
              f"peak RSS x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}; groups more than doubled: {grew or 'none'}")
    if args.record:
        record_result(args, runs)
    return 0


def record_result(args: argparse.Namespace, runs: list[dict]) -> None:
    def run_text(r: dict) -> str:
        c, g = r["counters"], r["groups"]
        largest = ", ".join(f"{step} {size:,}" for step, size in sorted(g.items(), key=lambda kv: -kv[1])[:3])
        return (f"{r['docs']:,} docs: {r['wall']:.1f} s, {r['docs'] / r['wall']:,.0f} docs/s, peak RSS "
                f"{r['peak_rss_mb'] / 1024:.1f} GB, removed near {c.get('near', 0):,} / exact {c.get('exact', 0):,}; "
                f"largest groups {largest}")

    first = runs[0]
    scaling = "; ".join(f"x{b['docs'] / a['docs']:.0f} docs: time x{b['wall'] / a['wall']:.2f}, peak RSS "
                        f"x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}" for a, b in zip(runs, runs[1:]))
    rows = [{"what": "the dedup DAG alone on DirectRunner (exact + near), synthetic 60-word docs, 30 % near copies",
             "result": " | ".join(run_text(r) for r in runs) + (f" | {scaling}" if scaling else ""),
             "baseline": f"the {first['docs']:,}-document run of the same command"}]
    record("dedup_scale", section="Deduplication", rows=rows, figures={"runs": runs}, options=vars(args))


if __name__ == "__main__":
    sys.exit(main())
