"""Staged documents: the text written once where it is made, read back by row, and the published
version independent of workers, bundles and batches."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from pipelines.curate import run
from transforms import staging
from transforms.shards import shard_row
from transforms.staging import STAGED_DIR, read_documents, read_rows, stage_rows


def _doc(i: int, lang: str) -> dict:
    return {"id": f"d{i:03d}", "uid": f"u{i:03d}", "text": f"Text {i} é", "source": "web", "lang": lang,
            "lang_score": 0.5, "meta": {"n": i, "tags": ["a", "b"], "url": None}}


def test_a_staged_file_holds_one_batch_per_language_and_gives_back_rows_by_location(tmp_path):
    docs = [_doc(i, lang) for i, lang in enumerate(["fr", "en", "fr", "de", "en", "en"])]
    rel, locations = stage_rows([shard_row(d) for d in docs], str(tmp_path), "curated")
    assert rel.startswith(f"{STAGED_DIR}/curated/") and rel.endswith(".arrow")
    reader = ipc.open_file(pa.memory_map(str(tmp_path / rel)))
    assert [set(reader.get_batch(b).column("lang").to_pylist()) for b in range(reader.num_record_batches)] == [
        {"de"}, {"en"}, {"fr"}]
    assert sorted(loc[0] for loc in locations) == [d["uid"] for d in docs]
    assert {loc[0]: loc[2] for loc in locations} == {d["uid"]: len(d["text"].encode("utf-8")) for d in docs}
    wanted = [loc for loc in locations if loc[1] == "en"][::-1]
    assert [r["_uid"] for r in read_rows(str(tmp_path), wanted)] == ["u001", "u004", "u005"]  # file order
    assert [r["text"] for r in read_rows(str(tmp_path), wanted)] == ["Text 1 é", "Text 4 é", "Text 5 é"]
    again, _ = stage_rows([shard_row(d) for d in docs], str(tmp_path), "curated")
    assert again == rel  # a retried batch rewrites the same file
    assert len(list((tmp_path / STAGED_DIR / "curated").iterdir())) == 1


def test_staged_documents_read_back_as_they_were_staged(tmp_path):
    docs = [_doc(i, "und") for i in range(4)]
    rel, _ = stage_rows([shard_row(d) for d in docs], str(tmp_path), "boilerplate")
    assert sorted(read_documents(str(tmp_path), rel), key=lambda d: d["uid"]) == docs


def _published(ref) -> dict[str, bytes]:
    files = {str(p.relative_to(ref.path)): p.read_bytes() for p in Path(ref.path).rglob("*") if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    for volatile in ("created_at", "lineage"):
        manifest.pop(volatile)
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def test_versions_are_byte_identical_whatever_the_workers_bundles_and_batches(tmp_path, monkeypatch):
    """The sample with tiny shard targets (several buckets per language, written by different
    workers), on one in-process worker, on two worker processes, and with two-document batches."""
    args = ["--shard-target-mb", "0.0003", "--dataset", "s"]
    runs = {"one worker": (["--direct_running_mode=in_memory"], None),
            "two workers": (["--direct_running_mode=multi_processing", "--direct_num_workers=2"], None),
            "tiny batches": (["--direct_running_mode=in_memory"], {"min_batch_size": 2, "max_batch_size": 2})}
    published = {}
    for name, (mode, batch) in runs.items():
        if batch:
            monkeypatch.setattr(staging, "BATCH", batch)
        lake = tmp_path / name.replace(" ", "-")
        ref, manifest = run(args + mode + ["--lake", str(lake)])
        published[name] = _published(ref)
        assert not (ref.path / STAGED_DIR).exists() and not list((lake / "s" / "_staging").glob("*"))
    buckets = Counter(s["lang"] for s in manifest["shards"])
    assert max(buckets.values()) > 2  # a language spread over several buckets
    first = published["one worker"]
    for name, files in published.items():
        assert sorted(files) == sorted(first), name
        assert [rel for rel in first if files[rel] != first[rel]] == [], name


# the transforms whose main output is documents, text included
DOCUMENT_STEPS = ("Read/Records", "Normalize/", "Boilerplate/DropLines", "LangId/", "Filter/Decide", "RedactPII/Redact",
                  "Stage/Batch")


def _materialised(argv: list[str], tmp_path) -> list[str]:
    """The outputs (transform[tag]) that the FnApiRunner's fused stages hand to the runner: what
    leaves a worker, through a shuffle, a side input or a Flatten's buffer."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.runners.worker.bundle_processor import DATA_OUTPUT_URN

    from pipelines.curate import build_pipeline, resolve_sources
    from pipelines.options import CurateOptions, parse_stage_list
    from transforms.read.inputs import match_inputs

    options = PipelineOptions([f"--lake={tmp_path}", *argv])
    opts = options.view_as(CurateOptions)
    p = beam.Pipeline(options=options)
    sources, _ = resolve_sources(opts, str(tmp_path / "sample"))
    build_pipeline(p, match_inputs(sources), str(tmp_path / "staging"), opts, parse_stage_list(opts.disable))
    proto = p.to_runner_api()
    producers = {pc: f"{t.unique_name}[{tag}]" for t in proto.components.transforms.values() if not t.subtransforms
                 for tag, pc in t.outputs.items()}
    _, stages = FnApiRunner().create_stages(proto)
    return [producers.get(pc, pc) for s in stages for t in s.transforms if t.spec.urn == DATA_OUTPUT_URN
            for pc in t.inputs.values()]


def test_no_document_leaves_the_fused_stage(tmp_path):
    """With every stage on, boilerplate included, only removed rows, statistics, staged-file handles,
    locations and key records leave the stage that reads, cleans and stages the documents."""
    crossing = _materialised(["--boilerplate-min-docs", "3"], tmp_path)
    assert "Stage/Write/FlatMap(stage_batch)[locations]" in crossing
    assert "Boilerplate/SpreadFiles/ReshufflePerKey/Map(reify_metadata_default_window)[None]" in crossing
    documents = [name for name in crossing if name.startswith(DOCUMENT_STEPS) and not name.endswith("[removed]")]
    assert documents == []
