"""Input sources: what to read, under which name and licence, and which files that means.

A source is one entry of a BigScience-style catalogue of sources. ``--sources FILE`` takes a YAML
or JSON list of them; each ``--input PATTERN`` becomes a source of its own. Source names are unique
across both (a source's licence and counts are keyed by its name), and a pattern only ever matches
regular files: a directory, FIFO or device, or a file in ``/proc``, ``/sys`` or ``/dev`` (whose
files look regular), is refused before any work.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from transforms.read.html_text import EXTRACT_MODES


def make_uid(source: str, relpath: str, position: str | int) -> str:
    """A stable internal key for one input record (same file layout -> same uid): every reader's
    documents and quarantine rows are keyed by it."""
    return hashlib.sha1(f"{source}\0{relpath}\0{position}".encode("utf-8", "surrogatepass")).hexdigest()[:20]


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
SOURCE_KINDS = ("text", "code")


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
WARC_SUFFIXES = (".warc", ".wet", ".warc.wet")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


def split_suffixes(path: str) -> tuple[str, str | None]:
    """Return (format, compression) for a path."""
    lower = path.lower()
    compression = next((c for c in COMPRESSION_SUFFIXES if lower.endswith(c)), None)
    if compression:
        lower = lower[: -len(compression)]
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl", compression
    if lower.endswith(".parquet"):
        return "parquet", compression
    if lower.endswith(WARC_SUFFIXES):
        return "warc", compression
    return "text", compression



class SourceError(ValueError):
    """A sources file or input pattern that cannot be used."""


@dataclass(frozen=True)
class Source:
    name: str
    paths: tuple[str, ...]
    license: str = "unknown"
    text_field: str = "text"
    id_field: str = "id"
    lang: str | None = None
    priority: int = 0  # lower is preferred when choosing which duplicate to keep
    # HTML text: "main" (main content only) or "full" (all text); None: main for web crawls
    # (WARC responses), full for HTML files
    extract: str | None = None
    kind: str = "text"  # "code": source files (transforms.read.code), each labelled with its programming language
    licenses: tuple[str, ...] | None = None  # code: the SPDX ids a file's licence must be made of (None: any)

    def to_json(self) -> dict[str, Any]:
        """As recorded in the manifest; the optional keys only when set, so older manifests read the same."""
        out = asdict(self) | {"paths": list(self.paths)}
        if self.licenses is not None:
            out["licenses"] = list(self.licenses)
        unset = {"extract": None, "kind": "text", "licenses": None}
        return {k: v for k, v in out.items() if k not in unset or v != unset[k]}


@dataclass(frozen=True)
class InputFile:
    """One matched file of a source; ``relpath`` is stable across machines and checkouts."""
    source: Source
    path: str
    relpath: str
    size: int
    mtime: float = field(default=0.0)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words, for an error message."""
    kinds = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISREG, "regular file"))
    return next((name for test, name in kinds if test(mode)), "special file")


_KERNEL_ROOTS = ("/proc", "/sys", "/dev")


def kernel_file_system(path: str) -> str | None:
    """``/proc``, ``/sys`` or ``/dev`` when a local path lies in one (symlinks resolved, or the
    same device as one of them, which catches bind mounts), else ``None``. Their "regular" files
    are no data: ``/proc/kmsg`` blocks forever, ``/proc/self/environ`` holds the job's secrets."""
    real = os.path.realpath(path)
    try:
        device = os.stat(real).st_dev
        root_device = os.stat("/").st_dev
    except OSError:
        device = root_device = -1
    for root in _KERNEL_ROOTS:
        if real == root or real.startswith(root + "/"):
            return root
        try:
            root_dev = os.stat(root).st_dev
        except OSError:
            continue
        if device >= 0 and root_dev != root_device and root_dev == device:
            return root
    return None


def _optional_text(entry: dict[str, Any], key: str, where: str) -> str | None:
    """A string setting that may be absent or null (None)."""
    return None if entry.get(key) is None else _text(entry, key, "", where)


