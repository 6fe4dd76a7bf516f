"""The file systems a lake lives on, behind one small read interface: :class:`Location`.

A local directory (or a ``file://`` URL) is read with ``os``/``pathlib`` and memory maps; an
``s3://`` or ``gs://`` prefix is read through ``pyarrow.fs`` (ranged reads, no directories needed:
a "directory" is a key prefix). Why one interface: the catalog CLI, the trainer's shard reader and
``--dedup-against`` all read the same layout; reaching it each its own way (paths, boto3,
pyarrow.fs) would let an ``s3://`` lake work in one of them and not in the others. The layout is
written once, in :class:`catalog.lake.Lake`, on these primitives.

Only reads go through here. Publishing keeps its atomic primitives where they are: ``mkdir`` and
``os.link`` on a local lake (``catalog.lake.commit_version``), create-only writes on object stores
(``catalog.objectstore``).

A :class:`Location` pickles (with its S3 settings, not its connection), so Beam workers and
DataLoader workers can be handed one and read the same bucket the launcher read.
"""
from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from catalog.hashing import sha256_file, sha256_stream

REMOTE_SCHEMES = ("s3", "gs")


@dataclass(frozen=True)
class S3Config:
    """How to reach an S3 (or S3-compatible) endpoint; None means the AWS default chain (environment
    variables such as ``AWS_ENDPOINT_URL`` and ``AWS_ACCESS_KEY_ID``, config files, instance roles)."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, options: Any) -> S3Config:
        """The settings of Beam's ``--s3_*`` options, so the lake and Beam's S3 filesystem see one bucket."""
        from apache_beam.options.pipeline_options import S3Options

        s3 = options.view_as(S3Options)
        return cls(s3.s3_endpoint_url, s3.s3_region_name, s3.s3_access_key_id, s3.s3_secret_access_key,
                   s3.s3_session_token)

    def filesystem(self) -> Any:
        from pyarrow import fs as pafs

        kwargs: dict[str, Any] = {}
        if self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
            endpoint = self.endpoint_url or os.environ["AWS_ENDPOINT_URL"]
            scheme, _, host = endpoint.rpartition("://")
            kwargs.update(endpoint_override=host or endpoint, scheme=scheme or "https")
        if self.region:
            kwargs["region"] = self.region
        if self.access_key and self.secret_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key,
                          **({"session_token": self.session_token} if self.session_token else {}))
        return pafs.S3FileSystem(**kwargs)

    def client(self) -> Any:
        """A boto3 client for the same endpoint (create-only writes, which pyarrow.fs cannot do)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            aws_session_token=self.session_token)


