"""The object-store commit path against moto's S3 server (real HTTP, real If-None-Match handling)."""

import pytest

from catalog import objectstore
from catalog.__main__ import main
from tests.concurrency import at_once

moto_server = pytest.importorskip("moto.server", reason="moto[server] is needed to emulate S3")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def store(s3_endpoint, monkeypatch, request):
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    bucket = f"lake-{request.node.name.replace('_', '-')[:40].lower()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return objectstore.S3Store(bucket, "curated", endpoint_url=s3_endpoint)


def test_create_only_write_refuses_an_existing_key(store):
    assert store.put_if_absent("a/b", b"first")
    assert not store.put_if_absent("a/b", b"second")
    assert store.get("a/b") == b"first"


def test_concurrent_publishers_never_share_a_version(store, sample_version):
    _, ref, manifest = sample_version
    got = at_once(lambda: objectstore.publish(store, "sample", ref.path, manifest), 6)
    assert sorted(got) == list(range(1, 7))
    assert objectstore.list_versions(store, "sample") == list(range(1, 7))
    assert objectstore.load_manifest(store, "sample", 4)["version"] == 4
    assert store.get(f"sample/v3/{manifest['shards'][0]['path']}") == (ref.path / manifest["shards"][0]["path"]).read_bytes()


def test_a_claimed_version_without_manifest_is_invisible_and_skipped(store, sample_version):
    _, ref, manifest = sample_version
    assert objectstore.claim_version(store, "sample") == 1  # a publisher that died after claiming
    store.upload("sample/v1/data/part.arrow", ref.path / manifest["shards"][0]["path"])
    assert objectstore.list_versions(store, "sample") == []
    assert objectstore.publish(store, "sample", ref.path, manifest) == 2
    assert objectstore.list_versions(store, "sample") == [2]


def test_push_command(store, s3_endpoint, sample_version, capsys):
    root, ref, _ = sample_version
    url = f"s3://{store.bucket}/curated"
    assert main(["push", ref.spec, url, "--endpoint-url", s3_endpoint, "--lake", str(root)]) == 0
    assert "as sample@v1" in capsys.readouterr().out
    assert objectstore.list_versions(store, "sample") == [1]
