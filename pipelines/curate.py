"""The curation pipeline: read -> normalise -> (boilerplate lines, optional) -> language id ->
filter -> PII -> exact dedup -> near dedup -> write shards -> commit a new version of the dataset
in the lake.

    python -m pipelines.curate                         # built-in sample into ./lake, DirectRunner
    python -m pipelines.curate --input 'data/*.jsonl.gz' --lake ./lake --dataset web
    python -m pipelines.curate --sources sources.yaml --runner DataflowRunner ...
"""
from __future__ import annotations

import dataclasses
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
import yaml
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from catalog import lake as lakelib
from catalog.manifest import build_manifest, describe_staged, require_listed
from catalog.report import format_summary
from catalog.verify import require_intact
from pipelines.options import STAGES, CurateOptions, OptionError, parse_stage_list, validate_options
from pipelines.sample import write_sample
from transforms.boilerplate import RemoveBoilerplate
from transforms.dedup import ExactDedup, NearDedup, dedup_keys
from transforms.dedup_tables import (BANDS_DIR, BANDS_SCHEMA, CLUSTERS_DIR, CLUSTERS_SCHEMA, WriteTable, bands_files,
                                     cluster_row, is_dedup_removal, read_published)
from transforms.filter_audit import AUDIT_PATH, WriteFilterAudit, audit_row
from transforms.filter_config import FilterConfig, load_filter_config
from transforms.filter_wordlists import coverage as wordlist_coverage
from transforms.filters import SCORER_VERSION, filter_document
from transforms.langid import (LANG_CODES, IdentifyLanguage, LangIdConfig, default_model_path, hinted_language,
                               parse_thresholds)
from transforms.limits import ReadLimits
from transforms.minhash import MinHashConfig
from transforms.normalize import normalize_document
from transforms.pii import PII_VERSION, redact
from transforms.readers import read_input_file
from transforms.removed import STAGE_FILTER, removed_from_doc
from transforms.shards import WriteDocShards, WriteRemovedTable, shard_row, write_bytes
from transforms.sources import (InputFile, Source, SourceError, check_unique_names, load_sources, match_inputs,
                                sources_from_inputs)

log = logging.getLogger("curate")
STATS_DIR = "_stats"


def _tagged(pairs):
    for tag, value in pairs if isinstance(pairs, list) else [pairs]:
        yield beam.pvalue.TaggedOutput(tag, value)


def _apply_filter(doc: dict[str, Any], config: FilterConfig, use_lang_score: bool):
    """Kept doc or removed row, plus an audit row for a drop and one ``skipped`` per filter that could not run."""
    doc, failure, skipped = filter_document(doc, config.params_for(doc["lang"], doc["source"]),
                                            use_lang_score=use_lang_score)
    out = [("skipped", (name, doc["lang"])) for name in skipped]
    if failure is None:
        return out + [("doc", doc)]
    name, value, threshold = failure
    details = {"value": value, "threshold": threshold, "filter_config": config.version}
    return out + [("removed", removed_from_doc(doc, STAGE_FILTER, name, details)),
                  ("audit", audit_row(doc, name, value, threshold))]


def _redact(doc: dict[str, Any]):
    text, counts = redact(doc["text"])
    if counts:
        doc = dict(doc, text=text, meta=dict(doc["meta"], pii=dict(sorted(counts.items()))))
    yield doc
    if counts:
        yield beam.pvalue.TaggedOutput("counts", dict(counts))


def _nest_skipped(counts: list[tuple[tuple[str, str], int]]) -> dict[str, dict[str, int]]:
    """[((filter, lang), n)] -> {filter: {lang: n}}, sorted, for the manifest."""
    nested: dict[str, dict[str, int]] = {}
    for (name, lang), n in sorted(counts):
        nested.setdefault(name, {})[lang] = n
    return nested


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
            write_bytes(path, json.dumps(value, sort_keys=True).encode("utf-8"))

        return pcoll | beam.Map(write)


