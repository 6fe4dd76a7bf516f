"""The curation pipeline: read -> normalise -> language id -> filter -> PII -> exact dedup ->
near dedup -> write shards -> commit a new version of the dataset in the lake.

    python -m pipelines.curate                         # built-in sample into ./lake, DirectRunner
    python -m pipelines.curate --input 'data/*.jsonl.gz' --lake ./lake --dataset web
    python -m pipelines.curate --sources sources.yaml --runner DataflowRunner ...
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from catalog import lake as lakelib
from catalog.manifest import build_manifest, read_removed
from catalog.report import format_summary
from pipelines.options import STAGES, CurateOptions, parse_stage_list
from pipelines.sample import write_sample
from transforms.dedup import ExactDedup, NearDedup
from transforms.filters import FILTERS_VERSION, FilterConfig, filter_document
from transforms.langid import IdentifyLanguage, LangIdConfig, default_model_path, hinted_language
from transforms.minhash import MinHashConfig
from transforms.normalize import normalize_document
from transforms.pii import PII_VERSION, redact
from transforms.readers import read_input_file
from transforms.removed import STAGE_FILTER, removed_from_doc
from transforms.shards import WriteDocShards, WriteRemovedTable
from transforms.sources import InputFile, Source, load_sources, match_inputs, sources_from_inputs

log = logging.getLogger("curate")
STATS_DIR = "_stats"


def _tagged(pairs):
    for tag, value in pairs if isinstance(pairs, list) else [pairs]:
        yield beam.pvalue.TaggedOutput(tag, value)


def _apply_filter(doc: dict[str, Any], config: FilterConfig):
    doc, failure = filter_document(doc, config)
    if failure is None:
        return "doc", doc
    name, value, threshold = failure
    return "removed", removed_from_doc(doc, STAGE_FILTER, name, {"value": value, "threshold": threshold})


def _redact(doc: dict[str, Any]):
    text, counts = redact(doc["text"])
    if counts:
        doc = dict(doc, text=text, meta=dict(doc["meta"], pii=dict(sorted(counts.items()))))
    yield doc
    if counts:
        yield beam.pvalue.TaggedOutput("counts", dict(counts))


def _sum_counts(dicts) -> dict[str, int]:
    total: Counter = Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


class WriteStats(beam.PTransform):
    """Write the single element of a PCollection as ``<staging>/_stats/<name>.json``."""

    def __init__(self, root: str, name: str):
        super().__init__()
        self.path = os.path.join(root, STATS_DIR, f"{name}.json")

    def expand(self, pcoll):
        path = self.path

        def write(value):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(value, f, sort_keys=True)

        return pcoll | beam.Map(write)


def build_pipeline(p: beam.Pipeline, files: list[InputFile], staging: str, opts: CurateOptions,
                   disabled: set[str]) -> None:
    """Wire every stage; writes shards, the removed table and run statistics under ``staging``."""
    priorities = {f.source.name: f.source.priority for f in files}
    hints = {f.source.name: f.source.lang for f in files}
    read = (p
            | "ListFiles" >> beam.Create(files)
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(lambda f: _tagged(list(read_input_file(f)))).with_outputs("doc", "removed"))
    removed = [read.removed]
    ((read.doc, read.removed) | "AllInputs" >> beam.Flatten()
     | "InputSource" >> beam.Map(lambda d: d["source"])
     | "CountBySource" >> beam.combiners.Count.PerElement()
     | "InputDict" >> beam.combiners.ToDict()
     | "WriteInputCounts" >> WriteStats(staging, "input_by_source"))

    norm = read.doc | "Normalize" >> beam.FlatMap(lambda d: _tagged(normalize_document(d))).with_outputs("doc", "removed")
    removed.append(norm.removed)
    docs = norm.doc

    if "langid" in disabled:
        docs = docs | "LangFromHints" >> beam.Map(lambda d: dict(d, lang=hinted_language(d, hints.get(d["source"]))))
    else:
        config = LangIdConfig(model_path=opts.lid_model, threshold=opts.lid_threshold)
        docs = (docs
                | "BatchForLangId" >> beam.BatchElements(min_batch_size=32, max_batch_size=512)
                | "LangId" >> beam.ParDo(IdentifyLanguage(config)))

    if "filter" not in disabled:
        config = FilterConfig(min_words=opts.min_words, max_special_char_ratio=opts.max_special_char_ratio)
        filtered = docs | "Filter" >> beam.FlatMap(lambda d: _tagged(_apply_filter(d, config))).with_outputs("doc", "removed")
        removed.append(filtered.removed)
        docs = filtered.doc

    if "pii" not in disabled:
        redacted = docs | "RedactPII" >> beam.FlatMap(_redact).with_outputs("counts", main="doc")
        docs = redacted.doc
        redacted.counts | "SumPII" >> beam.CombineGlobally(_sum_counts) | "WritePII" >> WriteStats(staging, "pii")

    if "dedup-exact" not in disabled:
        exact = docs | "ExactDedup" >> ExactDedup(priorities)
        removed.append(exact.removed)
        docs = exact.kept
    if "dedup-near" not in disabled:
        near = docs | "NearDedup" >> NearDedup(priorities, _minhash_config(opts))
        removed.append(near.removed)
        docs = near.kept

    (docs | "WriteShards" >> WriteDocShards(staging, int(opts.shard_target_mb * 1024 * 1024))
     | "ShardList" >> beam.combiners.ToList() | "WriteShardInfo" >> WriteStats(staging, "shards"))
    (tuple(removed) | "AllRemoved" >> beam.Flatten() | "WriteRemovedTable" >> WriteRemovedTable(staging)
     | "RemovedList" >> beam.combiners.ToList() | "WriteRemovedInfo" >> WriteStats(staging, "removed"))


def _minhash_config(opts: CurateOptions) -> MinHashConfig:
    return MinHashConfig(ngram=opts.minhash_ngram, num_perm=opts.minhash_perm, seed=opts.minhash_seed,
                         threshold=opts.minhash_threshold)


def _stage_record(opts: CurateOptions, disabled: set[str]) -> dict[str, Any]:
    """What exactly ran, with versions, so a manifest says which configuration produced it."""
    import hashlib

    model = opts.lid_model or default_model_path()
    with open(model, "rb") as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    stages: dict[str, Any] = {
        "normalize": {"enabled": True, "form": "NFC, control characters removed, line ends unified"},
        "langid": {"enabled": "langid" not in disabled, "model": os.path.basename(model), "model_sha256": model_sha,
                   "threshold": opts.lid_threshold, "codes": "lid.176 labels; und below threshold"},
        "filter": {"enabled": "filter" not in disabled, "version": FILTERS_VERSION,
                   "min_words": opts.min_words, "max_special_char_ratio": opts.max_special_char_ratio},
        "pii": {"enabled": "pii" not in disabled, "version": PII_VERSION},
        "dedup-exact": {"enabled": "dedup-exact" not in disabled,
                        "key": "blake2b-128 of NFKC + lowercase + punctuation removed + whitespace collapsed"},
        "dedup-near": {"enabled": "dedup-near" not in disabled, **_minhash_config(opts).describe()},
    }
    return stages


def _read_stats(staging: Path, name: str, default):
    path = staging / STATS_DIR / f"{name}.json"
    if not path.exists():
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def resolve_sources(opts: CurateOptions) -> tuple[list[Source], str | None]:
    """Sources from --sources and --input; the built-in sample when neither is given."""
    sources: list[Source] = []
    if opts.sources:
        sources += load_sources(opts.sources)
    if opts.input:
        sources += sources_from_inputs(opts.input)
    if sources:
        return sources, None
    sample_dir = tempfile.mkdtemp(prefix="curate-sample-")
    return load_sources(write_sample(sample_dir)), sample_dir


def run(argv: list[str] | None = None) -> tuple[lakelib.VersionRef, dict[str, Any]]:
    """Run the pipeline and publish the next version; return it with its manifest."""
    options = PipelineOptions(argv)
    opts = options.view_as(CurateOptions)
    disabled = parse_stage_list(opts.disable)
    lakelib.check_name(opts.dataset)
    sources, sample_dir = resolve_sources(opts)
    try:
        files = match_inputs(sources)
        Path(opts.lake).mkdir(parents=True, exist_ok=True)
        staging = lakelib.new_staging_dir(opts.lake, opts.dataset)
        runner = options.view_as(StandardOptions).runner or "DirectRunner"
        print(f"curate: {len(files)} file(s) from {len(sources)} source(s) -> {opts.lake}/{opts.dataset} "
              f"[{runner}; stages off: {', '.join(sorted(disabled)) or 'none'}]", file=sys.stderr)
        started = time.monotonic()
        with beam.Pipeline(options=options) as p:
            build_pipeline(p, files, str(staging), opts, disabled)
        elapsed = time.monotonic() - started

        shards = _read_stats(staging, "shards", [])
        removed_infos = _read_stats(staging, "removed", [])
        manifest = build_manifest(
            shards=shards, removed_infos=removed_infos, removed=read_removed(staging, removed_infos),
            input_by_source=_read_stats(staging, "input_by_source", {}), pii=_read_stats(staging, "pii", {}),
            sources=[s.to_json() for s in sources],
            inputs=[{"source": f.source.name, "path": f.relpath if sample_dir else f.path, "bytes": f.size,
                     "mtime": f.mtime} for f in files],
            options={k: v for k, v in sorted(options.get_all_options(drop_default=True).items())},
            runner=runner, stages=_stage_record(opts, disabled),
        )
        manifest["lineage"]["wall_seconds"] = round(elapsed, 2)
        shutil.rmtree(staging / STATS_DIR)
        ref = lakelib.commit_version(opts.lake, opts.dataset, staging, manifest)
        manifest = dict(manifest, dataset=ref.dataset, version=ref.version)
        return ref, manifest
    finally:
        if sample_dir:
            shutil.rmtree(sample_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        CurateOptions(["--help"])
        return 0
    started = time.monotonic()
    ref, manifest = run(argv)
    lake = PipelineOptions(argv).view_as(CurateOptions).lake
    print(format_summary(manifest, str(ref.path), lake))
    print(f"  took:     {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
