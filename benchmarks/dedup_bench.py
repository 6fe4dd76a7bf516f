"""Near-dedup quality and speed, each figure against a plain datasketch MinHashLSH run in the same command.

    python -m benchmarks.dedup_bench [--shared ../shared/data] [--heldout CORPUS.jsonl ...] [--seed N]

Quality: on the two shared near-duplicate corpora with exact word-5-gram Jaccard ground truth;
recall = share of pairs with true J >= 0.8 that end in one cluster (one is the other's kept
``duplicate_of``, or both point to the same kept document); precision = share of removed documents whose kept
``duplicate_of`` has
true J >= 0.7 with them.
Held out (``--heldout``, any JSONL with ``id`` and ``text``): the corpus plus planted near-duplicates
(a seeded third of its documents copied once or twice with random word deletions, substitutions and
insertions at 1-30% of words), with ground truth computed here by exact Jaccard on the shingle sets
of ``transforms.minhash.shingles`` (the normalisation of ``shared/data/tools/exact_jaccard.py``):
every pair with J >= 0.8 found exactly by a prefix-filter join, every removed/kept pair scored directly.
Speed: >= 20,000 documents = every record of the five shared JSONL corpora plus one mutated copy
of each (every 40th word dropped), through our stage's core functions (batched signatures, band
postings, bucket pairs, verification, star clustering) and through datasketch (MinHash per document,
MinHashLSH query then insert of kept documents), each in a fresh subprocess (peak RSS is per run),
``--repeat`` times alternately; the fastest run of each is reported, every run's seconds printed.
A worker's one-off set-up (imports; for ours also the permutation tables and loading the compiled
kernels) is timed apart and printed; throughput is per-document work, and the ratio with set-up
counted is printed too. ``--beam`` also times the ``NearDedup`` PTransform itself on DirectRunner,
where Beam's per-element work and in-process shuffles, not these functions, take most of the time.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import SHARED_DATA
from benchmarks.results import add_record_argument, record
from transforms.dedup.minhash import MinHashConfig, shingles, signatures
from transforms.dedup.near import band_pairs, band_postings, found_first, star_clusters, verify_pairs
from transforms.dedup.nodes import node_key, node_of

CORPORA = {"debian-copyright": "neardup-debian-copyright/copyright.jsonl",
           "spdx-licenses": "neardup-spdx-licenses/spdx_licenses.jsonl"}
SPEED_FILES = ["debian-fortunes/fortunes.jsonl", "debian-gettext/gettext.jsonl",
               "debian-manpages-l10n/manpages_l10n.jsonl", *CORPORA.values()]
BATCH = 2048
RECALL_J, PRECISION_J = 0.8, 0.7
EDIT_RATES = (0.01, 0.03, 0.05, 0.1, 0.2, 0.3)


def load(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(r["id"], r["text"]) for r in map(json.loads, f)]


def speed_corpus(shared: Path) -> list[tuple[str, str]]:
    docs = [d for name in SPEED_FILES for d in load(shared / name)]
    mutated = [(f"{i}~m", " ".join(w for k, w in enumerate(t.split(" ")) if k % 40 != 39)) for i, t in docs]
    return docs + mutated


def ours(docs: list[tuple[str, str]], config: MinHashConfig) -> dict[str, str]:
    """Our stage's functions in-process, Beam's shuffles replaced by dicts: returns removed id -> kept id."""
    sigs = np.concatenate(
        [signatures([t for _, t in docs[lo : lo + BATCH]], config) for lo in range(0, len(docs), BATCH)]
    )
    return cluster_in_process([i for i, _ in docs], sigs, config)


def cluster_in_process(ids: list[str], sigs: np.ndarray, config: MinHashConfig) -> dict[str, str]:
    """NearDedup's steps on given signatures (one row per id, ids in rank order), Beam's shuffles
    replaced by dicts: removed id -> kept id."""
    nodes = [node_key(((1, 0, i, i), i)) for i in ids]
    groups = defaultdict(list)  # GroupByBand
    for lo in range(0, len(ids), BATCH):
        for key, posting in band_postings(nodes[lo:lo + BATCH], sigs[lo:lo + BATCH], config):
            groups[key].append(posting)
    found: dict = defaultdict(int)  # the join by node: the bands that found each pair
    for kv in groups.items():
        for pair, band in band_pairs(kv, config):
            found[pair] |= band
    row = {n: k for k, n in enumerate(nodes)}
    pairs, masks = list(found), list(found.values())
    edges = []
    for lo in range(0, len(pairs), BATCH):  # the signature joins, then BatchForVerify
        batch = pairs[lo:lo + BATCH]
        a, b = sigs[[row[a] for a, _ in batch]], sigs[[row[b] for _, b in batch]]
        first = found_first(a, b, masks[lo:lo + BATCH], config)
        edges += verify_pairs([p for p, ok in zip(batch, first.tolist()) if ok], a[first], b[first], config)
    return {node_of(node)[1]: node_of(kept)[1] for kept, node, _ in star_clusters(edges)}


def datasketch_lsh(docs: list[tuple[str, str]], config: MinHashConfig) -> dict[str, str]:
    """The plain datasketch recipe: MinHash per document; query; insert the document when nothing matched."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    removed = {}
    for doc_id, text in sorted(docs):
        m = MinHash(num_perm=config.num_perm, seed=config.seed)
        m.update_batch(shingles(text, config.ngram))
        found = lsh.query(m)
        if found:
            removed[doc_id] = min(found)
        else:
            lsh.insert(doc_id, m)
    return removed


