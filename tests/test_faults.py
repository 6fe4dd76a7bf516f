"""Killed runs and damaged shards: no partial version is ever visible, the next run publishes a
complete one, ``catalog gc`` removes the leftovers and ``catalog verify`` finds a flipped byte.

Kills are real ``SIGKILL``s of a separate process. Named kill points use a tiny driver that wraps
the ``os`` functions the writers call (no hook in production code): the shard writer's
``os.replace`` (a shard lands in staging), the commit's ``os.rename`` (staged files move into the
claimed ``v<N>``) and ``os.link`` (the manifest appears). One more run is killed from outside as
soon as files show up in ``_staging``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from catalog import lake as lakelib
from tests.conftest import REPO

ARGS = ["--dataset", "sample", "--disable", "langid,dedup-near"]
DRIVER = r"""
import os, signal, sys
import catalog.lake, transforms.shards

module, func, nth = os.environ["CURATE_TEST_KILL_AT"].split(":")
real, calls = getattr(os, func), [0]

def fatal(*args, **kwargs):
    calls[0] += 1
    if calls[0] >= int(nth):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

class Os:
    def __getattr__(self, name):
        return fatal if name == func else getattr(os, name)

{"shards": transforms.shards, "lake": catalog.lake}[module].os = Os()
from pipelines.curate import main
sys.exit(main(sys.argv[1:]))
"""
KILL_POINTS = ["shards:replace:1",  # first shard written in staging
               "lake:rename:2",     # v<N> claimed, one staged entry moved in
               "lake:link:1"]       # everything moved, manifest not yet linked


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _killed_at(point: str, lake: Path) -> int:
    proc = subprocess.run([sys.executable, "-c", DRIVER, "--lake", str(lake), *ARGS], cwd=REPO,
                          env=dict(_env(), CURATE_TEST_KILL_AT=point), capture_output=True, timeout=300)
    return proc.returncode


def _kill_when_staging_fills(lake: Path) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.curate", "--lake", str(lake), *ARGS], cwd=REPO,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = lake / "sample" / lakelib.STAGING
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if staging.is_dir() and any(p.is_file() for p in staging.rglob("*")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    return proc.wait(timeout=60)


def _catalog(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "catalog", *args], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=120)


def test_killed_runs_leave_nothing_visible_and_the_next_run_publishes(tmp_path):
    from pipelines.curate import run

    lake = tmp_path / "lake"
    for point in KILL_POINTS:
        assert _killed_at(point, lake) == -signal.SIGKILL, point
        assert lakelib.list_versions(lake, "sample") == [], point
    assert _kill_when_staging_fills(lake) == -signal.SIGKILL
    assert lakelib.list_versions(lake, "sample") == []
    leftovers = [p for p in (lake / "sample").rglob("*") if p.is_file()]
    assert leftovers  # the kills did leave partial files behind, just none a reader can see

    ref, manifest = run(["--lake", str(lake), *ARGS])
    assert lakelib.list_versions(lake, "sample") == [ref.version] and ref.version >= 3  # killed claims not reused
    c = manifest["counts"]
    assert c["input"] == c["kept"] + sum(c["filtered"].values()) + sum(c["duplicates"].values()) + c["quarantined"]
    assert _catalog("verify", "sample", "--lake", str(lake)).returncode == 0

    gc = _catalog("gc", "--lake", str(lake), "--grace-hours", "0")
    assert gc.returncode == 0, gc.stderr
    outside = [p for p in (lake / "sample").rglob("*") if p.is_file() and ref.path not in p.parents]
    assert outside == []
    assert _catalog("verify", "sample", "--lake", str(lake)).returncode == 0

    shard = ref.path / manifest["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    bad = _catalog("verify", "sample", "--lake", str(lake))
    assert bad.returncode == 1 and manifest["shards"][0]["path"] in bad.stdout + bad.stderr
