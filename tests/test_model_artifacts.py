"""Artifacts attached to immutable versions: content-addressed, atomic, idempotent, findable."""
import json

import pytest

from catalog.artifacts import attach_artifact, find_artifact, list_artifacts
from catalog.hashing import sha256_file
from catalog.lake import CatalogError
from model.sample_lake import synthetic_records, write_version


@pytest.fixture()
def lake(tmp_path):
    write_version(tmp_path / "lake", "demo", synthetic_records(6, {"en": "abc", "fr": "déf"}))
    return tmp_path / "lake"


def test_attach_writes_record_and_file_under_content_address(lake, tmp_path):
    src = tmp_path / "tokenizer.json"
    src.write_text('{"vocab": 1}')
    record = attach_artifact(lake, "demo", src, "tokenizer", {"vocab_size": 1, "trained_on": "demo@v1"})
    digest = sha256_file(src)[0]
    folder = lake / "demo" / "v1" / "artifacts" / f"tokenizer-{digest[:12]}"
    assert record["path"] == str(folder / "tokenizer.json")
    assert (folder / "tokenizer.json").read_text() == '{"vocab": 1}'
    on_disk = json.loads((folder / "artifact.json").read_text())
    assert on_disk["sha256"] == digest and on_disk["size"] == src.stat().st_size
    assert on_disk["kind"] == "tokenizer" and on_disk["version"] == 1
    assert on_disk["metadata"]["vocab_size"] == 1 and on_disk["created_at"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_attach_is_idempotent_and_find_filters_by_hash_and_metadata(lake, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    first = attach_artifact(lake, "demo@v1", a, "token-lengths", {"tokenizer_sha256": "t1"})
    assert attach_artifact(lake, "demo@v1", a, "token-lengths", {"tokenizer_sha256": "t1"}) == first
    attach_artifact(lake, "demo@v1", b, "token-lengths", {"tokenizer_sha256": "t2"})
    assert len(list_artifacts(lake, "demo", "token-lengths")) == 2
    assert find_artifact(lake, "demo", "token-lengths", tokenizer_sha256="t1")["sha256"] == first["sha256"]
    assert (
        find_artifact(lake, "demo", "token-lengths", sha256=sha256_file(b)[0][:8])["metadata"]["tokenizer_sha256"]
        == "t2"
    )
    assert find_artifact(lake, "demo", "token-lengths", tokenizer_sha256="t3") is None
    assert list_artifacts(lake, "demo", "tokenizer") == []


def test_bad_kind_and_unknown_version_are_refused(lake, tmp_path):
    src = tmp_path / "x"
    src.write_text("x")
    with pytest.raises(CatalogError, match="invalid artifact kind"):
        attach_artifact(lake, "demo", src, "../escape")
    with pytest.raises(CatalogError, match="not published"):
        attach_artifact(lake, "demo@v9", src, "tokenizer")
