"""The code path on real source code: language labels, near dedup across two standard libraries,
filters, and throughput against the prose path, all in one command.

    python -m benchmarks.code_data                      # once: builds the sets (downloads packages)
    python -m benchmarks.code_eval [--data DIR] [--prose FILE.jsonl] [--record]

- Labels: ``transforms.code.languages.detect`` on every file of every set of
  ``benchmarks/code_data.py``, against the set's language; accuracy per language (target >= 0.98).
- Near dedup: the ``.py`` files of CPython 3.11 and PyPy's 3.9 standard library, through our stage's
  functions (code signatures, LSH band postings, bucket pairs, verification, star clustering) at
  Jaccard 0.8, against the exact Jaccard of every pair on the same shingles (code token 5-grams,
  ``transforms.code.dedup.code_shingles``, a sparse product over all files: no sampling). Recall: the
  share of pairs with true J >= 0.8 that end in one cluster; precision: the share of removed files
  whose kept file has true J >= 0.8 with them (targets >= 0.95).
- Filters: what the code filters drop per language and why (the basis of the config's entries).
- Throughput: the per-document stages of each path, in this process, in MB/s of UTF-8: the code
  path (code filters, code secrets redaction, code exact key and signatures) on the sets, and the
  prose path (language id, prose filters, PII, exact key and signatures) on ``--prose`` (by default
  the shared Debian man pages); both include their normalisation (``normalize_document``). The
  baseline is the prose path.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks import SHARED_DATA
from benchmarks.code_data import DEFAULT_CACHE, SETS
from benchmarks.dedup_bench import cluster_in_process
from benchmarks.results import add_record_argument, record
from transforms.code.dedup import code_shingles, code_signatures
from transforms.code.languages import detect_lang
from transforms.dedup.minhash import MinHashConfig

CPYTHON, PYPY = ("python-cpython-3.11", "python-cpython-3.11-minimal"), ("python-pypy-3.9",)
THRESHOLD = 0.8


def load_sets(data: Path, names: list[str] | None = None) -> dict[str, list[dict]]:
    out = {}
    for s in SETS:
        path = data / f"{s.name}.jsonl"
        if path.is_file() and (names is None or s.name in names):
            with open(path, encoding="utf-8") as f:
                out[s.name] = [json.loads(line) for line in f]
    return out


def label_accuracy(sets: dict[str, list[dict]]) -> dict[str, dict]:
    """Per expected language: files, correct, accuracy, and what the wrong ones got."""
    stats: dict[str, dict] = defaultdict(lambda: {"files": 0, "correct": 0, "wrong": Counter()})
    for rows in sets.values():
        for r in rows:
            got = detect_lang(r["path"], r["content"])
            s = stats[r["label"]]
            s["files"] += 1
            s["correct"] += got == r["label"]
            if got != r["label"]:
                s["wrong"][str(got)] += 1
    return {lang: {**s, "accuracy": s["correct"] / s["files"], "wrong": dict(s["wrong"])}
            for lang, s in sorted(stats.items())}


def exact_pairs(texts: list[str], ngram: int, threshold: float) -> dict[tuple[int, int], float]:
    """Every pair (i < j) with exact Jaccard >= threshold on code shingles: a sparse incidence product."""
    from scipy import sparse

    ids: dict[bytes, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        for sh in code_shingles(t, ngram):
            rows.append(i)
            cols.append(ids.setdefault(sh, len(ids)))
    m = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(texts), len(ids)))
    sizes = np.asarray(m.sum(axis=1)).ravel()
    inter = (m @ m.T).tocoo()
    out = {}
    for i, j, n in zip(inter.row, inter.col, inter.data):
        if i < j:
            jac = n / (sizes[i] + sizes[j] - n)
            if jac >= threshold:
                out[int(i), int(j)] = float(jac)
    return out


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_dedup(texts: list[str], config: MinHashConfig) -> dict[int, int]:
    """Our stage's functions in-process on code signatures (``benchmarks.dedup_bench``): removed index -> kept index."""
    sigs = code_signatures(texts, ["code-python"] * len(texts), config)
    removed = cluster_in_process([f"{i:06d}" for i in range(len(texts))], sigs, config)
    return {int(node): int(kept) for node, kept in removed.items()}


