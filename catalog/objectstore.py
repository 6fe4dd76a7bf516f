"""Publishing versions to object stores that have no atomic rename (S3, S3-compatible stores, GCS).

The protocol is the local one with conditional writes instead of ``mkdir``/``os.link``:

1. claim ``NAME/v<N>/_claim`` with a create-only write (S3 ``If-None-Match: *``); whoever gets
   HTTP 412 lost that number and tries N+1, so exactly one publisher owns each number;
2. upload every shard and removed-table file under ``NAME/v<N>/``;
3. write ``NAME/v<N>/manifest.json`` create-only, last. Readers list a version only once its
   manifest exists, so a publisher that dies before step 3 leaves nothing visible.

``publish`` uploads a local version (``python -m catalog push``); ``commit_staged`` publishes a
pipeline run that wrote straight to the store (``--lake gs://...``, e.g. on Dataflow), moving its
staged objects with Beam's filesystems instead of uploading. GCS's create-only write is
``ifGenerationMatch=0``.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from catalog.errors import CatalogError
from catalog.lakefs import Location
from catalog.manifest import file_entries, require_present, safe_join
from catalog.names import MANIFEST, VersionRef, check_name
from catalog.verify import require_intact

CLAIM = "_claim"
_VERSION_KEY = re.compile(r"v(\d+)/(.+)", re.DOTALL)


class ObjectStore(Protocol):
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key``; return False, writing nothing, when it already exists."""

    def upload(self, key: str, path: Path) -> None:
        """Upload a local file (overwrites: only used under a claimed, invisible version)."""

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""

    def get(self, key: str) -> bytes:
        """Read an object."""


class S3Store:
    """An S3 bucket (or an S3-compatible endpoint) under an optional key prefix, through boto3."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, endpoint_url: str | None = None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url)

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, client: Any = None) -> S3Store:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise CatalogError(f"not an S3 URL: {url!r} (expected s3://BUCKET/PREFIX)")
        return cls(parsed.netloc, parsed.path, client=client, endpoint_url=endpoint_url)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
        except ClientError as e:
            if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return False
            raise
        return True

    def upload(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self.prefix + key)

    def keys(self, prefix: str) -> list[str]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        ):
            out += [obj["Key"][len(self.prefix):] for obj in page.get("Contents", [])]
        return out

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()


class GCSStore:
    """A GCS bucket under an optional key prefix, through google-cloud-storage (imported lazily:
    only Dataflow/GCS installs have it)."""

    def __init__(self, bucket: Any, prefix: str = ""):
        self.bucket = bucket  # a google.cloud.storage.Bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_url(cls, url: str, project: str | None = None) -> GCSStore:
        from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

        parsed = urlparse(url)
        if parsed.scheme != "gs" or not parsed.netloc:
            raise CatalogError(f"not a GCS URL: {url!r} (expected gs://BUCKET/PREFIX)")
        return cls(storage.Client(project=project).bucket(parsed.netloc), parsed.path)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        try:
            self.bucket.blob(self.prefix + key).upload_from_string(data, if_generation_match=0)
        except PreconditionFailed:
            return False
        return True

    def upload(self, key: str, path: Path) -> None:
        self.bucket.blob(self.prefix + key).upload_from_filename(str(path))

    def keys(self, prefix: str) -> list[str]:
        return [blob.name[len(self.prefix):] for blob in self.bucket.list_blobs(prefix=self.prefix + prefix)]

    def get(self, key: str) -> bytes:
        return self.bucket.blob(self.prefix + key).download_as_bytes()


def store_for_lake(lake: Any) -> ObjectStore:
    """The create-only store of a ``catalog.lake.Lake`` on S3 or GCS, with the lake's own settings."""
    root = lake.root
    if getattr(root, "scheme", None) == "s3":
        return S3Store.from_url(root.url, client=root.s3.client())
    if getattr(root, "scheme", None) == "gs":
        return GCSStore.from_url(root.url, project=root.gcs_project)
    raise CatalogError(f"no object store for {lake}: use gs://BUCKET/PREFIX or s3://BUCKET/PREFIX")