def _text(entry: dict[str, Any], key: str, default: str, where: str) -> str:
    """A string setting; a null, number, list or mapping is refused rather than turned into text."""
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def _source_from_mapping(entry: Any, index: int) -> Source:
    if not isinstance(entry, dict):
        raise SourceError(f"source #{index + 1} must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - {"name", "paths", "path", "license", "text_field", "id_field", "lang", "priority", "extract",
                            "kind", "licenses"}
    if unknown:
        raise SourceError(f"source #{index + 1}: unknown keys {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SourceError(f"source #{index + 1} needs a 'name'")
    paths = entry.get("paths", entry.get("path"))
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise SourceError(f"source {name!r} needs 'paths' (a list of file patterns)")
    where = f"source {name.strip()!r}"
    extract = entry.get("extract")
    if extract is not None and extract not in EXTRACT_MODES:
        raise SourceError(f"{where}: extract must be one of {', '.join(EXTRACT_MODES)}, got {extract!r}")
    priority = entry.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise SourceError(f"{where}: 'priority' must be an integer (lower wins), got {priority!r}")
    kind = entry.get("kind", "text")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"{where}: kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    return Source(
        name=name.strip(),
        paths=tuple(paths),
        license=_text(entry, "license", "unknown", where),
        text_field=_text(entry, "text_field", "content" if kind == "code" else "text", where),
        id_field=_text(entry, "id_field", "id", where),
        lang=_optional_text(entry, "lang", where),
        priority=priority,
        extract=extract,
        kind=kind,
        licenses=_licenses(entry, kind, where),
    )


def _licenses(entry: dict[str, Any], kind: str, where: str) -> tuple[str, ...] | None:
    """A code source's licence allow-list, as canonical SPDX ids; an id SPDX does not know is refused."""
    value = entry.get("licenses")
    if value is None:
        return None
    if kind != "code":
        raise SourceError(f"{where}: 'licenses' (an allow-list of SPDX ids) needs kind: code")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise SourceError(f"{where}: 'licenses' must be a non-empty list of SPDX ids, got {value!r}")
    from transforms.code.licenses import UNKNOWN, UNRECOGNISED, normalise

    ids = [v.strip() if v.strip() in (UNKNOWN, UNRECOGNISED) else normalise(v.strip()) for v in value]
    bad = [v for v, i in zip(value, ids) if i == UNRECOGNISED and v.strip() != UNRECOGNISED]
    if bad:
        raise SourceError(f"{where}: 'licenses' holds ids the SPDX licence list does not know: {bad}")
    return tuple(sorted(set(ids)))


def load_sources(path: str) -> list[Source]:
    """Read a YAML (``.yaml``/``.yml``) or JSON list of sources; names must be unique."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        raw = f.read().decode("utf-8")
    if path.endswith((".yaml", ".yml")):
        import yaml

        data = yaml.safe_load(raw)
    else:
        data = json.loads(raw)
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if not isinstance(data, list) or not data:
        raise SourceError(f"{path}: expected a non-empty list of sources")
    sources = [_source_from_mapping(e, i) for i, e in enumerate(data)]
    check_unique_names(sources, path)
    return sources


def check_unique_names(sources: list[Source], where: str) -> None:
    """Refuse two sources under one name: they would be merged, licence and counts included."""
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{where}: duplicate source names {dupes}; each source needs its own name")


def sources_from_inputs(patterns: list[str], kind: str = "text", taken: set[str] | None = None) -> list[Source]:
    """Name each ``--input`` (or ``--code-input``) pattern after its file name (``data/fr.jsonl.gz`` ->
    ``fr``), avoiding the names in ``taken``."""
    sources, seen = [], set(taken or ())
    for pattern in patterns:
        base = PurePosixPath(pattern.rstrip("/")).name.split(".")[0]
        name = _SAFE.sub("-", base.replace("*", "")).strip("-") or "input"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}-{k}", k + 1
        seen.add(candidate)
        sources.append(Source(name=candidate, paths=(pattern,), kind=kind,
                              text_field="content" if kind == "code" else "text"))
    return sources


def _pattern_base(pattern: str) -> str:
    """The directory part of a pattern before its first wildcard."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=len(pattern))
    head = pattern[:cut]
    return head.rsplit("/", 1)[0] if "/" in head else ""
