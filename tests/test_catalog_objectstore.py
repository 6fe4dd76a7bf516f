"""The object-store commit path against moto's S3 server (real HTTP, real If-None-Match handling)."""

import pytest

from catalog import objectstore
from catalog.__main__ import main
from tests.concurrency import at_once

moto_server = pytest.importorskip("moto.server", reason="moto[server] is needed to emulate S3")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def store(s3_endpoint, monkeypatch, request):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
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
    assert (
        store.get(f"sample/v3/{manifest['shards'][0]['path']}")
        == (ref.path / manifest["shards"][0]["path"]).read_bytes()
    )


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


def test_catalog_commands_read_an_s3_lake_as_they_read_a_local_one(store, s3_endpoint, sample_version, tmp_path,
                                                                   capsys):
    """list/show/verify/why/sample/diff/export/tag on ``--lake s3://...``: the same answers as on the
    local lake the versions were pushed from, a damaged object named, gc refused in one line."""
    import json

    from catalog.lake import open_lake
    from catalog.read import read_table

    root, ref, manifest = sample_version
    assert objectstore.publish(store, "sample", ref.path, manifest) == 1
    assert objectstore.publish(store, "sample", ref.path, manifest) == 2
    url = f"s3://{store.bucket}/curated"

    def cli(*args: str, lake: str = url) -> tuple[int, str, str]:
        rc = main([*args, "--lake", lake, "--endpoint-url", s3_endpoint])
        out = capsys.readouterr()
        return rc, out.out, out.err

    rc, out, _ = cli("list")
    assert rc == 0 and "sample" in out and "v1, v2" in out
    rc, out, _ = cli("show", "sample@v1", "--json")
    assert rc == 0 and json.loads(out)["shards"] == manifest["shards"]
    rc, out, _ = cli("verify", "sample")
    n = len(objectstore.file_entries(manifest))
    assert rc == 0 and f"sample@v2: ok: {n}/{n} files intact" in out

    kept_id = read_table(ref.path / manifest["shards"][0]["path"])["id"][0].as_py()
    removed_id = read_table(ref.path / manifest["removed_table"][0]["path"])["id"][0].as_py()
    for args in (("why", "sample@v1", kept_id, "--json"), ("why", "sample@v1", removed_id),
                 ("sample", "sample@v1", "-n", "3", "--json")):
        assert cli(*args) == cli(*args, lake=str(root)), args
    rc, out, _ = cli("diff", "sample@v1", "sample@v2")
    assert rc == 0 and "identical (same sha256)" in out

    rc, _, _ = cli("export", "sample@v1", str(tmp_path / "hf"))
    assert rc == 0
    for shard in manifest["shards"]:
        assert (tmp_path / "hf" / shard["path"]).read_bytes() == (ref.path / shard["path"]).read_bytes()

    assert cli("tag", "sample@v1", "gold")[0] == 0
    rc, _, err = cli("tag", "sample@v2", "gold")  # create-only on the store as well: a tag never moves
    assert rc == 2 and "already points at sample@v1" in err
    assert open_lake(url, endpoint_url=s3_endpoint).list_tags("sample") == {"gold": 1}
    rc, out, _ = cli("gc")  # an object-store lake: gc collects the staging of dead runs, nothing else
    assert rc == 0 and "freed 0.00 MB in 0 path(s)" in out
    rc, _, err = cli("gc", "--keep-last", "1")
    assert rc == 2 and "--keep-last works on local lakes only" in err

    victim = manifest["shards"][1]["path"]
    store.client.put_object(Bucket=store.bucket, Key=f"curated/sample/v2/{victim}", Body=b"not the shard")
    rc, out, _ = cli("verify", "sample@v2")
    assert rc == 1 and f"BAD  sample@v2 {victim}: size" in out and out.count("BAD") == 1
    rc, _, err = cli("diff", "sample@v1", "sample@v2")
    assert rc == 2 and f"sample@v2 {victim} is damaged" in err
