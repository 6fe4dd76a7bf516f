"""The curation pipeline: read -> normalise -> (boilerplate lines, optional) -> language id ->
filter -> PII -> exact dedup -> near dedup -> write shards -> commit a new version of the dataset
in the lake.

    python -m pipelines.curate                         # built-in sample into ./lake, FnApiRunner
    python -m pipelines.curate --input 'data/*.jsonl.gz' --lake ./lake --dataset web
    python -m pipelines.curate --code-input ./checkouts/ --code-input src.tar.gz --dataset code
    python -m pipelines.curate --sources sources.yaml --runner DataflowRunner ...
"""
from __future__ import annotations

import errno
import functools
import json
import logging
import os
import sys
import tempfile
import time
from functools import partial
from typing import Any

import apache_beam as beam
import yaml
from apache_beam.options.pipeline_options import PipelineOptions

from catalog import lake as lakelib
from catalog.contract import (
    AUDIT_PATH,
    BANDS_DIR,
    BANDS_SCHEMA,
    CLUSTERS_DIR,
    CLUSTERS_SCHEMA,
    REMOVED_DIR,
    REMOVED_SCHEMA,
)
from catalog.lease import StagingLease
from catalog.manifest import build_manifest, describe_staged, require_listed
from catalog.report import format_summary
from catalog.verify import require_intact
from pipelines.options import CurateOptions, OptionError, check_argv, parse_stage_list, validate_options
from pipelines.runner import choose_runner
from pipelines.sample import write_sample
from transforms.boilerplate import RemoveBoilerplate
from transforms.dedup.exact import ExactDedup
from transforms.dedup.keys import batch_keys
from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.near import NearDedup
from transforms.dedup.tables import bands_files, cluster_row, is_dedup_removal, read_published
from transforms.document import KEPT, REMOVED
from transforms.filters.audit import WriteFilterAudit
from transforms.filters.config import FilterConfig
from transforms.filters.stage import FilterDocuments
from transforms.langid.identify import IdentifyLanguage, LangIdConfig, check_model
from transforms.normalize import NormalizeDocuments
from transforms.pii import RedactPII
from transforms.read.inputs import match_inputs
from transforms.read.limits import ReadLimits
from transforms.read.sources import (
    InputFile,
    Source,
    SourceError,
    check_unique_names,
    load_sources,
    sources_from_inputs,
)
from transforms.read.stage import ReadDocuments
from transforms.shards import WriteTable, write_bytes
from transforms.staging import STAGED_DIR, StageDocuments, WriteDocShards

log = logging.getLogger("curate")
STATS_DIR = "_stats"


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


def stages_for(files: list[InputFile], opts: CurateOptions, disabled: set[str], staging: str,
               parents: list[str] | None = None, published=None) -> dict[str, Any]:
    """The run's stages by manifest name, each a PTransform that can ``describe()`` itself. A stage in
    ``disabled`` is still described (what would have run), except the filter and boilerplate stages,
    which are absent when off; ``langid`` off labels documents from their sources' hints. ``staging``:
    where stages that must wait for all documents stage them (boilerplate)."""
    stages: dict[str, Any] = {
        "read": ReadDocuments(files, ReadLimits.from_options(opts), opts.split_bytes),
        "normalize": NormalizeDocuments(),
        "langid": IdentifyLanguage.from_options(opts, enabled="langid" not in disabled,
                                                hints={f.source.name: f.source.lang for f in files}),
        "pii": RedactPII(),
        "dedup-exact": ExactDedup(),
        "dedup-near": NearDedup(MinHashConfig.from_options(opts), parents, published),
    }
    if opts.boilerplate_min_docs:
        stages["boilerplate"] = RemoveBoilerplate(staging, opts.boilerplate_min_docs)
    if "filter" not in disabled:
        stages["filter"] = FilterDocuments(FilterConfig.from_options(opts), use_lang_score="langid" not in disabled,
                                           audit_per_filter=opts.filter_audit_k)
    return stages


def stage_record(stages: dict[str, Any], disabled: set[str]) -> dict[str, Any]:
    """What exactly ran, with versions, so a manifest says which configuration produced it."""
    record = {name: {"enabled": name not in disabled, **stage.describe()} for name, stage in stages.items()}
    return {"boilerplate": {"enabled": False}, "filter": {"enabled": False}, **record}


