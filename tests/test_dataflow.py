"""Beyond one machine: the same pipeline graph for Dataflow, and multi-process DirectRunner."""
from __future__ import annotations

import importlib.util

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.curate import build_pipeline, resolve_sources, run
from pipelines.options import CurateOptions, parse_stage_list
from transforms.read.inputs import match_inputs

STAGE_TRANSFORMS = ["Read", "Normalize", "LangId", "Filter", "RedactPII", "ExactDedup", "NearDedup",
                    "WriteShards", "WriteRemovedTable"]


def test_dataflow_dry_run_builds_every_stage(tmp_path):
    if importlib.util.find_spec("google.cloud.dataflow_v1beta3") is None:
        pytest.skip("apache-beam[gcp] is not installed (the 'dataflow' extra)")
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    options = PipelineOptions(["--project=demo-project", "--region=europe-west1", "--temp_location=gs://demo-bucket/tmp",
                               "--dry_run=True", f"--lake={tmp_path}"])
    opts = options.view_as(CurateOptions)
    sources, _ = resolve_sources(opts)
    runner = DataflowRunner()
    p = beam.Pipeline(runner=runner, options=options)
    build_pipeline(p, match_inputs(sources), str(tmp_path / "staging"), opts, parse_stage_list(""))
    p.run()
    names = {t.unique_name.split("/")[0] for t in runner.job.proto_pipeline.components.transforms.values()}
    missing = [s for s in STAGE_TRANSFORMS if s not in names]
    assert not missing, f"job graph lacks {missing}"
    assert runner.job.proto.name  # a job request was fully built, not submitted


def test_multi_process_direct_runner_gives_the_same_shards(sample_version, tmp_path):
    _, _, in_process = sample_version
    _, multi = run(["--lake", str(tmp_path), "--dataset", "sample",
                    "--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert [(s["path"], s["sha256"]) for s in multi["shards"]] == [
        (s["path"], s["sha256"]) for s in in_process["shards"]
    ]
    assert multi["counts"] == in_process["counts"]
    assert {k: multi["lineage"][k] for k in ("runner", "running_mode", "workers")} == {
        "runner": "FnApiRunner", "running_mode": "multi_processing", "workers": 2}
    assert {k: in_process["lineage"][k] for k in ("runner", "running_mode", "workers", "runner_chosen_by")} == {
        "runner": "FnApiRunner", "running_mode": "in_memory", "workers": 1, "runner_chosen_by": "input size"}
