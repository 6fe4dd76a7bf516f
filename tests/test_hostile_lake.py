"""Regression tests for the lake, catalog and option defects of issue 29 (hostile round 3).

Items 1 and 2: gc racing a live run or a tag; 9: the tokenizer's sample in bounded memory; 10:
every option bounded before any work; 11: read-only lakes; 12: lying manifests; 13: a killed
export; 14: values that become paths; 15: YAML in the dataset card; 16: gc on damaged lakes, a
full disk, argparse errors and the browser's re-hashing.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import lake as lakelib
from catalog.__main__ import main as catalog_main
from catalog.contract import DOC_SCHEMA
from catalog.manifest import build_manifest
from tests.conftest import REPO
from transforms.shards import arrow_file_bytes

FAST = ["--disable", "langid,filter,dedup-near"]


def _publish(lake: Path, name: str, docs_by_lang: dict[str, int]) -> tuple[lakelib.VersionRef, dict]:
    """A small valid version holding ``n`` documents in each language, one shard per language."""
    staging = lakelib.new_staging_dir(lake, name)
    shards = []
    for lang, n in sorted(docs_by_lang.items()):
        rows = [{"id": f"{lang}-{i}", "text": f"text {i} in {lang}", "lang": lang, "lang_score": 1.0,
                 "source": "src", "meta": "{}"} for i in range(n)]
        data = arrow_file_bytes(rows, DOC_SCHEMA)
        rel = f"data/lang={lang}/part-00000-000.arrow"
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
        shards.append({"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "rows": n,
                       "chars": sum(len(r["text"]) for r in rows), "sources": {"src": n}, "lang": lang})
    total = sum(docs_by_lang.values())
    manifest = build_manifest(
        shards=shards, removed_infos=[], removed_counts=[], input_by_source={"src": total}, pii={},
        sources=[{"name": "src", "license": "cc0-1.0"}],
        inputs=[{"source": "src", "path": "in.jsonl", "bytes": 1, "mtime": 0.0}], options={}, runner="test",
        stages={"read": {"enabled": True}})
    ref = lakelib.commit_version(lake, name, staging, manifest)
    return ref, dict(manifest, dataset=name, version=ref.version)


# --- item 13: a killed export ------------------------------------------------------------------


def test_an_export_killed_half_way_leaves_no_loadable_folder(tmp_path):
    lake, out = tmp_path / "lake", tmp_path / "out"
    _publish(lake, "d", {"en": 3, "fr": 3, "de": 3})
    script = ("import os, signal, sys\n"
              "import catalog.export as ex\n"
              "from catalog.__main__ import main\n"
              "real, calls = ex.export_file, []\n"
              "def dying(*a, **k):\n"
              "    calls.append(1)\n"
              "    if len(calls) == 2:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "    return real(*a, **k)\n"
              "ex.export_file = dying\n"
              "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", script, "export", "d@v1", str(out), "--lake", str(lake)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert not out.exists()  # nothing under the name the user asked for: no dataset that loads short
    [leftover] = tmp_path.glob(".out.tmp-*")  # the half-written folder is hidden and says what it is
    assert len(list(leftover.rglob("*.arrow"))) == 1
    assert catalog_main(["export", "d@v1", str(out), "--lake", str(lake)]) == 0  # a rerun succeeds
    assert len(list(out.rglob("*.arrow"))) == 3 and (out / "README.md").is_file()


# --- item 14: values that become paths -----------------------------------------------------------


@pytest.mark.parametrize("name", ["d\n", "d\nx", "v1\n"])
def test_dataset_names_tags_and_version_specs_with_a_newline_are_refused(tmp_path, name):
    with pytest.raises(lakelib.CatalogError):
        lakelib.check_name(name)
    lake = tmp_path / "lake"
    _publish(lake, "d", {"en": 1})
    with pytest.raises(lakelib.CatalogError):
        lakelib.resolve(lake, "d@v1\n")
    with pytest.raises(lakelib.CatalogError, match="invalid tag"):
        lakelib.add_tag(lake, "d@v1", "keep\n")
    (lake / "d" / "v2\n").mkdir()  # a folder that is not a canonical version, nor is a dataset name
    (lake / "d\n").mkdir()
    assert lakelib.open_lake(lake).version_numbers("d") == [1]
    assert lakelib.list_datasets(lake) == ["d"]


def test_artifact_kinds_and_object_store_keys_need_a_whole_match(tmp_path):
    from catalog.artifacts import attach_artifact
    from catalog.objectstore import _VERSION_KEY

    _publish(tmp_path / "lake", "d", {"en": 1})
    (tmp_path / "tok.json").write_text("{}")
    with pytest.raises(lakelib.CatalogError, match="invalid artifact kind"):
        attach_artifact(tmp_path / "lake", "d@v1", tmp_path / "tok.json", "tokenizer\n")
    assert _VERSION_KEY.fullmatch("v1/manifest.json\n").group(2) == "manifest.json\n"  # the key as it is


def test_a_language_code_with_a_newline_never_becomes_a_partition_or_a_config(tmp_path, capsys):
    from catalog.contract import check_lang, shard_dir
    from pipelines.curate import run
    from transforms.langid.identify import hinted_language

    for code in ("en\n", "en/../x", "", "EN"):
        with pytest.raises(ValueError, match="invalid language code"):
            shard_dir(code)
        with pytest.raises(ValueError):
            check_lang(code)
    assert hinted_language({"meta": {"lang": "en\n"}}, None) == "und"
    assert hinted_language({"meta": {}}, "en\n") == "und"

    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "hello there", "lang": "en\n"}) + "\n")
    ref, manifest = run(["--input", str(tmp_path / "a.jsonl"), "--lake", str(tmp_path / "lake"), "--dataset", "d",
                         *FAST])
    assert set(manifest["languages"]) == {"und"}
    assert [p.name for p in (tmp_path / "lake" / "d" / "v1" / "data").iterdir()] == ["lang=und"]

    lake = tmp_path / "lake2"
    ref, manifest = _publish(lake, "d", {"en": 1})
    manifest_path = lake / "d" / "v1" / "manifest.json"
    manifest["languages"]["en\n"] = manifest["languages"]["en"]
    manifest_path.write_text(json.dumps(manifest))
    capsys.readouterr()
    assert catalog_main(["export", "d@v1", str(tmp_path / "out"), "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "invalid language code 'en\\n'" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


# --- item 15: every language id label in the dataset card ---------------------------------------


def _lid_labels() -> list[str]:
    fasttext = pytest.importorskip("fasttext")
    from transforms.langid.identify import default_model_path
    from transforms.langid.langcodes import UNDETERMINED, parse_label

    model = fasttext.load_model(default_model_path())
    return sorted({parse_label(label)[0] for label in model.get_labels()} | {UNDETERMINED})


def test_an_export_of_every_language_id_label_loads_every_config(tmp_path):
    datasets = pytest.importorskip("datasets")
    labels = _lid_labels()
    assert {"no", "on", "yo"} & set(labels) and len(labels) > 170
    lake, out = tmp_path / "lake", tmp_path / "out"
    _publish(lake, "d", {lang: 1 for lang in labels})
    assert catalog_main(["export", "d@v1", str(out), "--lake", str(lake)]) == 0
    cache = str(tmp_path / "cache")
    everything = datasets.load_dataset(str(out), "all", split="train", cache_dir=cache)
    assert sorted(everything["lang"]) == labels
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    # every config as datasets itself reads the card (one builder per config costs 0.3 s each)
    configs = MetadataConfigs.from_dataset_card_data(DatasetCard.load(out / "README.md").data)
    assert sorted(configs) == sorted(["all", *labels])
    for lang in labels:  # each config by its name: YAML must not have read "no" as false
        assert configs[lang]["data_files"] == [{"split": "train", "path": f"data/lang={lang}/*.arrow"}], lang
        assert (out / f"data/lang={lang}").is_dir()
    yaml_words = {"no", "on", "yes", "off", "y", "n", "true", "false", "null"} & set(labels)
    for lang in sorted(yaml_words | {"en", "zh"}):  # those YAML 1.1 reads as booleans or null, loaded whole
        assert datasets.load_dataset(str(out), lang, split="train", cache_dir=cache)["lang"] == [lang]


# --- item 1: gc during a live run ----------------------------------------------------------------


def gc_at_every_staging_step(monkeypatch, collect) -> list[str]:
    """Make ``collect()`` run at every step of a run that touches its staging (each staged file
    written, the statistics read back, the audit described, the listing checked, the version
    claimed, the files moved, the manifest written), synchronously: the race as a repeatable test.
    Returns the steps as they were hit."""
    import catalog.objectstore as objectstore
    import pipelines.curate as curate
    import transforms.shards as shards

    hits: list[str] = []

    def around(module, attr: str, when: str) -> None:
        real = getattr(module, attr)

        def wrapped(*args, **kwargs):
            if when == "before":
                hits.append(attr)
                collect()
            out = real(*args, **kwargs)
            if when == "after":
                hits.append(attr)
                collect()
            return out

        monkeypatch.setattr(module, attr, wrapped)

    for module, attr, when in [(shards, "write_bytes", "after"), (curate, "write_bytes", "after"),
                               (curate, "read_stats", "before"), (curate, "describe_staged", "before"),
                               (curate, "require_listed", "before"), (lakelib, "_claim_version", "after"),
                               (lakelib, "write_json_atomic", "before"), (objectstore, "claim_version", "after"),
                               (objectstore, "_write_manifest", "before")]:
        around(module, attr, when)
    return hits


def _docs(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": str(i), "text": f"document number {i}: " + "word " * (i % 7 + 3)
                                        + f"unique {i * 7919}"}) + "\n" for i in range(n)))
    return path


def test_gc_at_every_staging_step_of_a_live_run_on_a_local_lake(tmp_path, monkeypatch):
    from catalog import gc
    from catalog.verify import verify_version
    from pipelines.curate import run

    lake = tmp_path / "lake"
    removed: list = []
    hits = gc_at_every_staging_step(monkeypatch, lambda: removed.extend(gc.collect(lake, grace=0).removed))
    ref, manifest = run(["--input", str(_docs(tmp_path / "in.jsonl", 40)), "--lake", str(lake), "--dataset", "d",
                         "--disable", "langid,filter"])
    assert {"write_bytes", "read_stats", "describe_staged", "require_listed", "_claim_version",
            "write_json_atomic"} <= set(hits), hits
    assert removed == []  # nothing of the live run was ever collectable
    assert manifest["counts"]["input"] == manifest["counts"]["kept"] == 40
    assert manifest["dedup"]["bands"] and manifest["removed_table"] is not None
    checks = verify_version(ref.path, manifest)
    assert checks and all(c.problem is None for c in checks), [c for c in checks if c.problem]
    assert list((lake / "d" / lakelib.STAGING).iterdir()) == []  # staging and lease are gone after the commit


def test_a_missing_statistics_file_fails_the_run_naming_it(tmp_path, monkeypatch, capsys):
    import pipelines.curate as curate

    real = curate.read_stats

    def vanished(staging, name, default, expected):
        if name == "removed_counts":
            Path(staging, curate.STATS_DIR, f"{name}.json").unlink()
        return real(staging, name, default, expected)

    monkeypatch.setattr(curate, "read_stats", vanished)
    lake = tmp_path / "lake"
    rc = curate.main(["--input", str(_docs(tmp_path / "in.jsonl", 5)), "--lake", str(lake), "--dataset", "d", *FAST])
    err = capsys.readouterr().err.splitlines()
    assert rc == 2 and "removed_counts.json is missing" in err[-1] and "nothing was published" in err[-1], err
    assert lakelib.list_versions(lake, "d") == [] and list((lake / "d" / lakelib.STAGING).iterdir()) == []


def test_a_commit_whose_listed_file_vanished_publishes_nothing(tmp_path):
    from catalog.manifest import MissingFile

    lake = tmp_path / "lake"
    ref, manifest = _publish(lake, "d", {"en": 2})
    staging = lakelib.new_staging_dir(lake, "d")
    (staging / "data" / "lang=en").mkdir(parents=True)
    (staging / manifest["shards"][0]["path"]).write_bytes(b"short")
    with pytest.raises(MissingFile, match="part-00000-000.arrow is 5 B, the manifest says"):
        lakelib.commit_version(lake, "d", staging, manifest)
    assert lakelib.list_versions(lake, "d") == [1]


def test_leases_of_dead_and_live_runs(tmp_path, monkeypatch):
    import socket

    from catalog import gc, lease

    lake = lakelib.open_lake(tmp_path / "lake")
    held = lease.StagingLease(lake, "d")
    (Path(held.staging) / "shard.arrow").write_bytes(b"x")
    assert gc.collect(lake, grace=0, now=1e12).removed == []  # this process lives: its staging stays
    held.release()
    assert list((tmp_path / "lake" / "d" / lakelib.STAGING).iterdir()) == [Path(held.staging)]

    dead = tmp_path / "lake" / "d" / lakelib.STAGING / "deadrun"
    dead.mkdir()
    dead.with_name("deadrun.lease").write_text(json.dumps({"host": socket.gethostname(), "pid": 2**22 + 7}))
    far = tmp_path / "lake" / "d" / lakelib.STAGING / "farrun"
    far.mkdir()
    far.with_name("farrun.lease").write_text(json.dumps({"host": "another-machine", "pid": 1}))
    result = gc.collect(lake, grace=0)
    assert dead in result.removed and not dead.exists() and not dead.with_name("deadrun.lease").exists()
    assert far.exists() and str(far) in result.live  # renewed just now from elsewhere: alive
    assert Path(held.staging) in result.removed  # released: an ordinary leftover
    stale = __import__("time").time() - lease.LEASE_TTL - 60
    os.utime(far.with_name("farrun.lease"), (stale, stale))
    gc.collect(lake, grace=0)
    assert not far.exists() and not far.with_name("farrun.lease").exists()


# --- item 2: a tag set while gc --keep-last works -------------------------------------------------


def test_a_tag_set_while_gc_retires_versions_is_never_ignored(tmp_path, monkeypatch):
    import threading
    import time

    from catalog import gc

    lake = tmp_path / "lake"
    for _ in range(3):
        _publish(lake, "d", {"en": 1})
    real, outcome = gc._remove, {}

    def tag() -> None:
        try:
            lakelib.add_tag(lake, "d@v2", "keep")
            outcome["tagged"] = True
        except lakelib.CatalogError:  # too late: v2 was already retired, and the tag says so
            outcome["tagged"] = False

    def slow_remove(path, dry_run):  # a slow (network) file system; the tag arrives while gc works
        if "thread" not in outcome:
            outcome["thread"] = threading.Thread(target=tag)
            outcome["thread"].start()
            time.sleep(0.5)
        time.sleep(0.2)
        real(path, dry_run)

    monkeypatch.setattr(gc, "_remove", slow_remove)
    gc.collect(lake, grace=0, keep_last=1, now=time.time() + 1)
    outcome["thread"].join()
    if outcome["tagged"]:
        assert lakelib.list_versions(lake, "d") == [2, 3] and lakelib.list_tags(lake, "d") == {"keep": 2}
    else:
        assert lakelib.list_versions(lake, "d") == [3] and lakelib.list_tags(lake, "d") == {}


# --- item 16: gc on a damaged lake ----------------------------------------------------------------


def test_gc_skips_an_unreadable_manifest_and_goes_on_with_the_lake(tmp_path, capsys):
    import time

    lake = tmp_path / "lake"
    for name in ("a", "b"):
        _publish(lake, name, {"en": 1})
        (lake / name / "v1" / "stray.tmp").write_text("left by a crash")
    (lake / "a" / "v1" / "manifest.json").write_text("{not json")
    old = time.time() - 3 * 86400
    for path in lake.rglob("*"):
        os.utime(path, (old, old), follow_symlinks=False)
    assert catalog_main(["gc", "--lake", str(lake)]) == 2
    out, err = capsys.readouterr()
    assert "b/v1/stray.tmp" in out and not (lake / "b" / "v1" / "stray.tmp").exists()  # the rest was collected
    assert (lake / "a" / "v1" / "stray.tmp").exists()  # what a broken manifest references is unknown: kept
    assert err.count("\n") == 1 and "gc skipped a@v1: not collected: a@v1: manifest.json is unreadable" in err, err


def test_gc_removes_links_in_staging_as_links_and_never_follows_them(tmp_path):
    from catalog import gc

    lake = tmp_path / "lake"
    _publish(lake, "d", {"en": 1})
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the lake's")
    staging = lake / "d" / lakelib.STAGING
    staging.mkdir(exist_ok=True)
    (staging / "to-dir").symlink_to(outside)
    (staging / "dangling").symlink_to(tmp_path / "nowhere")
    run = staging / "run"
    run.mkdir()
    (run / "inner").symlink_to(outside / "keep.txt")
    result = gc.collect(lake, grace=0, now=__import__("time").time() + 1)
    assert {staging / "to-dir", staging / "dangling", run} <= set(result.removed)
    assert list(staging.iterdir()) == [] and (outside / "keep.txt").read_text() == "not the lake's"


# --- item 12: lying or misplaced manifests --------------------------------------------------------


def _rewrite(lake: Path, name: str, version: int, change) -> dict:
    path = lake / name / f"v{version}" / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return manifest


def _broken_variants():
    def shard(key, value):
        return lambda m: m["shards"][0].__setitem__(key, value)
    return {
        "bytes": (shard("bytes", "abc"), "shards[0].bytes must be integer"),
        "sha256": (shard("sha256", None), "shards[0].sha256 must be string"),
        "shards-dict": (lambda m: m.__setitem__("shards", {"a": 1}), "manifest.shards must be array"),
        "kept": (lambda m: m["counts"].__setitem__("kept", -7), "counts.kept must be >= 0"),
        "lang-null": (lambda m: m["languages"].__setitem__("en", None), "languages['en'] must be object"),
    }


@pytest.mark.parametrize("variant", sorted(_broken_variants()))
def test_a_manifest_with_wrong_types_is_one_line_and_exit_2_for_every_command(tmp_path, capsys, variant):
    lake = tmp_path / "lake"
    _publish(lake, "d", {"en": 2, "fr": 1})
    change, words = _broken_variants()[variant]
    _rewrite(lake, "d", 1, change)
    for command in (["show", "d"], ["verify", "d"], ["sample", "d"], ["why", "d", "en-0"],
                    ["export", "d", str(tmp_path / "out")], ["diff", "d@v1", "d@v1"]):
        capsys.readouterr()
        assert catalog_main([*command, "--lake", str(lake)]) == 2, command
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and words in err and "manifest.schema.json" in err, (command, err)
    assert catalog_main(["list", "--lake", str(lake)]) == 1
    assert "BROKEN" in capsys.readouterr().out


def test_the_schema_checker_agrees_with_jsonschema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from catalog.schema import manifest_schema, schema_errors

    _, good = _publish(tmp_path / "lake", "d", {"en": 2})
    validator = jsonschema.Draft202012Validator(manifest_schema())
    assert schema_errors(good) == [] and validator.is_valid(good)
    for variant, (change, _) in _broken_variants().items():
        broken = json.loads(json.dumps(good))
        change(broken)
        assert schema_errors(broken) and not validator.is_valid(broken), variant
    for value in ("", "-d", "d" * 129):
        assert schema_errors(dict(good, dataset=value)) and not validator.is_valid(dict(good, dataset=value))
    # JSON Schema patterns are ECMA-262, whose "$" is the very end; jsonschema runs them with Python's
    # re, where "$" also matches before a final newline: here the checker is the stricter, as it should be
    assert schema_errors(dict(good, dataset="d\n")) and validator.is_valid(dict(good, dataset="d\n"))


def test_verify_fails_a_duplicated_entry_a_foreign_schema_and_a_misplaced_manifest(tmp_path, capsys):
    import pyarrow as pa

    lake = tmp_path / "lake"
    _publish(lake, "d", {"en": 2, "fr": 1})
    _rewrite(lake, "d", 1, lambda m: m["shards"].append(dict(m["shards"][0])))
    assert catalog_main(["verify", "d", "--lake", str(lake)]) == 1
    out = capsys.readouterr().out
    assert "BAD  d@v1 manifest.json: data/lang=en/part-00000-000.arrow is listed 2 times" in out, out
    assert "counts.kept is 3, its shards hold 5 rows" in out and "FAILED" in out

    _publish(lake, "e", {"en": 2})
    shard = lake / "e" / "v1" / "data/lang=en/part-00000-000.arrow"
    other = arrow_file_bytes([{"id": "1", "body": "x"}, {"id": "2", "body": "y"}],
                             pa.schema([("id", pa.string()), ("body", pa.string())]))
    shard.write_bytes(other)

    def follow(m):  # a rewrite that updated the manifest too: checksums alone cannot see it
        m["shards"][0].update(bytes=len(other), sha256=hashlib.sha256(other).hexdigest())
    _rewrite(lake, "e", 1, follow)
    assert catalog_main(["verify", "e", "--lake", str(lake)]) == 1
    out = capsys.readouterr().out
    assert "is not the contract's for a shard file" in out and "body: string" in out, out
    assert catalog_main(["sample", "e", "--lake", str(lake)]) == 2  # readers refuse it too, in one line
    err = capsys.readouterr().err
    assert "is not the contract's for a shard file" in err and len(err.splitlines()) == 1, err
    from model.shard_reader import ShardError, ShardReader, open_version

    with pytest.raises(ShardError, match="is not the contract's for a shard file"):
        ShardReader(open_version(str(lake), "e@v1"), tmp_path / "cache").verify()

    import shutil
    shutil.copytree(lake / "e" / "v1", lake / "e" / "v5")  # cp -r v1 v5: a "latest" that is no version
    assert catalog_main(["show", "e", "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "e@v5: manifest.json says it is e@v1" in err and len(err.splitlines()) == 1, err


# --- item 10: every option bounded before any work ------------------------------------------------


@pytest.mark.parametrize("flags, words", [
    (["--max-line-bytes", "100000000000000000000"], "--max-line-bytes must be >= 1 and <= 1073741824"),
    (["--max-line-bytes", "1e20"], "argument --max-line-bytes: invalid int value: '1e20'"),
    (["--max-text-bytes", "100000000000000000000"], "--max-text-bytes must be >= 0 and <= 1073741824"),
    (["--shard-target-mb", "1e-9"], "--shard-target-mb must be a positive number of MB, within [0.0001, 1024]"),
    (["--shard-target-mb", "1e9"], "--shard-target-mb must be a positive number of MB, within [0.0001, 1024]"),
    (["--filter-audit-k", "100000000000000000000"], "--filter-audit-k must be >= 0 and <= 10000"),
    (["--minhash-perm", "300000000"], "--minhash-perm must be >= 2 and <= 4096"),
    (["--minhash-partitions", "10000000000"], "--minhash-partitions must be >= 1 and <= 65536"),
    (["--max-doc-chars", "100000000000000000000"], "--max-doc-chars must be >= 0 and <= 1073741824"),
    (["--lid-model", "/nonexistent/lid.bin"], "--lid-model: no such file: '/nonexistent/lid.bin'"),
    (["--lid-threshold", "abc"], "argument --lid-threshold: invalid float value: 'abc'"),
    (["--num_workers", "abc"], "argument --num_workers: invalid int value: 'abc'"),
])
def test_out_of_range_and_mistyped_options_are_one_line_and_exit_2(tmp_path, capsys, flags, words):
    from pipelines.curate import main

    lake = tmp_path / "lake"
    assert main(["--lake", str(lake), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"curate: {words}"), err
    assert len(err.splitlines()) == 1 and not lake.exists(), err


def test_a_lid_model_that_is_no_classifier_is_refused_at_check_time(tmp_path, capsys):
    from pipelines.curate import main

    (tmp_path / "not-a-model.bin").write_bytes(b"\x00" * 4096)
    lake = tmp_path / "lake"
    assert main(["--lake", str(lake), "--lid-model", str(tmp_path / "not-a-model.bin")]) == 2
    err = capsys.readouterr().err
    assert "--lid-model: " in err and "is not a fastText model" in err and len(err.splitlines()) == 1, err
    assert not lake.exists()


# --- item 16: a full disk -------------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    import errno

    import catalog.export as export
    import pipelines.curate as curate
    import transforms.shards as shards

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(shards, "write_bytes", full)
    monkeypatch.setattr(curate, "write_bytes", full)
    lake = tmp_path / "lake"
    assert curate.main(["--input", str(_docs(tmp_path / "in.jsonl", 5)), "--lake", str(lake), "--dataset", "d",
                        *FAST]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[-1].startswith("curate: No space left on device writing "), err  # 1st: the plan
    assert "nothing was published" in err[-1] and list((lake / "d" / lakelib.STAGING).iterdir()) == []

    monkeypatch.undo()
    _publish(lake, "d", {"en": 2, "fr": 1})
    real, calls = export.LocalLocation.download, []

    def fills_up(self, rel, dst):  # the second shard's copy finds the disk full
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(self, rel, dst)

    monkeypatch.setattr(export, "_clone", lambda src, dst: False)  # no reflinks: plain copies
    monkeypatch.setattr(export.LocalLocation, "download", fills_up)
    capsys.readouterr()
    assert catalog_main(["export", "d@v1", str(tmp_path / "out"), "--lake", str(lake)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("catalog: export: No space left on device writing ") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))


# --- item 16: the browser hashes each shard once --------------------------------------------------


def test_the_browser_hashes_a_sampled_shard_once_until_it_changes(tmp_path, monkeypatch):
    import catalog.verify as verify
    from catalog.serve import route

    lake = tmp_path / "lake"
    ref, manifest = _publish(lake, "d", {"en": 4, "fr": 4})
    hashed = []
    real = verify._hash_buffer
    monkeypatch.setattr(verify, "_hash_buffer", lambda buf: hashed.append(1) or real(buf))
    opened = lakelib.open_lake(lake)
    assert route(opened, "/d/d/v1/")[0] == 200 and len(hashed) == 2
    for _ in range(3):
        status, _, body = route(opened, "/d/d/v1/")
        assert status == 200 and b" in en" in body
    assert len(hashed) == 2  # unchanged files: no second hash

    shard = ref.path / manifest["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[-40] ^= 0x01  # same size, same mtime restored: only the ctime tells
    stamp = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    status, _, body = route(opened, "/d/d/v1/")
    assert len(hashed) == 3 and b"is damaged" in body and b'data-lang="fr"' in body


# --- item 9: the tokenizer's sample in memory independent of a language's size --------------------


class _FakeVersion:
    def __init__(self, shards: int, rows: int):
        self.shards = [{"lang": "en", "rows": rows} for _ in range(shards)] + [{"lang": "fr", "rows": 50}]
        self.manifest = {"languages": {"en": {"chars": shards * rows * 12}, "fr": {"chars": 50 * 12}}}


class _FakeReader:
    def column(self, index, rows, name="text"):
        return [f"doc {index:04d}-{int(r):05d}" for r in rows]


def _sample(shards: int, rows: int, seed: int, chars: int = 20_000) -> list[str]:
    from model.tokenizer import language_sample

    _, texts = language_sample(_FakeVersion(shards, rows), _FakeReader(), 0.3, chars, seed)
    return list(texts)


def test_the_tokenizer_sample_is_reproducible_and_its_memory_does_not_grow_with_the_language():
    import tracemalloc

    first = _sample(100, 1000, seed=3)
    assert first == _sample(100, 1000, seed=3) and first != _sample(100, 1000, seed=4)
    assert any(t.startswith("doc 0100-") for t in first)  # the small language is upsampled (cycled)
    assert len({t.split("-")[0] for t in first}) > 20  # drawn across many shards, not the first few

    peaks = []
    for shards in (10, 1000):  # 10k documents, then 1M
        tracemalloc.start()
        _sample(shards, 1000, seed=0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + (1 << 20), peaks  # a list of every (shard, row) would be ~100 MB


# --- item 11: read-only lakes ---------------------------------------------------------------------


def _read_only_below(monkeypatch, root: Path) -> None:
    """Every write under ``root`` fails as on a read-only mount (tests run as root, so chmod cannot)."""
    import errno

    def refuse(path) -> None:
        if Path(path).resolve().is_relative_to(root.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_mkdir, real_open = Path.mkdir, open

    def mkdir(self, *args, **kwargs):
        refuse(self)
        return real_mkdir(self, *args, **kwargs)

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, Path)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr("builtins.open", guarded_open)


def test_a_read_only_lake_trains_from_the_cache_and_refuses_writes_in_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    from model.data import PackedStream, StreamConfig
    from model.sample_lake import synthetic_records, write_version
    from model.tokenizer import train_tokenizer
    from pipelines.curate import main as curate_main

    lake = tmp_path / "lake"
    records = synthetic_records(120, {"eng": "abcdefghijklmnopqrstuvwxyz", "rus": "абвгдежзийклмнопрст"}, seed=1,
                               words=(5, 30))
    write_version(lake, "mix", records, rows_per_shard=40)
    tok = train_tokenizer(iter([r["text"] for r in records]), 300, sum(len(r["text"]) for r in records))
    tok.save(str(tmp_path / "tok.json"))
    before = sorted(p for p in lake.rglob("*"))
    _read_only_below(monkeypatch, lake)

    cfg = StreamConfig(seq_len=32, micro_batch=4, cache_dir=str(tmp_path / "cache"))
    stream = PackedStream(str(lake), "mix", str(tmp_path / "tok.json"), cfg)
    batch = next(iter(stream))
    assert batch["input_ids"].shape[0] == 4
    assert list((tmp_path / "cache" / "token-lengths").glob("*.npy"))  # the index went to the cache
    again = PackedStream(str(lake), "mix", str(tmp_path / "tok.json"), cfg)  # and is found there next time
    assert (again.batch_at(0)["input_ids"] == stream.batch_at(0)["input_ids"]).all()
    assert sorted(p for p in lake.rglob("*")) == before

    capsys.readouterr()
    assert catalog_main(["tag", "mix@v1", "gold", "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "is read-only here (Read-only file system)" in err and len(err.splitlines()) == 1, err
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "hello"}) + "\n")
    assert curate_main(["--input", str(tmp_path / "in.jsonl"), "--lake", str(lake), "--dataset", "mix", *FAST]) == 2
    err = capsys.readouterr().err
    assert f"lake {lake} is read-only here" in err and len(err.splitlines()) == 1, err
    assert sorted(p for p in lake.rglob("*")) == before
