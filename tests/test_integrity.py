"""Every file of a version is checksummed, verified, and refused by its reader when damaged.

Each kind of file (shard, removed table, dedup bands, dedup clusters, audit sample, tokenizer
artifact, token-index artifact) gets each damage (one flipped byte, a truncation, deletion, a
valid file with other content swapped in); ``catalog verify`` must name it and so must the
reader that uses it. Plus: gc keeps everything a manifest or artifact record names, export
refuses paths that leave the version and never hands out the lake's own files, and the
training stream checks its shards before step 0 with a marker that a restored mtime cannot fool.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from catalog import lake as lakelib
from catalog.__main__ import main
from catalog.artifacts import ArtifactError, list_artifacts
from catalog.manifest import UnlistedFile, UnsafePath, check_relpath, describe_staged, require_listed
from catalog.verify import IntegrityError

SPEC = "sample@v1"


@pytest.fixture(scope="module")
def prepared(sample_version, tmp_path_factory):
    """The sample version with a tokenizer and a token index attached: (lake, manifest, tokenizer path)."""
    from model.data import PackedStream, StreamConfig
    from model.tokenizer import main as train_main

    src, ref, manifest = sample_version
    assert ref.spec == SPEC
    lake = tmp_path_factory.mktemp("integrity") / "lake"
    shutil.copytree(src / "sample", lake / "sample")
    tok = lake.parent / "tok.json"
    assert train_main(["--lake", str(lake), "--dataset", SPEC, "--vocab-size", "300", "--out", str(tok),
                       "--cache-dir", str(lake.parent / "cache")]) == 0
    artifact_tok = list_artifacts(lake, SPEC, "tokenizer")[0]["path"]
    PackedStream(str(lake), SPEC, artifact_tok, StreamConfig(seq_len=16, micro_batch=2,
                                                              cache_dir=str(lake.parent / "cache")))
    assert {a["kind"] for a in list_artifacts(lake, SPEC)} == {"tokenizer", "token-lengths"}
    return lake, manifest


@pytest.fixture
def lake(prepared, tmp_path):
    """A private copy of the prepared lake that a test may damage."""
    src, manifest = prepared
    shutil.copytree(src, tmp_path / "lake")
    return tmp_path / "lake", manifest


def vdir(root: Path) -> Path:
    return root / "sample" / "v1"


def target(kind: str, root: Path, manifest: dict) -> str:
    """The version-relative path of the file of ``kind`` a test damages."""
    if kind == "shard":
        return max(manifest["shards"], key=lambda s: s["rows"])["path"]
    if kind == "removed":
        return manifest["removed_table"][0]["path"]
    if kind in ("bands", "clusters"):
        return manifest["dedup"][kind][0]["path"]
    if kind == "audit":
        return manifest["audit"][0]["path"]
    record = list_artifacts(root, SPEC, {"tokenizer": "tokenizer", "token-index": "token-lengths"}[kind])[0]
    return Path(record["path"]).relative_to(vdir(root)).as_posix()


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def delete(path: Path) -> None:
    path.unlink()


def swap(path: Path) -> None:
    """Replace the file with a valid one of the same kind holding other content."""
    if path.suffix == ".arrow":
        table = ipc.open_file(pa.memory_map(str(path))).read_all()
        rows = table.to_pylist()
        name = next(f.name for f in table.schema if pa.types.is_string(f.type))
        rows[0][name] = (rows[0][name] or "") + " swapped"
        other = pa.Table.from_pylist(rows, schema=table.schema)
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(other)
    elif path.suffix == ".npy":
        np.save(path, np.load(path) + 1)
    else:
        tok = json.loads(path.read_text(encoding="utf-8"))  # still a valid tokenizer, one that truncates
        tok["truncation"] = {"direction": "Right", "max_length": 7, "strategy": "LongestFirst", "stride": 0}
        path.write_text(json.dumps(tok), encoding="utf-8")


DAMAGES = {"flip": flip, "truncate": truncate, "delete": delete, "swap": swap}


def refused_by_cli(argv: list[str], rel: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert rel in err and "damaged" in err and err.count("\n") == 1, err


def read_shard(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    from model.data import PackedStream, StreamConfig
    from model.shard_reader import ShardError
    from model.tokenizer import main as train_main

    lake = str(root)
    refused_by_cli(["sample", SPEC, "-n", "1000", "--lake", lake], rel, capsys)
    refused_by_cli(["why", SPEC, "no-such-document", "--lake", lake], rel, capsys)
    refused_by_cli(["diff", SPEC, SPEC, "--lake", lake], rel, capsys)
    refused_by_cli(["export", SPEC, str(tmp_path / "out"), "--lake", lake], rel, capsys)
    assert not (tmp_path / "out").exists()  # a refused export leaves nothing behind
    tok = list_artifacts(root, SPEC, "tokenizer")[0]["path"]
    with pytest.raises(ShardError, match=f"shard {rel} of {SPEC}"):  # before step 0, from the constructor
        PackedStream(lake, SPEC, tok, StreamConfig(seq_len=16, micro_batch=2, cache_dir=str(root.parent / "cache")))
    assert train_main(["--lake", lake, "--dataset", SPEC, "--vocab-size", "300", "--out", str(tmp_path / "t.json"),
                       "--cache-dir", str(root.parent / "cache")]) == 2
    assert rel in capsys.readouterr().err


def read_removed(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    from catalog.read import read_table

    removed_id = read_table(vdir(root.parent / "pristine") / rel)["id"][0].as_py()
    refused_by_cli(["why", SPEC, removed_id, "--lake", str(root)], rel, capsys)
    refused_by_cli(["diff", SPEC, SPEC, "--lake", str(root)], rel, capsys)


def read_bands(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    from pipelines.curate import run
    from transforms.dedup.tables import bands_files, read_published

    src = tmp_path / "more.jsonl"
    src.write_text(json.dumps({"id": "x", "text": "a new document with a few words in it"}) + "\n", encoding="utf-8")
    with pytest.raises(IntegrityError, match=f"{SPEC} {rel} is damaged"):
        run(["--input", str(src), "--lake", str(root), "--dataset", "sample", "--dedup-against", SPEC])
    assert lakelib.list_versions(root, "sample") == [1]
    with pytest.raises(IntegrityError, match=f"{SPEC} {rel} is damaged"):  # the worker checks what it reads too
        list(read_published(bands_files(vdir(root), manifest)[0], 0, SPEC))


def read_by_diff(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    refused_by_cli(["diff", SPEC, SPEC, "--lake", str(root)], rel, capsys)


def read_tokenizer(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    from model.tokenizer import load_tokenizer

    with pytest.raises((ValueError, FileNotFoundError), match=rel.split("/")[-1]):
        load_tokenizer(vdir(root) / rel)


def read_token_index(root: Path, rel: str, manifest: dict, capsys, tmp_path: Path) -> None:
    from model.data import PackedStream, StreamConfig

    tok = list_artifacts(root, SPEC, "tokenizer")[0]["path"]
    with pytest.raises(ArtifactError, match=f"token index of {SPEC}.*{rel}.*is damaged"):
        PackedStream(
            str(root), SPEC, tok, StreamConfig(seq_len=16, micro_batch=2, cache_dir=str(root.parent / "cache"))
        )


READERS = {"shard": read_shard, "removed": read_removed, "bands": read_bands, "clusters": read_by_diff,
           "audit": read_by_diff, "tokenizer": read_tokenizer, "token-index": read_token_index}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("kind", list(READERS))
def test_each_damage_of_each_file_is_named_by_verify_and_refused_by_its_reader(lake, kind, damage, capsys, tmp_path):
    root, manifest = lake
    shutil.copytree(root, root.parent / "pristine")
    rel = target(kind, root, manifest)
    assert main(["verify", SPEC, "--lake", str(root)]) == 0
    capsys.readouterr()
    DAMAGES[damage](vdir(root) / rel)
    assert main(["verify", SPEC, "--lake", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"BAD  {SPEC} {rel}: " in out and out.count("BAD") == 1 and "FAILED" in out, out
    READERS[kind](root, rel, manifest, capsys, tmp_path)


def test_every_staged_file_is_listed_with_checksum_bytes_and_rows(sample_version):
    root, ref, manifest = sample_version
    from catalog.manifest import file_entries

    on_disk = {p.relative_to(ref.path).as_posix() for p in ref.path.rglob("*") if p.is_file()} - {"manifest.json"}
    entries = {e["path"]: e for _, e in file_entries(manifest)}
    assert set(entries) == on_disk and "audit/filtered-sample.arrow" in entries
    assert all({"sha256", "bytes", "rows"} <= set(e) for e in entries.values())


def test_publishing_refuses_a_staged_file_the_manifest_does_not_list(tmp_path):
    staging = tmp_path / "run"
    (staging / "audit").mkdir(parents=True)
    table = pa.table({"id": ["a", "b"]})
    with pa.OSFile(str(staging / "audit" / "x.arrow"), "wb") as sink, ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    (staging / "_stats").mkdir()
    (staging / "_stats" / "shards.json").write_text("[]")
    manifest = {"shards": [], "removed_table": [], "audit": describe_staged(str(staging), "audit")}
    assert manifest["audit"][0]["rows"] == 2 and manifest["audit"][0]["path"] == "audit/x.arrow"
    require_listed(str(staging), manifest)  # _stats/ is scratch, never published
    (staging / "extra.arrow").write_bytes(b"x")
    with pytest.raises(UnlistedFile, match="extra.arrow"):
        require_listed(str(staging), manifest)


def test_an_older_manifest_verifies_what_it_lists_and_says_what_it_lacks(lake, capsys):
    root, _ = lake
    path = vdir(root) / "manifest.json"
    old = json.loads(path.read_text())
    del old["audit"]
    path.write_text(json.dumps(old))
    assert main(["verify", SPEC, "--lake", str(root)]) == 0
    out = capsys.readouterr().out
    assert "NOTE sample@v1 audit/filtered-sample.arrow: not checked, the manifest predates checksums" in out


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "data/../../x", "a//b", "./a", "a\\b", "", "a/", "a\0b"])
def test_manifest_paths_that_leave_the_version_are_refused(bad):
    with pytest.raises(UnsafePath):
        check_relpath(bad)
    assert check_relpath("data/lang=en/part-00000-000.arrow") == "data/lang=en/part-00000-000.arrow"


def test_gc_after_two_days_keeps_everything_manifests_and_artifacts_name(lake, capsys, tmp_path):
    """Issue 21.1: tag v1, age every file by two days, gc: nothing referenced goes, verify and
    --dedup-against still work; real leftovers (a stray file, a dead attachment) still go."""
    from pipelines.curate import run

    root, manifest = lake
    assert main(["tag", SPEC, "pinned", "--lake", str(root)]) == 0
    (vdir(root) / "stray.txt").write_text("left by hand")
    (vdir(root) / "artifacts" / ".tmp-dead").mkdir()
    (vdir(root) / "artifacts" / ".tmp-dead" / "half.json").write_text("{}")
    old = time.time() - 2 * 86400
    for p in [*root.rglob("*")]:
        os.utime(p, (old, old))
    capsys.readouterr()
    assert main(["gc", "--lake", str(root)]) == 0
    out = capsys.readouterr().out
    removed = sorted(line.split()[-1] for line in out.splitlines() if line.startswith("removed"))
    assert removed == [str(vdir(root) / "artifacts" / ".tmp-dead"), str(vdir(root) / "stray.txt")], out
    assert main(["verify", SPEC, "--lake", str(root)]) == 0
    assert "ok: " in capsys.readouterr().out
    src = tmp_path / "more.jsonl"
    src.write_text(json.dumps({"id": "x", "text": "a new document with a few words in it"}) + "\n", encoding="utf-8")
    ref, m2 = run(["--input", str(src), "--lake", str(root), "--dataset", "sample", "--dedup-against", SPEC])
    assert ref.version == 2 and m2["lineage"]["dedup_against"] == [SPEC]


def test_gc_keeps_the_audit_sample_an_older_manifest_names_only_in_stages(lake):
    from catalog import gc

    root, _ = lake
    path = vdir(root) / "manifest.json"
    old = json.loads(path.read_text())
    del old["audit"]
    path.write_text(json.dumps(old))
    assert gc.collect(root, grace=0, now=time.time() + 10).removed == []


def test_export_refuses_paths_outside_the_version_and_writes_nothing(lake, tmp_path, capsys):
    root, _ = lake
    path = vdir(root) / "manifest.json"
    manifest = json.loads(path.read_text())
    for bad in ("../../../../escaped.arrow", str(tmp_path / "abs.arrow")):
        evil = json.loads(json.dumps(manifest))
        evil["shards"][0]["path"] = bad
        path.write_text(json.dumps(evil))
        out = tmp_path / f"out-{len(bad)}"
        assert main(["export", SPEC, str(out), "--lake", str(root)]) == 2
        assert "manifest.shards[0].path does not match" in capsys.readouterr().err  # the schema refuses it on read
        assert not out.exists()
        assert main(["verify", SPEC, "--lake", str(root)]) == 2
        assert "manifest.shards[0].path does not match" in capsys.readouterr().err
    assert not list(tmp_path.rglob("escaped.arrow")) and not (tmp_path / "abs.arrow").exists()


def test_exported_shards_are_copies_not_links_into_the_lake(lake, tmp_path, capsys):
    root, manifest = lake
    out = tmp_path / "out"
    assert main(["export", SPEC, str(out), "--lake", str(root)]) == 0
    for shard in manifest["shards"]:
        exported, original = out / shard["path"], vdir(root) / shard["path"]
        assert exported.stat().st_ino != original.stat().st_ino and original.stat().st_nlink == 1
    with open(out / manifest["shards"][0]["path"], "ab") as f:
        f.write(b"appended by a user")
    capsys.readouterr()
    assert main(["verify", SPEC, "--lake", str(root)]) == 0


def test_no_verify_reads_a_damaged_shard_anyway(lake, capsys):
    root, manifest = lake
    rel = max(manifest["shards"], key=lambda s: s["rows"])["path"]
    swap(vdir(root) / rel)
    assert main(["sample", SPEC, "-n", "1000", "--json", "--lake", str(root)]) == 2
    capsys.readouterr()
    assert main(["sample", SPEC, "-n", "1000", "--json", "--no-verify", "--lake", str(root)]) == 0
    assert any("swapped" in line for line in capsys.readouterr().out.splitlines())


def test_an_emptied_file_is_refused_before_it_is_mapped(lake, capsys):
    root, manifest = lake
    rel = manifest["shards"][0]["path"]
    (vdir(root) / rel).write_bytes(b"")
    refused_by_cli(["sample", SPEC, "-n", "1000", "--lake", str(root)], rel, capsys)


def test_push_refuses_a_damaged_version_before_claiming_anything(lake):
    from catalog.objectstore import publish

    class Store:  # any upload or claim would be a failure: nothing may leave a damaged version
        def __getattr__(self, name):
            raise AssertionError(f"store.{name} called")

    root, manifest = lake
    rel = manifest["dedup"]["clusters"][0]["path"]
    flip(vdir(root) / rel)
    with pytest.raises(IntegrityError, match=rel):
        publish(Store(), "sample", vdir(root), manifest)


def test_stream_marker_catches_a_change_whose_mtime_was_restored(lake):
    """Issue 21.6: the 'already verified' marker must not be fooled by restoring size and mtime."""
    from model.data import PackedStream, StreamConfig
    from model.shard_reader import ShardError

    root, manifest = lake
    tok = list_artifacts(root, SPEC, "tokenizer")[0]["path"]
    cfg = StreamConfig(seq_len=16, micro_batch=2, cache_dir=str(root.parent / "cache"))
    PackedStream(str(root), SPEC, tok, cfg)  # every plan shard checked and marked
    assert len(list((root.parent / "cache" / "verified").iterdir())) >= len(
        [s for s in manifest["shards"] if s["rows"]]
    )
    rel = max(manifest["shards"], key=lambda s: s["rows"])["path"]
    path = vdir(root) / rel
    before = path.stat()
    flip(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(ShardError, match=f"shard {rel} of {SPEC} is corrupted"):
        PackedStream(str(root), SPEC, tok, cfg)


def test_a_modified_tokenizer_artifact_is_refused_by_the_stream(lake):
    from model.data import PackedStream, StreamConfig

    root, _ = lake
    tok = Path(list_artifacts(root, SPEC, "tokenizer")[0]["path"])
    swap(tok)
    with pytest.raises(ValueError, match="tokenizer artifact .* was modified"):
        PackedStream(str(root), SPEC, str(tok), StreamConfig(seq_len=16, micro_batch=2,
                                                              cache_dir=str(root.parent / "cache")))