def build_pipeline(p: beam.Pipeline, files: list[InputFile], staging: str, opts: CurateOptions,
                   disabled: set[str]) -> None:
    """Wire every stage; writes shards, the removed table and run statistics under ``staging``."""
    priorities = {f.source.name: f.source.priority for f in files}
    hints = {f.source.name: f.source.lang for f in files}
    limits = read_limits(opts)
    read = (p
            | "ListFiles" >> beam.Create(files)
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(lambda f: (beam.pvalue.TaggedOutput(tag, item)  # streamed, never a list
                                                for tag, item in read_input_file(f, limits)))
            .with_outputs("doc", "removed", "skipped"))
    removed = [read.removed]
    ((read.doc, read.removed) | "AllInputs" >> beam.Flatten()
     | "InputSource" >> beam.Map(lambda d: d["source"])
     | "CountBySource" >> beam.combiners.Count.PerElement()
     | "InputDict" >> beam.combiners.ToDict()
     | "WriteInputCounts" >> WriteStats(staging, "input_by_source"))
    (read.skipped | "SkippedKind" >> beam.Map(lambda s: (s["source"], s["kind"]))  # WARC records that are no documents
     | "CountSkippedRecords" >> beam.combiners.Count.PerElement() | "SkippedRecordsList" >> beam.combiners.ToList()
     | "SkippedRecordsNested" >> beam.Map(_nest_skipped) | "WriteSkippedRecords" >> WriteStats(staging, "skipped_records"))

    norm = read.doc | "Normalize" >> beam.FlatMap(lambda d: _tagged(normalize_document(d))).with_outputs("doc", "removed")
    removed.append(norm.removed)
    docs = norm.doc
    if opts.boilerplate_min_docs:
        boiler = docs | "Boilerplate" >> RemoveBoilerplate(opts.boilerplate_min_docs)
        removed.append(boiler["removed"])
        docs = boiler["kept"]
        boiler["stats"] | "WriteBoilerplate" >> WriteStats(staging, "boilerplate")

    if "langid" in disabled:
        docs = docs | "LangFromHints" >> beam.Map(lambda d: dict(d, lang=hinted_language(d, hints.get(d["source"]))))
    else:
        docs = (docs
                | "BatchForLangId" >> beam.BatchElements(min_batch_size=32, max_batch_size=512)
                | "LangId" >> beam.ParDo(IdentifyLanguage(_langid_config(opts))))

    if "filter" not in disabled:
        config = load_filter_config(opts.filter_config)
        use_lang_score = "langid" not in disabled
        filtered = docs | "Filter" >> beam.FlatMap(
            lambda d: _tagged(_apply_filter(d, config, use_lang_score))).with_outputs("doc", "removed", "audit", "skipped")
        removed.append(filtered.removed)
        docs = filtered.doc
        filtered.audit | "FilterAudit" >> WriteFilterAudit(staging, opts.filter_audit_k)
        (filtered.skipped | "CountSkipped" >> beam.combiners.Count.PerElement()
         | "SkippedList" >> beam.combiners.ToList()
         | "SkippedNested" >> beam.Map(_nest_skipped) | "WriteSkipped" >> WriteStats(staging, "filter_skipped"))

    if "pii" not in disabled:
        redacted = docs | "RedactPII" >> beam.FlatMap(_redact).with_outputs("counts", main="doc")
        docs = redacted.doc
        redacted.counts | "SumPII" >> beam.CombineGlobally(_sum_counts) | "WritePII" >> WriteStats(staging, "pii")

    exact_on, near_on = "dedup-exact" not in disabled, "dedup-near" not in disabled
    target = int(opts.shard_target_mb * 1024 * 1024)
    if exact_on or near_on:  # dedup shuffles key records; the rows (text) wait for the shard writer
        minhash = _minhash_config(opts) if near_on else None
        split = (docs
                 | "BatchForDedupKeys" >> beam.BatchElements(min_batch_size=64, max_batch_size=2048)
                 | "DedupKeys" >> beam.FlatMap(dedup_keys, priorities, exact_on, minhash).with_outputs("rows", "keys"))
        rows, keys, dropped = split.rows, split.keys, []
        if exact_on:
            exact = keys | "ExactDedup" >> ExactDedup()
            dropped.append(exact.removed)
            keys = exact.kept
        if near_on:
            parents = _dedup_parents(opts, minhash)
            published = (p
                         | "ListPublished" >> beam.Create([(i, spec, f) for i, (spec, fs) in enumerate(parents) for f in fs])
                         | "ReadPublished" >> beam.FlatMap(lambda t: read_published(t[2], t[0], t[1])))
            near = keys | "NearDedup" >> NearDedup(minhash, [spec for spec, _ in parents], published)
            dropped.append(near["removed"])
            keys = near["kept"]
            (near["bands"] | "WriteBands" >> WriteTable(staging, BANDS_DIR, BANDS_SCHEMA)
             | "BandsList" >> beam.combiners.ToList() | "WriteBandsInfo" >> WriteStats(staging, "dedup_bands"))
        removed += dropped
        sizes = keys | "KeptSizes" >> beam.Map(lambda k: (k[2], k[3]))
        drops = (tuple(dropped) | "DedupRemoved" >> beam.Flatten()
                 | "DropsToShards" >> beam.Map(lambda r: (r["lang"], r["uid"])))
        shards = rows | "WriteShards" >> WriteDocShards(staging, target, sizes, drops)
    else:
        shards = docs | "ShardRows" >> beam.Map(shard_row) | "WriteShards" >> WriteDocShards(staging, target)
    shards | "ShardList" >> beam.combiners.ToList() | "WriteShardInfo" >> WriteStats(staging, "shards")
    all_removed = tuple(removed) | "AllRemoved" >> beam.Flatten()
    (all_removed | "WriteRemovedTable" >> WriteRemovedTable(staging)
     | "RemovedList" >> beam.combiners.ToList() | "WriteRemovedInfo" >> WriteStats(staging, "removed"))
    (all_removed | "RemovedKind" >> beam.Map(lambda r: (r["source"], r["lang"], r["stage"], r["reason"]))
     | "CountRemoved" >> beam.combiners.Count.PerElement()  # one count per (source, lang, stage, reason)
     | "RemovedCountsList" >> beam.combiners.ToList() | "WriteRemovedCounts" >> WriteStats(staging, "removed_counts"))
    (all_removed | "DedupRemovals" >> beam.Filter(is_dedup_removal) | "ClusterRows" >> beam.Map(cluster_row)
     | "WriteClusters" >> WriteTable(staging, CLUSTERS_DIR, CLUSTERS_SCHEMA)
     | "ClustersList" >> beam.combiners.ToList() | "WriteClustersInfo" >> WriteStats(staging, "dedup_clusters"))


