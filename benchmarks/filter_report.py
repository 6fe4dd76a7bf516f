"""What the quality filters remove: drops per filter and language, and the drop rate per file.

    python -m benchmarks.filter_report FILE_OR_DIR... [--filter-config FILE] [--examples N]

Each input goes through the pipeline's own reader, normaliser, language id and filters (no
Beam, same functions), so the numbers are what a run would drop. Directories are read
recursively, one source per file. ``--examples N`` prints the first N dropped documents per
filter (PII-redacted, 160 characters) so a person tuning thresholds can see what went.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections import Counter, defaultdict
from typing import Any, Iterator

from transforms.filter_config import FilterConfig, load_filter_config
from transforms.filters import filter_document
from transforms.langid import LanguageIdentifier, apply_prediction
from transforms.normalize import normalize_document
from transforms.pii import redact
from transforms.readers import read_input_file
from transforms.sources import match_inputs, sources_from_inputs

_BATCH = 256


def _files(paths: list[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                yield from (os.path.join(root, n) for n in sorted(names))
        else:
            yield path


def _documents(path: str) -> Iterator[dict[str, Any]]:
    for f in match_inputs(sources_from_inputs([glob.escape(path)])):
        for kind, item in read_input_file(f):
            if kind == "doc":
                kind, item = normalize_document(item)
                if kind == "doc":
                    yield item


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def evaluate(path: str, config: FilterConfig, lid: LanguageIdentifier) -> Iterator[tuple[dict[str, Any], Any]]:
    """(document, first failure or None) for every readable document of one file."""
    for batch in _batches(_documents(path), _BATCH):
        for doc, pred in zip(batch, lid.predict([d["text"] for d in batch])):
            doc = apply_prediction(doc, pred)
            doc, failure, _ = filter_document(doc, config.params_for(doc["lang"], doc["source"]))
            yield doc, failure


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", metavar="FILE")
    ap.add_argument("--filter-config", default=None, help="YAML merged on top of the shipped BigScience config")
    ap.add_argument("--examples", type=int, default=0, help="print N dropped documents per filter")
    args = ap.parse_args(argv)
    config = load_filter_config(args.filter_config)
    lid = LanguageIdentifier()
    by_filter_lang: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    per_file = []
    started = time.process_time()
    total_docs = 0
    for path in _files(args.paths):
        docs = dropped = 0
        for doc, failure in evaluate(path, config, lid):
            docs += 1
            if failure is None:
                continue
            dropped += 1
            by_filter_lang[failure.name][doc["lang"]] += 1
            if len(examples[failure.name]) < args.examples:
                text = redact(doc["text"][:400])[0][:160].replace("\n", " ")
                examples[failure.name].append(f"{doc['lang']} {failure.value}/{failure.threshold} {doc['id']}: {text}")
        total_docs += docs
        per_file.append((path, docs, dropped))

    print(f"filter config: {config.version}\n")
    print(f"{'file':<60} {'docs':>6} {'dropped':>7} {'rate':>7}")
    for path, docs, dropped in per_file:
        print(f"{path[-60:]:<60} {docs:>6} {dropped:>7} {dropped / docs if docs else 0:>7.2%}")
    all_docs = sum(d for _, d, _ in per_file)
    all_dropped = sum(x for _, _, x in per_file)
    print(f"{'TOTAL':<60} {all_docs:>6} {all_dropped:>7} {all_dropped / all_docs if all_docs else 0:>7.2%}\n")
    print(f"{'filter':<24} {'dropped':>7}  by language")
    for name in sorted(by_filter_lang, key=lambda n: (-sum(by_filter_lang[n].values()), n)):
        langs = ", ".join(f"{lang} {n}" for lang, n in sorted(by_filter_lang[name].items(), key=lambda x: (-x[1], x[0])))
        print(f"{name:<24} {sum(by_filter_lang[name].values()):>7}  {langs}")
        for line in examples[name]:
            print(f"    {line}")
    print(f"\nCPU {time.process_time() - started:.1f} s for {total_docs} documents", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
