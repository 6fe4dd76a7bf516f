"""The runner a run gets by default, and what the user's Beam options override (pipelines.runner)."""
from __future__ import annotations

import pytest

from pipelines.runner import MULTI_PROCESSING_MIN_BYTES, RunnerChoice, choose_runner

BIG, SMALL = MULTI_PROCESSING_MIN_BYTES, MULTI_PROCESSING_MIN_BYTES - 1


def test_no_options_small_input_runs_in_process_on_the_fn_api_runner():
    choice = choose_runner(["--input", "x.jsonl"], SMALL, cores=8)
    assert (choice.runner, choice.mode, choice.workers) == ("FnApiRunner", "in_memory", 1)
    assert choice.flags() == ["--runner=FnApiRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]


def test_no_options_big_input_uses_one_worker_per_core():
    choice = choose_runner([], BIG, cores=8)
    assert (choice.runner, choice.mode, choice.workers, choice.reason) == (
        "FnApiRunner", "multi_processing", 8, "input size")
    assert "--direct_num_workers=8" in choice.flags()
    assert (choose_runner([], BIG, cores=1).mode) == "in_memory"  # one core: no worker to gain


@pytest.mark.parametrize("argv, expected", [
    (["--direct_running_mode=in_memory"], ("FnApiRunner", "in_memory", 1)),
    (["--direct_running_mode=multi_threading"], ("FnApiRunner", "multi_threading", 4)),
    (["--direct_running_mode", "multi_processing", "--direct_num_workers=3"], ("FnApiRunner", "multi_processing", 3)),
    (["--direct_num_workers=2"], ("FnApiRunner", "multi_processing", 2)),
    (["--direct_num_workers=1"], ("FnApiRunner", "in_memory", 1)),
    (["--direct_num_workers=0"], ("FnApiRunner", "multi_processing", 4)),
])
def test_direct_options_override_the_size_rule(argv, expected):
    for size in (0, BIG):
        choice = choose_runner(argv, size, cores=4)
        assert (choice.runner, choice.mode, choice.workers) == expected
        assert choice.reason == argv[0].split("=")[0]


def test_a_named_runner_is_left_to_beam():
    dataflow = choose_runner(["--runner=DataflowRunner", "--project=p"], BIG, cores=4)
    assert (dataflow.runner, dataflow.mode, dataflow.workers, dataflow.flags()) == ("DataflowRunner", None, None, [])
    direct = choose_runner(["--runner", "DirectRunner", "--direct_num_workers=2",
                            "--direct_running_mode=multi_processing"], 0, cores=4)
    assert (direct.runner, direct.mode, direct.workers, direct.flags()) == ("DirectRunner", "multi_processing", 2, [])


def test_lineage_and_description():
    choice = RunnerChoice("FnApiRunner", "multi_processing", 2, "input size")
    assert choice.lineage() == {"runner": "FnApiRunner", "running_mode": "multi_processing", "workers": 2,
                                "runner_chosen_by": "input size"}
    assert str(choice) == "FnApiRunner, multi_processing x2"
    assert str(RunnerChoice("DataflowRunner", None, None, "--runner")) == "DataflowRunner"