def quality(removed: dict[str, str], ids: list[str], close_pairs: list[tuple[str, str]],
            jaccard: Callable[[str, str], float]) -> tuple[float, float]:
    """(precision, recall) of a removal map against the true pairs with J >= 0.8 and a true Jaccard."""
    rep = {i: removed.get(i, i) for i in ids}
    recall = sum(rep[a] == rep[b] for a, b in close_pairs) / max(len(close_pairs), 1)
    ok = sum(jaccard(r, k) >= PRECISION_J for r, k in removed.items())
    return ok / max(len(removed), 1), recall


def truth_pairs(path: Path) -> dict[frozenset, float]:
    with open(path, encoding="utf-8") as f:
        next(f)
        return {frozenset(cols[:2]): float(cols[2]) for cols in (line.rstrip("\n").split("\t") for line in f)}


def shared_truth(path: Path) -> tuple[list[tuple[str, str]], Callable[[str, str], float]]:
    """Close pairs and Jaccard from a corpus' ``pairs_jaccard_w5.tsv`` (pairs below 0.2 are absent: 0)."""
    truth = truth_pairs(path)
    close = [tuple(p) for p, j in truth.items() if j >= RECALL_J]
    return close, lambda a, b: truth.get(frozenset((a, b)), 0.0)


def edited(words: list[str], rate: float, vocabulary: list[str], rng: random.Random) -> list[str]:
    """Each word deleted, substituted, or followed by an inserted word with probability ``rate`` (a third each)."""
    out = []
    for word in words:
        roll = rng.random()
        if roll >= rate:
            out.append(word)
        elif roll < rate / 3:
            continue
        elif roll < 2 * rate / 3:
            out.append(rng.choice(vocabulary))
        else:
            out += [word, rng.choice(vocabulary)]
    return out


def planted(docs: list[tuple[str, str]], seed: int) -> list[tuple[str, str]]:
    """The corpus plus edited copies of a seeded third of its documents (one or two copies each)."""
    rng = random.Random(seed)
    vocabulary = sorted({w for _, text in docs for w in text.split()}) or ["x"]
    copies = []
    for doc_id, text in docs:
        if rng.random() < 1 / 3:
            words = text.split()
            for k in range(rng.choice((1, 1, 2))):
                rate = rng.choice(EDIT_RATES)
                copies.append((f"{doc_id}~edit{k}-{rate}", " ".join(edited(words, rate, vocabulary, rng))))
    return docs + copies


