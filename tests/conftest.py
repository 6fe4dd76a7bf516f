"""Shared fixtures: the read-only ``../shared`` data (skipped when absent) and pipeline runs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATION_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or a skip with the reason when it is not there."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (set CURATION_SHARED or place ../shared beside the repo)")
    return path


# The five labelled JSONL corpora of ../shared/data: (folder, file).
SHARED_CORPORA = (("debian-gettext", "gettext.jsonl"), ("debian-manpages-l10n", "manpages_l10n.jsonl"),
                  ("debian-fortunes", "fortunes.jsonl"), ("neardup-spdx-licenses", "spdx_licenses.jsonl"),
                  ("neardup-debian-copyright", "copyright.jsonl"))


def shared_sample(every: int) -> list[dict]:
    """Every ``every``-th record of each shared corpus, or a skip when the data is absent."""
    return [d for folder, name in SHARED_CORPORA for d in read_jsonl(shared_path(folder, name))[::every]]


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if limit and len(out) >= limit:
                break
    return out


@pytest.fixture(scope="session")
def sample_version(tmp_path_factory):
    """The built-in sample published once into a fresh lake: (lake dir, VersionRef, manifest)."""
    from pipelines.curate import run

    lake = tmp_path_factory.mktemp("lake")
    ref, manifest = run(["--lake", str(lake), "--dataset", "sample"])
    return lake, ref, manifest


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on a free loopback port (skips when moto[server] or boto3 is missing)."""
    import socket

    moto_server = pytest.importorskip("moto.server", reason="moto[server] is needed to emulate S3")
    pytest.importorskip("boto3", reason="boto3 is needed to talk to S3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
