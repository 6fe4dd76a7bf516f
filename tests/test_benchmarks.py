"""The benchmarks still run against the code they measure (tiny sizes; the figures are not checked).

A refactoring that renames a stage's outputs or a class's fields breaks a benchmark silently: nothing
else imports it. These run the ones that need no long runs, each as a user runs it, in a subprocess; those
that draw on ``../shared`` skip without it.
"""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, shared_path


def run_benchmark(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_dedup_scale_runs_the_dedup_dag_and_reports_its_groups():
    out = run_benchmark("benchmarks.dedup_scale", "--sizes", "1000,2000")
    assert "N=    1,000" in out and "N=    2,000" in out
    assert "NearDedup/GroupByBand" in out and "ExactDedup/GroupByTextHash" in out
    assert "1,000 -> 2,000 (x2)" in out


def test_integrity_bench_streams_and_exports_a_generated_version():
    out = run_benchmark("benchmarks.integrity_bench", "--gb", "0.005")
    assert "stream check before step 0" in out and "export of every shard" in out


def test_catalog_bench_lists_and_shows_generated_datasets():
    assert "catalog list" in run_benchmark("benchmarks.catalog_bench", "--gb", "0.005", "--datasets", "2",
                                           "--versions", "2")


def test_warc_bench_reads_and_extracts_the_shared_guide_pages():
    shared_path("messy")  # its pages come from ../shared/data/messy
    out = run_benchmark("benchmarks.warc_bench", "--records", "50", "--repeat", "1")
    assert "selectolax rules (ours)" in out and "ours (warc_records)" in out


def test_e2e_bench_runs_the_pipeline_and_the_naive_script():
    shared_path()  # its corpus is drawn from ../shared/data
    out = run_benchmark("benchmarks.e2e_bench", "--docs", "300", "--repeat", "1")
    assert "pipeline median" in out and "naive    median" in out and "pipeline speed / naive script speed" in out