def close_pairs_exact(sets: dict[str, set[bytes]], threshold: float) -> list[tuple[str, str]]:
    """Every pair with exact Jaccard >= threshold, by a prefix-filter join (exact, no sampling).

    Shingles are ordered rarest first; two sets with J >= t share a shingle among the first
    ``|A| - ceil(t |A|) + 1`` of each, so only those are indexed, and candidates are then scored exactly.
    """
    frequency = Counter(s for shingle_set in sets.values() for s in shingle_set)
    index = defaultdict(list)
    for doc_id, shingle_set in sets.items():
        prefix = sorted(shingle_set, key=lambda s: (frequency[s], s))[
            : len(shingle_set) - math.ceil(threshold * len(shingle_set)) + 1
        ]
        for s in prefix:
            index[s].append(doc_id)
    candidates = {(a, b) if a < b else (b, a) for posting in index.values()
                  for k, a in enumerate(posting) for b in posting[k + 1:]}
    return sorted(p for p in candidates if exact_jaccard(sets[p[0]], sets[p[1]]) >= threshold)


def exact_jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def heldout_truth(docs: list[tuple[str, str]], ngram: int) -> tuple[list[tuple[str, str]], Callable[[str, str], float]]:
    """Close pairs and Jaccard computed here from the shingle sets the stage itself uses."""
    sets = {doc_id: shingles(text, ngram) for doc_id, text in docs}
    return close_pairs_exact(sets, RECALL_J), lambda a, b: exact_jaccard(sets[a], sets[b])


def print_quality(name: str, docs: list[tuple[str, str]], close: list[tuple[str, str]],
                  jaccard: Callable[[str, str], float], config: MinHashConfig) -> dict[str, dict[str, float]]:
    """Prints and returns precision, recall and removals of each method."""
    ids = [i for i, _ in docs]
    runs = {"ours (verified)": ours(docs, config),
            "ours (no verify)": ours(docs, MinHashConfig(verify=False)),
            "datasketch MinHashLSH": datasketch_lsh(docs, config)}
    scores = {}
    for method, removed in runs.items():
        p, r = quality(removed, ids, close, jaccard)
        print(f"{name:22} {method:22} {p:9.3f} {r:7.3f} {len(removed):7d} {len(docs):6d} {len(close):7d}")
        scores[method] = {"precision": round(p, 3), "recall": round(r, 3), "removed": len(removed), "docs": len(docs)}
    return scores


def beam_stage(docs: list[tuple[str, str]], config: MinHashConfig) -> tuple[int, float, float]:
    """The ``NearDedup`` PTransform itself on DirectRunner (one in-process worker): (documents removed,
    wall and CPU seconds of a read-only run of the same pipeline, which the stage's time excludes)."""
    import tempfile

    import apache_beam as beam

    from transforms.dedup.keys import batch_keys
    from transforms.dedup.near import NearDedup

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        path.write_text(
            "".join(
                json.dumps({"id": i, "uid": i, "source": "s", "text": t, "lang": "und", "lang_score": 0.0, "meta": {}})
                + "\n"
                for i, t in docs
            ),
            encoding="utf-8",
        )
        seconds = []
        for stage in (False, True):
            started = time.perf_counter(), time.process_time()
            with beam.Pipeline(runner="DirectRunner") as p:
                read = p | beam.io.ReadFromText(str(path)) | beam.Map(json.loads)
                if stage:  # the signatures, made with the key records as the pipeline makes them, count as the stage's
                    keys = (read | beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                            | beam.FlatMap(batch_keys, {}, False, config))
                out = keys | NearDedup(config) if stage else {"removed": read}
                out["removed"] | beam.combiners.Count.Globally() | beam.io.WriteToText(str(Path(tmp) / f"n{stage}"))
            seconds.append((time.perf_counter() - started[0], time.process_time() - started[1]))
        removed = int(next(Path(tmp).glob("nTrue*")).read_text())
    return removed, *seconds[0]


