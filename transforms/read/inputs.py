"""Which files a run reads: every source's patterns matched with Beam's filesystems.

A text source's patterns name regular files; a code source's name directory trees, archives and
record files too (``transforms.read.code``). Whatever is not data (a directory given for a file, a
FIFO, a device, a kernel file system) or would give two files one id is refused here, before any work.
"""
from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import PurePosixPath

from transforms.read.code import match_code_inputs
from transforms.read.sources import InputFile, Source, SourceError, _pattern_base, file_kind, kernel_file_system


def _check_regular(src: Source, pattern: str, path: str) -> None:
    """A local match must be a regular file: a directory holds no text of its own, and a FIFO or
    device would block the reader forever or never end."""
    if "://" in path:
        return  # object stores hold objects only
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise SourceError(f"source {src.name!r}: {path!r} cannot be read: {e.strerror}") from None
    if stat.S_ISDIR(mode):
        raise SourceError(f"source {src.name!r}: pattern {pattern!r} is a directory; "
                          f"name its files, e.g. {pattern.rstrip('/') + '/*'!r}")
    if not stat.S_ISREG(mode):
        raise SourceError(f"source {src.name!r}: {path!r} is a {file_kind(mode)}, not a regular file")
    kernel = kernel_file_system(path)
    if kernel:
        raise SourceError(f"source {src.name!r}: {path!r} is in {kernel}, a kernel file system, not data")


def match_inputs(sources: list[Source]) -> list[InputFile]:
    """Expand every pattern with Beam's filesystems (local, gs://, ...); an empty match, or a match
    that is not a regular file, is an error."""
    from apache_beam.io.filesystems import FileSystems

    files: list[InputFile] = []
    for src in sources:
        if src.kind == "code":  # directories and archives too: transforms.read.code
            files += match_code_inputs(src)
            continue
        first = len(files)
        for pattern in src.paths:
            result = FileSystems.match([pattern])[0]
            metas = [m for m in result.metadata_list if not m.path.endswith("/")]
            if not metas:
                raise SourceError(f"source {src.name!r}: pattern {pattern!r} matches no file")
            for m in metas:
                _check_regular(src, pattern, m.path)
            base = _pattern_base(pattern)
            for m in sorted(metas, key=lambda m: m.path):
                rel = m.path[len(base):].lstrip("/") if base and m.path.startswith(base) else PurePosixPath(m.path).name
                rel = _printable_name(rel)
                files.append(InputFile(src, m.path, rel, int(m.size_in_bytes), float(m.last_updated_in_seconds or 0.0)))
        files[first:] = _distinct_relpaths(src, files[first:])
    return files


def _printable_name(rel: str) -> str:
    """A file name with undecodable bytes replaced (as a relpath goes into ids and manifests)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _distinct_relpaths(src: Source, files: list[InputFile]) -> list[InputFile]:
    """A source's files with relpaths that tell them apart (ids and uids are made from them): files
    that would share one (``a/part.jsonl`` and ``b/part.jsonl`` of two patterns) keep the
    directories from the first one in which their paths differ; relpaths without a clash, the
    usual case, stay as they are. The same file matched by two patterns is refused."""
    seen: dict[str, int] = {}
    for f in files:
        seen[f.path] = seen.get(f.path, 0) + 1
    twice = sorted(p for p, n in seen.items() if n > 1)
    if twice:
        raise SourceError(f"source {src.name!r}: {twice[0]!r} is matched by more than one of its patterns")
    rels = [f.relpath for f in files]
    for _ in range(64):  # each round lengthens every clashing relpath; paths are far shorter
        groups: dict[str, list[int]] = {}
        for i, rel in enumerate(rels):
            groups.setdefault(rel, []).append(i)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            parts = [files[i].path.split("/") for i in group]
            common = 0
            while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
                common += 1
            for i, p in zip(group, parts):
                rels[i] = _printable_name("/".join(p[common:]))
    else:
        raise SourceError(f"source {src.name!r}: cannot tell its files {files[clashes[0][0]].path!r} and "
                          f"{files[clashes[0][1]].path!r} apart")
    return [f if f.relpath == rel else dataclasses.replace(f, relpath=rel) for f, rel in zip(files, rels)]
