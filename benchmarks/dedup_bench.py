"""Near-dedup quality and speed, each figure against a plain datasketch MinHashLSH run in the same command.

    python -m benchmarks.dedup_bench [--shared ../shared/data]

Quality: on the two shared near-duplicate corpora with exact word-5-gram Jaccard ground truth;
recall = share of pairs with true J >= 0.8 that end in one cluster (one is the other's kept
``duplicate_of``, or both point to the same kept document); precision = share of removed documents whose kept ``duplicate_of`` has
true J >= 0.7 with them.
Speed: >= 20,000 documents = every record of the five shared JSONL corpora plus one mutated copy
of each (every 40th word dropped), through our stage's core functions (batched signatures, band
postings, bucket pairs, verification, star clustering) and through datasketch (MinHash per document,
MinHashLSH query then insert of kept documents), each in a fresh subprocess (peak RSS is per run).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from transforms.dedup import band_postings, bucket_pairs, star_clusters, verify_pairs
from transforms.minhash import MinHashConfig, shingles, signatures

CORPORA = {"debian-copyright": "neardup-debian-copyright/copyright.jsonl",
           "spdx-licenses": "neardup-spdx-licenses/spdx_licenses.jsonl"}
SPEED_FILES = ["debian-fortunes/fortunes.jsonl", "debian-gettext/gettext.jsonl",
               "debian-manpages-l10n/manpages_l10n.jsonl", *CORPORA.values()]
BATCH = 2048


def load(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(r["id"], r["text"]) for r in map(json.loads, f)]


def speed_corpus(shared: Path) -> list[tuple[str, str]]:
    docs = [d for name in SPEED_FILES for d in load(shared / name)]
    mutated = [(f"{i}~m", " ".join(w for k, w in enumerate(t.split(" ")) if k % 40 != 39)) for i, t in docs]
    return docs + mutated


def ours(docs: list[tuple[str, str]], config: MinHashConfig) -> dict[str, str]:
    """Our stage's functions in-process, Beam's shuffles replaced by dicts: returns removed id -> kept id."""
    nodes = [((1, 0, i, i), i) for i, _ in docs]
    sigs = np.concatenate([signatures([t for _, t in docs[lo:lo + BATCH]], config) for lo in range(0, len(docs), BATCH)])
    groups = defaultdict(list)  # GroupByBand
    for lo in range(0, len(docs), BATCH):
        for key, posting in band_postings(nodes[lo:lo + BATCH], sigs[lo:lo + BATCH], config):
            groups[key].append(posting)
    pairs = [pair for postings in groups.values() for pair in bucket_pairs(postings, config)]
    row = {n[1]: k for k, n in enumerate(nodes)}
    edges = []
    for lo in range(0, len(pairs), BATCH):  # the signature joins, then BatchForVerify
        batch = pairs[lo:lo + BATCH]
        edges += verify_pairs(batch, sigs[[row[a[1]] for a, _ in batch]], sigs[[row[b[1]] for _, b in batch]], config)
    return {node[1]: kept[1] for kept, node, _ in star_clusters(edges)}


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


def quality(removed: dict[str, str], ids: list[str], truth: dict[frozenset, float]) -> tuple[float, float]:
    rep = {i: removed.get(i, i) for i in ids}
    pairs = [p for p, j in truth.items() if j >= 0.8]
    recall = sum(len({rep[i] for i in p}) == 1 for p in pairs) / len(pairs)
    ok = sum(truth.get(frozenset((r, k)), 0.0) >= 0.7 for r, k in removed.items())
    return ok / max(len(removed), 1), recall


def truth_pairs(path: Path) -> dict[frozenset, float]:
    with open(path, encoding="utf-8") as f:
        next(f)
        return {frozenset(cols[:2]): float(cols[2]) for cols in (line.rstrip("\n").split("\t") for line in f)}


def timed(method: str, shared: Path) -> dict:
    docs, config = speed_corpus(shared), MinHashConfig()  # resolving bands x rows is setup, not per-document work
    started, cpu_started = time.perf_counter(), time.process_time()
    removed = {"ours": ours, "datasketch": datasketch_lsh}[method](docs, config)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    mb = sum(len(t.encode("utf-8")) for _, t in docs) / 1e6
    return {"docs": len(docs), "mb": mb, "seconds": seconds, "cpu_seconds": cpu, "removed": len(removed),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--timed", choices=["ours", "datasketch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timed:
        print(json.dumps(timed(args.timed, args.shared)))
        return

    config = MinHashConfig()
    print(f"settings: {json.dumps(config.describe())}")
    print(f"{'corpus':18} {'method':22} {'precision':>9} {'recall':>7} {'removed':>7}")
    for name, rel in CORPORA.items():
        docs = load(args.shared / rel)
        truth = truth_pairs((args.shared / rel).parent / "pairs_jaccard_w5.tsv")
        ids = [i for i, _ in docs]
        runs = {"ours (verified)": ours(docs, config),
                "ours (no verify)": ours(docs, MinHashConfig(verify=False)),
                "datasketch MinHashLSH": datasketch_lsh(docs, config)}
        for method, removed in runs.items():
            p, r = quality(removed, ids, truth)
            print(f"{name:18} {method:22} {p:9.3f} {r:7.3f} {len(removed):7d}")

    results = {m: json.loads(subprocess.run([sys.executable, "-m", "benchmarks.dedup_bench", "--shared", str(args.shared),
                                            "--timed", m], capture_output=True, text=True, check=True).stdout)
               for m in ("datasketch", "ours")}
    print(f"\nspeed: {results['ours']['docs']} docs, {results['ours']['mb']:.1f} MB")
    print(f"{'method':12} {'seconds':>8} {'CPU s':>7} {'docs/s':>8} {'MB/s':>6} {'peak RSS MB':>11} {'removed':>7}")
    for m, r in results.items():
        print(f"{m:12} {r['seconds']:8.2f} {r['cpu_seconds']:7.2f} {r['docs'] / r['seconds']:8.0f} "
              f"{r['mb'] / r['seconds']:6.2f} {r['peak_rss_mb']:11.0f} {r['removed']:7d}")
    print(f"speed ratio ours / datasketch: {results['datasketch']['seconds'] / results['ours']['seconds']:.1f}x wall, "
          f"{results['datasketch']['cpu_seconds'] / results['ours']['cpu_seconds']:.1f}x CPU (a shared machine "
          "stretches wall time unevenly)")


if __name__ == "__main__":
    main()
