"""The fused stage with one element per document against one element per batch of documents.

    python -m benchmarks.fused_batches [--docs 5000] [--repeat 2] [--record]

Both pipelines read the same JSONL file (``benchmarks.pipeline_bench.build_corpus``, one file) with
``ReadDocuments`` and stage what they keep with ``stage_batch`` (Arrow files and locations), on the
in-process FnApiRunner. Between the two, the stage functions of ``pipelines.curate`` (normalise,
language id, filters, PII, dedup key records) run either as today's Beam steps, one element per
document (language id and staging take ``BatchElements`` batches, as in the pipeline), or inside
one step over ``BatchElements`` batches of 64 to 2048 documents, with the same side outputs
(removed rows, filter audit rows, skipped filters and PII counts, the last two summed by the same
combiners). Runs alternate; the ratio is of
the fastest runs, per-document time / per-batch time (above 1: batches are faster).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.pipeline_bench import build_corpus, load_texts
from benchmarks.results import add_record_argument, record


def _stages(opts) -> dict[str, Any]:
    from transforms.dedup.minhash import MinHashConfig
    from transforms.filters.config import FilterConfig
    from transforms.langid.identify import LangIdConfig

    return {"filter": FilterConfig.from_options(opts), "langid": LangIdConfig.from_options(opts),
            "minhash": MinHashConfig.from_options(opts)}


class _BatchStage:
    """Every stage function over one batch: what one element per batch would run."""

    def __init__(self, cfg: dict[str, Any], root: str):
        self.cfg, self.root, self.identifier = cfg, root, None

    def __call__(self, batch: list[dict]) -> Iterator[Any]:
        import apache_beam as beam

        from transforms.dedup.keys import batch_keys
        from transforms.document import DOC
        from transforms.filters.stage import filter_outputs
        from transforms.langid.identify import LanguageIdentifier, apply_prediction
        from transforms.normalize import normalize_document
        from transforms.pii import redact_document
        from transforms.staging import stage_batch

        if self.identifier is None:
            self.identifier = LanguageIdentifier(self.cfg["langid"])
        items: list[tuple[str, Any]] = list(map(normalize_document, batch))
        docs = [d for tag, d in items if tag == DOC]
        docs = list(map(apply_prediction, docs, *self.identifier.predict_columns([d["text"] for d in docs])))
        items += [item for doc in docs for item in filter_outputs(doc, self.cfg["filter"], True)]
        docs = [d for tag, d in items[len(batch):] if tag == DOC]
        redacted = [item for doc in docs for item in redact_document(doc)]
        items = [item for item in items + redacted if item[0] != DOC]  # what the per-document steps tag
        for tag, value in items:
            yield beam.pvalue.TaggedOutput(tag, value)
        keys = partial(batch_keys, priorities={}, exact=True, config=self.cfg["minhash"])
        yield from stage_batch([d for tag, d in redacted if tag == DOC], self.root, "bench", keys)


def run_pipeline(corpus: Path, root: str, batched: bool) -> float:
    """Seconds of one in-process run of the read -> ... -> stage part of the pipeline."""
    import apache_beam as beam

    from pipelines.options import CurateOptions
    from transforms.dedup.keys import batch_keys
    from transforms.document import CountNested
    from transforms.filters.stage import FilterDocuments
    from transforms.langid.identify import IdentifyLanguage
    from transforms.normalize import NormalizeDocuments
    from transforms.pii import RedactPII
    from transforms.read.inputs import match_inputs
    from transforms.read.limits import ReadLimits
    from transforms.read.sources import Source
    from transforms.read.stage import ReadDocuments
    from transforms.staging import BATCH, StageDocuments

    opts = CurateOptions([])
    cfg = _stages(opts)
    files = match_inputs([Source(name="bench", paths=(str(corpus),))])
    started = time.perf_counter()
    with beam.Pipeline(runner="FnApiRunner") as p:
        docs = (p | "Read" >> ReadDocuments(files, ReadLimits.from_options(opts)))["kept"]
        if batched:  # the same side outputs, summed by the same combiners
            out = (docs | "Batch" >> beam.BatchElements(**BATCH)
                   | "AllStages" >> beam.FlatMap(_BatchStage(cfg, root)).with_outputs(
                       "removed", "audit", "skipped", "counts", "locations", "keys"))
            out.skipped | "CountSkipped" >> CountNested()
            out.counts | "SumCounts" >> beam.CombineGlobally(lambda counts: dict(sum(map(Counter, counts), Counter())))
            locations = out.locations
        else:
            docs = (docs | "Normalize" >> NormalizeDocuments())["kept"]
            docs = (docs | "LangId" >> IdentifyLanguage(cfg["langid"]))["kept"]
            docs = (docs | "Filter" >> FilterDocuments(cfg["filter"]))["kept"]
            docs = (docs | "PII" >> RedactPII())["kept"]
            minhash = cfg["minhash"]
            locations = (docs | "Stage" >> StageDocuments(root, "bench", lambda b: batch_keys(b, {}, True, minhash))
                         )["locations"]
        locations | beam.combiners.Count.Globally()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--max-chars", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=2)
    add_record_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        info = build_corpus(load_texts(args.max_chars), args.docs, Path(tmp) / "corpus", files=1)
        corpus = Path(tmp) / "corpus" / "part-000.jsonl"
        times: dict[str, list[float]] = {"per document": [], "per batch": []}
        for i in range(args.repeat):
            for name in times:
                times[name].append(run_pipeline(corpus, f"{tmp}/staging-{i}", name == "per batch"))
                print(f"{name:12s} {times[name][-1]:7.2f} s", flush=True)
    best = {name: min(t) for name, t in times.items()}
    ratio = best["per document"] / best["per batch"]
    print(f"{args.docs} documents, {info['bytes'] / 1e6:.1f} MB, fastest of {args.repeat}: per document "
          f"{best['per document']:.2f} s, per batch {best['per batch']:.2f} s")
    print(f"per-document time / per-batch time: {ratio:.2f}x")
    if args.record:
        record("fused_batches", section="Fused stage", figures={"ratio": round(ratio, 3), **best},
               rows=[{"what": f"fused stage, {args.docs} documents, one element per batch",
                      "result": f"{ratio:.2f}x", "baseline": f"one element per document {best['per document']:.2f} s"}],
               options=vars(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