def read_limits(opts: CurateOptions) -> ReadLimits:
    return ReadLimits(max_doc_chars=opts.max_doc_chars, oversize=opts.oversize, max_line_bytes=opts.max_line_bytes,
                      max_file_error_rate=opts.max_file_error_rate, max_file_bytes=opts.max_file_bytes,
                      max_text_bytes=opts.max_text_bytes, max_compression_ratio=opts.max_compression_ratio)


def check_options(opts: CurateOptions, disabled: set[str]) -> None:
    """Every option checked before any work; ``OptionError`` names the bad one, in one line."""
    validate_options(opts)
    checks = [("", lambda: (read_limits(opts), _minhash_config(opts))),
              ("--lid-thresholds: ", lambda: _langid_config(opts))]
    if "filter" not in disabled:
        checks.append((f"--filter-config {opts.filter_config}: ", lambda: load_filter_config(opts.filter_config)))
    for flag, check in checks:
        try:
            check()
        except (ValueError, TypeError, AttributeError, OSError, yaml.YAMLError) as e:  # malformed files too
            raise OptionError(flag + _one_line(e)) from None
    for spec in opts.dedup_against or []:
        lakelib.resolve(lakelib.open_lake(opts.lake, options=opts), spec)  # CatalogError: not published


def _one_line(e: Exception) -> str:
    mark = getattr(e, "problem_mark", None)
    if isinstance(e, yaml.MarkedYAMLError) and mark is not None:
        return f"invalid YAML: {e.problem} at line {mark.line + 1}, column {mark.column + 1}"
    text = " ".join(str(e).split())
    return text if isinstance(e, ValueError) else f"{type(e).__name__}: {text}"


def _minhash_config(opts: CurateOptions) -> MinHashConfig:
    return MinHashConfig(ngram=opts.minhash_ngram, num_perm=opts.minhash_perm, seed=opts.minhash_seed,
                         threshold=opts.minhash_threshold, bands=opts.minhash_bands, rows=opts.minhash_rows,
                         verify=opts.minhash_verify, partitions=opts.minhash_partitions,
                         bucket_fanout=opts.minhash_bucket_fanout)


