"""A lake on an object store (``--lake s3://...``, as on Dataflow): the run stages, commits and
cleans up on the store itself, against moto's S3 server on loopback; GCS create-only semantics
against a fake bucket."""
from __future__ import annotations

import functools
import hashlib
import json
from types import SimpleNamespace

import pytest

from catalog import objectstore

BUCKET = "remote-lake"
LAKE = f"s3://{BUCKET}/lake"


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    import boto3
    import botocore.session

    # Beam's S3 filesystem builds a new boto3 session per file operation, each re-reading botocore's
    # service models from disk (~0.4 s); one shared loader keeps the test fast and changes nothing else.
    monkeypatch.setattr(botocore.session, "create_loader", functools.lru_cache(botocore.session.create_loader))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


def _keys(client, prefix: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def _curate(endpoint: str, *args: str):
    from pipelines.curate import run

    return run(["--lake", LAKE, "--dataset", "sample", "--s3_endpoint_url", endpoint, "--s3_access_key_id", "x",
                "--s3_secret_access_key", "x", "--s3_region_name", "us-east-1", *args])


def test_runs_stage_and_commit_on_the_object_store(s3, s3_endpoint):
    ref, manifest = _curate(s3_endpoint)  # the built-in sample, staged in the bucket
    assert (ref.version, ref.path) == (1, f"{LAKE}/sample/v1")
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="lake/sample/v1/manifest.json")["Body"].read())
    assert stored["version"] == 1 and stored["counts"] == manifest["counts"] and stored["shards"]
    assert stored["lineage"]["options"]["s3_endpoint_url"] == s3_endpoint
    assert "s3_secret_access_key" not in stored["lineage"]["options"]  # credentials are never published
    for entry in stored["shards"] + stored["removed_table"] + stored["dedup"]["bands"]:
        data = s3.get_object(Bucket=BUCKET, Key=f"lake/sample/v1/{entry['path']}")["Body"].read()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
    assert _keys(s3, "lake/sample/_staging/") == []  # shards moved, sample and run stats deleted
    assert not [k for k in _keys(s3, "lake/sample/v1/") if "/_stats/" in k or "/_sample/" in k]

    s3.put_object(Bucket=BUCKET, Key="in/tiny.jsonl", Body=b'{"id": "a", "text": "one small document"}\n')
    small = ["--input", f"s3://{BUCKET}/in/tiny.jsonl", "--disable", "langid,filter,pii,dedup-near"]
    assert _curate(s3_endpoint, *small)[0].version == 2
    s3.put_object(Bucket=BUCKET, Key="lake/sample/v3/_claim", Body=b"{}")  # a launcher that died after claiming
    assert _curate(s3_endpoint, *small)[0].version == 4
    store = objectstore.S3Store(BUCKET, "lake", client=s3)
    assert objectstore.list_versions(store, "sample") == [1, 2, 4]
    assert objectstore.load_manifest(store, "sample", 4)["counts"]["kept"] == 1
    assert _keys(s3, "lake/sample/_staging/") == []