def dedup_quality(sets: dict[str, list[dict]], ngram: int) -> dict:
    rows = [r for name in CPYTHON + PYPY for r in sets.get(name, [])]
    texts = [r["content"] for r in rows]
    truth = exact_pairs(texts, ngram, THRESHOLD)
    config = MinHashConfig(ngram=ngram, threshold=THRESHOLD)
    removed = near_dedup(texts, config)
    rep = {i: removed.get(i, i) for i in range(len(texts))}
    recall = sum(rep[a] == rep[b] for a, b in truth) / max(len(truth), 1)
    shingle_sets = {}

    def true_j(a: int, b: int) -> float:
        for k in (a, b):
            if k not in shingle_sets:
                shingle_sets[k] = code_shingles(texts[k], ngram)
        return jaccard(shingle_sets[a], shingle_sets[b])

    precise = sum(true_j(r, k) >= THRESHOLD for r, k in removed.items())
    cross = sum(1 for a, b in truth if (rows[a]["repo"] in PYPY) != (rows[b]["repo"] in PYPY))
    return {"files": len(texts), "true_pairs": len(truth), "cross_version_pairs": cross, "removed": len(removed),
            "recall": recall, "precision": precise / max(len(removed), 1), "bands_rows": config.bands_rows}


def filter_report(sets: dict[str, list[dict]]) -> dict[str, dict]:
    from transforms.filters.code import filter_code_document
    from transforms.filters.config import load_filter_config

    config = load_filter_config().code
    out: dict[str, dict] = defaultdict(lambda: {"files": 0, "dropped": Counter()})
    for rows in sets.values():
        for r in rows:
            doc = {"id": r["id"], "uid": r["id"], "text": r["content"], "source": "eval", "lang": r["label"],
                   "lang_score": 1.0, "meta": {}}
            _, failure = filter_code_document(doc, config.params_for(r["label"], "eval"))
            out[r["label"]]["files"] += 1
            if failure:
                out[r["label"]]["dropped"][failure.name] += 1
    return {k: {"files": v["files"], "dropped": dict(v["dropped"]), "share": sum(v["dropped"].values()) / v["files"]}
            for k, v in sorted(out.items())}


def _docs(texts: list[str], langs: list[str]) -> list[dict]:
    return [{"id": str(i), "uid": str(i), "text": t, "source": "bench", "lang": lang, "lang_score": 1.0, "meta": {}}
            for i, (t, lang) in enumerate(zip(texts, langs))]


def path_seconds(docs: list[dict], identify: bool) -> float:
    """Process seconds of the per-document stages over ``docs`` (language id first when ``identify``)."""
    from transforms.dedup.keys import batch_keys
    from transforms.filters.config import load_filter_config
    from transforms.filters.stage import filter_outputs
    from transforms.langid.identify import LanguageIdentifier, apply_prediction
    from transforms.normalize import normalize_document
    from transforms.pii import redact_document

    filters, minhash = load_filter_config(), MinHashConfig()
    lid = LanguageIdentifier() if identify else None
    filter_outputs(docs[0], filters, True)  # warm-up: tables, compiled kernels
    list(batch_keys(docs[:2], {}, True, minhash))
    start = time.process_time()
    docs = [item for tag, item in map(normalize_document, docs) if tag == "doc"]
    if lid is not None:
        labelled = []
        for lo in range(0, len(docs), 512):
            labelled += list(map(apply_prediction, docs[lo:lo + 512], *lid.predict_columns(
                [d["text"] for d in docs[lo:lo + 512]])))
        docs = labelled
    kept = [item for d in docs for tag, item in filter_outputs(d, filters, True) if tag == "doc"]
    redacted = [item for d in kept for tag, item in redact_document(d) if tag == "doc"]
    for lo in range(0, len(redacted), 512):
        list(batch_keys(redacted[lo:lo + 512], {}, True, minhash))
    return time.process_time() - start


