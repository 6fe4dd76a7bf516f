"""What naming the languages lid.176 lacks costs the language-id stage on the e2e corpus.

The corpus is the e2e benchmark's (``benchmarks.pipeline_bench.build_corpus`` over ``../shared/data``,
``--docs`` documents). The stage runs as in the pipeline (``LabelBatches``, batches of 512) with the
supplement (CLD2 and lid-ncg for unsure Latin-script texts) and without it (``--no-lid-supplement``),
on the same batches, interleaved; per batch the fastest of ``--repeat`` runs counts, in process CPU
time. Prints the ratio (the issue's limit: 1.15) and which labels changed.

    python -m benchmarks.langid_supplement_cost --docs 20000 --repeat 3
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.langid_eval import BATCH
from benchmarks.pipeline_bench import build_corpus, load_texts
from benchmarks.results import add_record_argument, record
from transforms.langid.identify import LabelBatches, LangIdConfig

LIMIT = 1.15  # stage time with the supplement over without it, on the e2e corpus (issue 27)


def corpus_texts(docs: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        build_corpus(load_texts(), docs, Path(tmp))
        return [json.loads(line).get("text", "") for f in sorted(Path(tmp).glob("*.jsonl")) for line in open(f)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_supplement_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000, help="e2e corpus size (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per batch and side (default 3)")
    add_record_argument(parser)
    args = parser.parse_args(argv)
    texts = corpus_texts(args.docs)
    stages = {"without": LabelBatches(LangIdConfig(supplement=False)), "with": LabelBatches(LangIdConfig())}
    for stage in stages.values():
        stage.setup()
    gc.collect()
    gc.freeze()  # the corpus is long-lived: not rescanned by the collections the timed code triggers
    seconds = dict.fromkeys(stages, 0.0)
    labels: dict[str, list[str]] = {name: [] for name in stages}
    for i in range(0, len(texts), BATCH):
        batch = [{"id": str(n), "text": t, "meta": {}} for n, t in enumerate(texts[i:i + BATCH])]
        for name, stage in stages.items():
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                started = time.process_time()
                out = stage.process(batch)
                best = min(best, time.process_time() - started)
            seconds[name] += best
            labels[name] += [d["lang"] for d in out]
    ratio = seconds["with"] / max(seconds["without"], 1e-9)
    moved = Counter((a, b) for a, b in zip(labels["without"], labels["with"]) if a != b)
    print(f"{len(texts)} docs: stage CPU without the supplement {seconds['without']:.2f} s, with it "
          f"{seconds['with']:.2f} s: {ratio:.3f}x (limit {LIMIT}x)")
    print(f"labels changed: {sum(moved.values())}: " + "  ".join(f"{a}>{b} {n}" for (a, b), n in moved.most_common()))
    if args.record:
        record("langid_supplement_cost", section="Language id",
               figures={"docs": len(texts), "seconds": seconds, "ratio": round(ratio, 4),
                        "changed": sum(moved.values())},
               rows=[{"what": "language-id stage CPU time on the e2e corpus, with the supplement",
                      "result": f"{ratio:.3f}x", "baseline": f"without it, same batches: {seconds['without']:.2f} s"}],
               options=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
