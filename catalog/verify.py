"""Recompute every file a version holds (sha256, bytes, Arrow row count) to prove it intact.

What is checked: every file the manifest lists (``catalog.manifest.file_entries``: shards, the
removed table, the dedup bands and clusters, the audit sample) against the manifest, and every
artifact (tokenizers, token indexes) against its own ``artifact.json``. Readers use the same
checks on the files they open (``open_verified_table``, ``require_intact``) and refuse a damaged
one with :class:`IntegrityError` naming it.

sha256 is the cost, so files are read in large blocks into one reused buffer, and several files
are hashed at once on threads (hashlib releases the GIL while hashing).

A version's folder may be local or on an object store: every function here takes a path or a
:class:`catalog.lakefs.Location` (``Lake.version_dir``), so ``catalog verify`` and the readers
check an ``s3://`` lake with the same code.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.artifact_records import ARTIFACTS, artifact_problem
from catalog.errors import CatalogError
from catalog.hashing import BLOCK, sha256_file
from catalog.lakefs import Location, location
from catalog.manifest import UnsafePath, check_relpath, file_entries, legacy_unlisted
from catalog.names import MANIFEST

__all__ = ["BLOCK", "FileCheck", "IntegrityError", "sha256_file", "verify_version", "require_intact",
           "open_verified_table", "describe_unlisted"]
HASH_SLICE = 64 << 20  # a memory-mapped file is hashed in slices so the GIL is released between them


class IntegrityError(CatalogError):
    """A file a reader was about to use does not match its manifest entry."""


@dataclass(frozen=True)
class FileCheck:
    path: str
    bytes: int
    problem: str | None


def arrow_rows(path: str | Path | Location, rel: str = "") -> int:
    """Rows in an Arrow IPC file, from its record batches (memory-mapped locally: no data is copied)."""
    return arrow_rows_of(location(path).buffer(rel))


def _hash_buffer(buf: Any) -> str:
    """sha256 of an Arrow buffer, in slices so the GIL is released between them."""
    digest = hashlib.sha256()
    view = memoryview(buf)
    for start in range(0, len(view), HASH_SLICE):
        digest.update(view[start:start + HASH_SLICE])
    return digest.hexdigest()


def entry_problem(where: Location, rel: str, entry: dict[str, Any], kind: str | None = None) -> tuple[int, str | None]:
    """(size, what is wrong or None) for the file ``rel`` of ``where`` against its manifest entry and,
    given its ``kind`` (``catalog.manifest.file_entries``), the Arrow schema the contract promises for it.

    A local file is hashed from disk and then memory-mapped for its rows; a remote one is read once
    into memory for both, so checking an object-store lake transfers each file once.
    """
    size = where.size(rel)
    if size is None:
        return 0, "missing"
    if size != entry["bytes"]:
        return size, f"size {size:,} B, manifest says {entry['bytes']:,} B"
    if where.local is not None:
        digest, size = where.sha256(rel)
        buf = None
    else:
        buf = where.buffer(rel)
        digest, size = _hash_buffer(buf), len(buf)
    if digest != entry["sha256"]:
        return size, f"sha256 {digest[:16]}..., manifest says {entry['sha256'][:16]}..."
    try:
        buf = where.buffer(rel) if buf is None else buf
        rows, schema = arrow_rows_of(buf), ipc_schema(buf)
    except Exception as e:  # a file with the right checksum that Arrow cannot read is still bad
        return size, f"unreadable Arrow file: {e}"
    if rows != entry["rows"]:
        return size, f"{rows:,} rows, manifest says {entry['rows']:,}"
    return size, schema_problem(schema, kind)


def ipc_schema(buf: Any) -> Any:
    import pyarrow.ipc as ipc

    return ipc.open_file(buf).schema


def schema_problem(schema: Any, kind: str | None) -> str | None:
    """How an Arrow file's schema differs from the contract's for its kind (None: it matches, or no kind)."""
    from catalog.contract import SCHEMA_OF_KIND

    expected = SCHEMA_OF_KIND.get(kind or "")
    if expected is None or schema.equals(expected, check_metadata=False):
        return None
    got = ", ".join(f"{f.name}: {f.type}" for f in schema)
    want = ", ".join(f"{f.name}: {f.type}" for f in expected)
    return f"Arrow schema ({got}) is not the contract's for a {kind} file ({want})"


def arrow_rows_of(buf: Any) -> int:
    """Rows in an Arrow IPC file held in a buffer."""
    import pyarrow.ipc as ipc

    reader = ipc.open_file(buf)
    return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


def check_file(root: str | Path | Location, entry: dict[str, Any], kind: str | None = None) -> FileCheck:
    try:
        rel = check_relpath(entry["path"])
    except UnsafePath as e:
        return FileCheck(str(entry["path"]), 0, str(e))
    size, problem = entry_problem(location(root), rel, entry, kind)
    return FileCheck(entry["path"], size, problem)


def _artifact_checks(root: Location) -> list[FileCheck]:
    """Every artifact folder, checked by its own record (``.tmp-*`` folders are attachments in progress)."""
    checks = []
    for folder, is_dir in root.children(ARTIFACTS):
        if not is_dir or folder.startswith("."):
            continue
        name, problem = artifact_problem(root / f"{ARTIFACTS}/{folder}")
        checks.append(FileCheck(f"{ARTIFACTS}/{folder}/{name}", root.size(f"{ARTIFACTS}/{folder}/{name}") or 0,
                                problem))
    return checks


def verify_version(
    root: str | Path | Location, manifest: dict[str, Any], threads: int | None = None
) -> list[FileCheck]:
    """Check every file the manifest lists, then every artifact by its record; results in that order."""
    root = location(root)
    entries = file_entries(manifest)
    workers = threads or min(len(entries), os.cpu_count() or 1, 8) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        checks = list(pool.map(lambda ke: check_file(root, ke[1], ke[0]), entries))
    return checks + _artifact_checks(root)


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What a schema-valid manifest says that cannot be true of its own files: an entry listed twice,
    counts that disagree with the shards, the count identity broken."""
    paths = [e["path"] for _, e in file_entries(manifest)]
    problems = [f"{p} is listed {paths.count(p)} times" for p in sorted({p for p in paths if paths.count(p) > 1})]
    counts, shards = manifest["counts"], manifest["shards"]
    kept = sum(s["rows"] for s in shards)
    if counts["kept"] != kept:
        problems.append(f"counts.kept is {counts['kept']:,}, its shards hold {kept:,} rows")
    removed = (sum(counts["filtered"].values()) + counts["duplicates"]["exact"] + counts["duplicates"]["near"]
               + counts["quarantined"])
    if counts["input"] != counts["kept"] + removed:
        problems.append(f"counts.input is {counts['input']:,}, but kept + removed is {counts['kept'] + removed:,}")
    in_removed_table = sum(e["rows"] for e in manifest["removed_table"])
    if in_removed_table != removed:
        problems.append(f"the removed table holds {in_removed_table:,} rows, the counts say {removed:,} were removed")
    for lang, info in manifest["languages"].items():
        mine = [s for s in shards if s["lang"] == lang]
        if (info["docs"], info["shards"]) != (sum(s["rows"] for s in mine), len(mine)):
            problems.append(f"languages.{lang} says {info['docs']:,} docs in {info['shards']} shard(s), its shards "
                            f"hold {sum(s['rows'] for s in mine):,} in {len(mine)}")
    return problems


