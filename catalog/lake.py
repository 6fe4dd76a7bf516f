"""The lake's layout and the commit that makes a dataset version visible.

Layout (every path relative to the lake root)::

    NAME/v<N>/manifest.json                      written last; a version exists only once it does
    NAME/v<N>/data/lang=<code>/part-BBBBB-SSS.arrow   Arrow IPC file shards, Hive-partitioned
    NAME/v<N>/removed/part-BBBBB-SSS.arrow       one row per input document that was not kept
    NAME/_staging/<run-id>/...                   what a running job writes before it commits

Publishing claims a version number with ``mkdir`` (atomic, refuses an existing name), moves the
staged files in, then links the manifest into place with ``os.link``, which, unlike
``os.rename``, refuses to replace an existing manifest. A run killed at any point therefore leaves
either a complete version or nothing a reader can see.

Readers never trust what they find: a version directory counts only under its canonical name
(``v1``, not ``v01``, and at most 18 digits), and an unreadable manifest or tag raises
``ManifestError`` for that one version, so callers can show it as broken and carry on.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from catalog.errors import CatalogError, ManifestError
from catalog.lakefs import LocalLocation, Location, S3Config, is_remote_url, location
from catalog.manifest import require_present
from catalog.names import MANIFEST, VERSION_NUMBER, VersionRef, check_name, parse_spec
from catalog.names import NAME_PATTERN as _NAME

log = logging.getLogger(__name__)
STAGING = "_staging"
TAGS = "_tags"
PIN_LOCK = ".lock"  # NAME/_tags/.lock: see pin_lock
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)  # a write refused by the mount or permissions
_VERSION_DIR = re.compile(rf"v({VERSION_NUMBER})")  # always fullmatch: "$" matches before a "\n"


class Lake:
    """One lake wherever it lives (see :func:`open_lake`): the layout, written once over a
    :class:`catalog.lakefs.Location`, so a local directory and an ``s3://``/``gs://`` prefix are
    listed, resolved and read by the same code."""

    def __init__(self, root: Location, display: str | None = None):
        self.root = root
        self.display = display or str(root)

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"Lake({self.display!r})"

    @property
    def is_remote(self) -> bool:
        return self.root.local is None

    def new_staging(self, name: str, run_id: str | None = None) -> str:
        """A fresh, private location for one run's output (the lake's directory is made if missing);
        ``run_id`` names it (``catalog.lease.StagingLease`` leases that name first)."""
        local = self.root.local
        return new_staging(self.display, name, run_id) if local is None else str(new_staging_dir(local, name, run_id))

    def discard(self, *staged: str) -> None:
        """Delete staged directories or prefixes: a run's scratch files before its commit, or a failed
        run's whole staging (nobody will commit it). Best effort on an object store: gc collects the rest."""
        if not self.is_remote:
            for path in staged:
                shutil.rmtree(path, ignore_errors=True)
            return
        from apache_beam.io.filesystems import FileSystems

        try:  # a trailing "/" deletes the prefix as such: no glob reading of the lake's path
            FileSystems.delete([f"{path.rstrip('/')}/" for path in staged])
        except Exception as e:  # nothing staged yet, or the store is unreachable
            log.warning("could not remove staged %s: %s", ", ".join(staged), e)

    def commit(self, name: str, staging: str, manifest: dict[str, Any]) -> VersionRef:
        """Publish ``staging`` as the next version of ``name`` (see the module docstring; on an object
        store ``catalog.objectstore.commit_staged`` does the same with create-only writes, through the
        store this lake was opened with: same endpoint, credentials and project)."""
        local = self.root.local
        if local is None:
            from catalog.objectstore import commit_staged, store_for_lake

            return commit_staged(store_for_lake(self), self.display, name, staging, manifest, self.root)
        return commit_version(local, name, Path(staging), manifest)

    def list_datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(name for name, is_dir in self.root.children() if is_dir and _NAME.fullmatch(name)
                      and self.list_versions(name))

    def version_numbers(self, name: str) -> list[int]:
        """Every canonical ``v<N>`` folder of a dataset, published or not (sorted)."""
        return sorted(int(m.group(1)) for child, is_dir in self.root.children(name)
                      if is_dir and (m := _VERSION_DIR.fullmatch(child)))

    def list_versions(self, name: str) -> list[int]:
        """Published versions only: a directory without its manifest is invisible."""
        return [v for v in self.version_numbers(name) if self.root.is_file(f"{name}/v{v}/{MANIFEST}")]

    def version_path(self, name: str, version: int) -> Path | str:
        """What :attr:`VersionRef.path` holds: a local directory, or the version's URL."""
        if self.root.local is not None:
            return self.root.local / name / f"v{version}"
        return f"{self.root.url}/{name}/v{version}"

    def version_dir(self, ref: VersionRef) -> Location:
        """The version's folder, to read its files (with this lake's settings: endpoint, credentials)."""
        return self.root / f"{ref.dataset}/v{ref.version}"

    def resolve(self, spec: str) -> VersionRef:
        name, version = parse_spec(spec)
        versions = self.list_versions(name)
        if not versions:
            raise CatalogError(f"no published version of dataset {name!r} in lake {self}")
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise CatalogError(
                f"{name}@v{version} is not published (published: {', '.join(f'v{v}' for v in versions)})"
            )
        return VersionRef(name, version, self.version_path(name, version))

    def _read_json(self, rel: str, what: str) -> Any:
        try:
            return json.loads(self.root.read_bytes(rel).decode("utf-8"))
        except (OSError, ValueError) as e:  # ValueError: JSONDecodeError and UnicodeDecodeError
            raise ManifestError(f"{what} is unreadable: {type(e).__name__}: {e}") from None

    def load_manifest(self, spec: str) -> tuple[VersionRef, dict[str, Any]]:
        """A version and its manifest; ``ManifestError`` when the manifest is not a readable JSON object,
        breaks ``catalog/manifest.schema.json``, or names another dataset or version than its folder's."""
        from catalog.schema import schema_errors

        ref = self.resolve(spec)
        manifest = self._read_json(f"{ref.dataset}/v{ref.version}/{MANIFEST}", f"{ref.spec}: {MANIFEST}")
        if not isinstance(manifest, dict):
            raise ManifestError(f"{ref.spec}: {MANIFEST} is not a JSON object")
        errors = schema_errors(manifest)
        if errors:
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
            raise ManifestError(f"{ref.spec}: {MANIFEST} breaks catalog/manifest.schema.json: {errors[0]}{more}")
        if (manifest["dataset"], manifest["version"]) != (ref.dataset, ref.version):
            raise ManifestError(f"{ref.spec}: {MANIFEST} says it is {manifest['dataset']}@v{manifest['version']}: a "
                                f"manifest copied into another version's folder is not that version")
        return ref, manifest

    def list_tags(self, name: str) -> dict[str, int]:
        """Tag name -> version. Tagged versions are pinned: ``gc`` never collects them."""
        tags = {}
        for entry, _ in self.root.children(f"{check_name(name)}/{TAGS}"):
            if not entry.endswith(".json"):
                continue
            tag = entry[:-len(".json")]
            data = self._read_json(f"{name}/{TAGS}/{entry}", f"{name}: tag {tag!r}")
            version = data.get("version") if isinstance(data, dict) else None
            if isinstance(version, bool) or not isinstance(version, int):
                raise ManifestError(f"{name}: tag {tag!r} names no version number")
            tags[tag] = version
        return tags

    def add_tag(self, spec: str, tag: str) -> VersionRef:
        """Point ``tag`` at a published version; an existing tag is never moved (tags are for pinning).

        Create-only on both kinds of lake: ``os.link`` locally, a conditional write on an object store.
        """
        ref = self.resolve(spec)
        if not _NAME.fullmatch(tag or "") or re.fullmatch(r"v\d+", tag):
            raise CatalogError(f"invalid tag {tag!r}: use letters, digits, '.', '_' or '-', and not the form vN")
        payload = {"version": ref.version}
        try:
            if self.root.local is None:
                from catalog.objectstore import store_for_lake

                body = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                if not store_for_lake(self).put_if_absent(f"{ref.dataset}/{TAGS}/{tag}.json", body.encode("utf-8")):
                    raise FileExistsError(tag)
            else:
                with pin_lock(self.root.local / ref.dataset):
                    ref = self.resolve(spec)  # still published: gc may have retired it while this waited
                    write_json_atomic(self.root.local / ref.dataset / TAGS / f"{tag}.json", {"version": ref.version})
        except FileExistsError:
            raise CatalogError(
                f"tag {tag!r} already points at {ref.dataset}@v{self.list_tags(ref.dataset)[tag]}"
            ) from None
        except OSError as e:
            if e.errno not in READ_ONLY_ERRNOS:
                raise
            raise read_only(self.display, e) from None
        return ref


