"""The catalog CLI and its modules on a real pipeline version: schema, verify, why, sample, diff, serve routes."""
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from catalog import lake
from catalog.__main__ import main
from catalog.serve import CSP, route

SCHEMA = Path(lake.__file__).with_name("manifest.schema.json")


@pytest.fixture
def private_lake(sample_version, tmp_path):
    """A copy of the session's sample lake that a test may damage."""
    src, ref, manifest = sample_version
    shutil.copytree(src / "sample", tmp_path / "sample")
    return tmp_path, manifest


def test_pipeline_manifest_matches_the_documented_schema(sample_version):
    _, _, manifest = sample_version
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(manifest)] == []
    broken = json.loads(json.dumps(manifest))
    del broken["shards"][0]["sha256"]
    broken["lineage"]["inputs"][0].pop("mtime")
    messages = " ".join(e.message for e in validator.iter_errors(broken))
    assert "'sha256' is a required property" in messages and "is not valid under any of the given schemas" in messages


def test_verify_passes_then_names_the_corrupted_shard(private_lake, capsys):
    root, manifest = private_lake
    assert main(["verify", "sample", "--lake", str(root)]) == 0
    from catalog.manifest import file_entries

    assert f"{len(file_entries(manifest))}/{len(file_entries(manifest))} files intact" in capsys.readouterr().out
    victim = manifest["shards"][3]["path"]
    path = root / "sample" / f"v{manifest['version']}" / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["verify", f"sample@v{manifest['version']}", "--lake", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"BAD  sample@v{manifest['version']} {victim}: sha256" in out and "FAILED" in out
    assert out.count("BAD") == 1


def test_why_answers_for_kept_filtered_duplicate_quarantined_and_unknown(sample_version, capsys):
    root, ref, manifest = sample_version
    from catalog.read import read_table

    removed = read_table(ref.path / manifest["removed_table"][0]["path"]).to_pylist()
    by_stage = {r["stage"]: r for r in removed}
    kept_id = read_table(ref.path / manifest["shards"][0]["path"])["id"][0].as_py()
    cases = {
        kept_id: f"is kept in sample@v{ref.version}: {manifest['shards'][0]['path']}, row 0",
        by_stage["filter"]["id"]: f"dropped by the filter {by_stage['filter']['reason']}: value "
        f"{json.loads(by_stage['filter']['details'])['value']}",
        by_stage["dedup-exact"][
            "id"
        ]: f"exact duplicate of {json.loads(by_stage['dedup-exact']['details'])['duplicate_of']!r}, kept in data/",
        by_stage["dedup-near"]["id"]: "removed as a near duplicate of",
        by_stage["quarantine"]["id"]: f"quarantined as {by_stage['quarantine']['reason']}",
    }
    for doc_id, expected in cases.items():
        assert main(["why", ref.spec, doc_id, "--lake", str(root)]) == 0
        assert expected in capsys.readouterr().out
    assert main(["why", ref.spec, "no-such-doc", "--lake", str(root)]) == 1
    assert "no shard row and no removed row" in capsys.readouterr().out


def test_sample_draws_only_the_requested_language(sample_version, capsys):
    root, _, manifest = sample_version
    lang = max(manifest["languages"], key=lambda k: manifest["languages"][k]["docs"])
    assert main(["sample", "sample", "--lang", lang, "-n", "2", "--json", "--lake", str(root)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and {r["lang"] for r in rows} == {lang}
    assert main(["sample", "sample", "--lang", "xx", "--lake", str(root)]) == 2
    assert "has no documents in 'xx'" in capsys.readouterr().err


def test_diff_and_list_on_two_versions(private_lake, capsys):
    root, manifest = private_lake
    older = json.loads(json.dumps(manifest))
    dropped = older["shards"].pop()
    older["languages"].pop(dropped["lang"])
    older["lineage"]["options"]["min_words"] = 3
    vdir = root / "sample" / "v7"
    vdir.mkdir()
    lake.write_json_atomic(vdir / "manifest.json", dict(older, version=7))
    assert main(["diff", f"sample@v{manifest['version']}", "sample@v7", "--lake", str(root)]) == 2
    assert "sample@v7 has" in capsys.readouterr().err  # v7 is a manifest without its files
    assert main(["diff", f"sample@v{manifest['version']}", "sample@v7", "--no-verify", "--lake", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"- {dropped['lang']}" in out and f"- {dropped['path']}" in out and "+ min_words: 3" in out
    assert f"{len(manifest['shards']) - 1} identical (same sha256), 0 new, 1 gone" in out
    assert main(["list", "--lake", str(root)]) == 0
    assert f"versions: v{manifest['version']}, v7" in capsys.readouterr().out


def test_serve_routes_stay_inside_the_lake(sample_version):
    root, ref, manifest = sample_version
    status, ctype, body = route(root, f"/d/sample/v{ref.version}/manifest.json")
    assert status == 200 and json.loads(body)["counts"] == manifest["counts"]
    for evil in ["/d/../../etc/passwd", "/d/%2e%2e/v1/", "/d/sample/v1/../../../../etc/passwd",
                 "/static/../lake.py", "/d/sample/v99/", "/d/_staging/", "//etc/passwd"]:
        status, _, body = route(root, evil)
        assert status == 404, evil
        assert b"root:" not in body
    assert "script-src" not in CSP and "default-src 'none'" in CSP