def build_pipeline(p: beam.Pipeline, files: list[InputFile], staging: str, opts: CurateOptions,
                   disabled: set[str]) -> dict[str, Any]:
    """Wire every stage; writes shards, the removed table and run statistics under ``staging``.
    Returns the stages (``stages_for``), whose records go into the manifest."""
    parents, published = [], None
    if "dedup-near" not in disabled:  # earlier versions' signatures take part in clustering, and always win
        parents = _dedup_parents(opts, MinHashConfig.from_options(opts))
        files_of_parents = [(i, spec, f) for i, (spec, fs) in enumerate(parents) for f in fs]
        published = (p
                     | "ListPublished" >> beam.Create(files_of_parents)
                     | "ReadPublished" >> beam.FlatMap(lambda t: read_published(t[2], t[0], t[1])))
    stages = stages_for(files, opts, disabled, staging, [spec for spec, _ in parents], published)
    read = p | "Read" >> stages["read"]
    removed = [read[REMOVED]]
    # the sources before the Flatten: the FnApiRunner materialises a Flatten's inputs, which must not hold text
    ((read[KEPT] | "KeptSource" >> beam.Map(lambda d: d["source"]),
      read[REMOVED] | "RemovedSource" >> beam.Map(lambda d: d["source"]))
     | "AllInputs" >> beam.Flatten()
     | "CountBySource" >> beam.combiners.Count.PerElement()
     | "InputDict" >> beam.combiners.ToDict()
     | "WriteInputCounts" >> WriteStats(staging, "input_by_source"))
    read["skipped"] | "WriteSkippedRecords" >> WriteStats(staging, "skipped_records")  # WARC records, no documents

    norm = read[KEPT] | "Normalize" >> stages["normalize"]
    removed.append(norm[REMOVED])
    docs = norm[KEPT]
    if "boilerplate" in stages:
        boiler = docs | "Boilerplate" >> stages["boilerplate"]
        removed.append(boiler[REMOVED])
        docs = boiler[KEPT]
        boiler["stats"] | "WriteBoilerplate" >> WriteStats(staging, "boilerplate")
    docs = (docs | ("LangId" if stages["langid"].enabled else "LangFromHints") >> stages["langid"])[KEPT]
    if "filter" in stages:
        filtered = docs | "Filter" >> stages["filter"]
        removed.append(filtered[REMOVED])
        docs = filtered[KEPT]
        filtered["audit"] | "FilterAudit" >> WriteFilterAudit(staging, opts.filter_audit_k)
        filtered["skipped"] | "WriteSkipped" >> WriteStats(staging, "filter_skipped")
    if "pii" not in disabled:
        redacted = docs | "RedactPII" >> stages["pii"]
        docs = redacted[KEPT]
        redacted["stats"] | "WritePII" >> WriteStats(staging, "pii")

    exact = stages["dedup-exact"] if "dedup-exact" not in disabled else None
    near = stages["dedup-near"] if "dedup-near" not in disabled else None
    target = int(opts.shard_target_mb * 1024 * 1024)
    keys_of = partial(batch_keys, priorities={f.source.name: f.source.priority for f in files}, exact=bool(exact),
                      config=near.config if near else None) if exact or near else None
    # the text leaves the pipeline here, as staged files; dedup and the shard writer go on with small records
    staged = docs | "Stage" >> StageDocuments(staging, "curated", keys_of)
    if exact or near:
        keys, dropped = staged["keys"], []
        if exact:
            kept_exact = keys | "ExactDedup" >> exact
            dropped.append(kept_exact[REMOVED])
            keys = kept_exact[KEPT]
        if near:
            kept_near = keys | "NearDedup" >> near
            dropped.append(kept_near[REMOVED])
            keys = kept_near[KEPT]
            (kept_near["bands"] | "WriteBands" >> WriteTable(staging, BANDS_DIR, BANDS_SCHEMA)
             | "BandsList" >> beam.combiners.ToList() | "WriteBandsInfo" >> WriteStats(staging, "dedup_bands"))
        removed += dropped
        sizes = keys | "KeptSizes" >> beam.Map(lambda k: (k[2], k[3]))
        drops = (tuple(dropped) | "DedupRemoved" >> beam.Flatten()
                 | "DropsToShards" >> beam.Map(lambda r: (r["lang"], r["uid"])))
        shards = staged["locations"] | "WriteShards" >> WriteDocShards(staging, target, sizes, drops)
    else:
        shards = staged["locations"] | "WriteShards" >> WriteDocShards(staging, target)
    shards | "ShardList" >> beam.combiners.ToList() | "WriteShardInfo" >> WriteStats(staging, "shards")
    all_removed = tuple(removed) | "AllRemoved" >> beam.Flatten()
    (all_removed | "WriteRemovedTable" >> WriteTable(staging, REMOVED_DIR, REMOVED_SCHEMA, uid="uid")
     | "RemovedList" >> beam.combiners.ToList() | "WriteRemovedInfo" >> WriteStats(staging, "removed"))
    (all_removed | "RemovedKind" >> beam.Map(lambda r: (r["source"], r["lang"], r["stage"], r["reason"]))
     | "CountRemoved" >> beam.combiners.Count.PerElement()  # one count per (source, lang, stage, reason)
     | "RemovedCountsList" >> beam.combiners.ToList() | "WriteRemovedCounts" >> WriteStats(staging, "removed_counts"))
    (all_removed | "DedupRemovals" >> beam.Filter(is_dedup_removal) | "ClusterRows" >> beam.Map(cluster_row)
     | "WriteClusters" >> WriteTable(staging, CLUSTERS_DIR, CLUSTERS_SCHEMA)
     | "ClustersList" >> beam.combiners.ToList() | "WriteClustersInfo" >> WriteStats(staging, "dedup_clusters"))
    return stages