def set_up(method: str, config: MinHashConfig) -> None:
    """What a worker does once, before its first document: imports, permutation tables, loading the
    compiled kernels (ours: one tiny signature). Timed apart, so the figures are per-document throughput."""
    if method in ("ours", "beam"):
        signatures(["warm up"], config)
    else:
        import datasketch  # noqa: F401  (scipy and numpy come with it)


def timed(method: str, shared: Path) -> dict:
    docs, config = speed_corpus(shared), MinHashConfig()  # resolving bands x rows is setup, not per-document work
    started = time.perf_counter()
    set_up(method, config)
    setup = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    if method == "beam":
        removed, read_wall, read_cpu = beam_stage(docs, config)
    else:
        removed, read_wall, read_cpu = len({"ours": ours, "datasketch": datasketch_lsh}[method](docs, config)), 0.0, 0.0
    seconds, cpu = time.perf_counter() - started - read_wall, time.process_time() - cpu_started - read_cpu
    mb = sum(len(t.encode("utf-8")) for _, t in docs) / 1e6
    return {"docs": len(docs), "mb": mb, "setup_seconds": setup, "seconds": seconds, "cpu_seconds": cpu,
            "removed": removed, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's ``ru_maxrss`` keeps the parent's peak across fork and exec,
    so a child started after the quality runs would report those; ``VmHWM`` starts afresh at exec."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED_DATA)
    parser.add_argument("--heldout", type=Path, action="append", default=[],
                        help="JSONL corpus (id, text) to evaluate with planted near-duplicates; repeatable")
    parser.add_argument("--seed", type=int, default=0, help="seed of the planted near-duplicates")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per method, alternating, each in a fresh process; the fastest is reported")
    parser.add_argument("--beam", action="store_true",
                        help="also time the NearDedup PTransform itself on DirectRunner (about 20 s more)")
    parser.add_argument("--timed", choices=["ours", "datasketch", "beam"], help=argparse.SUPPRESS)
    add_record_argument(parser)
    args = parser.parse_args()
    if args.timed:
        print(json.dumps(timed(args.timed, args.shared)))
        return

    config = MinHashConfig()
    print(f"settings: {json.dumps(config.describe())}")
    print(f"{'corpus':22} {'method':22} {'precision':>9} {'recall':>7} {'removed':>7} {'docs':>6} {'J>=0.8':>7}")
    quality_by_corpus = {}
    for name, rel in CORPORA.items():
        quality_by_corpus[name] = print_quality(
            name, load(args.shared / rel), *shared_truth((args.shared / rel).parent / "pairs_jaccard_w5.tsv"), config
        )
    for path in args.heldout:
        docs = planted(load(path), args.seed)
        quality_by_corpus[f"{path.stem}+planted"] = print_quality(f"{path.stem}+planted", docs,
                                                                  *heldout_truth(docs, config.ngram), config)

    signatures(["compile"], config)  # compiles the kernels once per machine, so a timed run only loads them
    runs = defaultdict(list)
    for _ in range(args.repeat):  # alternating, so a noisy spell on the machine hits both sides
        for m in ("datasketch", "ours", *(["beam"] if args.beam else [])):
            runs[m].append(json.loads(subprocess.run([sys.executable, "-m", "benchmarks.dedup_bench", "--shared",
                                                      str(args.shared), "--timed", m],
                                                     capture_output=True, text=True, check=True).stdout))
    results = {m: min(r, key=lambda run: run["seconds"]) for m, r in runs.items()}
    print(f"\nspeed: {results['ours']['docs']} docs, {results['ours']['mb']:.1f} MB, fastest of {args.repeat} "
          f"runs per method (seconds of all runs: " + "; ".join(
              f"{m} " + " ".join(f"{run['seconds']:.2f}" for run in r) for m, r in runs.items()) + ")")
    print(
        f"{'method':12} {'setup s':>7} {'seconds':>8} {'CPU s':>7} {'docs/s':>8} {'MB/s':>6} "
        f"{'peak RSS MB':>11} {'removed':>7}"
    )
    for m, r in results.items():
        print(
            f"{m:12} {r['setup_seconds']:7.2f} {r['seconds']:8.2f} {r['cpu_seconds']:7.2f} "
            f"{r['docs'] / r['seconds']:8.0f} "
            f"{r['mb'] / r['seconds']:6.2f} {r['peak_rss_mb']:11.0f} {r['removed']:7d}"
        )
    ours_, theirs = results["ours"], results["datasketch"]
    print(f"speed ratio ours / datasketch: {theirs['seconds'] / ours_['seconds']:.1f}x wall, "
          f"{theirs['cpu_seconds'] / ours_['cpu_seconds']:.1f}x CPU (a shared machine stretches wall time unevenly); "
          f"{(theirs['seconds'] + theirs['setup_seconds']) / (ours_['seconds'] + ours_['setup_seconds']):.1f}x "
          "with each side's one-off set-up counted")
    if "beam" in results:
        print(
            f"the NearDedup PTransform on DirectRunner (its shuffles and per-element Beam work included, the "
            f"read-only pipeline's time subtracted): {theirs['seconds'] / results['beam']['seconds']:.1f}x datasketch"
        )
    if args.record:
        record_result(args, quality_by_corpus, results, runs)


def record_result(args: argparse.Namespace, quality_by_corpus: dict[str, dict[str, dict[str, float]]],
                  results: dict[str, dict], runs: dict[str, list[dict]]) -> None:
    def q(method: str, corpus: str) -> str:
        s = quality_by_corpus[corpus][method]
        return f"{s['precision']:.3f} / {s['recall']:.3f} ({s['removed']} removed)"

    rows = [{"what": f"near dedup precision / recall (J >= {RECALL_J}), {corpus} "
                     f"({quality_by_corpus[corpus]['ours (verified)']['docs']:,} docs)",
             "result": f"{q('ours (verified)', corpus)}; without verification {q('ours (no verify)', corpus)}",
             "baseline": f"datasketch MinHashLSH {q('datasketch MinHashLSH', corpus)}"} for corpus in quality_by_corpus]
    ours_, theirs = results["ours"], results["datasketch"]
    with_setup = (theirs["seconds"] + theirs["setup_seconds"]) / (ours_["seconds"] + ours_["setup_seconds"])
    ours_runs, their_runs = (", ".join(f"{r['seconds']:.2f}" for r in runs[m]) for m in ("ours", "datasketch"))
    rows.append({"what": f"near dedup speed, {ours_['docs']:,} docs ({ours_['mb']:.1f} MB), the stage's functions, "
                         f"fastest of {args.repeat}",
                 "result": f"{ours_['docs'] / ours_['seconds']:,.0f} docs/s, {ours_['mb'] / ours_['seconds']:.2f} "
                           f"MB/s: {theirs['seconds'] / ours_['seconds']:.1f}x (runs: {ours_runs} s; "
                           f"{with_setup:.1f}x with each side's set-up counted)",
                 "baseline": f"datasketch MinHash + MinHashLSH {theirs['docs'] / theirs['seconds']:,.0f} docs/s "
                             f"(runs: {their_runs} s)"})
    if "beam" in results:
        beam_ = results["beam"]
        rows.append({"what": "near dedup, the `NearDedup` PTransform on DirectRunner (`--beam`), same documents",
                     "result": f"{beam_['seconds']:.2f} s: {theirs['seconds'] / beam_['seconds']:.1f}x, "
                               f"{beam_['removed']:,} removed",
                     "baseline": f"datasketch {theirs['seconds']:.2f} s, {theirs['removed']:,} removed"})
    record("dedup_bench", section="Deduplication", rows=rows, options=vars(args),
           figures={"quality": quality_by_corpus, "speed": results})


if __name__ == "__main__":
    main()