class Location:
    """A folder of a lake (its root, a dataset, a version, ...) on some file system.

    Every method takes a path relative to this folder, ``/``-separated (``""``: the folder itself).
    """

    url: str
    local: Path | None = None  # the directory, for a local location

    def __truediv__(self, rel: str) -> Location:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def is_file(self, rel: str = "") -> bool:
        return self.size(rel) is not None

    def is_dir(self, rel: str = "") -> bool:
        raise NotImplementedError

    def size(self, rel: str = "") -> int | None:
        """The file's size in bytes; None when there is no such file."""
        raise NotImplementedError

    def children(self, rel: str = "") -> list[tuple[str, bool]]:
        """(name, is a folder) of every entry directly below, sorted by name; [] when there is no folder."""
        raise NotImplementedError

    def files(self, rel: str = "") -> list[str]:
        """Every file anywhere below, as a path relative to this location (not to ``rel``), sorted."""
        raise NotImplementedError

    def read_bytes(self, rel: str = "") -> bytes:
        raise NotImplementedError

    def buffer(self, rel: str = "") -> Any:
        """The whole file as a ``pyarrow.Buffer``: memory-mapped locally, read remotely."""
        raise NotImplementedError

    def sha256(self, rel: str = "") -> tuple[str, int]:
        """(hex digest, size) of the file."""
        raise NotImplementedError

    def download(self, rel: str, dst: str | Path) -> tuple[str, int]:
        """Copy the file to the local path ``dst``; (hex digest, size) of the bytes copied, in the same read."""
        raise NotImplementedError

    def newest_mtime(self, rel: str = "") -> float | None:
        """The latest modification time (seconds since the epoch) of the entry or anything below it;
        None when there is nothing. Links are never followed: a link counts as itself."""
        raise NotImplementedError

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a small file whole (overwrites)."""
        raise NotImplementedError

    def remove(self, rel: str) -> None:
        """Delete a file, a link (never what it points to) or a folder with everything below it."""
        raise NotImplementedError


class LocalLocation(Location):
    """A local directory."""

    def __init__(self, path: str | Path):
        self.dir = self.local = Path(path)
        self.url = str(self.dir)

    def _path(self, rel: str) -> Path:
        return self.dir / rel if rel else self.dir

    def __truediv__(self, rel: str) -> LocalLocation:
        return LocalLocation(self._path(rel))

    def __reduce__(self) -> tuple[Any, ...]:
        return LocalLocation, (self.dir,)

    def is_file(self, rel: str = "") -> bool:
        return self._path(rel).is_file()

    def is_dir(self, rel: str = "") -> bool:
        return self._path(rel).is_dir()

    def size(self, rel: str = "") -> int | None:
        path = self._path(rel)
        return path.stat().st_size if path.is_file() else None

    def children(self, rel: str = "") -> list[tuple[str, bool]]:
        path = self._path(rel)
        return sorted((p.name, p.is_dir()) for p in path.iterdir()) if path.is_dir() else []

    def files(self, rel: str = "") -> list[str]:
        base = self._path(rel)
        return sorted(p.relative_to(self.dir).as_posix() for p in base.rglob("*") if p.is_file())

    def read_bytes(self, rel: str = "") -> bytes:
        return self._path(rel).read_bytes()

    def buffer(self, rel: str = "") -> Any:
        import pyarrow as pa

        return pa.memory_map(str(self._path(rel))).read_buffer()

    def sha256(self, rel: str = "") -> tuple[str, int]:
        return sha256_file(self._path(rel))

    def download(self, rel: str, dst: str | Path) -> tuple[str, int]:
        with open(self._path(rel), "rb", buffering=0) as src, open(dst, "wb") as out:
            return sha256_stream(src, copy_to=out)

    def newest_mtime(self, rel: str = "") -> float | None:
        path = self._path(rel)
        try:
            top = path.lstat()
        except FileNotFoundError:
            return None
        newest = top.st_mtime
        if stat.S_ISDIR(top.st_mode):
            for parent, dirs, files in os.walk(path):  # os.walk follows no links by default
                for entry in dirs + files:
                    try:
                        newest = max(newest, os.lstat(os.path.join(parent, entry)).st_mtime)
                    except FileNotFoundError:  # removed while walking
                        pass
        return newest

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._path(rel).write_bytes(data)

    def remove(self, rel: str) -> None:
        path = self._path(rel)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


class RemoteLocation(Location):
    """A prefix of an ``s3://`` or ``gs://`` bucket, read through ``pyarrow.fs``."""

    def __init__(self, url: str, s3: S3Config | None = None, gcs_project: str | None = None):
        parsed = urlparse(url)
        if parsed.scheme not in REMOTE_SCHEMES or not parsed.netloc:
            raise ValueError(f"not an object-store URL: {url!r} (expected s3://BUCKET/PREFIX or gs://BUCKET/PREFIX)")
        self.url = url.rstrip("/")
        self.scheme = parsed.scheme
        self.path = f"{parsed.netloc}{parsed.path}".rstrip("/")  # pyarrow.fs paths: BUCKET/KEY
        self.s3 = s3 or S3Config()
        self.gcs_project = gcs_project
        self._fs: Any = None

    def __reduce__(self) -> tuple[Any, ...]:  # the settings travel, the connection is made again
        return RemoteLocation, (self.url, self.s3, self.gcs_project)

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from pyarrow import fs as pafs

            self._fs = (self.s3.filesystem() if self.scheme == "s3"
                        else pafs.GcsFileSystem(**({"project_id": self.gcs_project} if self.gcs_project else {})))
        return self._fs

    def _sub(self, rel: str) -> tuple[str, str]:
        rel = rel.strip("/")
        return (f"{self.url}/{rel}", f"{self.path}/{rel}") if rel else (self.url, self.path)

    def __truediv__(self, rel: str) -> RemoteLocation:
        child = RemoteLocation(self._sub(rel)[0], self.s3, self.gcs_project)
        child._fs = self._fs
        return child

    def _info(self, rel: str) -> Any:
        return self.fs.get_file_info(self._sub(rel)[1])

    def is_dir(self, rel: str = "") -> bool:
        from pyarrow import fs as pafs

        return self._info(rel).type == pafs.FileType.Directory

    def size(self, rel: str = "") -> int | None:
        from pyarrow import fs as pafs

        info = self._info(rel)
        return info.size if info.type == pafs.FileType.File else None

    def children(self, rel: str = "") -> list[tuple[str, bool]]:
        from pyarrow import fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self._sub(rel)[1], allow_not_found=True))
        return sorted((i.base_name, i.type == pafs.FileType.Directory) for i in infos)

    def files(self, rel: str = "") -> list[str]:
        from pyarrow import fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self._sub(rel)[1], allow_not_found=True, recursive=True))
        return sorted(i.path[len(self.path) + 1:] for i in infos if i.type == pafs.FileType.File)

    def read_bytes(self, rel: str = "") -> bytes:
        with self.fs.open_input_stream(self._sub(rel)[1]) as f:
            return f.read()

    def buffer(self, rel: str = "") -> Any:
        with self.fs.open_input_file(self._sub(rel)[1]) as f:
            return f.read_buffer()

    def sha256(self, rel: str = "") -> tuple[str, int]:
        with self.fs.open_input_stream(self._sub(rel)[1]) as f:
            return sha256_stream(f)

    def download(self, rel: str, dst: str | Path) -> tuple[str, int]:
        with self.fs.open_input_stream(self._sub(rel)[1]) as src, open(dst, "wb") as out:
            return sha256_stream(src, copy_to=out)

    def newest_mtime(self, rel: str = "") -> float | None:
        from pyarrow import fs as pafs

        path = self._sub(rel)[1]
        infos = [self.fs.get_file_info(path)]
        if infos[0].type == pafs.FileType.Directory:
            infos += self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
        stamps = [i.mtime.timestamp() for i in infos if i.type == pafs.FileType.File and i.mtime is not None]
        return max(stamps, default=None)

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.fs.open_output_stream(self._sub(rel)[1]) as f:
            f.write(data)

    def remove(self, rel: str) -> None:
        from pyarrow import fs as pafs

        path = self._sub(rel)[1]
        kind = self.fs.get_file_info(path).type
        if self.scheme == "s3":  # boto3: pyarrow would leave a marker object for the emptied parent
            keys = [path] if kind == pafs.FileType.File else [f"{self.path}/{f}" for f in self.files(rel)]
            client, bucket = self.s3.client(), path.split("/", 1)[0]
            for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                client.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k.split("/", 1)[1]} for k in keys[start:start + 1000]], "Quiet": True})
        elif kind == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif kind == pafs.FileType.File:
            self.fs.delete_file(path)


def is_remote_url(url: str | Path) -> bool:
    return urlparse(str(url)).scheme in REMOTE_SCHEMES


def location(where: str | Path | Location, s3: S3Config | None = None, gcs_project: str | None = None) -> Location:
    """The location of a local path, a ``file://`` URL, or an ``s3://``/``gs://`` URL (a Location as is)."""
    if isinstance(where, Location):
        return where
    text = str(where)
    if is_remote_url(text):
        return RemoteLocation(text, s3, gcs_project)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URLs name this machine's files: {text!r} has host {parsed.netloc!r}")
        return LocalLocation(unquote(parsed.path))
    if "://" in text:
        raise ValueError(f"unsupported lake URL {text!r}: use a local path, file://, s3:// or gs://")
    return LocalLocation(where)
