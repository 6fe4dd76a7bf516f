"""Interop exports read back by the real libraries: Hugging Face datasets and mlcroissant."""
import json

import pytest

from catalog.__main__ import main


@pytest.fixture(scope="module")
def exported(sample_version, tmp_path_factory):
    root, ref, manifest = sample_version
    out = tmp_path_factory.mktemp("export") / "sample"
    assert main(["export", ref.spec, str(out), "--lake", str(root)]) == 0
    return out, manifest


def test_hf_datasets_loads_every_language_config(exported, tmp_path):
    datasets = pytest.importorskip("datasets")
    out, manifest = exported
    everything = datasets.load_dataset(str(out), "all", split="train", cache_dir=str(tmp_path))
    assert everything.num_rows == manifest["counts"]["kept"]
    assert everything.column_names == ["id", "text", "lang", "lang_score", "source", "meta"]
    lang, stats = max(manifest["languages"].items(), key=lambda kv: kv[1]["docs"])
    one = datasets.load_dataset(str(out), lang, split="train", cache_dir=str(tmp_path))
    assert one.num_rows == stats["docs"] and set(one["lang"]) == {lang}


def test_croissant_metadata_validates_with_mlcroissant(exported):
    mlc = pytest.importorskip("mlcroissant")
    out, manifest = exported
    dataset = mlc.Dataset(jsonld=str(out / "croissant.json"))
    files = {f.name: f for f in dataset.metadata.distribution if f.name != "shards"}
    assert set(files) == {s["path"] for s in manifest["shards"]}
    assert all(files[s["path"]].sha256 == s["sha256"] for s in manifest["shards"])
    assert [f.name for f in dataset.metadata.record_sets[0].fields] == [
        "id",
        "text",
        "lang",
        "lang_score",
        "source",
        "meta",
    ]
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_export_refuses_a_non_empty_folder(exported, sample_version, capsys):
    out, _ = exported
    root, ref, _ = sample_version
    assert main(["export", ref.spec, str(out), "--lake", str(root)]) == 2
    assert "is not empty" in capsys.readouterr().err
