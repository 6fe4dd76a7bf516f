"""Near dedup through the real pipeline on tiny corpora: representatives, cross-version dedup, tables."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.ipc as ipc

from catalog.manifest import read_removed
from pipelines.curate import run

BASE = " ".join(f"clause{i} of the shared licence text number {i}" for i in range(40))


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def _publish(tmp_path, name, records, *extra):
    src = tmp_path / f"{name}.jsonl"
    _write(src, records)
    return run(["--input", str(src), "--lake", str(tmp_path / "lake"), "--dataset", "d",
                "--disable", "langid,filter,pii", *extra])


def _near_removed(ref, manifest):
    rows = read_removed(ref.path, manifest["removed_table"]).to_pylist()
    return {r["id"]: json.loads(r["details"]) for r in rows if r["stage"] == "dedup-near"}


def test_cross_version_dedup_removes_documents_of_published_versions(tmp_path):
    v1 = [{"id": "old", "text": BASE}, {"id": "other", "text": "an unrelated " * 30 + "document"}]
    ref1, m1 = _publish(tmp_path, "a", v1)
    assert m1["dedup"]["bands"] and m1["counts"]["kept"] == 2
    bands = ipc.open_file(pa.memory_map(str(ref1.path / m1["dedup"]["bands"][0]["path"]))).read_all()
    assert sorted(bands.column("id").to_pylist()) == ["old", "other"]

    v2 = [{"id": "copy", "text": BASE.replace("clause7 ", "")}, {"id": "fresh", "text": "brand new words " * 20}]
    ref2, m2 = _publish(tmp_path, "b", v2, "--dedup-against", "d@v1")
    removed = _near_removed(ref2, m2)
    assert set(removed) == {"copy"}
    assert removed["copy"]["duplicate_of"] == "old" and removed["copy"]["duplicate_of_version"] == "d@v1"
    assert removed["copy"]["jaccard"] >= 0.7
    assert m2["lineage"]["dedup_against"] == ["d@v1"]
    c = m2["counts"]
    assert c["input"] == c["kept"] + c["duplicates"]["exact"] + c["duplicates"]["near"] + sum(c["filtered"].values())
    assert m2["sources"]["b"]["duplicates_near"] == 1
    clusters = ipc.open_file(pa.memory_map(str(ref2.path / m2["dedup"]["clusters"][0]["path"]))).read_all().to_pylist()
    assert [(r["kept_id"], r["kept_version"], r["id"], r["stage"]) for r in clusters] == [
        ("old", "d@v1", "copy", "dedup-near")
    ]


def test_kept_representative_does_not_depend_on_input_order(tmp_path):
    docs = [{"id": f"d{i}", "text": BASE.replace(f"clause{i} ", "")} for i in range(1, 6)]
    fwd = {k: v["duplicate_of"] for k, v in _near_removed(*_publish(tmp_path, "x", docs)).items()}
    rev = {k: v["duplicate_of"] for k, v in _near_removed(*_publish(tmp_path, "y", docs[::-1])).items()}
    assert fwd == rev == {f"d{i}": "d1" for i in range(2, 6)}
