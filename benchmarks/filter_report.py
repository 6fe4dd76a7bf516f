"""What the quality filters remove: drops per filter and language, and the drop rate per file.

    python -m benchmarks.filter_report FILE_OR_DIR_OR_PATTERN... [--filter-config FILE] [--examples N]

Each argument is one source, as if given to the pipeline's ``--input``: files are matched by
``transforms.sources.match_inputs`` (a directory means every file under it) and go through the
pipeline's own reader, normaliser, language id and filters (no Beam, same functions), so the
numbers are what a run would drop. Drop rates are listed per source and top-level folder.
``--examples N`` prints the first N dropped documents per filter (PII-redacted, 160
characters) so a person tuning thresholds can see what went.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from benchmarks.results import add_record_argument, record
from transforms.filters.config import FilterConfig, load_filter_config
from transforms.filters.scores import filter_document
from transforms.langid.identify import LanguageIdentifier, apply_prediction
from transforms.normalize import normalize_document
from transforms.pii import redact
from transforms.read.files import read_input_file
from transforms.read.inputs import match_inputs
from transforms.read.limits import ReadLimits
from transforms.read.sources import InputFile, sources_from_inputs

_BATCH = 256


def input_patterns(paths: list[str]) -> list[str]:
    """The ``--input`` patterns of these arguments; a directory stands for ``DIR/**``."""
    return [os.path.join(glob.escape(p), "**") if os.path.isdir(p) else p for p in paths]


def input_files(paths: list[str]) -> list[InputFile]:
    """What the pipeline reads for these ``--input`` arguments."""
    return match_inputs(sources_from_inputs(input_patterns(paths)))


def group_of(f: InputFile) -> str:
    """``source/top-folder`` (or the source alone for files at its root): one report row."""
    head, sep, _ = f.relpath.partition("/")
    return f"{f.source.name}/{head}" if sep else f.source.name


def _documents(f: InputFile) -> Iterator[dict[str, Any]]:
    for kind, item in read_input_file(f, ReadLimits()):
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


def evaluate(f: InputFile, config: FilterConfig, lid: LanguageIdentifier
             ) -> Iterator[tuple[dict[str, Any], Any, list[str]]]:
    """(document, first failure or None, filters skipped for want of a list) per readable document of one file."""
    for batch in _batches(_documents(f), _BATCH):
        for doc, pred in zip(batch, lid.predict([d["text"] for d in batch])):
            doc = apply_prediction(doc, *pred)
            doc, failure, skipped = filter_document(doc, config.params_for(doc["lang"], doc["source"]))
            yield doc, failure, skipped


def record_result(args: argparse.Namespace, config: FilterConfig, per_group: dict[str, Counter],
                  by_group_filter: dict[str, Counter], by_filter_lang: dict[str, Counter]) -> None:
    """One row per argument (its folders summed), named after the path the user gave."""
    labels = {src.name: os.path.basename(os.path.normpath(path))
              for src, path in zip(sources_from_inputs(input_patterns(args.paths)), args.paths)}
    per_source: dict[str, Counter] = defaultdict(Counter)
    filters: dict[str, Counter] = defaultdict(Counter)
    for group, row in per_group.items():
        per_source[group.split("/", 1)[0]].update(row)
        filters[group.split("/", 1)[0]].update(by_group_filter[group])
    rows = [{"what": f"documents the shipped filters drop ({config.version}), {labels.get(name, name)} "
                     f"({row['files']:,} files)",
             "result": f"{row['dropped']:,} of {row['docs']:,} ({row['dropped'] / max(1, row['docs']):.2%}); main "
                       "filters: " + (", ".join(f"{f} {n}" for f, n in filters[name].most_common(3)) or "none"),
             "baseline": "none (a drop rate)"} for name, row in per_source.items()]
    record("filter_report", section="Quality filters and PII", rows=rows, options=vars(args),
           figures={"by_group": {k: dict(v) for k, v in per_group.items()},
                    "by_filter_language": {k: dict(v) for k, v in by_filter_lang.items()}})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", metavar="FILE")
    ap.add_argument("--filter-config", default=None, help="YAML merged on top of the shipped BigScience config")
    ap.add_argument("--examples", type=int, default=0, help="print N dropped documents per filter")
    add_record_argument(ap)
    args = ap.parse_args(argv)
    config = load_filter_config(args.filter_config)
    lid = LanguageIdentifier()
    by_filter_lang: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    per_group: dict[str, Counter] = defaultdict(Counter)
    by_group_filter: dict[str, Counter] = defaultdict(Counter)
    per_lang, skipped_by_lang = Counter(), defaultdict(set)
    started = time.process_time()
    for f in input_files(args.paths):
        row = per_group[group_of(f)]
        row["files"] += 1
        for doc, failure, skipped in evaluate(f, config, lid):
            row["docs"] += 1
            per_lang[doc["lang"]] += 1
            skipped_by_lang[doc["lang"]].update(skipped)
            if failure is None:
                continue
            row["dropped"] += 1
            by_filter_lang[failure.name][doc["lang"]] += 1
            by_group_filter[group_of(f)][failure.name] += 1
            if len(examples[failure.name]) < args.examples:
                text = redact(doc["text"][:400])[0][:160].replace("\n", " ")
                examples[failure.name].append(f"{doc['lang']} {failure.value}/{failure.threshold} {doc['id']}: {text}")

    total = sum(per_group.values(), Counter())
    print(f"filter config: {config.version}\n")
    print(f"{'source/folder':<44} {'files':>5} {'docs':>6} {'dropped':>7} {'rate':>7}")
    for name, row in [*sorted(per_group.items()), ("TOTAL", total)]:
        rate = row["dropped"] / row["docs"] if row["docs"] else 0
        print(f"{name[-44:]:<44} {row['files']:>5} {row['docs']:>6} {row['dropped']:>7} {rate:>7.2%}")
    print()
    print(f"{'filter':<24} {'dropped':>7}  by language")
    for name in sorted(by_filter_lang, key=lambda n: (-sum(by_filter_lang[n].values()), n)):
        langs = ", ".join(
            f"{lang} {n}" for lang, n in sorted(by_filter_lang[name].items(), key=lambda x: (-x[1], x[0]))
        )
        print(f"{name:<24} {sum(by_filter_lang[name].values()):>7}  {langs}")
        for line in examples[name]:
            print(f"    {line}")
    print(f"\n{'language':<9} {'docs':>6}  parameters  switched off on purpose | skipped: no word list")
    for lang, n in sorted(per_lang.items(), key=lambda x: (-x[1], x[0])):
        choice = config.choice_for(lang)
        print(f"{lang:<9} {n:>6}  {choice['parameters']:<10}  {', '.join(choice['off']) or '-'} | "
              f"{', '.join(sorted(skipped_by_lang[lang])) or '-'}")
    print(f"\nCPU {time.process_time() - started:.1f} s for {total['docs']} documents", file=sys.stderr)
    if args.record:
        record_result(args, config, per_group, by_group_filter, by_filter_lang)
    return 0


if __name__ == "__main__":
    sys.exit(main())