def _dedup_parents(opts: CurateOptions, config: MinHashConfig) -> list[tuple[str, list[dict[str, Any]]]]:
    """(spec, bands files) of every --dedup-against version; their signatures must be comparable and
    their bands files intact (a damaged one would silently change what this run keeps)."""
    parents = []
    lake = lakelib.open_lake(opts.lake, options=opts)  # s3://: the bucket Beam's --s3_* options reach
    for spec in opts.dedup_against or []:
        ref, manifest = lake.load_manifest(spec)
        recorded = manifest["stages"].get("dedup-near", {})
        if {k: recorded.get(k) for k in config.signature_settings()} != config.signature_settings():
            raise OptionError(f"--dedup-against {ref.spec}: its MinHash settings differ from this run's "
                             f"({config.signature_settings()})")
        require_intact(lake.version_dir(ref), manifest.get("dedup", {}).get("bands", []), ref.spec, override=False)
        parents.append((ref.spec, bands_files(lake.version_dir(ref), manifest)))
    return parents


def _langid_config(opts: CurateOptions) -> LangIdConfig:
    return LangIdConfig(model_path=opts.lid_model, threshold=opts.lid_threshold,
                        thresholds=parse_thresholds(opts.lid_thresholds), second_opinion=opts.lid_second_opinion)


def _stage_record(opts: CurateOptions, disabled: set[str]) -> dict[str, Any]:
    """What exactly ran, with versions, so a manifest says which configuration produced it."""
    from catalog.hashing import sha256_file

    model = opts.lid_model or default_model_path()
    model_sha, _ = sha256_file(model)
    stages: dict[str, Any] = {
        "read": {"enabled": True, **dataclasses.asdict(read_limits(opts)),
                 "decode": "BOM, UTF-16/32 NUL pattern, ISO-2022/HZ escapes, UTF-8, declared charset, mostly "
                           "UTF-8 (<= 1 % bad bytes as cp1252), charset-normalizer; HTML/feeds via selectolax"},
        "normalize": {"enabled": True, "form": "NFC, control characters removed, line ends unified"},
        "boilerplate": ({"enabled": True, **RemoveBoilerplate(opts.boilerplate_min_docs).describe()}
                        if opts.boilerplate_min_docs else {"enabled": False}),
        "langid": {"enabled": "langid" not in disabled, "model": os.path.basename(model), "model_sha256": model_sha,
                   **_langid_config(opts).describe(), "codes": LANG_CODES},
        "filter": ({"enabled": True, "scorer": SCORER_VERSION, **load_filter_config(opts.filter_config).describe(),
                    "word_lists": wordlist_coverage(), "audit_sample": {"path": AUDIT_PATH, "per_filter": opts.filter_audit_k}}
                   if "filter" not in disabled else {"enabled": False}),
        "pii": {"enabled": "pii" not in disabled, "version": PII_VERSION},
        "dedup-exact": {"enabled": "dedup-exact" not in disabled,
                        "key": "blake2b-128 of NFKC + lowercase + punctuation removed + whitespace collapsed"},
        "dedup-near": {"enabled": "dedup-near" not in disabled, **_minhash_config(opts).describe()},
    }
    return stages