def throughput(sets: dict[str, list[dict]], prose_path: Path, limit_mb: float) -> dict:
    code_rows = [r for rows in sets.values() for r in rows]
    code_rows = code_rows[:: max(1, int(sum(len(r["content"]) for r in code_rows) / (limit_mb * 1e6)))]
    with open(prose_path, encoding="utf-8") as f:
        prose = [json.loads(line)["text"] for line in f]
    while sum(map(len, prose)) < limit_mb * 1e6 / 2 and prose:
        prose = prose + prose  # at least half the code's size
    code_docs = _docs([r["content"] for r in code_rows], [r["label"] for r in code_rows])
    prose_docs = _docs(prose, ["und"] * len(prose))
    mb = {name: sum(len(d["text"].encode("utf-8")) for d in docs) / 1e6
          for name, docs in (("code", code_docs), ("prose", prose_docs))}
    seconds = {"code": path_seconds(code_docs, identify=False), "prose": path_seconds(prose_docs, identify=True)}
    rate = {k: mb[k] / seconds[k] for k in mb}
    return {"mb": mb, "seconds": seconds, "mb_per_s": rate, "ratio": rate["code"] / rate["prose"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_CACHE / "sets", help="the sets of benchmarks.code_data")
    parser.add_argument("--prose", type=Path, default=SHARED_DATA / "debian-manpages-l10n" / "manpages_l10n.jsonl",
                        help="prose JSONL for the throughput baseline")
    parser.add_argument("--sets", default=None, help="comma-separated set names (default: every built set)")
    parser.add_argument("--ngram", type=int, default=5, help="token n-gram size of the shingles (default 5)")
    parser.add_argument("--throughput-mb", type=float, default=20.0, help="MB of code timed (default 20)")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: labels,dedup,filters,speed")
    add_record_argument(parser)
    args = parser.parse_args(argv)
    sets = load_sets(args.data, args.sets.split(",") if args.sets else None)
    if not sets:
        print(f"code_eval: no sets under {args.data}; build them with python -m benchmarks.code_data", file=sys.stderr)
        return 2
    skip, figures, rows = set(args.skip.split(",")), {}, []
    if "labels" not in skip:
        acc = label_accuracy(sets)
        figures["labels"] = acc
        print(f"{'language':<18}{'files':>7}{'accuracy':>10}  wrong")
        for lang, s in acc.items():
            print(f"{lang:<18}{s['files']:>7}{s['accuracy']:>10.4f}  {s['wrong'] or ''}")
        worst = min(acc.items(), key=lambda kv: kv[1]["accuracy"])
        files = sum(s["files"] for s in acc.values())
        rows.append({"what": f"programming-language labels, {len(acc)} languages, {files:,} files (worst: {worst[0]})",
                     "result": f"min accuracy {worst[1]['accuracy']:.4f}",
                     "baseline": "target 0.98 per language"})
    if "dedup" not in skip and all(n in sets for n in CPYTHON[:1] + PYPY):
        q = dedup_quality(sets, args.ngram)
        figures["dedup"] = q
        print(f"near dedup, CPython 3.11 + PyPy 3.9 stdlib: {q['files']} files, {q['true_pairs']} true pairs "
              f"(J >= {THRESHOLD}; {q['cross_version_pairs']} across versions), {q['removed']} removed; "
              f"recall {q['recall']:.4f}, precision {q['precision']:.4f} (bands x rows {q['bands_rows']})")
        rows.append({"what": "near dedup across two Python standard libraries (code token 5-grams, J 0.8)",
                     "result": f"recall {q['recall']:.3f}, precision {q['precision']:.3f}",
                     "baseline": f"exact Jaccard of all pairs ({q['true_pairs']} pairs >= 0.8); target 0.95"})
    if "filters" not in skip:
        rep = filter_report(sets)
        figures["filters"] = rep
        for lang, s in rep.items():
            print(f"filters {lang:<18} {s['files']:>6} files, dropped {s['share']:.3f}: {s['dropped']}")
    if "speed" not in skip:
        t = throughput(sets, args.prose, args.throughput_mb)
        figures["throughput"] = t
        print(f"throughput: code {t['mb_per_s']['code']:.2f} MB/s ({t['mb']['code']:.1f} MB), prose "
              f"{t['mb_per_s']['prose']:.2f} MB/s ({t['mb']['prose']:.1f} MB): {t['ratio']:.2f}x the prose path")
        rows.append({"what": "code path per-document stages, MB/s", "result": f"{t['ratio']:.2f}x",
                     "baseline": f"prose path {t['mb_per_s']['prose']:.2f} MB/s (langid, filters, PII, dedup keys)"})
    if args.record:
        record("code_eval", section="Source code", figures=figures, rows=rows, options=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
