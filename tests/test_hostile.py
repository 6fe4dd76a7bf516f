"""Regression tests for the defects a hostile user found (issue 21, items 2, 3, 5, 7 and 8).

Memory: readers stream, the error budget is decided on a bounded prefix, and decompressed bytes
and ratios are capped. Inputs: only regular files. Names and ids: no silent merge, no silent pick.
Options: every bad value is one line and exit 2 before any work, and a failed run leaves no
staging. Lakes: glob characters in the path, damaged manifests, truncated shards and odd URLs.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from catalog import lake as lakelib
from catalog.__main__ import main as catalog_main
from catalog.serve import make_server, route
from pipelines.curate import main as curate_main
from pipelines.curate import run
from tests.conftest import REPO
from transforms.read.files import read_input_file
from transforms.read.inputs import match_inputs
from transforms.read.limits import RATIO_CHECK_AFTER, ReadLimits
from transforms.read.sources import InputFile, Source

FAST = ["--disable", "langid,filter,dedup-near"]


def _jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _read(path: Path, limits: ReadLimits = ReadLimits()) -> list[tuple[str, dict]]:
    [f] = match_inputs([Source(name="src", paths=(str(path),))])
    return list(read_input_file(f, limits))


def _reasons(items) -> list[str]:
    return [t if t == "doc" else d["reason"] for t, d in items]


# --- item 2: memory --------------------------------------------------------------------------


def test_error_budget_is_decided_on_a_bounded_prefix_and_applies_to_the_whole_file(tmp_path):
    good = [{"id": f"g{i}", "text": f"good record {i}"} for i in range(60)]
    garbage = tmp_path / "garbage-first.jsonl"
    garbage.write_bytes(b"not json\n" * 15 + _jsonl(good))
    items = _read(garbage, ReadLimits(error_budget_window=20))
    reasons = _reasons(items)
    assert reasons == ["malformed_json"] * 15 + ["file_error_budget_exceeded"] * 60  # records after the prefix too
    details = json.loads(items[-1][1]["details"])
    assert details == {"file": "garbage-first.jsonl", "bad_records": 15, "records": 20, "max_file_error_rate": 0.5,
                       "judged_on_first_records": 20}

    late = tmp_path / "garbage-late.jsonl"
    late.write_bytes(_jsonl(good[:20]) + b"not json\n" * 40)
    assert _reasons(_read(late, ReadLimits(error_budget_window=20))) == ["doc"] * 20 + ["malformed_json"] * 40
    # a file within the prefix is judged whole, exactly as before
    assert _reasons(_read(late)).count("file_error_budget_exceeded") == 20


def test_reading_a_large_gzip_holds_a_bounded_amount_of_memory(tmp_path):
    """64 MB of JSONL records through the reader while at most a few MB are allocated at once."""
    record = "word " * 4000  # 20 kB of text per record
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        for i in range(3200):
            f.write(json.dumps({"id": str(i), "text": record + str(i)}).encode() + b"\n")
    limits = ReadLimits(error_budget_window=10, max_compression_ratio=0)
    [f] = match_inputs([Source(name="src", paths=(str(path),))])
    tracemalloc.start()
    try:
        docs = chars = 0
        for tag, item in read_input_file(f, limits):
            docs += tag == "doc"
            chars += len(item.get("text", ""))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert docs == 3200 and chars > 64_000_000
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB while streaming {chars / 1e6:.0f} MB"


def _bomb(path: Path, records: int, opener=gzip.open) -> None:
    with opener(path, "wb") as f:
        line = json.dumps({"text": "a" * 1000}).encode() + b"\n"
        for _ in range(records // 1000):
            f.write(line * 1000)


def test_decompression_bomb_stops_at_the_ratio_and_says_so(tmp_path):
    jsonl = tmp_path / "bomb.jsonl.gz"
    _bomb(jsonl, 40_000)  # 40 MB of records in about 0.2 MB
    items = _read(jsonl)
    tag, row = items[-1]
    assert tag == "removed" and row["reason"] == "compression_ratio_exceeded"
    details = json.loads(row["details"])
    assert RATIO_CHECK_AFTER < details["bytes_read"] < RATIO_CHECK_AFTER + (2 << 20) and details["ratio"] > 100
    assert 0 < len(items) - 1 < 40_000 and {t for t, _ in items[:-1]} == {"doc"}  # records before the stop kept
    assert _reasons(_read(jsonl, ReadLimits(max_compression_ratio=0))).count("doc") == 40_000  # 0: no limit

    text = tmp_path / "bomb.txt.gz"
    with gzip.open(text, "wb") as f:
        f.write(b"lorem ipsum " * 4_000_000)
    [(tag, row)] = _read(text)
    assert tag == "removed" and row["reason"] == "compression_ratio_exceeded"  # never read whole


def test_file_and_whole_read_byte_caps(tmp_path):
    records = [{"id": str(i), "text": f"record number {i:04d}"} for i in range(100)]
    data = _jsonl(records)
    line = len(data) // 100
    for name, blob in (("cap.jsonl", data), ("cap.jsonl.gz", gzip.compress(data))):
        (tmp_path / name).write_bytes(blob)
        items = _read(tmp_path / name, ReadLimits(max_file_bytes=line * 30 + line // 2))
        assert _reasons(items) == ["doc"] * 30 + ["file_too_large"], name  # whole records up to the cap
        assert json.loads(items[-1][1]["details"])["max_file_bytes"] == line * 30 + line // 2
        assert _reasons(_read(tmp_path / name, ReadLimits(max_file_bytes=len(data)))) == ["doc"] * 100

    note = tmp_path / "note.txt"
    note.write_bytes(b"A plain text note. " * 100)
    assert _reasons(_read(note, ReadLimits(max_text_bytes=1900))) == ["doc"]  # exactly the cap
    [(tag, row)] = _read(note, ReadLimits(max_text_bytes=1899))
    assert row["reason"] == "file_too_large" and json.loads(row["details"])["max_text_bytes"] == 1899

    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["eins", "zwei"]}), buf)
    (tmp_path / "t.parquet.gz").write_bytes(gzip.compress(buf.getvalue().to_pybytes()))
    assert [d["text"] for _, d in _read(tmp_path / "t.parquet.gz")] == ["eins", "zwei"]
    assert _reasons(_read(tmp_path / "t.parquet.gz", ReadLimits(max_text_bytes=10))) == ["file_too_large"]


# --- item 3: only regular files --------------------------------------------------------------


def _curate(argv: list[str], capsys) -> tuple[int, str]:
    rc = curate_main(argv)
    err = capsys.readouterr().err.strip()
    return rc, err


def test_directories_fifos_and_devices_are_refused(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(_jsonl([{"text": "hello"}]))
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    lake = tmp_path / "lake"
    for target, words in ((folder, "is a directory"), (fifo, "is a FIFO, not a regular file"),
                          (Path("/dev/null"), "is a character device")):
        rc, err = _curate(["--input", str(target), "--lake", str(lake), *FAST], capsys)
        assert rc == 2 and words in err and len(err.splitlines()) == 1, err
    assert not lake.exists() or not any(lake.rglob("*.arrow"))
    # the reader itself never opens a FIFO (it would block until a writer comes)
    [(tag, row)] = list(read_input_file(InputFile(Source("s", (str(fifo),)), str(fifo), "pipe.jsonl", 0)))
    assert row["reason"] == "unreadable_file" and "FIFO" in row["details"]


def test_a_fifo_input_does_not_hang_the_cli(tmp_path):
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "pipelines.curate", "--input", str(tmp_path / "*.jsonl"),
                           "--lake", str(tmp_path / "lake"), *FAST], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2 and "FIFO" in proc.stderr and "Traceback" not in proc.stderr


# --- item 5: names and ids -------------------------------------------------------------------


def test_a_sources_entry_and_an_input_with_the_same_name_are_refused(tmp_path, capsys):
    (tmp_path / "fr.jsonl").write_bytes(_jsonl([{"text": "bonjour"}]))
    spec = tmp_path / "sources.yaml"
    spec.write_text(f"- name: fr\n  paths: ['{tmp_path}/fr.jsonl']\n  license: CC-BY-4.0\n")
    rc, err = _curate(["--sources", str(spec), "--input", str(tmp_path / "fr.jsonl"), "--lake", str(tmp_path / "lk"),
                       *FAST], capsys)
    assert rc == 2 and "duplicate source names ['fr']" in err and len(err.splitlines()) == 1


def test_why_reports_every_document_with_an_id_and_source_narrows(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_bytes(_jsonl([{"id": 7, "text": "the integer seven of source a"},
                                                {"id": "7", "text": "the string seven of source a"}]))
    (tmp_path / "b.jsonl").write_bytes(_jsonl([{"id": "7", "text": "the seven of source b"}]))
    lake = tmp_path / "lake"
    ref, manifest = run(["--input", str(tmp_path / "a.jsonl"), "--input", str(tmp_path / "b.jsonl"),
                         "--lake", str(lake), "--dataset", "ids", *FAST])
    assert manifest["counts"]["kept"] == 3  # nothing merged or dropped: three documents
    assert catalog_main(["why", "ids", "7", "--lake", str(lake), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "ambiguous" and sorted(m["source"] for m in answer["matches"]) == ["a", "a", "b"]
    assert {m["status"] for m in answer["matches"]} == {"kept"}
    assert catalog_main(["why", "ids", "7", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "'7' matches 3 documents in ids@v1" in out and out.count("is kept in") == 3
    assert catalog_main(["why", "ids", "7", "--source", "b", "--lake", str(lake), "--json"]) == 0
    only = json.loads(capsys.readouterr().out)
    assert only["status"] == "kept" and only["source"] == "b"
    assert catalog_main(["why", "ids", "7", "--source", "c", "--lake", str(lake)]) == 1
    assert "from source 'c'" in capsys.readouterr().out


# --- item 7: options -------------------------------------------------------------------------


@pytest.mark.parametrize("flags, words", [
    (["--shard-target-mb", "0"], "--shard-target-mb must be a positive number"),
    (["--shard-target-mb", "-5"], "--shard-target-mb must be a positive number"),
    (["--shard-target-mb", "nan"], "--shard-target-mb must be a positive number"),
    (["--filter-audit-k", "-1"], "--filter-audit-k must be >= 0"),
    (["--minhash-seed", "-1"], "--minhash-seed must be within [0, 4294967295]"),
    (["--lid-threshold", "5"], "--lid-threshold must be within [0, 1]"),
    (["--lid-threshold", "-1"], "--lid-threshold must be within [0, 1]"),
    (["--lid-thresholds", "en=2"], "threshold for 'en' must be within [0, 1]"),
    (["--max-file-error-rate", "1.5"], "--max-file-error-rate must be within [0, 1]"),
    (["--max-file-bytes", "-1"], "--max-file-bytes must be >= 0"),
    (["--max-text-bytes", "-1"], "--max-text-bytes must be >= 0"),
    (["--max-compression-ratio", "0.5"], "--max-compression-ratio must be >= 1"),
    (["--boilerplate-min-docs", "1"], "--boilerplate-min-docs must be >= 2"),
    (["--minhash-bands", "4"], "--minhash-bands/--minhash-rows must be given together"),
    (["--disable", "dedup-near", "--dedup-against", "x@v1"], "--dedup-against needs the dedup-near stage"),
    (["--disable", "nope"], "--disable: unknown stage(s) ['nope']"),
    (["--dataset", "../x"], "invalid dataset name"),
])
def test_every_bad_option_is_one_line_and_exit_2_before_any_work(tmp_path, capsys, flags, words):
    lake = tmp_path / "lake"
    rc, err = _curate(["--lake", str(lake), *flags], capsys)
    assert rc == 2 and words in err and len(err.splitlines()) == 1, err
    assert not lake.exists()  # refused before the lake or a staging directory was touched


def test_malformed_config_files_are_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "filters.yaml").write_text("default: [unclosed\n")
    (tmp_path / "thresholds.json").write_text("[0.5]")
    for flags in (
        ["--filter-config", str(tmp_path / "filters.yaml")],
        ["--lid-thresholds", str(tmp_path / "thresholds.json")],
        ["--filter-config", str(tmp_path / "missing.yaml")],
    ):
        rc, err = _curate(["--lake", str(tmp_path / "lake"), *flags], capsys)
        assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "lake").exists()
    rc, err = _curate(["--lake", str(tmp_path / "lake"), "--lid-thresholds", str(tmp_path / "missing.json")], capsys)
    assert rc == 2 and err == f"curate: --lid-thresholds: expected LANG=T,... or an existing JSON file, " \
                              f"got {str(tmp_path / 'missing.json')!r}", err


def test_dedup_against_other_minhash_settings_is_one_line_and_exit_2(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert _curate(["--lake", str(lake)], capsys)[0] == 0
    rc, err = _curate(["--lake", str(lake), "--dedup-against", "sample@v1", "--minhash-perm", "128"], capsys)
    assert rc == 2 and "--dedup-against sample@v1: its MinHash settings differ" in err.splitlines()[-1], err
    assert "Traceback" not in err
    assert sorted(p.name for p in (lake / "sample").iterdir()) == ["_staging", "v1"]
    assert not any((lake / "sample" / "_staging").iterdir())  # the failed run's staging is gone


@pytest.mark.parametrize("entry, words", [
    ("priority: high", "'priority' must be an integer"),
    ("priority: true", "'priority' must be an integer"),
    ("text_field: null", "'text_field' must be a non-empty string, got None"),
    ("id_field: 3", "'id_field' must be a non-empty string, got 3"),
    ("license: {spdx: MIT}", "'license' must be a non-empty string, got {'spdx': 'MIT'}"),
    ("lang: [fr]", "'lang' must be a non-empty string"),
])
def test_bad_sources_entries_are_one_line_and_exit_2(tmp_path, capsys, entry, words):
    (tmp_path / "a.jsonl").write_bytes(_jsonl([{"text": "hello"}]))
    spec = tmp_path / "sources.yaml"
    spec.write_text(f"- name: web\n  paths: ['{tmp_path}/a.jsonl']\n  {entry}\n")
    rc, err = _curate(["--sources", str(spec), "--lake", str(tmp_path / "lake"), *FAST], capsys)
    assert rc == 2 and words in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not list((tmp_path / "lake").rglob("_staging/*"))


@pytest.mark.parametrize("flags", [["--keep-last=-1"], ["--keep-last", "0"], ["--grace-hours", "-5"],
                                   ["--grace-hours", "nan"], ["--grace-hours", "inf"]])
def test_gc_refuses_bad_numbers_before_any_work(sample_version, tmp_path, capsys, flags):
    src, _, _ = sample_version
    shutil.copytree(src / "sample", tmp_path / "sample")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_:
        catalog_main(["gc", "--lake", str(tmp_path), *flags])
    assert exit_.value.code == 2 and "expected" in capsys.readouterr().err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing touched


def test_a_failed_run_removes_its_staging(tmp_path, capsys, monkeypatch):
    (tmp_path / "a.jsonl").write_bytes(_jsonl([{"text": "hello world"}]))
    lake = tmp_path / "lake"
    rc, err = _curate(["--input", str(tmp_path / "a.jsonl"), "--lake", str(lake), "--dataset", "d",
                       "--disable", "langid,filter", "--dedup-against", "d@v9"], capsys)
    assert rc == 2 and "no published version of dataset 'd'" in err and len(err.splitlines()) == 1
    assert not lake.exists()  # --dedup-against is checked before any work too

    rc, err = _curate(["--input", str(tmp_path / "missing-*.jsonl"), "--lake", str(lake), "--dataset", "d"], capsys)
    assert rc == 2 and "matches no file" in err and list((lake / "d" / lakelib.STAGING).iterdir()) == []

    import pipelines.curate

    def explode(p, files, staging, *args):
        (Path(staging) / "data").mkdir()
        (Path(staging) / "data" / "half-written.arrow").write_bytes(b"x")
        raise RuntimeError("worker lost")

    monkeypatch.setattr(pipelines.curate, "build_pipeline", explode)
    with pytest.raises(RuntimeError, match="worker lost"):
        run(["--input", str(tmp_path / "a.jsonl"), "--lake", str(lake), "--dataset", "d", *FAST])
    assert list((lake / "d" / lakelib.STAGING).iterdir()) == [] and lakelib.list_versions(lake, "d") == []


# --- item 8: lake paths, damaged lakes, URLs -------------------------------------------------


def test_a_lake_path_with_glob_characters_publishes(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(_jsonl([{"id": "1", "text": "one document"}]))
    lake = tmp_path / "lk[1]*?"
    ref, manifest = run(["--input", str(tmp_path / "a.jsonl"), "--lake", str(lake), "--dataset", "d", *FAST])
    assert ref.version == 1 and manifest["counts"]["kept"] == 1
    assert lakelib.list_versions(lake, "d") == [1] and list((lake / "d" / lakelib.STAGING).iterdir()) == []
    assert not (ref.path / "_stats").exists()


@pytest.fixture
def damaged_lake(sample_version, tmp_path):
    """Three copies of the sample's version: ``good``, ``badjson`` (manifest not JSON),
    ``notobject`` (manifest a JSON list), plus a newer ``good`` version whose manifest lacks its counts."""
    src, ref, manifest = sample_version
    v = f"v{ref.version}"
    for name in ("good", "badjson", "notobject"):
        shutil.copytree(ref.path, tmp_path / name / v)
        (tmp_path / name / v / "manifest.json").write_text(json.dumps(dict(manifest, dataset=name)))  # its own
    (tmp_path / "badjson" / v / "manifest.json").write_text('{"counts": ')
    (tmp_path / "notobject" / v / "manifest.json").write_text("[1, 2]")
    newer = tmp_path / "good" / f"v{ref.version + 1}"
    newer.mkdir()
    (newer / "manifest.json").write_text(json.dumps({"version": ref.version + 1}))
    return tmp_path, ref.version


def test_catalog_list_shows_broken_datasets_and_the_rest(damaged_lake, capsys):
    root, version = damaged_lake
    assert catalog_main(["list", "--lake", str(root)]) == 1
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert f"latest v{version}: BROKEN: badjson@v{version}: manifest.json is unreadable" in lines["badjson"]
    assert f"BROKEN: notobject@v{version}: manifest.json is not a JSON object" in lines["notobject"]
    assert f"latest v{version + 1}: BROKEN" in lines["good"]  # its latest lacks counts
    assert catalog_main(["show", f"good@v{version}", "--lake", str(root)]) == 0
    capsys.readouterr()
    assert catalog_main(["show", "badjson", "--lake", str(root)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is unreadable" in err and len(err.strip().splitlines()) == 1


def test_browser_shows_each_broken_version_and_keeps_the_rest(damaged_lake):
    root, version = damaged_lake
    status, _, body = route(root, "/")
    page = body.decode()
    assert status == 200 and page.count('class="broken"') == 3 and 'href="/d/good/"' in page
    status, _, body = route(root, "/d/good/")
    assert (
        status == 200 and body.decode().count('class="broken"') == 1 and f'href="/d/good/v{version}/"' in body.decode()
    )
    assert route(root, f"/d/good/v{version}/")[0] == 200
    for path in (f"/d/badjson/v{version}/", f"/d/notobject/v{version}/", f"/d/good/v{version + 1}/",
                 f"/d/badjson/v{version}/manifest.json"):
        status, _, body = route(root, path)
        assert status == 500 and b"is broken" in body, path
    (root / "good" / "_tags").mkdir()
    (root / "good" / "_tags" / "pinned.json").write_text("{oops")
    status, _, body = route(root, "/d/good/")
    assert status == 200 and b"tag &#x27;pinned&#x27; is unreadable" in body
    assert catalog_main(["gc", "--lake", str(root), "--dry-run"]) == 2  # gc cannot know what the tag pins


def test_odd_version_urls_are_404_and_odd_directories_are_ignored(sample_version, tmp_path, capsys):
    src, ref, _ = sample_version
    shutil.copytree(ref.path, tmp_path / "sample" / f"v{ref.version}")
    for path in (f"/d/sample/v0{ref.version}/", "/d/sample/v" + "9" * 5000 + "/", "/d/sample/v0/",
                 "/d/sample/v" + "9" * 19 + "/manifest.json"):
        status, _, body = route(tmp_path, path)
        assert status == 404, path[:40]
    for odd in ("v01", "v" + "7" * 250):  # not canonical, or past int64: never a version
        (tmp_path / "sample" / odd).mkdir()
        shutil.copy(tmp_path / "sample" / f"v{ref.version}" / "manifest.json", tmp_path / "sample" / odd)
    assert lakelib.list_versions(tmp_path, "sample") == [ref.version]
    assert route(tmp_path, "/d/sample/")[0] == 200
    assert catalog_main(["show", "sample@v" + "9" * 5000, "--lake", str(tmp_path)]) == 2
    assert "invalid version" in capsys.readouterr().err


@pytest.fixture
def served(sample_version, tmp_path):
    src, ref, manifest = sample_version
    shutil.copytree(src / "sample", tmp_path / "sample")
    server = make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path / "sample" / f"v{ref.version}", manifest
    server.shutdown()
    server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_truncated_shard_is_shown_and_no_request_drops_the_connection(served, monkeypatch):
    url, vdir, manifest = served
    shard = vdir / manifest["shards"][0]["path"]
    shard.write_bytes(shard.read_bytes()[:100])
    status, page = _get(f"{url}/d/sample/v{manifest['version']}/")
    assert status == 200 and "a shard cannot be read" in page and 'id="kept"' in page
    assert page.count('class="broken"') == 1  # the other languages' samples are shown
    from catalog import pages

    monkeypatch.setattr(pages, "index_page", lambda lake: 1 / 0)
    status, page = _get(url + "/")
    assert status == 500 and "ZeroDivisionError" in page
    assert _get(url + "/d/sample/v" + "9" * 5000 + "/")[0] == 404


def test_limits_reject_nonsense_directly():
    for bad in (dict(max_file_bytes=-1), dict(max_text_bytes=-1), dict(max_compression_ratio=math.inf),
                dict(max_compression_ratio=math.nan), dict(error_budget_window=3)):
        with pytest.raises(ValueError):
            ReadLimits(**bad)
