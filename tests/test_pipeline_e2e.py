"""The curation pipeline end to end on DirectRunner: shards, manifest, counts, determinism."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.ipc as ipc
import pytest

from catalog import lake as lakelib
from catalog.contract import DOC_SCHEMA
from catalog.manifest import read_removed
from pipelines.curate import run
from tests.conftest import REPO, read_jsonl, shared_path


def _kept_ids(ref, manifest):
    ids = []
    for shard in manifest["shards"]:
        table = ipc.open_file(pa.memory_map(str(ref.path / shard["path"]))).read_all()
        assert table.schema.equals(DOC_SCHEMA)
        assert table.num_rows == shard["rows"]
        assert set(table.column("lang").to_pylist()) == {shard["lang"]}
        assert shard["path"].startswith(f"data/lang={shard['lang']}/")
        ids += table.column("id").to_pylist()
    return ids


def _check_accounting(ref, manifest):
    c = manifest["counts"]
    removed = sum(c["filtered"].values()) + c["duplicates"]["exact"] + c["duplicates"]["near"] + c["quarantined"]
    assert c["input"] == c["kept"] + removed
    kept = _kept_ids(ref, manifest)
    removed_table = read_removed(ref.path, manifest["removed_table"])
    assert len(kept) == c["kept"] and removed_table.num_rows == removed
    return kept, removed_table


def test_sample_publishes_a_complete_version(sample_version):
    lake, ref, manifest = sample_version
    assert (ref.dataset, ref.version) == ("sample", 1)
    on_disk = json.loads((ref.path / "manifest.json").read_text())
    assert on_disk == manifest
    for key in ("dataset", "version", "created_at", "shards", "counts", "languages", "lineage"):
        assert key in manifest
    for shard in manifest["shards"]:
        data = (ref.path / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    kept, removed = _check_accounting(ref, manifest)
    c = manifest["counts"]
    assert c["duplicates"]["exact"] >= 3 and c["duplicates"]["near"] >= 2
    assert set(c["quarantined_by_reason"]) >= {"malformed_json", "invalid_utf8", "corrupt_file", "empty_document"}
    assert c["filtered"] and manifest["pii"]["email"] >= 2
    assert len(manifest["languages"]) >= 10 and {"en", "zh", "ar", "ru", "ceb"} <= set(manifest["languages"])
    rows = removed.to_pylist()
    by_id = {r["id"]: r for r in rows}
    assert json.loads(by_id["forum-copy-en-0"]["details"])["duplicate_of"] == "news-en-0"
    assert by_id["forum-near-en-1"]["stage"] == "dedup-near"
    assert by_id["forum-junk-1"]["reason"] == "min_words"
    junk = json.loads(by_id["forum-junk-1"]["details"])
    assert junk["value"] == 2 and junk["threshold"] > 2 and junk["filter_config"] == "filters-bigscience-v1.2"
    assert "forum-pii-0" in kept
    texts = (
        pads.dataset(str(ref.path / "data"), format="ipc", partitioning="hive").to_table().column("text").to_pylist()
    )
    assert not any("maria.keller@example.org" in t or "192.168.10.24" in t for t in texts)
    assert any("<EMAIL>" in t for t in texts)
    assert manifest["sources"]["sample-news"]["license"] == "CC-BY-4.0"
    assert manifest["lineage"]["options"]["lake"] == str(lake)


def test_rerun_is_byte_identical_and_publishes_next_version(sample_version):
    lake, ref1, m1 = sample_version
    ref2, m2 = run(["--lake", str(lake), "--dataset", "sample"])
    assert ref2.version == ref1.version + 1
    assert [(s["path"], s["sha256"]) for s in m1["shards"]] == [(s["path"], s["sha256"]) for s in m2["shards"]]
    assert [s["sha256"] for s in m1["removed_table"]] == [s["sha256"] for s in m2["removed_table"]]
    def strip(m):
        return {k: v for k, v in m.items() if k not in ("created_at", "version", "lineage")}
    assert strip(m1) == strip(m2)


def test_disabled_stages_pass_documents_through(tmp_path):
    ref, m = run(["--lake", str(tmp_path), "--dataset", "raw", "--disable", "langid,filter,pii,dedup-exact,dedup-near"])
    c = m["counts"]
    assert c["filtered"] == {} and c["duplicates"] == {"exact": 0, "near": 0} and m["pii"] == {}
    assert c["kept"] == c["input"] - c["quarantined"]
    assert set(m["languages"]) == {"und"}
    assert m["stages"]["langid"]["enabled"] is False
    with pytest.raises(ValueError, match="unknown stage"):
        run(["--lake", str(tmp_path), "--disable", "langid,spellcheck"])


def test_real_corpus_from_shared_data(tmp_path):
    fortunes = shared_path("debian-fortunes", "fortunes.jsonl")
    copyright_ = shared_path("neardup-debian-copyright", "copyright.jsonl")
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([
        {"name": "fortunes", "paths": [str(fortunes)], "license": "GPL-2.0-or-later"},
        {"name": "copyright", "paths": [str(copyright_)], "license": "various", "priority": 1},
    ]))
    args = ["--lake", str(tmp_path / "lake"), "--dataset", "debian", "--sources", str(sources)]
    ref, m = run(args)
    kept, removed = _check_accounting(ref, m)
    n_in = len(read_jsonl(fortunes)) + len(read_jsonl(copyright_))
    assert m["counts"]["input"] == n_in
    all_ids = set(kept) | set(removed.column("id").to_pylist())
    assert len(all_ids) == n_in  # every input id is accounted for, by id
    assert m["counts"]["duplicates"]["exact"] >= 100  # 127 groups of identical copyright files
    assert {"en", "de", "ru", "zh", "bg", "pl"} <= set(m["languages"])
    ref2, m2 = run(args)
    assert [s["sha256"] for s in m["shards"]] == [s["sha256"] for s in m2["shards"]]


def test_command_line_prints_a_summary(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines.curate", "--lake", str(tmp_path), "--dataset", "cli"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    for phrase in (
        "documents in",
        "kept",
        "duplicates removed",
        "quarantined",
        "shards:",
        "lives in:",
        "python -m catalog show cli@v1",
    ):
        assert phrase in out.stdout
    assert lakelib.list_versions(tmp_path, "cli") == [1]
    show = subprocess.run([sys.executable, "-m", "catalog", "show", "cli", "--lake", str(tmp_path), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert json.loads(show.stdout)["version"] == 1
    listing = subprocess.run([sys.executable, "-m", "catalog", "list", "--lake", str(tmp_path)],
                             capture_output=True, text=True, cwd=REPO, timeout=60)
    assert listing.stdout.startswith("cli")