def _version_keys(store: ObjectStore, name: str) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for key in store.keys(f"{check_name(name)}/"):
        m = _VERSION_KEY.fullmatch(key[len(name) + 1:])
        if m:
            found.setdefault(int(m.group(1)), set()).add(m.group(2))
    return found


def list_versions(store: ObjectStore, name: str) -> list[int]:
    """Published versions: those whose manifest exists."""
    return sorted(v for v, names in _version_keys(store, name).items() if MANIFEST in names)


def load_manifest(store: ObjectStore, name: str, version: int) -> dict[str, Any]:
    return json.loads(store.get(f"{check_name(name)}/v{version}/{MANIFEST}"))


def claim_version(store: ObjectStore, name: str) -> int:
    """The next free number, owned by this publisher alone (create-only write of its claim)."""
    n = max(_version_keys(store, name), default=0) + 1
    token = json.dumps({"run": uuid.uuid4().hex}).encode()
    while not store.put_if_absent(f"{name}/v{n}/{CLAIM}", token):
        n += 1
    return n


def _write_manifest(store: ObjectStore, name: str, version: int, manifest: dict[str, Any]) -> None:
    """The last step of a commit: the manifest, create-only, makes the version visible."""
    body = json.dumps(dict(manifest, dataset=name, version=version), indent=2, sort_keys=True, ensure_ascii=False)
    if not store.put_if_absent(f"{name}/v{version}/{MANIFEST}", body.encode("utf-8")):
        raise CatalogError(f"{name}@v{version} already has a manifest in the store: another publisher won it")


def publish(store: ObjectStore, name: str, version_dir: str | Path, manifest: dict[str, Any]) -> int:
    """Publish a local version's files and manifest as the store's next version; return its number.

    Every file is checked against the manifest first: a damaged one is refused, naming it, and
    nothing is claimed or uploaded.
    """
    require_intact(version_dir, [e for _, e in file_entries(manifest)],
                   f"{manifest.get('dataset', name)}@v{manifest.get('version', '?')}", override=False)
    version = claim_version(store, name)
    for _, entry in file_entries(manifest):  # every listed file, so the pushed version verifies whole
        store.upload(f"{name}/v{version}/{entry['path']}", safe_join(version_dir, entry["path"]))
    _write_manifest(store, name, version, manifest)
    return version


def commit_staged(store: ObjectStore, lake: str, name: str, staging: str, manifest: dict[str, Any],
                  root: Location) -> VersionRef:
    """Publish a run staged under ``staging`` (a prefix inside the ``lake`` URL, whose create-only
    ``store`` is ``store_for_lake`` of that lake, and ``root`` its location) as the next version.

    The local commit with object-store primitives: claim ``v<N>`` create-only, move every staged
    object under it (Beam's rename: a server-side copy, then a delete), write the manifest
    create-only, drop the staging prefix. A launcher killed before the manifest leaves an invisible
    claim that the next run skips.
    """
    from apache_beam.io.filesystems import FileSystems

    lake = lake.rstrip("/")
    version = claim_version(store, name)
    staged = staging[len(lake) + 1:].rstrip("/") + "/"
    rels = sorted(key[len(staged):] for key in store.keys(staged))
    FileSystems.rename([f"{lake}/{staged}{rel}" for rel in rels], [f"{lake}/{name}/v{version}/{rel}" for rel in rels])
    require_present(root / f"{name}/v{version}", manifest, f"{name}@v{version}")  # last check: nothing listed missing
    _write_manifest(store, name, version, manifest)
    FileSystems.delete([f"{lake}/{staged}"])
    return VersionRef(name, version, f"{lake}/{name}/v{version}")