class _FakeBucket:
    """The slice of google.cloud.storage.Bucket that GCSStore uses, with GCS's generation-0 precondition."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def blob(self, name: str) -> SimpleNamespace:
        from google.api_core.exceptions import PreconditionFailed

        def upload_from_string(data: bytes, if_generation_match: int | None = None) -> None:
            if if_generation_match == 0 and name in self.objects:
                raise PreconditionFailed(f"{name} exists")
            self.objects[name] = data

        return SimpleNamespace(upload_from_string=upload_from_string, download_as_bytes=lambda: self.objects[name])

    def list_blobs(self, prefix: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=k) for k in sorted(self.objects) if k.startswith(prefix)]


def test_gcs_store_writes_create_only():
    pytest.importorskip("google.api_core.exceptions", reason="google-cloud-storage (apache-beam[gcp]) is not installed")
    bucket = _FakeBucket()
    store = objectstore.GCSStore(bucket, "lake")
    assert store.put_if_absent("ds/v1/_claim", b"first")
    assert not store.put_if_absent("ds/v1/_claim", b"second")
    assert store.get("ds/v1/_claim") == b"first"
    assert objectstore.claim_version(store, "ds") == 2  # v1 is claimed: the next publisher takes v2
    assert sorted(bucket.objects) == ["lake/ds/v1/_claim", "lake/ds/v2/_claim"]


def test_dedup_against_a_version_on_the_object_store(s3, s3_endpoint):
    """``--dedup-against`` on an ``s3://`` lake reads the parent's bands files from the store (not
    through local paths and memory maps): a second run of the same documents keeps none."""
    from catalog.manifest import read_removed
    from pipelines.curate import run

    docs = [{"id": f"doc{k}", "text": " ".join(hashlib.sha256(f"{k}:{i}".encode()).hexdigest()[:7] for i in range(80))}
            for k in range(6)]  # six unrelated documents
    s3.put_object(Bucket=BUCKET, Key="in/dd.jsonl", Body="".join(json.dumps(d) + "\n" for d in docs).encode())
    args = ["--lake", LAKE, "--dataset", "dd", "--input", f"s3://{BUCKET}/in/dd.jsonl", "--disable",
            "langid,filter,pii", "--s3_endpoint_url", s3_endpoint, "--s3_access_key_id", "x",
            "--s3_secret_access_key", "x", "--s3_region_name", "us-east-1"]
    ref1, m1 = run(args)
    kept = m1["counts"]["kept"]
    assert kept == 6 and m1["dedup"]["bands"]
    ref2, m2 = run([*args, "--dedup-against", "dd@v1"])
    assert ref2.version == 2 and m2["lineage"]["dedup_against"] == ["dd@v1"]
    assert m2["counts"]["kept"] == 0 and m2["counts"]["duplicates"]["near"] == kept
    removed = [r for r in read_removed(ref2.path, m2["removed_table"]).to_pylist() if r["stage"] == "dedup-near"]
    assert {json.loads(r["details"])["duplicate_of_version"] for r in removed} == {"dd@v1"}

    victim = m1["dedup"]["bands"][0]["path"]  # a damaged parent is refused, naming the file, before any work
    s3.put_object(Bucket=BUCKET, Key=f"lake/dd/v1/{victim}", Body=b"not a bands file")
    with pytest.raises(Exception, match=f"dd@v1 {victim} is damaged"):
        run([*args, "--dedup-against", "dd@v1"])


def test_the_training_stream_reads_an_s3_lake_through_a_local_cache(s3, s3_endpoint, tmp_path, monkeypatch):
    """The trainer's reader on ``s3://`` (S3 settings from the AWS environment): the same batches as
    from the local lake the version was pushed from, each shard fetched once into the cache."""
    pytest.importorskip("torch", reason="the training extra is not installed")
    import pickle

    import torch

    from model.data import PackedStream, StreamConfig
    from model.sample_lake import synthetic_records, write_version
    from model.tokenizer import train_tokenizer

    records = synthetic_records(160, {"eng": "abcdefghijklmnopqrstuvwxyz", "rus": "абвгдежзийклмнопрстуфхцчшщыэюя"},
                                seed=3, words=(5, 40))
    ref = write_version(tmp_path / "lake", "mix", records, rows_per_shard=40)
    manifest = json.loads((ref.path / "manifest.json").read_text())
    assert objectstore.publish(objectstore.S3Store(BUCKET, "lake", client=s3), "mix", ref.path, manifest) == 1
    tok = train_tokenizer(iter([r["text"] for r in records]), 300, sum(len(r["text"]) for r in records))
    tok.save(str(tmp_path / "tok.json"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)

    def stream(lake: str, cache: str) -> PackedStream:
        return PackedStream(lake, "mix", str(tmp_path / "tok.json"),
                            StreamConfig(seq_len=32, micro_batch=4, cache_dir=str(tmp_path / cache)))

    remote, local = stream(LAKE, "cache"), stream(str(tmp_path / "lake"), "local-cache")
    assert remote.version.is_remote and remote.version.spec == "mix@v1"
    assert remote.version.manifest_sha256 == local.version.manifest_sha256
    for k in (0, 5, 17):
        assert torch.equal(remote.batch_at(k)["input_ids"], local.batch_at(k)["input_ids"])
    assert len(list((tmp_path / "cache").rglob("*.arrow"))) == len(manifest["shards"])
    where = pickle.loads(pickle.dumps(remote.version.location))  # what a DataLoader worker would be handed
    assert (
        where.read_bytes("manifest.json")
        == s3.get_object(Bucket=BUCKET, Key="lake/mix/v1/manifest.json")["Body"].read()
    )


def test_gc_at_every_staging_step_of_a_live_run_on_the_object_store(s3, s3_endpoint, monkeypatch):
    from catalog import gc
    from catalog.lake import open_lake
    from catalog.verify import verify_version
    from tests.test_hostile_lake import gc_at_every_staging_step

    lake = open_lake(LAKE, endpoint_url=s3_endpoint)
    removed: list = []
    hits = gc_at_every_staging_step(monkeypatch, lambda: removed.extend(gc.collect(lake, grace=0).removed))
    body = "".join(json.dumps({"id": str(i), "text": f"document {i} " + "word " * (i % 5 + 2) + f"u{i * 7919}"}) + "\n"
                   for i in range(30))
    s3.put_object(Bucket=BUCKET, Key="in/docs.jsonl", Body=body.encode())
    ref, manifest = _curate(s3_endpoint, "--input", f"s3://{BUCKET}/in/docs.jsonl", "--disable", "langid,filter")
    assert {"write_bytes", "read_stats", "describe_staged", "require_listed", "claim_version",
            "_write_manifest"} <= set(hits), hits
    assert removed == []  # the live run's lease kept gc off its staging at every step
    assert manifest["counts"]["input"] == manifest["counts"]["kept"] == 30 and manifest["dedup"]["bands"]
    checks = verify_version(lake.version_dir(ref), manifest)
    assert checks and all(c.problem is None for c in checks), [c for c in checks if c.problem]
    assert _keys(s3, "lake/sample/_staging/") == []  # staging and lease gone after the commit

    s3.put_object(Bucket=BUCKET, Key="lake/sample/_staging/dead/data/x.arrow", Body=b"left by a dead run")
    s3.put_object(Bucket=BUCKET, Key="lake/sample/_staging/far/data/x.arrow", Body=b"a live run elsewhere")
    s3.put_object(Bucket=BUCKET, Key="lake/sample/_staging/far.lease", Body=b'{"host": "elsewhere", "pid": 1}')
    result = gc.collect(lake, grace=0)
    assert result.removed == [f"{LAKE}/sample/_staging/dead"] and result.live == [f"{LAKE}/sample/_staging/far"]
    assert _keys(s3, "lake/sample/_staging/") == ["lake/sample/_staging/far.lease",
                                                  "lake/sample/_staging/far/data/x.arrow"]
