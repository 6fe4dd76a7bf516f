"""Read a catalog version's Arrow shards where they are: memory-mapped locally, cached from object stores.

Every lake is opened with ``catalog.lake.open_lake`` (a directory, ``file://``, ``s3://``, ``gs://``);
a shard of an object-store lake is copied once into a local cache, then memory-mapped like a local
one. (The trainer's reader; ``transforms/shards.py`` is the pipeline's writer.)
Every shard is checked against the manifest's size and sha256 before a process first uses it,
so a corrupted or swapped file fails loudly instead of silently training on other data. A host
remembers a successful check in a marker keyed on the file's identity and change time (device,
inode, size, mtime and ctime): any write, truncation, replacement or ``touch`` changes the ctime,
which no user can set back, so such a file is hashed again. Only a change below the file system
(media bit rot) keeps every stamp; ``python -m catalog verify`` re-hashes everything for that.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from catalog.hashing import sha256_file
from catalog.lake import open_lake
from catalog.lakefs import Location
from catalog.manifest import UnsafePath, check_relpath
from catalog.verify import schema_problem


class ShardError(Exception):
    """A shard that cannot be trusted (hash mismatch) or read."""


@dataclass(frozen=True)
class Version:
    """A resolved dataset version: where it lives, what it holds and a hash that pins it."""

    spec: str
    base: str
    manifest: dict[str, Any]
    manifest_sha256: str
    location: Location  # the version's folder, with its lake's settings (endpoint, credentials)

    @property
    def shards(self) -> list[dict[str, Any]]:
        return self.manifest["shards"]

    @property
    def is_remote(self) -> bool:
        return self.location.local is None


def manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def open_version(lake: str, spec: str) -> Version:
    """Resolve ``NAME`` or ``NAME@vN`` in a local or remote lake (S3 settings from the AWS environment,
    e.g. ``AWS_ENDPOINT_URL``)."""
    opened = open_lake(lake)
    ref, manifest = opened.load_manifest(spec)
    return Version(ref.spec, str(ref.path), manifest, manifest_hash(manifest), opened.version_dir(ref))


def default_cache_dir() -> Path:
    return Path(os.environ.get("LAKE_CACHE", Path.home() / ".cache" / "curation-lake"))


class ShardReader:
    """Per-process access to a version's shards: verify once, map once, read rows by index."""

    def __init__(self, version: Version, cache_dir: str | Path | None = None, max_open: int = 4096):
        self.version = version
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.max_open = max_open
        self._tables: dict[int, pa.Table] = {}

    def local_path(self, index: int) -> Path:
        """Where shard ``index`` can be memory-mapped; remote shards are fetched into the cache first."""
        entry = self.version.shards[index]
        try:
            rel = check_relpath(entry["path"])
        except UnsafePath as e:
            raise ShardError(f"{self.version.spec}: {e}") from None
        where = self.version.location
        if where.local is not None:
            return where.local / rel
        target = self.cache_dir / entry["sha256"][:2] / f"{entry['sha256']}.arrow"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{uuid.uuid4().hex}.tmp")
            where.download(rel, tmp)
            os.replace(tmp, target)
        return target

    def table(self, index: int) -> pa.Table:
        """The shard as a zero-copy table, checked against the manifest's sha256 on first open."""
        table = self._tables.get(index)
        if table is not None:
            return table
        entry = self.version.shards[index]
        path = self.local_path(index)
        self._verify(path, entry)
        table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        if table.num_rows != entry["rows"]:
            raise ShardError(f"shard {entry['path']} has {table.num_rows} rows, manifest says {entry['rows']}")
        if len(self._tables) >= self.max_open:
            self._tables.pop(next(iter(self._tables)))
        self._tables[index] = table
        return table

    def verify(self, indices: list[int] | None = None, threads: int | None = None) -> None:
        """Check shards (all by default) now, several at once, so a bad one fails before training starts."""
        indices = list(range(len(self.version.shards)) if indices is None else indices)
        if not indices:
            return
        workers = threads or min(len(indices), os.cpu_count() or 1, 8)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda i: self._verify(self.local_path(i), self.version.shards[i]), indices))

    def _verify(self, path: Path, entry: dict[str, Any]) -> None:
        """Hash the file unless this host already did for the very same, untouched file.

        The marker spares every rank, worker and restart from re-reading every shard. It holds
        the file's device, inode, size, mtime and ctime: restoring the mtime after a change (as
        ``touch -d`` or ``os.utime`` do) still moves the ctime, so the file is hashed again.
        """
        where = f"shard {entry['path']} of {self.version.spec}"
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ShardError(f"{where} is missing ({path})") from None
        if stat.st_size != entry["bytes"]:
            raise ShardError(f"{where} is corrupted: {stat.st_size:,} bytes, the manifest says {entry['bytes']:,}")
        stamp = (f"{path.resolve()}\n{stat.st_dev}\n{stat.st_ino}\n{stat.st_size}\n{stat.st_mtime_ns}\n"
                 f"{stat.st_ctime_ns}\n")
        marker = self.cache_dir / "verified" / entry["sha256"]
        if marker.is_file() and marker.read_text() == stamp:
            return
        digest, _ = sha256_file(path)
        if digest != entry["sha256"]:
            raise ShardError(f"{where} is corrupted: sha256 {digest[:16]}… "
                             f"does not match the manifest's {entry['sha256'][:16]}…")
        with pa.memory_map(str(path)) as source:  # a rewrite whose manifest was updated to match
            problem = schema_problem(pa.ipc.open_file(source).schema, "shard")
        if problem:
            raise ShardError(f"{where}: {problem}")
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(stamp)
        os.replace(tmp, marker)

    def column(self, index: int, rows: np.ndarray, name: str = "text") -> list[str]:
        """Values of one column for the given rows of a shard, in the order given."""
        column = self.table(index).column(name)
        if len(rows) < 64:  # a few scattered rows: direct indexing beats a compute kernel's set-up
            return [column[int(r)].as_py() for r in rows]
        return column.take(pa.array(rows, type=pa.int64())).to_pylist()
