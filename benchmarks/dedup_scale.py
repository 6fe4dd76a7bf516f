"""Scale of the dedup DAG: synthetic short documents with 30 % near duplicates, memory and the largest groups.

    python -m benchmarks.dedup_scale [--sizes 100000,1000000] [--beam-args "--direct_num_workers=2 ..."] [--record]

Each size runs in a fresh subprocess: synthetic documents (60 words drawn from a 20,000-word
vocabulary; 30 % of them copy an earlier document of their chunk with one or two words replaced,
Jaccard of word 5-grams about 0.7-0.85) are generated inside the pipeline, then ``dedup_keys`` ->
``ExactDedup`` -> ``NearDedup`` (default settings) run as in ``pipelines.curate``, on the default
runner (``--beam-args`` passes pipeline options, e.g. ``--direct_running_mode=multi_processing``).
Every GroupByKey of the pipeline is followed by a step that records its groups' sizes (elements; a
band posting chunk counts as the postings it carries) in a Beam distribution metric. Printed per
size: the wall time and CPU seconds of the subprocess (its workers included), the peak RSS of its
whole process tree (sampled every 0.1 s), the removals, and the largest group each step held; then
the time and memory ratios between sizes, against the first size as the baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.results import add_record_argument, record

REPO = Path(__file__).resolve().parent.parent
CHUNK = 2000
WORDS = 60
# the steps whose largest group bounds the DAG's memory, and what one of their elements is
LARGEST = {"NearDedup/GroupByBand": "postings per band group",
           "NearDedup/PairSignatures/JoinByNode": "pair requests per node",
           "NearDedup/StarClusters/ByNode": "edges per node",
           "NearDedup/StarClusters/GatherResidue": "residue"}


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


def group_size(value) -> int:
    """Elements a grouped value stands for: a band posting chunk (three bytes objects) counts as its postings."""
    if isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, bytes) for v in value):
        return len(value[0]) // 8
    return 1


def measure_groups() -> None:
    """Make every GroupByKey built from now on record its groups' sizes (distribution ``group_size``)."""
    import apache_beam as beam
    import apache_beam.transforms.util as beam_util
    from apache_beam.metrics import Metrics

    real = beam.GroupByKey

    def measured(kv):
        values = kv[1] if isinstance(kv[1], list) else list(kv[1])
        Metrics.distribution("scale", "group_size").update(sum(map(group_size, values)))
        return kv[0], values

    class MeasuredGroupByKey(beam.PTransform):
        def expand(self, pcoll):
            return pcoll | "Group" >> real() | "Measure" >> beam.Map(measured)

    beam.GroupByKey = MeasuredGroupByKey
    beam_util.GroupByKey = MeasuredGroupByKey


def one_run(n: int, beam_args: list[str]) -> dict:
    measure_groups()
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

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
    p = beam.Pipeline(options=PipelineOptions(beam_args))
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
    return {"docs": n, "pipeline_wall": wall, "counters": counters, "groups": groups}


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (Linux /proc), in MB."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    pages = 0
    for pid in tree:
        try:
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            pass
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def measured_run(n: int, beam_args: str) -> dict:
    """One size in a fresh subprocess: its report plus wall, CPU seconds and the peak RSS of its process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.dedup_scale", "--one", str(n), "--beam-args", beam_args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"run of {n:,} failed:\n{err[-3000:]}")
    r = json.loads(out.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**r, "wall": wall, "cpu_s": cpu, "peak_rss_mb": peak[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--beam-args", default="", help="pipeline options for the runs (quoted)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    add_record_argument(parser)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.one, shlex.split(args.beam_args))))
        return 0
    runs = []
    for n in map(int, args.sizes.split(",")):
        r = measured_run(n, args.beam_args)
        runs.append(r)
        c = r["counters"]
        print(f"N={n:>9,}  wall {r['wall']:7.1f} s  CPU {r['cpu_s']:7.1f} s  {n / r['wall']:6.0f} docs/s  "
              f"peak RSS {r['peak_rss_mb'] / 1e3:6.2f} GB ({r['peak_rss_mb'] * 1e3 / n:5.1f} KB/doc)  "
              f"removed exact {c.get('exact', 0):,} near {c.get('near', 0):,}  kept {c.get('kept', 0):,}", flush=True)
        print("  largest group: " + ", ".join(f"{what} {r['groups'].get(step, 0):,}" for step, what in LARGEST.items()))
        largest = sorted(r["groups"].items(), key=lambda kv: -kv[1])
        print("  per step: " + ", ".join(f"{step} {size:,}" for step, size in largest), flush=True)
    base = runs[0]
    for b in runs[1:]:
        grew = {s: (base["groups"].get(s, 0), size) for s, size in b["groups"].items()
                if size > 2 * max(1, base["groups"].get(s, 0))}
        print(f"{base['docs']:,} -> {b['docs']:,} (x{b['docs'] / base['docs']:.0f}): "
              f"time x{b['wall'] / base['wall']:.2f}, "
              f"CPU x{b['cpu_s'] / base['cpu_s']:.2f}, peak RSS x{b['peak_rss_mb'] / base['peak_rss_mb']:.2f}; "
              f"groups more than doubled: {grew or 'none'}")
    if args.record:
        record_result(args, runs)
    return 0


def record_result(args: argparse.Namespace, runs: list[dict]) -> None:
    def run_text(r: dict) -> str:
        c, g = r["counters"], r["groups"]
        largest = ", ".join(f"{step} {size:,}" for step, size in sorted(g.items(), key=lambda kv: -kv[1])[:3])
        return (f"{r['docs']:,} docs: {r['wall']:.1f} s ({r['cpu_s']:.1f} CPU-s), "
                f"{r['docs'] / r['wall']:,.0f} docs/s, peak RSS "
                f"{r['peak_rss_mb'] / 1024:.1f} GB, removed near {c.get('near', 0):,} / exact {c.get('exact', 0):,}; "
                f"largest groups {largest}")

    first = runs[0]
    scaling = "; ".join(f"x{b['docs'] / a['docs']:.0f} docs: time x{b['wall'] / a['wall']:.2f}, peak RSS "
                        f"x{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}" for a, b in zip(runs, runs[1:]))
    rows = [{"what": "the dedup DAG alone on the default local runner (exact + near), synthetic 60-word docs, "
                     "30 % near copies",
             "result": " | ".join(run_text(r) for r in runs) + (f" | {scaling}" if scaling else ""),
             "baseline": f"the {first['docs']:,}-document run of the same command"}]
    record("dedup_scale", section="Deduplication", rows=rows, figures={"runs": runs}, options=vars(args))


if __name__ == "__main__":
    sys.exit(main())