def unlisted_files(root: str | Path | Location, manifest: dict[str, Any]) -> list[str]:
    """Files in the version folder that neither the manifest nor an artifact record covers (not checked)."""
    listed = {e["path"] for _, e in file_entries(manifest)} | {MANIFEST}
    return [rel for rel in location(root).files() if rel not in listed and not rel.startswith(f"{ARTIFACTS}/")]


def describe_unlisted(root: str | Path | Location, manifest: dict[str, Any]) -> list[str]:
    """One line per file that ``verify_version`` could not check, saying why."""
    legacy = set(legacy_unlisted(manifest))
    return [
        f"{rel}: not checked, the manifest predates checksums for it (older manifest format)"
        if rel in legacy
        else f"{rel}: not checked, the manifest does not list it (a stray file; gc removes it after the grace period)"
        for rel in unlisted_files(root, manifest)
    ]


KNOWN_GOOD_LIMIT = 65536
_known_good: dict[tuple[str, str], tuple[int, ...]] = {}  # (local path, sha256) -> identity when found intact


def _identity(path: Path) -> tuple[int, ...]:
    """What changes whenever a file's bytes may have: device, inode, size, mtime and ctime (in ns;
    ctime cannot be set back from user space, so a rewrite that restores the mtime still shows)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def open_verified_table(root: str | Path | Location, entry: dict[str, Any], spec: str, *, verify: bool = True,
                        override: bool = True, remember: bool = False, kind: str | None = None):
    """The Arrow table of a manifest entry, memory-mapped, after checking it in the same pass.

    The mapped bytes are hashed and then handed to Arrow, so the check reads the file once (the
    pages it warms are the ones Arrow then uses). ``verify=False`` is the user's override;
    ``override`` says whether the error should mention it (``--no-verify``). With ``remember`` (a
    long-lived reader: ``catalog serve``) a local file found intact is not hashed again while its
    identity (:func:`_identity`) is unchanged; its size and rows are still checked. Given its ``kind``,
    the file's Arrow schema must be the contract's (:func:`schema_problem`).
    """
    import pyarrow.ipc as ipc

    where, rel = location(root), check_relpath(entry["path"])
    if not verify:
        return ipc.open_file(where.buffer(rel)).read_all()
    key = (str(where.local / rel), str(entry["sha256"])) if remember and where.local is not None else None
    if key is not None:
        try:
            seen = _identity(where.local / rel)  # type: ignore[operator]
        except OSError:
            seen = None
        if seen is not None and _known_good.get(key) == seen and seen[2] == entry["bytes"]:
            table = ipc.open_file(where.buffer(rel)).read_all()
            if table.num_rows == entry["rows"]:
                return table
        table = open_verified_table(root, entry, spec, override=override, kind=kind)
        if seen is not None:
            if len(_known_good) >= KNOWN_GOOD_LIMIT:
                _known_good.clear()
            _known_good[key] = seen  # the identity from before the hash: a change meanwhile shows next time
        return table
    size = where.size(rel)
    if size is None:
        raise damaged(spec, entry["path"], "missing", override)
    if size != entry["bytes"]:  # before mapping: an empty file cannot be mapped
        raise damaged(spec, entry["path"], f"size {size:,} B, manifest says {entry['bytes']:,} B", override)
    buf = where.buffer(rel)
    view = memoryview(buf)
    digest = _hash_buffer(buf)
    problem = None
    if len(view) != entry["bytes"]:
        problem = f"size {len(view):,} B, manifest says {entry['bytes']:,} B"
    elif digest != entry["sha256"]:
        problem = f"sha256 {digest[:16]}..., manifest says {entry['sha256'][:16]}..."
    if problem is None:
        try:
            table = ipc.open_file(buf).read_all()
        except Exception as e:
            problem = f"unreadable Arrow file: {e}"
        else:
            problem = (schema_problem(table.schema, kind) if table.num_rows == entry["rows"]
                       else f"{table.num_rows:,} rows, manifest says {entry['rows']:,}")
            if problem is None:
                return table
    raise damaged(spec, entry["path"], problem, override)


def damaged(spec: str, rel: str, problem: str, override: bool = True) -> IntegrityError:
    hint = "; --no-verify reads it anyway" if override else ""
    return IntegrityError(f"{spec} {rel} is damaged ({problem}): refusing to read it "
                          f"(python -m catalog verify {spec} checks every file){hint}")


def require_intact(root: str | Path | Location, entries: list[dict[str, Any]], spec: str, *, override: bool = True,
                   threads: int | None = None) -> None:
    """Check ``entries`` (in parallel); raise one :class:`IntegrityError` naming every bad file."""
    entries = list(entries)
    if not entries:
        return
    workers = threads or min(len(entries), os.cpu_count() or 1, 8)
    where = location(root)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        bad = [c for c in pool.map(lambda e: check_file(where, e), entries) if c.problem]
    if len(bad) == 1:
        raise damaged(spec, bad[0].path, bad[0].problem or "", override)
    if bad:
        listed = "; ".join(f"{c.path} ({c.problem})" for c in bad[:10])
        raise IntegrityError(f"{spec} has {len(bad)} damaged files: {listed}: refusing to read them "
                             f"(python -m catalog verify {spec} checks every file)"
                             + ("; --no-verify reads them anyway" if override else ""))