def check_options(opts: CurateOptions, disabled: set[str]) -> None:
    """Every option checked before any work; ``OptionError`` names the bad one, in one line."""
    validate_options(opts)
    checks = [("", lambda: (ReadLimits.from_options(opts), MinHashConfig.from_options(opts))),
              ("--lid-thresholds: ", lambda: LangIdConfig.from_options(opts))]
    if "filter" not in disabled:
        checks.append((f"--filter-config {opts.filter_config}: ", lambda: FilterConfig.from_options(opts)))
    if opts.lid_model and "langid" not in disabled:
        checks.append(("--lid-model: ", lambda: check_model(opts.lid_model)))
    for flag, check in checks:
        try:
            check()
        except (ValueError, TypeError, AttributeError, OSError, yaml.YAMLError) as e:  # malformed files too
            raise OptionError(flag + _one_line(e)) from None
    if opts.dedup_against:
        lake = lakelib.open_lake(opts.lake, options=opts)
        for spec in opts.dedup_against:
            lake.resolve(spec)  # CatalogError: not published


def _one_line(e: Exception) -> str:
    mark = getattr(e, "problem_mark", None)
    if isinstance(e, yaml.MarkedYAMLError) and mark is not None:
        return f"invalid YAML: {e.problem} at line {mark.line + 1}, column {mark.column + 1}"
    text = " ".join(str(e).split())
    return text if isinstance(e, ValueError) else f"{type(e).__name__}: {text}"


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


class IncompleteRun(lakelib.CatalogError):
    """A run whose statistics are not all there (its staging was damaged): it must not publish."""


def expected_stats(stages: dict[str, Any], disabled: set[str]) -> set[str]:
    """The ``_stats`` files ``build_pipeline`` writes for these stages: every one must be read back."""
    names = {"input_by_source", "skipped_records", "shards", "removed", "removed_counts", "dedup_clusters"}
    names |= {"boilerplate"} if "boilerplate" in stages else set()
    names |= {"filter_skipped"} if "filter" in stages else set()
    names |= {"pii"} if "pii" not in disabled else set()
    return names | ({"dedup_bands"} if "dedup-near" not in disabled else set())


def read_stats(staging: str, name: str, default, expected: set[str]):
    """A ``_stats/<name>.json`` the workers wrote, read through Beam's filesystems (local dir or object store).

    ``default`` only stands for a file the run does not write (a stage that is off): one that is
    expected and missing is an :class:`IncompleteRun` naming it, never an empty version.
    """
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(staging, STATS_DIR, f"{name}.json")
    if not FileSystems.exists(path):
        if name in expected:
            raise IncompleteRun(f"the run's statistics file {path} is missing (its staging was removed or damaged "
                                f"while it ran): nothing was published")
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
    if opts.code_input:
        sources += sources_from_inputs(opts.code_input, kind="code", taken={s.name for s in sources})
    check_unique_names(sources, "--sources and --input")
    if sources:
        return sources, None
    sample_dir = sample_dir or tempfile.mkdtemp(prefix="curate-sample-")
    return load_sources(write_sample(sample_dir)), sample_dir


