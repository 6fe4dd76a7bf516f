"""The code reader: source files from directory trees, archives and records, one document per file.

A code source (``kind: code`` in ``sources.yaml``, or ``--code-input``) names containers:
- a directory (a git checkout included: ``.git``, ``.hg`` and ``.svn`` are version-control
  metadata, not files of the source, and are not read);
- an archive: ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip`` (any of them in
  an object store too);
- a single source file;
- records: JSONL or Parquet with ``path`` and ``content`` (``text_field``), and optionally
  ``repo`` and ``license``: what a code corpus already extracted (The Stack's layout) looks like.

Each regular file becomes a document whose ``lang`` is its programming language
(``transforms.code.languages``) and whose ``meta`` holds ``repo``, ``path``, ``license`` (with
``license_from``: ``spdx`` header, ``file`` LICENSE/COPYING, or ``source``) and ``lang_rule``; its
``id`` is ``repo/path``. A file that is not taken is a quarantine row with its reason, so the
manifest counts it: ``binary_file`` (a NUL byte in its first 8 KB, git's test), ``symlink``,
``vendored_path`` (``node_modules/``, ``vendor/``, ``third_party/``...), ``minified_file`` and
``generated_file`` (by name: ``*.min.js``, ``*_pb2.py``, ``*.pb.go``...), ``file_too_large``
(``MAX_CODE_FILE_BYTES``), ``undetected_encoding``, ``not_code`` (no language of the table: READMEs,
data, licence texts), ``license_not_allowed:<licence>`` (outside the source's ``licenses:`` list).
Content-based judgements (minified by line length, auto-generated headers, data files, encoded
blobs) are the code filters' (``transforms.filters.code``), with scores.

Licences: the files named LICENSE/LICENCE/COPYING (any suffix) of a directory apply to everything
under it, the nearest such directory winning; a file's own SPDX line wins over them; the source's
declared ``license`` is the fallback. A repository is the nearest directory holding ``.git``, else
an archive's single top-level directory, else the container itself; ``path`` is relative to it.

Memory: a container's files are read one at a time (a tar stream twice: once for its licence files,
once for the code), never more than ``MAX_CODE_FILE_BYTES`` of one file.
"""
from __future__ import annotations

import glob
import io
import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from catalog.contract import STAGE_QUARANTINE
from transforms.code.languages import detect
from transforms.code.licenses import (
    LICENSE_FILE_BYTES,
    allowed,
    combine,
    is_license_file,
    license_of_text,
    spdx_identifier,
)
from transforms.document import Document, Item, new_document, with_changes
from transforms.read.decode import decode_bytes
from transforms.read.files import read_input_file
from transforms.read.limits import ReadLimits
from transforms.read.sources import InputFile, Source, SourceError, _pattern_base, make_uid, split_suffixes
from transforms.removed import removed_row

# The Stack (v1) left out files over 1 MB: larger ones are almost never hand-written source.
MAX_CODE_FILE_BYTES = 1 << 20
BINARY_SNIFF_BYTES = 8000  # git's buffer_is_binary: a NUL in the first 8,000 bytes
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
# Path rules after GitHub Linguist's vendor.yml and generated.rb (the commonest entries).
VENDORED = re.compile(r"(?:^|/)(?:node_modules|bower_components|vendor|vendors|third[-_]?party|external"
                      r"|\.yarn|jspm_packages|Pods|Carthage)/", re.IGNORECASE)
MINIFIED = re.compile(r"[.-]min\.(?:js|mjs|css)$|\.bundle\.js$", re.IGNORECASE)
GENERATED = re.compile(r"(?:_pb2(?:_grpc)?\.py|\.pb\.(?:go|cc|h)|\.pb\.gw\.go|_generated\.go|\.g\.cs|\.designer\.cs"
                       r"|\.generated\.\w+|-lock\.json|\.lock)$", re.IGNORECASE)


@dataclass(frozen=True)
class Member:
    """One entry of a container: its path inside it, kind ("file", "symlink", "other"), size, bytes."""
    path: str
    kind: str
    size: int
    read: Callable[[int], bytes]  # at most n bytes of the file


def container_kind(path: str) -> str:
    """"dir", "tar", "zip", "records" (JSONL/Parquet, read by ``transforms.read.files``) or "file" (one
    source file)."""
    lower = path.lower().rstrip("/")
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if "://" not in path and os.path.isdir(path):
        return "dir"
    return "records" if split_suffixes(path)[0] in ("jsonl", "parquet") else "file"


