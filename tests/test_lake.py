import json
import os

import pytest

from catalog import lake


def _stage(root, name, content=b"x"):
    staging = lake.new_staging_dir(root, name)
    (staging / "data").mkdir()
    (staging / "data" / "f.arrow").write_bytes(content)
    return staging


def test_versions_are_numbered_and_only_visible_with_a_manifest(tmp_path):
    assert lake.list_versions(tmp_path, "ds") == []
    ref1 = lake.commit_version(tmp_path, "ds", _stage(tmp_path, "ds"), {"counts": {}})
    ref2 = lake.commit_version(tmp_path, "ds", _stage(tmp_path, "ds"), {"counts": {}})
    assert (ref1.version, ref2.version) == (1, 2)
    os.mkdir(tmp_path / "ds" / "v3")  # a publisher that died before its manifest
    assert lake.list_versions(tmp_path, "ds") == [1, 2]
    assert lake.resolve(tmp_path, "ds").version == 2
    ref4 = lake.commit_version(tmp_path, "ds", _stage(tmp_path, "ds"), {})
    assert ref4.version == 4  # never reuses a claimed number
    assert json.loads((ref4.path / "manifest.json").read_text())["version"] == 4
    assert not list((tmp_path / "ds" / "_staging").iterdir())


def test_manifest_is_never_replaced(tmp_path):
    path = tmp_path / "manifest.json"
    lake.write_json_atomic(path, {"a": 1})
    with pytest.raises(FileExistsError):
        lake.write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left behind


def test_specs_and_errors(tmp_path):
    assert lake.parse_spec("web") == ("web", None)
    assert lake.parse_spec("web@v3") == ("web", 3)
    assert lake.parse_spec("web@3") == ("web", 3)
    for bad in ["../etc", "web@x", "", "a/b"]:
        with pytest.raises(lake.CatalogError):
            lake.parse_spec(bad)
    with pytest.raises(lake.CatalogError, match="no published version"):
        lake.resolve(tmp_path, "missing")
    lake.commit_version(tmp_path, "ds", _stage(tmp_path, "ds"), {})
    with pytest.raises(lake.CatalogError, match="not published"):
        lake.resolve(tmp_path, "ds@v9")
