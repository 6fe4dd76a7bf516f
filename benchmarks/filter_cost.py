"""Share of the pipeline's CPU time spent in the quality-filter and PII stages, from one run.

Builds an N-document corpus from the shared texts (``pipeline_bench.build_corpus``) and runs the
full pipeline once, in this process, on DirectRunner's in-memory mode. What the pipeline's
``Filter`` and ``RedactPII`` stages call per document (``transforms.filters.stage.filter_outputs``: config
lookup, scoring, decision, removed and audit rows; ``transforms.pii.redact_document``) is wrapped in a
timer of the calling thread's CPU time, so the numerator is measured inside the very run whose
whole CPU time (``getrusage``, imports excluded) is the denominator: no second pass over the data.
The Beam plumbing around those steps is not in the numerator.

    python -m benchmarks.filter_cost --docs 20000
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.pipeline_bench import build_corpus, load_texts
from benchmarks.results import add_record_argument, record

BUDGET = 0.25
_CPU: Counter = Counter()  # seconds per stage, added to by the timed wrappers in the runner's threads
_ORIGINAL: dict[str, Callable] = {}


def _timed_filter(*args: Any) -> Any:
    """``filter_outputs``, timed. Module-level, so Beam pickles it by reference and ``_CPU`` stays this one."""
    start = time.thread_time()
    out = _ORIGINAL["filter"](*args)
    _CPU["filter"] += time.thread_time() - start
    return out


def _timed_redact(doc: dict[str, Any]) -> list[Any]:
    """``redact_document``, timed."""
    start = time.thread_time()
    out = _ORIGINAL["pii"](doc)
    _CPU["pii"] += time.thread_time() - start
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_timed(corpus: Path, lake: Path) -> dict[str, float]:
    """Run the pipeline on ``corpus`` with the filter and PII steps timed; CPU seconds per part."""
    import pipelines.curate as curate
    import transforms.filters.stage as filter_stage
    import transforms.pii as pii
    from benchmarks import filter_cost as this  # not ``__main__``: Beam must pickle the wrappers by reference

    this._ORIGINAL.update(filter=filter_stage.filter_outputs, pii=pii.redact_document)
    filter_stage.filter_outputs, pii.redact_document = this._timed_filter, this._timed_redact
    this._CPU.clear()
    try:
        start = _cpu_seconds()
        curate.run(["--input", str(corpus / "*.jsonl"), "--lake", str(lake), "--dataset", "bench"])
        total = _cpu_seconds() - start
    finally:
        filter_stage.filter_outputs, pii.redact_document = this._ORIGINAL["filter"], this._ORIGINAL["pii"]
    return {"total": total, "filter": this._CPU["filter"], "pii": this._CPU["pii"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000, help="corpus size (default 20000)")
    add_record_argument(parser)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="filter-cost-"))
    try:
        info = build_corpus(load_texts(), args.docs, work / "corpus")
        wall = time.perf_counter()
        cpu = run_timed(work / "corpus", work / "lake")
        wall = time.perf_counter() - wall
    finally:
        shutil.rmtree(work, ignore_errors=True)
    both = cpu["filter"] + cpu["pii"]
    share = both / cpu["total"]
    print(f"corpus: {args.docs:,} docs, {info['bytes'] / 1e6:.1f} MB")
    print(f"full pipeline (DirectRunner, in-process): cpu {cpu['total']:.1f} s, wall {wall:.1f} s, "
          f"{info['bytes'] / 1e6 / cpu['total']:.2f} MB per CPU-second")
    print(f"filter step: {cpu['filter']:.1f} s cpu ({cpu['filter'] / cpu['total']:.1%})")
    print(f"PII step:    {cpu['pii']:.1f} s cpu ({cpu['pii'] / cpu['total']:.1%})")
    print(f"filter + PII: {both:.1f} s = {share:.1%} of the pipeline's CPU "
          f"({'within' if share <= BUDGET else 'OVER'} the {BUDGET:.0%} budget)")
    if args.record:
        record("filter_cost", section="Quality filters and PII", options=vars(args),
               figures={"mb": round(info["bytes"] / 1e6, 1), "cpu_seconds": cpu, "wall_seconds": wall, "share": share},
               rows=[{"what": f"filter + PII share of the pipeline's CPU, {args.docs:,} docs "
                              f"({info['bytes'] / 1e6:.1f} MB), one in-process run, the steps timed inside it",
                      "result": f"{share:.1%} (filters {cpu['filter']:.1f} s, PII {cpu['pii']:.1f} s of "
                                f"{cpu['total']:.1f} CPU-seconds)",
                      "baseline": f"the whole pipeline's CPU in the same run; budget {BUDGET:.0%}"}])
    return 0 if share <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