def _tree_size(root: str) -> tuple[int, float]:
    """Bytes and newest mtime of a directory's regular files (VCS metadata left out)."""
    size, mtime = 0, os.stat(root).st_mtime
    for top, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in VCS_DIRS]
        for name in names:
            st = os.lstat(os.path.join(top, name))
            if stat.S_ISREG(st.st_mode):
                size, mtime = size + st.st_size, max(mtime, st.st_mtime)
    return size, mtime


def match_code_inputs(src: Source) -> list[InputFile]:
    """A code source's containers: each pattern's directories, archives and record files, sorted.
    Local patterns are globbed (directories included); object-store patterns match objects."""
    from apache_beam.io.filesystems import FileSystems

    files: list[InputFile] = []
    for pattern in src.paths:
        base = _pattern_base(pattern)
        if "://" in pattern:
            metas = [m for m in FileSystems.match([pattern])[0].metadata_list if not m.path.endswith("/")]
            found = [(m.path, int(m.size_in_bytes), float(m.last_updated_in_seconds or 0.0)) for m in metas]
        else:
            found = []
            for path in sorted(glob.glob(pattern.rstrip("/") or "/")):
                mode = os.stat(path).st_mode
                if stat.S_ISDIR(mode):
                    found.append((path, *_tree_size(path)))
                elif stat.S_ISREG(mode):
                    found.append((path, os.path.getsize(path), os.path.getmtime(path)))
                else:
                    raise SourceError(f"source {src.name!r}: {path!r} is neither a directory nor a regular file")
        if not found:
            raise SourceError(f"source {src.name!r}: pattern {pattern!r} matches no directory or file")
        for path, size, mtime in found:
            rel = path[len(base):].lstrip("/") if base and path.startswith(base) else PurePosixPath(path).name
            files.append(InputFile(src, path, rel or PurePosixPath(path).name, size, mtime))
    return files


