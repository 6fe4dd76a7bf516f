"""Accuracy, macro-F1 and speed of the ``langid`` stage against the raw lid.176 model.

Reads labeled JSONL (``text``; ``lid176`` = the label lid.176 must output, or null for a
language it lacks: counted as unsupported, not scored). The stage runs exactly as in the
pipeline (``IdentifyLanguage`` with the same ``LangIdConfig`` the options build, batches of
512); the raw model (plain top-1 of lid.176.ftz, batch predict) runs on the same batches,
interleaved, so both speeds see the same machine load. Each batch is timed ``--repeat`` times
for each and the fastest time counts: on a shared machine a stall lands on one run, not all.
``und`` counts as wrong.

    python -m benchmarks.langid_eval data/gettext.jsonl data/fortunes.jsonl
    python -m benchmarks.langid_eval --ablation data/*.jsonl      # what each rule buys
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from transforms.langcodes import UNDETERMINED
from transforms.langid import IdentifyLanguage, LangIdConfig, parse_thresholds

BATCH = 512
ABLATIONS = {"no script check": {"script_check": False}, "no second opinion": {"second_opinion": False},
             "no threshold": {"threshold": 0.0, "thresholds": {}},
             "no rules": {"script_check": False, "second_opinion": False, "threshold": 0.0, "thresholds": {}}}


@dataclass
class Scores:
    docs: int
    accuracy: float
    macro_f1: float
    und_rate: float
    docs_per_s: float
    worst: list[tuple[str, float, int, list[tuple[str, int]]]]  # lang, F1, docs, top confusions


def score(gold: list[str], pred: list[str], seconds: float) -> Scores:
    """Accuracy (und is wrong), macro-F1 over the gold languages, and the 10 lowest-F1 languages."""
    tp, fp, fn = Counter(), Counter(), Counter()
    confusions: dict[str, Counter] = defaultdict(Counter)
    for g, p in zip(gold, pred):
        if g == p:
            tp[g] += 1
        else:
            fn[g] += 1
            fp[p] += 1
            confusions[g][p] += 1
    f1 = {lang: 2 * tp[lang] / (2 * tp[lang] + fp[lang] + fn[lang]) for lang in set(gold)}
    worst = sorted(f1.items(), key=lambda kv: (kv[1], kv[0]))[:10]
    support = Counter(gold)
    return Scores(docs=len(gold), accuracy=sum(tp.values()) / max(1, len(gold)),
                  macro_f1=sum(f1.values()) / max(1, len(f1)), und_rate=pred.count(UNDETERMINED) / max(1, len(pred)),
                  docs_per_s=len(gold) / seconds if seconds else 0.0,
                  worst=[(lang, f, support[lang], confusions[lang].most_common(3)) for lang, f in worst])


def load(path: str) -> tuple[list[dict], int]:
    """Scored records (lid176 set) and the number of unsupported ones."""
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    scored = [r for r in records if r.get("lid176")]
    return scored, len(records) - len(scored)


def run_both(records: list[dict], stage: IdentifyLanguage, repeat: int = 3) -> tuple[Scores, Scores]:
    """Raw model and stage on the same batches, timed alternately; per batch the fastest of ``repeat`` runs."""
    gold = [r["lid176"] for r in records]
    raw_pred, stage_pred = [], []
    raw_s = stage_s = 0.0
    model = stage.identifier.model
    for i in range(0, len(records), BATCH):
        batch = [{"id": str(n), "text": r["text"], "meta": {}} for n, r in enumerate(records[i:i + BATCH])]
        raw_best = stage_best = float("inf")
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            labels, _ = model.predict([d["text"].replace("\n", " ") for d in batch], k=1)
            raw_best = min(raw_best, time.perf_counter() - started)
            started = time.perf_counter()
            langs = [d["lang"] for d in stage.process(batch)]
            stage_best = min(stage_best, time.perf_counter() - started)
        raw_pred += [labs[0].removeprefix("__label__") if labs else UNDETERMINED for labs in labels]
        stage_pred += langs
        raw_s += raw_best
        stage_s += stage_best
    return score(gold, raw_pred, raw_s), score(gold, stage_pred, stage_s)


def accuracy_only(records: list[dict], stage: IdentifyLanguage) -> Scores:
    gold = [r["lid176"] for r in records]
    pred = []
    for i in range(0, len(records), BATCH):
        pred += [d["lang"] for d in stage.process([{"text": r["text"], "meta": {}} for r in records[i:i + BATCH]])]
    return score(gold, pred, 0.0)


def _stage(config: LangIdConfig) -> IdentifyLanguage:
    stage = IdentifyLanguage(config)
    stage.setup()
    return stage


def _confusions(worst) -> str:
    return "  ".join(f"{lang} {f1:.2f} ({n}: " + ", ".join(f"{p}x{c}" for p, c in conf) + ")" for lang, f1, n, conf in worst)


def report(path: str, unsupported: int, raw: Scores, stage: Scores) -> str:
    lines = [f"\n{path}  ({raw.docs} scored docs, {unsupported} unsupported)",
             f"  {'':7} {'accuracy':>9} {'macro-F1':>9} {'und':>7} {'docs/s':>9}"]
    for name, s in (("raw", raw), ("stage", stage)):
        lines.append(f"  {name:7} {s.accuracy:9.4f} {s.macro_f1:9.4f} {s.und_rate:7.2%} {s.docs_per_s:9.0f}")
    lines.append(f"  {'gain':7} {stage.accuracy - raw.accuracy:+9.4f} {stage.macro_f1 - raw.macro_f1:+9.4f} "
                 f"{'':7} {stage.docs_per_s / max(raw.docs_per_s, 1e-9):8.2f}x")
    for name, s in (("raw", raw), ("stage", stage)):
        lines.append(f"  worst 10 ({name}): {_confusions(s.worst)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.langid_eval", description=__doc__.split("\n\n")[0],
        epilog="Records need 'text' and 'lid176' (the expected lid.176 label, or null when unsupported).")
    parser.add_argument("files", nargs="+", metavar="FILE.jsonl", help="labeled JSONL files")
    parser.add_argument("--lid-model", default=None, metavar="PATH", help="fastText model (default: lid.176.ftz)")
    parser.add_argument("--lid-threshold", type=float, default=LangIdConfig.threshold,
                        help=f"default confidence threshold (default {LangIdConfig.threshold})")
    parser.add_argument("--lid-thresholds", default=None, metavar="LANG=T,...|FILE.json",
                        help="per-language thresholds, as in the pipeline")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per batch for each of raw and stage; the fastest counts (default 3)")
    parser.add_argument("--ablation", action="store_true",
                        help="also score the stage with each rule switched off (accuracy and macro-F1 only)")
    args = parser.parse_args(argv)
    config = LangIdConfig(model_path=args.lid_model, threshold=args.lid_threshold,
                          thresholds=parse_thresholds(args.lid_thresholds))
    stage = _stage(config)
    data = {path: load(path) for path in args.files}
    # The loaded files are long-lived; a Beam worker streams its input instead. Frozen, they are not
    # rescanned by every garbage collection that the timed code triggers (raw and stage alike).
    gc.collect()
    gc.freeze()
    for path, (records, unsupported) in data.items():
        print(report(path, unsupported, *run_both(records, stage, args.repeat)), flush=True)
    if args.ablation:
        print(f"\nablation: accuracy / macro-F1 with one rule off (stage = all rules on)")
        variants = {"stage": stage} | {name: _stage(replace(config, **change)) for name, change in ABLATIONS.items()}
        print(f"  {'':18}" + "".join(f"{path.rsplit('/', 1)[-1]:>22}" for path in data))
        for name, variant in variants.items():
            cells = [accuracy_only(records, variant) for records, _ in data.values()]
            print(f"  {name:18}" + "".join(f"{s.accuracy:>12.4f} / {s.macro_f1:.4f}" for s in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