def run(argv: list[str] | None = None) -> tuple[lakelib.VersionRef, dict[str, Any]]:
    """Run the pipeline and publish the next version; return it with its manifest.

    The run is staged inside the lake, the built-in sample included, and committed there: on a
    ``gs://``/``s3://`` lake that is the object store, since Dataflow workers cannot see this disk.
    """
    from apache_beam.io.filesystems import FileSystems

    argv = sys.argv[1:] if argv is None else argv
    check_argv(argv)  # a value argparse refuses: one line, not Beam's usage
    options = PipelineOptions(argv)
    opts = options.view_as(CurateOptions)
    disabled = parse_stage_list(opts.disable)
    lakelib.check_name(opts.dataset)
    check_options(opts, disabled)
    FileSystems.set_options(options)  # the launcher reads and writes the lake too (S3 endpoint, credentials)
    lake = lakelib.open_lake(opts.lake, options=opts)
    lease = StagingLease(lake, opts.dataset)  # gc leaves a leased staging alone, whatever its grace
    staging = lease.staging
    try:
        sources, sample_dir = resolve_sources(opts, f"{staging}/_sample")  # workers see what the launcher sees
        files = match_inputs(sources)
        runner = choose_runner(argv, sum(f.size for f in files))
        options = PipelineOptions([*argv, *runner.flags()])
        print(f"curate: {len(files)} file(s) from {len(sources)} source(s) -> {opts.lake}/{opts.dataset} "
              f"[{runner}; stages off: {', '.join(sorted(disabled)) or 'none'}]", file=sys.stderr)
        started = time.monotonic()
        with beam.Pipeline(options=options) as p:
            stages = build_pipeline(p, files, str(staging), opts, disabled)
        elapsed = time.monotonic() - started
        expected = expected_stats(stages, disabled)
        stat = functools.partial(read_stats, staging, expected=expected)  # stat(name, default for a stage off)

        shards = stat("shards", [])
        removed_infos = stat("removed", [])
        manifest = build_manifest(
            shards=shards, removed_infos=removed_infos,
            removed_counts=[(tuple(kind), n) for kind, n in stat("removed_counts", [])],
            input_by_source=stat("input_by_source", {}), pii=stat("pii", {}),
            sources=[s.to_json() for s in sources],
            inputs=[{"source": f.source.name, "path": f.relpath if sample_dir else f.path, "bytes": f.size,
                     "mtime": f.mtime} for f in files],
            options={k: v for k, v in sorted(options.get_all_options(drop_default=True).items())
                     if k not in ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")},  # no credentials
            runner=runner.runner, stages=stage_record(stages, disabled),
            filter_skipped=stat("filter_skipped", {}),
        )
        manifest["lineage"].update(runner.lineage(), wall_seconds=round(elapsed, 2))
        manifest["lineage"]["dedup_against"] = [lake.resolve(s).spec for s in opts.dedup_against or []]
        manifest["dedup"] = {name: sorted(stat(f"dedup_{name}", []), key=lambda i: i["path"])
                             for name in ("bands", "clusters")}
        manifest.update({name: value for name in ("skipped_records", "boilerplate")
                         if (value := stat(name, {}))})
        manifest["audit"] = describe_staged(staging, os.path.dirname(AUDIT_PATH))
        lake.discard(f"{staging}/{STATS_DIR}", f"{staging}/{STAGED_DIR}",
                     *([sample_dir] if sample_dir else []))  # scratch, not the version's
        require_listed(staging, manifest)
        ref = lake.commit(opts.dataset, staging, manifest)
        manifest = dict(manifest, dataset=ref.dataset, version=ref.version)
        return ref, manifest
    except BaseException:
        lake.discard(staging)  # nobody will commit a failed run's files: they go now rather than wait for gc
        raise
    finally:
        lease.release()


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def disk_error(error: BaseException) -> OSError | None:
    """The disk-full, quota or permission ``OSError`` at the root of a failure, however Beam wrapped it
    (a worker's exception comes back as a ``RuntimeError`` whose context is the original)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_ERRORS:
            return current
        current = current.__cause__ or current.__context__
    return None


def _not_a_disk_error(record: logging.LogRecord) -> bool:
    """Log filter: a worker's disk-full traceback is left out; ``main`` says it in one line."""
    return not (record.exc_info and record.exc_info[1] is not None and disk_error(record.exc_info[1]))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_not_a_disk_error)
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
    except Exception as e:
        disk = disk_error(e)
        if disk is None:
            raise
        print(f"curate: {disk.strerror} writing {disk.filename or 'the lake'}: the run stopped, its staging was "
              f"removed and nothing was published", file=sys.stderr)
        return 1
    lake = PipelineOptions(argv).view_as(CurateOptions).lake
    print(format_summary(manifest, str(ref.path), lake))
    print(f"  took:     {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
