"""Share of the pipeline's CPU time spent in the quality-filter and PII stages.

Builds an N-document corpus from the shared texts (``pipeline_bench.build_corpus``), runs the
full pipeline on it once on DirectRunner in a subprocess (its CPU seconds from
``getrusage(RUSAGE_CHILDREN)``), then prepares the same documents in this process the way the
pipeline does (reader, normaliser, language id; not timed) and times exactly what the pipeline's
``Filter`` and ``RedactPII`` steps call per document: ``pipelines.curate._apply_filter``
(config lookup per language and source, scoring, decision, removed and audit rows) and
``pipelines.curate._redact`` on the documents the filter kept. The Beam plumbing around those
steps (audit sampling, counting) is not in the numerator, so the share is a lower bound on
what removing the stages would save, and an upper bound on what their functions cost.

    python -m benchmarks.filter_cost --docs 20000
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.pipeline_bench import build_corpus, load_texts, run_pipeline

BUDGET = 0.25
_LID_BATCH = 512


def prepared_documents(corpus: Path) -> list[dict[str, Any]]:
    """The corpus's documents as the filter stage receives them: read, normalised, language-identified."""
    from transforms.langid import LanguageIdentifier, apply_prediction
    from transforms.normalize import normalize_document
    from transforms.readers import read_input_file
    from transforms.sources import match_inputs, sources_from_inputs

    docs = []
    for f in match_inputs(sources_from_inputs([str(corpus / "*.jsonl")])):
        for kind, item in read_input_file(f):
            if kind == "doc":
                kind, item = normalize_document(item)
                if kind == "doc":
                    docs.append(item)
    lid = LanguageIdentifier()
    out = []
    for i in range(0, len(docs), _LID_BATCH):
        batch = docs[i:i + _LID_BATCH]
        out += [apply_prediction(d, p) for d, p in zip(batch, lid.predict([d["text"] for d in batch]))]
    return out


def time_filter_and_pii(docs: list[dict[str, Any]]) -> dict[str, float]:
    """CPU seconds of the filter step over ``docs`` and of the PII step over the documents it keeps."""
    from pipelines.curate import _apply_filter, _redact
    from transforms.filter_config import load_filter_config

    config = load_filter_config()
    start = time.process_time()
    outputs = [_apply_filter(d, config, True) for d in docs]
    filter_s = time.process_time() - start
    kept = [value for out in outputs for tag, value in out if tag == "doc"]
    start = time.process_time()
    for d in kept:
        list(_redact(d))
    pii_s = time.process_time() - start
    return {"filter": filter_s, "pii": pii_s, "kept": len(kept)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000, help="corpus size (default 20000)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="filter-cost-"))
    try:
        corpus = work / "corpus"
        info = build_corpus(load_texts(), args.docs, corpus)
        run = run_pipeline(corpus, work / "lake", workers=1)
        docs = prepared_documents(corpus)
        stages = time_filter_and_pii(docs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    both = stages["filter"] + stages["pii"]
    share = both / run["cpu"]
    print(f"corpus: {args.docs:,} docs, {info['bytes'] / 1e6:.1f} MB")
    print(f"full pipeline (DirectRunner, subprocess): cpu {run['cpu']:.1f} s, wall {run['wall']:.1f} s")
    print(f"filter step on {len(docs):,} docs:  {stages['filter']:.1f} s cpu ({stages['filter'] / run['cpu']:.1%})")
    print(f"PII step on {stages['kept']:,} kept docs: {stages['pii']:.1f} s cpu ({stages['pii'] / run['cpu']:.1%})")
    print(f"filter + PII: {both:.1f} s = {share:.1%} of the pipeline's CPU "
          f"({'within' if share <= BUDGET else 'OVER'} the {BUDGET:.0%} budget)")
    return 0 if share <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