def _dir_members(root: str) -> Iterator[Member]:
    for top, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in VCS_DIRS)
        for name in sorted(names):
            full = os.path.join(top, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            st = os.lstat(full)
            kind = "symlink" if stat.S_ISLNK(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"

            def read(n: int, full: str = full) -> bytes:
                with open(full, "rb") as f:
                    return f.read(n)

            yield Member(rel, kind, st.st_size, read)


def _open(path: str) -> BinaryIO:
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    if "://" not in path:
        return open(path, "rb")
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _prefix_of(data: bytes) -> Callable[[int], bytes]:
    return lambda n: data[:n]


def _tar_members(path: str) -> Iterator[Member]:
    with _open(path) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for info in tar:
            kind = "file" if info.isfile() else "symlink" if info.issym() or info.islnk() else \
                "dir" if info.isdir() else "other"
            if kind == "dir":
                continue
            extracted = tar.extractfile(info) if kind == "file" else None
            data = extracted.read(MAX_CODE_FILE_BYTES + 1) if extracted else b""  # a stream: now or never
            yield Member(info.name.removeprefix("./"), kind, info.size, _prefix_of(data))


def _zip_members(path: str) -> Iterator[Member]:
    with _open(path) as raw:
        source = raw if "://" not in path else io.BytesIO(raw.read())
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                kind = "symlink" if stat.S_ISLNK(mode) else "file"

                def read(n: int, info: zipfile.ZipInfo = info) -> bytes:
                    with archive.open(info) as f:
                        return f.read(n)

                yield Member(info.filename, kind, info.file_size, read)


def _file_member(path: str, size: int) -> Iterator[Member]:
    def read(n: int) -> bytes:
        with _open(path) as f:
            return f.read(n)

    yield Member(PurePosixPath(path).name, "file", size, read)


def _entries(f: InputFile) -> Iterator[Member]:
    """Every entry of the container, version-control metadata included."""
    kind = container_kind(f.path)
    if kind == "file":
        return _file_member(f.path, f.size)
    return _dir_members(f.path) if kind == "dir" else _tar_members(f.path) if kind == "tar" else _zip_members(f.path)


def _in_vcs_dir(path: str) -> bool:
    return not VCS_DIRS.isdisjoint(PurePosixPath(path).parts)


def members(f: InputFile) -> Iterator[Member]:
    """The container's entries, version-control metadata left out."""
    return (m for m in _entries(f) if not _in_vcs_dir(m.path))


@dataclass
class Layout:
    """What the first pass over a container learns: repository roots and licences by directory."""
    container: str
    repos: set[str]  # directories holding .git ("" : the container itself)
    top: str | None  # the single top-level directory of an archive, if there is one
    licenses: dict[str, str]  # directory -> licence expression of its LICENSE/COPYING files

    def repo_of(self, path: str) -> tuple[str, str]:
        """(repository name, path inside it) of a member path."""
        for parent in PurePosixPath(path).parents:
            d = "" if str(parent) == "." else str(parent)
            if d in self.repos:
                return (PurePosixPath(d).name or self.container), path[len(d):].lstrip("/")
        if self.top:
            return self.top, path[len(self.top):].lstrip("/")
        return self.container, path

    def license_of(self, path: str) -> str | None:
        for parent in PurePosixPath(path).parents:
            d = "" if str(parent) == "." else str(parent)
            if d in self.licenses:
                return self.licenses[d]
        return None


def container_name(path: str) -> str:
    """A directory's or archive's name without its archive suffixes (``cpython-3.11.tar.gz`` -> ``cpython-3.11``)."""
    name = PurePosixPath(path.rstrip("/")).name
    lower = name.lower()
    for suffix in sorted(TAR_SUFFIXES + ZIP_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _parent(path: str) -> str:
    """A member's directory inside the container; "" for the top."""
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def scan_layout(f: InputFile) -> Layout:
    """First pass: repository roots (``.git``), the top-level directory, licence files' licences."""
    repos: set[str] = set()
    tops: set[str] = set()
    found: dict[str, list[str]] = {}
    is_dir = container_kind(f.path) == "dir"
    if is_dir:  # the walk never enters .git, so look for it by name
        repos = {_parent(os.path.relpath(os.path.join(top, ".git"), f.path).replace(os.sep, "/"))
                 for top, dirs, names in os.walk(f.path) if ".git" in dirs or ".git" in names}
    flat = False
    for m in _entries(f):
        parts = PurePosixPath(m.path).parts
        if not parts:
            continue
        if _in_vcs_dir(m.path):
            first_vcs = next(i for i, part in enumerate(parts) if part in VCS_DIRS)
            repos.add("/".join(parts[:first_vcs]))
            continue
        tops.add(parts[0])
        flat |= len(parts) == 1
        if m.kind == "file" and is_license_file(m.path) and m.size <= LICENSE_FILE_BYTES:
            text = m.read(LICENSE_FILE_BYTES).decode("utf-8", "replace")
            found.setdefault(_parent(m.path), []).append(license_of_text(text))
    top = tops.pop() if len(tops) == 1 and not flat and not is_dir else None
    licenses = {d: combined for d, lics in sorted(found.items()) if (combined := combine(lics))}
    single = container_kind(f.path) == "file"  # one source file: its repository is its directory
    name = PurePosixPath(f.path.rstrip("/")).parent.name if single else container_name(f.path)
    return Layout(name or container_name(f.path), repos, top, licenses)


def skip_reason(path: str, m: Member) -> tuple[str, dict] | None:
    """Why a member is not read at all (by its kind, size and path), or None."""
    if m.kind == "symlink":
        return "symlink", {}
    if m.kind != "file":
        return "not_a_regular_file", {}
    if m.size > MAX_CODE_FILE_BYTES:
        return "file_too_large", {"bytes": m.size, "max_code_file_bytes": MAX_CODE_FILE_BYTES}
    if VENDORED.search(path):
        return "vendored_path", {}
    if MINIFIED.search(path):
        return "minified_file", {}
    if GENERATED.search(path):
        return "generated_file", {}
    return None


def _decode(data: bytes) -> tuple[str, dict | None] | None:
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError:
        decoded = decode_bytes(data)
        return (decoded.text, {"encoding": decoded.encoding, "method": decoded.method}) if decoded else None


def code_document(doc: Document, path: str, repo: str, license_fallback: tuple[str, str],
                  allow: frozenset[str] | None) -> Item:
    """A document of a source file labelled with its language and licence, or its quarantine row."""
    found = detect(path, doc["text"])
    spdx = spdx_identifier(doc["text"])
    license, license_from = (spdx, "spdx") if spdx else license_fallback
    meta = {"repo": repo, "path": path, "license": license, "license_from": license_from}
    if found is None:
        return "removed", removed_row(doc["id"], doc["source"], STAGE_QUARANTINE, "not_code", {"path": path},
                                      uid=doc["uid"])
    lang = f"code-{found[0]}"
    if allow is not None and not allowed(license, allow):
        return "removed", removed_row(doc["id"], doc["source"], STAGE_QUARANTINE, f"license_not_allowed:{license}",
                                      {"path": path, "license": license, "license_from": license_from,
                                       "allowed": sorted(allow)}, uid=doc["uid"], lang=lang)
    return "doc", with_changes(doc, lang=lang, lang_score=1.0, meta={**meta, "lang_rule": found[1]})


def _read_container(f: InputFile) -> Iterator[Item]:
    src, layout = f.source, scan_layout(f)
    allow = frozenset(src.licenses) if src.licenses is not None else None
    for m in members(f):
        repo, path = layout.repo_of(m.path)
        doc_id, uid = f"{repo}/{path}", make_uid(src.name, f.relpath, m.path)
        skip = skip_reason(path, m)
        data = m.read(MAX_CODE_FILE_BYTES + 1) if skip is None else b""
        if skip is None and b"\0" in data[:BINARY_SNIFF_BYTES]:
            skip = "binary_file", {"bytes": m.size}
        decoded = _decode(data) if skip is None else None
        if skip is None and decoded is None:
            skip = "undetected_encoding", {"bytes": m.size}
        if skip is not None or decoded is None:
            reason, details = skip or ("undetected_encoding", {})
            yield "removed", removed_row(doc_id, src.name, STAGE_QUARANTINE, reason,
                                         {"file": f.relpath, "path": m.path, **details}, uid=uid)
            continue
        text, decode_meta = decoded
        repo_license = layout.license_of(m.path)
        fallback = (repo_license, "file") if repo_license else (src.license, "source")
        doc = new_document(doc_id, uid, text, src.name, {"decode": decode_meta} if decode_meta else {})
        yield code_document(doc, path, repo, fallback, allow)


def _read_records(f: InputFile, limits: ReadLimits) -> Iterator[Item]:
    """JSONL/Parquet records with ``path`` and the text field, read by the prose reader, then labelled."""
    src = f.source
    allow = frozenset(src.licenses) if src.licenses is not None else None
    plain = replace(f, source=replace(src, kind="text"))
    for tag, item in read_input_file(plain, replace(limits, max_doc_chars=0)):
        if tag != "doc":
            yield tag, item
            continue
        meta = dict(item["meta"])
        path, repo, license = meta.pop("path", None), meta.pop("repo", None), meta.pop("license", None)
        if not isinstance(path, str) or not path:
            yield "removed", removed_row(item["id"], src.name, STAGE_QUARANTINE, "missing_path",
                                         {"file": f.relpath, "field": "path"}, uid=item["uid"])
            continue
        repo = repo if isinstance(repo, str) and repo else container_name(f.relpath)
        fallback = (license, "record") if isinstance(license, str) and license else (src.license, "source")
        doc = with_changes(item)
        doc["meta"] = meta
        if doc["id"].startswith(f"{src.name}:"):  # no id field: name it like a file of a tree
            doc["id"] = f"{repo}/{path}"
        yield code_document(doc, path, repo, fallback, allow)


def read_code_input(f: InputFile, limits: ReadLimits = ReadLimits()) -> Iterator[Item]:
    """Every file of one container as a code document or a quarantine row; never raises on bad data.

    There is no per-container error budget: skipped files are policy (not code, vendored), not errors."""
    kind = container_kind(f.path)
    if kind == "records":
        yield from _read_records(f, limits)
        return
    try:
        yield from _read_container(f)
    except Exception as e:  # a truncated or corrupt archive: what was read is kept, one row says where it stopped
        yield "removed", removed_row(f"{f.source.name}:{f.relpath}", f.source.name, STAGE_QUARANTINE,
                                     "corrupt_file", {"file": f.relpath, "error": f"{type(e).__name__}: {e}"},
                                     uid=make_uid(f.source.name, f.relpath, "corrupt"))



def describe_code_reader() -> dict[str, Any]:
    """The code reader's rules, as the manifest records them under ``stages.read.code``."""
    from transforms.code.languages import LANGUAGES

    return {"max_code_file_bytes": MAX_CODE_FILE_BYTES, "binary_sniff_bytes": BINARY_SNIFF_BYTES,
            "vcs_dirs": sorted(VCS_DIRS), "vendored": VENDORED.pattern, "minified": MINIFIED.pattern,
            "generated": GENERATED.pattern, "languages": [lang.name for lang in LANGUAGES]}
