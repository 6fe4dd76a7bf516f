"""The commit protocol: a killed publisher leaves nothing visible, concurrent publishers never share a
version number, gc cleans leftovers and never touches tagged versions."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from catalog import gc, lake
from tests.concurrency import at_once

REPO = Path(__file__).resolve().parent.parent

_PUBLISH_AND_STALL = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from catalog import lake
    root, ready = sys.argv[1], Path(sys.argv[2])
    staging = lake.new_staging_dir(root, "ds")
    (staging / "data").mkdir()
    (staging / "data" / "part.arrow").write_bytes(b"shard bytes")
    def stall(*args, **kwargs):  # shards are in v<N>/, the manifest is next: die here
        ready.write_text("shards written")
        time.sleep(600)
    lake.write_json_atomic = stall
    lake.commit_version(root, "ds", staging, {"counts": {}})
""")

_PUBLISH_MANY = textwrap.dedent("""
    import json, sys
    from catalog import lake
    root, n = sys.argv[1], int(sys.argv[2])
    got = []
    for _ in range(n):
        staging = lake.new_staging_dir(root, "ds")
        (staging / "f").write_text("x")
        got.append(lake.commit_version(root, "ds", staging, {"counts": {}}).version)
    print(json.dumps(got))
""")


def _stage(root, content="x", name="f"):
    staging = lake.new_staging_dir(root, "ds")
    (staging / name).write_text(content)
    return staging


def _listing(name: str, content: str) -> dict:
    """A manifest the schema accepts (readers refuse any other) that lists one staged file."""
    from catalog.manifest import build_manifest

    data = content.encode()
    shard = {"path": name, "lang": "en", "rows": 0, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
             "chars": 0, "sources": {}}
    return build_manifest(shards=[shard], removed_infos=[], removed_counts=[], input_by_source={}, pii={}, sources=[],
                          inputs=[], options={}, runner="test", stages={})


def test_publisher_killed_between_shards_and_manifest_leaves_nothing_visible(tmp_path):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _PUBLISH_AND_STALL, str(tmp_path / "lake"), str(ready)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "publisher exited before reaching the manifest write"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    root = tmp_path / "lake"
    assert (root / "ds" / "v1" / "data" / "part.arrow").exists()  # the shards did land ...
    assert lake.list_versions(root, "ds") == [] and lake.list_datasets(root) == []  # ... but nothing is visible
    assert gc.collect(root, grace=3600).removed == []  # inside the grace period a live publisher is safe

    result = gc.collect(root, grace=0, now=time.time() + 1)
    assert root / "ds" / "v1" / "data" in result.removed and result.bytes == len(b"shard bytes")
    assert list((root / "ds" / "v1").iterdir()) == []  # a tombstone keeps the number from being reused
    assert lake.commit_version(root, "ds", _stage(root), {}).version == 2


def test_threads_publishing_at_once_get_distinct_versions(tmp_path):
    results = at_once(lambda: lake.commit_version(tmp_path, "ds", _stage(tmp_path), {"counts": {}}).version, 8)
    assert sorted(results) == list(range(1, 9))
    for v in results:
        assert json.loads((tmp_path / "ds" / f"v{v}" / "manifest.json").read_text())["version"] == v


def test_processes_publishing_at_once_get_distinct_versions(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", _PUBLISH_MANY, str(tmp_path), "5"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    got = [v for p in procs for v in json.loads(p.communicate(timeout=120)[0])]
    assert sorted(got) == list(range(1, 16))
    assert lake.list_versions(tmp_path, "ds") == list(range(1, 16))


def test_second_manifest_for_a_version_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    lake.commit_version(tmp_path, "ds", _stage(tmp_path), {})
    monkeypatch.setattr(lake, "_claim_version", lambda root, name: (1, Path(root) / name / "v1"))
    with pytest.raises(lake.CatalogError, match="another publisher won"):
        lake.commit_version(tmp_path, "ds", _stage(tmp_path), {})


def test_gc_keeps_tagged_and_recent_versions_and_removes_stray_files(tmp_path):
    for i in range(4):
        lake.commit_version(tmp_path, "ds", _stage(tmp_path, str(i), "f.arrow"), _listing("f.arrow", str(i)))
    lake.add_tag(tmp_path, "ds@v1", "paper-2026")
    with pytest.raises(lake.CatalogError, match="already points at ds@v1"):
        lake.add_tag(tmp_path, "ds@v2", "paper-2026")
    with pytest.raises(lake.CatalogError, match="invalid tag"):
        lake.add_tag(tmp_path, "ds@v2", "../x")
    stray = tmp_path / "ds" / "v4" / ".manifest.json.dead.tmp"
    stray.write_text("left by a crash")
    stale_run = lake.new_staging_dir(tmp_path, "ds")

    planned = gc.collect(tmp_path, grace=0, keep_last=1, dry_run=True, now=time.time() + 1)
    assert stray.exists() and lake.list_versions(tmp_path, "ds") == [1, 2, 3, 4]
    result = gc.collect(tmp_path, grace=0, keep_last=1, now=time.time() + 1)
    assert result.removed == planned.removed
    assert lake.list_versions(tmp_path, "ds") == [1, 4]  # v1 is tagged, v4 is the newest
    assert not stray.exists() and not stale_run.exists()
    assert (tmp_path / "ds" / "v4" / "f.arrow").exists()  # referenced by the manifest
    assert list((tmp_path / "ds" / "v2").iterdir()) == []  # retired: manifest and files gone, number kept