@contextmanager
def pin_lock(dataset_dir: Path) -> Iterator[None]:
    """Exclusive lock of a local dataset's pins: ``add_tag`` holds it to check and write a tag,
    ``gc`` to re-read the tags and retire a version, so neither acts on what the other just changed."""
    (dataset_dir / TAGS).mkdir(exist_ok=True)
    with open(dataset_dir / TAGS / PIN_LOCK, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def open_lake(lake: str | Path | Lake, *, endpoint_url: str | None = None, options: Any = None) -> Lake:
    """The lake at a local path, a ``file://`` URL, or an ``s3://``/``gs://`` URL (a :class:`Lake` as is).

    S3 settings come from ``options`` (Beam's ``--s3_*``: the pipeline's lake and Beam's own S3
    filesystem then see one bucket), else from ``endpoint_url``, else from the AWS environment
    (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...). GCS uses ``--project`` from ``options``.
    """
    if isinstance(lake, Lake):
        return lake
    s3, project = S3Config(endpoint_url=endpoint_url), None
    if options is not None and is_remote_url(lake):
        from apache_beam.options.pipeline_options import GoogleCloudOptions

        s3 = S3Config.from_options(options)
        project = options.view_as(GoogleCloudOptions).project
    try:
        root = location(lake, s3, project)
    except ValueError as e:
        raise CatalogError(str(e)) from None
    return Lake(root, str(lake).rstrip("/") if is_remote_url(lake) else str(lake))


def list_datasets(lake: str | Path | Lake) -> list[str]:
    return open_lake(lake).list_datasets()


def _version_dirs(lake: Path, name: str) -> dict[int, Path]:
    """Every canonical version directory of a local lake, published or not (for commits and gc)."""
    return {v: Path(lake) / name / f"v{v}" for v in open_lake(lake).version_numbers(name)}


def list_versions(lake: str | Path | Lake, name: str) -> list[int]:
    """Published versions only: a directory without its manifest is invisible."""
    return open_lake(lake).list_versions(name)


def resolve(lake: str | Path | Lake, spec: str) -> VersionRef:
    return open_lake(lake).resolve(spec)


def load_manifest(lake: str | Path | Lake, spec: str) -> tuple[VersionRef, dict[str, Any]]:
    """A version and its manifest; ``ManifestError`` when the manifest is not a readable JSON object."""
    return open_lake(lake).load_manifest(spec)


def new_staging_dir(lake: str | Path, name: str, run_id: str | None = None) -> Path:
    """A private directory for one run's output; invisible to readers until committed."""
    check_name(name)
    path = Path(lake) / name / STAGING / (run_id or uuid.uuid4().hex)
    try:
        path.mkdir(parents=True)
    except OSError as e:
        if e.errno not in READ_ONLY_ERRNOS:
            raise
        raise read_only(lake, e) from None
    return path


def is_url(lake: str | Path) -> bool:
    """A ``gs://``/``s3://`` lake lives on an object store that workers reach without the launcher's disk."""
    return "://" in str(lake)


def new_staging(lake: str | Path, name: str, run_id: str | None = None) -> str:
    """One run's staging location: a fresh local directory, or a fresh prefix on an object store
    (object stores have no directories, so nothing is created there until the run writes)."""
    if is_url(lake):
        return f"{str(lake).rstrip('/')}/{check_name(name)}/{STAGING}/{run_id or uuid.uuid4().hex}"
    return str(new_staging_dir(lake, name, run_id))


def read_only(lake: str | Path, error: OSError) -> CatalogError:
    """The one-line refusal of a write into a lake that cannot be written (read-only mount, no permission)."""
    return CatalogError(f"lake {lake} is read-only here ({error.strerror or error}): this command must write to it; "
                        f"reading commands (list, show, verify, sample, export, serve, training) still work")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _claim_version(lake: Path, name: str) -> tuple[int, Path]:
    """Create ``v<N>`` for the next free N; ``mkdir`` makes exactly one publisher win each N."""
    while True:
        taken = _version_dirs(lake, name)
        n = max(taken, default=0) + 1
        path = lake / name / f"v{n}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return n, path


def write_json_atomic(path: Path, payload: Any, *, replace: bool = False) -> None:
    """Write JSON through a temp file; with ``replace=False`` an existing file is never replaced."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def commit_version(lake: str | Path, name: str, staging: Path, manifest: dict[str, Any]) -> VersionRef:
    """Publish a staged run as the next version: files first, manifest last, never overwritten."""
    lake = Path(lake)
    version, vdir = _claim_version(lake, name)
    for entry in sorted(staging.iterdir()):
        os.rename(entry, vdir / entry.name)
    _fsync_dir(vdir)
    manifest = dict(manifest, dataset=name, version=version)
    require_present(LocalLocation(vdir), manifest, f"{name}@v{version}")  # last check: nothing listed is missing
    try:
        write_json_atomic(vdir / MANIFEST, manifest)
    except FileExistsError:
        raise CatalogError(f"{name}@v{version} already has a manifest: another publisher won this version") from None
    shutil.rmtree(staging, ignore_errors=True)
    return VersionRef(name, version, vdir)


def list_tags(lake: str | Path | Lake, name: str) -> dict[str, int]:
    """Tag name -> version. Tagged versions are pinned: ``gc`` never collects them."""
    return open_lake(lake).list_tags(name)


def add_tag(lake: str | Path | Lake, spec: str, tag: str) -> VersionRef:
    """Point ``tag`` at a published version; an existing tag is never moved (tags are for pinning)."""
    return open_lake(lake).add_tag(spec, tag)