def _read_stats(staging: str, name: str, default):
    """A ``_stats/<name>.json`` the workers wrote, read through Beam's filesystems (local dir or object store)."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(staging, STATS_DIR, f"{name}.json")
    if not FileSystems.exists(path):
        return default
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def resolve_sources(opts: CurateOptions, sample_dir: str | None = None) -> tuple[list[Source], str | None]:
    """Sources from --sources and --input; the built-in sample when neither is given.

    The sample goes to ``sample_dir`` (a ``gs://``/``s3://`` prefix when workers cannot see this
    machine's disk), by default a fresh local temp dir; the second value is where it went.
    """
    sources: list[Source] = []
    if opts.sources:
        sources += load_sources(opts.sources)
    if opts.input:
        sources += sources_from_inputs(opts.input)
    check_unique_names(sources, "--sources and --input")
    if sources:
        return sources, None
    sample_dir = sample_dir or tempfile.mkdtemp(prefix="curate-sample-")
    return load_sources(write_sample(sample_dir)), sample_dir


def run(argv: list[str] | None = None) -> tuple[lakelib.VersionRef, dict[str, Any]]:
    """Run the pipeline and publish the next version; return it with its manifest.

    A ``gs://``/``s3://`` lake is staged on the object store itself, the built-in sample included,
    and committed there: Dataflow workers cannot see this machine's disk.
    """
    from apache_beam.io.filesystems import FileSystems

    from catalog import objectstore

    options = PipelineOptions(argv)
    opts = options.view_as(CurateOptions)
    disabled = parse_stage_list(opts.disable)
    lakelib.check_name(opts.dataset)
    check_options(opts, disabled)
    FileSystems.set_options(options)  # the launcher reads and writes the lake too (S3 endpoint, credentials)
    remote = lakelib.is_url(opts.lake)
    if not remote:
        Path(opts.lake).mkdir(parents=True, exist_ok=True)
    staging = lakelib.new_staging(opts.lake, opts.dataset)
    sample_dir = None
    try:
        sources, sample_dir = resolve_sources(opts, f"{staging}/_sample" if remote else None)
        files = match_inputs(sources)
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
            shards=shards, removed_infos=removed_infos,
            removed_counts=[(tuple(kind), n) for kind, n in _read_stats(staging, "removed_counts", [])],
            input_by_source=_read_stats(staging, "input_by_source", {}), pii=_read_stats(staging, "pii", {}),
            sources=[s.to_json() for s in sources],
            inputs=[{"source": f.source.name, "path": f.relpath if sample_dir else f.path, "bytes": f.size,
                     "mtime": f.mtime} for f in files],
            options={k: v for k, v in sorted(options.get_all_options(drop_default=True).items())
                     if k not in ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")},  # no credentials
            runner=runner, stages=_stage_record(opts, disabled),
            filter_skipped=_read_stats(staging, "filter_skipped", {}),
        )
        manifest["lineage"]["wall_seconds"] = round(elapsed, 2)
        manifest["lineage"]["dedup_against"] = [lakelib.resolve(lakelib.open_lake(opts.lake, options=opts), s).spec
                                               for s in opts.dedup_against or []]
        manifest["dedup"] = {name: sorted(_read_stats(staging, f"dedup_{name}", []), key=lambda i: i["path"])
                             for name in ("bands", "clusters")}
        manifest.update({name: value for name in ("skipped_records", "boilerplate")
                         if (value := _read_stats(staging, name, {}))})
        manifest["audit"] = describe_staged(staging, os.path.dirname(AUDIT_PATH))
        require_listed(staging, manifest)
        if remote:  # a trailing "/" deletes the prefix as such: no glob reading of the lake's path
            FileSystems.delete([f"{staging}/{STATS_DIR}/"] + ([f"{sample_dir}/"] if sample_dir else []))
        else:
            shutil.rmtree(Path(staging) / STATS_DIR)
        ref = (objectstore.commit_staged(opts.lake, opts.dataset, staging, manifest, options) if remote
               else lakelib.commit_version(opts.lake, opts.dataset, Path(staging), manifest))
        manifest = dict(manifest, dataset=ref.dataset, version=ref.version)
        return ref, manifest
    except BaseException:
        _drop_staging(staging, remote)
        raise
    finally:
        if sample_dir and not remote:
            shutil.rmtree(sample_dir, ignore_errors=True)


def _drop_staging(staging: str, remote: bool) -> None:
    """A failed run's staged files: nobody will commit them, so they go now rather than wait for gc."""
    from apache_beam.io.filesystems import FileSystems

    if not remote:
        shutil.rmtree(staging, ignore_errors=True)
        return
    try:
        FileSystems.delete([f"{staging}/"])
    except Exception as e:  # nothing staged yet, or the store is unreachable: gc collects it later
        log.warning("could not remove the failed run's staging %s: %s", staging, e)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        CurateOptions(["--help"])
        return 0
    started = time.monotonic()
    try:
        ref, manifest = run(argv)
    except (OptionError, SourceError, lakelib.CatalogError) as e:
        print(f"curate: {e}", file=sys.stderr)
        return 2
    lake = PipelineOptions(argv).view_as(CurateOptions).lake
    print(format_summary(manifest, str(ref.path), lake))
    print(f"  took:     {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
