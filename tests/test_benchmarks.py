"""The benchmarks still run against the code they measure (tiny sizes; the figures are not checked).

A refactoring that renames a stage's outputs or a class's fields breaks a benchmark silently: nothing
else imports it. These run the ones that need no long runs, each as a user runs it, in a subprocess; those
that draw on ``../shared`` skip without it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.render import main as render_main
from benchmarks.render import render
from benchmarks.results import load_results
from tests.conftest import REPO, shared_path

# Tools that build data or configs rather than measure: they record nothing.
NOT_BENCHMARKS = {"__init__.py", "results.py", "render.py", "proctree.py",  # helpers
                  "langid_data.py", "langid_moves.py", "langid_roots_data.py", "code_data.py",  # data builders
                  "langid_roots_model.py"}  # trains the shipped supplementary model


def run_benchmark(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
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
    assert "in 1 file(s)" in out and "CPU-s" in out and "peak RSS" in out
    assert "fused stages of the pipeline's run" in out


def test_fused_stages_counts_the_stages_the_fn_api_runner_executes():
    out = run_benchmark("benchmarks.fused_stages")
    count = int(out.rsplit("fused stages: ", 1)[1])
    assert count > 10 and out.count("\n") == count + 1  # one line per stage, then the total
    assert "Read" in out and "WriteShards" in out


def test_proctree_counts_the_cpu_and_memory_of_child_processes():
    from benchmarks.proctree import run_measured

    child = "x = bytearray(200 << 20); sum(range(10**7))"
    burn = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    usage = run_measured([sys.executable, "-c", burn], interval=0.05)
    assert usage.returncode == 0 and usage.processes >= 2
    assert usage.peak_rss_mb > 200 and usage.cpu_s > 0.1


def test_proctree_reads_proc_without_psutil():
    import os

    import pytest

    from benchmarks.proctree import _tree_proc

    if not os.path.exists("/proc/self/stat"):
        pytest.skip("no /proc here (not Linux): psutil is the sampler")
    [(cpu, rss)] = [v for (pid, _), v in _tree_proc(os.getpid()).items() if pid == os.getpid()]
    assert rss > 10 << 20 and cpu > 0


def test_every_benchmark_can_record_its_result():
    benchmarks = [p for p in (REPO / "benchmarks").iterdir()
                  if p.suffix in (".py", ".sh") and p.name not in NOT_BENCHMARKS]
    assert len(benchmarks) >= 13
    for path in benchmarks:
        source = path.read_text(encoding="utf-8")
        assert ("add_record_argument(" in source and "record(" in source) or (
            path.suffix == ".sh" and "--record" in source), f"{path.name} has no --record"


def test_a_recorded_result_renders_into_its_section_and_check_sees_a_stale_page(tmp_path):
    results, page = tmp_path / "results", tmp_path / "performance.md"
    run_benchmark("benchmarks.catalog_bench", "--gb", "0.005", "--datasets", "2", "--versions", "2", "--record",
                  env={"CURATION_RESULTS": str(results)})
    recorded = json.loads((results / "catalog_bench.json").read_text())
    assert recorded["command"].startswith("python -m benchmarks.catalog_bench --gb 0.005")
    assert recorded["machine"]["cores"] and recorded["date"] and recorded["commit"]
    assert {"sha256sum_mb_s", "verify_1_threads_mb_s", "list_ms"} <= set(recorded["figures"])
    assert render_main(["--check", "--results", str(results), "--out", str(page)]) == 1  # no page yet
    assert render_main(["--results", str(results), "--out", str(page)]) == 0
    assert render_main(["--check", "--results", str(results), "--out", str(page)]) == 0
    text = page.read_text()
    assert "## Catalog and integrity" in text and "catalog verify" in text and recorded["date"][:10] in text


def test_the_committed_performance_page_is_rendered_from_the_committed_results():
    assert (REPO / "docs" / "performance.md").read_text(encoding="utf-8") == render(load_results()), (
        "run python -m benchmarks.render")


def test_langid_candidates_and_eval_score_the_languages_lid176_lacks():
    gettext = shared_path("debian-gettext", "gettext.jsonl")  # its Xhosa, Northern Sotho and Luganda catalogues
    out = run_benchmark("benchmarks.langid_candidates", str(gettext), "--limit", "300")
    assert "lid-ncg.ftz" in out and "the stage (lid.176 + CLD2 + lid-ncg)" in out
    out = run_benchmark("benchmarks.langid_eval", str(gettext), "--label-from-lang", "--repeat", "1")
    assert "ROOTS languages lid.176 lacks" in out and "    xh " in out


def test_langid_supplement_cost_times_the_stage_with_and_without():
    shared_path("debian-gettext")  # the e2e corpus is drawn from ../shared/data
    out = run_benchmark("benchmarks.langid_supplement_cost", "--docs", "600", "--repeat", "1")
    assert "stage CPU without the supplement" in out and "labels changed:" in out


def test_filter_report_says_how_each_language_is_filtered(tmp_path):
    zulu = ("Izingane zidlala ebaleni ngemuva kwesikole, kanti omama bapheka ukudla kwakusihlwa. "
            "Ngiyabonga kakhulu ngosizo lwakho, ngizokubona kusasa ekuseni.")  # written for this test
    english = "The committee will publish its final report on the state of the railways next month, as planned."
    path = tmp_path / "two.jsonl"
    path.write_text(f'{{"text": "{zulu}"}}\n{{"text": "{english}"}}\n', encoding="utf-8")
    out = run_benchmark("benchmarks.filter_report", str(path))
    assert "filters-bigscience-v1.2" in out
    assert any(line.startswith("zu ") and "own entry" in line and "max_flagged_word_ratio" in line
               for line in out.splitlines()), out


def test_fused_batches_runs_both_shapes_of_the_fused_stage():
    shared_path()  # its corpus is drawn from ../shared/data
    out = run_benchmark("benchmarks.fused_batches", "--docs", "200", "--repeat", "1")
    assert "per-document time / per-batch time" in out


def test_code_eval_runs_on_sets_made_from_this_pythons_stdlib(tmp_path):
    """A tiny stand-in for ``benchmarks.code_data``'s sets, from files already here (no download)."""
    import json
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted((stdlib / "json").glob("*.py")) + sorted((stdlib / "email").glob("*.py"))[:10]
    if not files:
        pytest.skip(f"no standard-library sources under {stdlib}")
    for name, edit in (("python-cpython-3.11", lambda t: t), ("python-pypy-3.9", lambda t: t.replace("    ", "  "))):
        with open(tmp_path / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for p in files:
                f.write(json.dumps({"id": f"{name}/{p.name}", "path": str(p.relative_to(stdlib)),
                                    "content": edit(p.read_text(encoding="utf-8")), "repo": name,
                                    "label": "code-python", "license": "PSF-2.0"}) + "\n")
    prose = tmp_path / "prose.jsonl"
    prose.write_text("".join(json.dumps({"text": f"An ordinary sentence number {i} about the weather today."}) + "\n"
                             for i in range(200)))
    out = run_benchmark("benchmarks.code_eval", "--data", str(tmp_path), "--prose", str(prose),
                        "--throughput-mb", "0.2")
    assert "code-python" in out and "near dedup, CPython 3.11 + PyPy 3.9 stdlib" in out
    assert "x the prose path" in out
