"""Input sources: what to read, under which name and licence, and which files that means.

A source is one entry of a BigScience-style catalogue of sources. ``--sources FILE`` takes a YAML
or JSON list of them; each ``--input PATTERN`` becomes a source of its own.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from transforms.html_text import EXTRACT_MODES

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


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

    def to_json(self) -> dict[str, Any]:
        """As recorded in the manifest; ``extract`` only when set, so older manifests read the same."""
        out = asdict(self) | {"paths": list(self.paths)}
        return out if self.extract is not None else {k: v for k, v in out.items() if k != "extract"}


@dataclass(frozen=True)
class InputFile:
    """One matched file of a source; ``relpath`` is stable across machines and checkouts."""
    source: Source
    path: str
    relpath: str
    size: int
    mtime: float = field(default=0.0)


def _source_from_mapping(entry: Any, index: int) -> Source:
    if not isinstance(entry, dict):
        raise SourceError(f"source #{index + 1} must be a mapping, got {type(entry).__name__}")
    unknown = set(entry) - {"name", "paths", "path", "license", "text_field", "id_field", "lang", "priority", "extract"}
    if unknown:
        raise SourceError(f"source #{index + 1}: unknown keys {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SourceError(f"source #{index + 1} needs a 'name'")
    paths = entry.get("paths", entry.get("path"))
    if isinstance(paths, str):
        paths = [paths]
    if not paths or not all(isinstance(p, str) for p in paths):
        raise SourceError(f"source {name!r} needs 'paths' (a list of file patterns)")
    extract = entry.get("extract")
    if extract is not None and extract not in EXTRACT_MODES:
        raise SourceError(f"source {name!r}: extract must be one of {', '.join(EXTRACT_MODES)}, got {extract!r}")
    return Source(
        name=name.strip(),
        paths=tuple(paths),
        license=str(entry.get("license", "unknown")),
        text_field=str(entry.get("text_field", "text")),
        id_field=str(entry.get("id_field", "id")),
        lang=entry.get("lang"),
        priority=int(entry.get("priority", 0)),
        extract=extract,
    )


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
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{path}: duplicate source names {dupes}")
    return sources


def sources_from_inputs(patterns: list[str]) -> list[Source]:
    """Name each ``--input`` pattern after its file name (``data/fr.jsonl.gz`` -> ``fr``)."""
    sources, seen = [], set()
    for pattern in patterns:
        base = PurePosixPath(pattern.rstrip("/")).name.split(".")[0]
        name = _SAFE.sub("-", base.replace("*", "")).strip("-") or "input"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}-{k}", k + 1
        seen.add(candidate)
        sources.append(Source(name=candidate, paths=(pattern,)))
    return sources


def _pattern_base(pattern: str) -> str:
    """The directory part of a pattern before its first wildcard."""
    cut = min((i for i, c in enumerate(pattern) if c in "*?["), default=len(pattern))
    head = pattern[:cut]
    return head.rsplit("/", 1)[0] if "/" in head else ""


def match_inputs(sources: list[Source]) -> list[InputFile]:
    """Expand every pattern with Beam's filesystems (local, gs://, ...); an empty match is an error."""
    from apache_beam.io.filesystems import FileSystems

    files: list[InputFile] = []
    for src in sources:
        for pattern in src.paths:
            result = FileSystems.match([pattern])[0]
            metas = [m for m in result.metadata_list if not m.path.endswith("/")]
            if not metas:
                raise SourceError(f"source {src.name!r}: pattern {pattern!r} matches no file")
            base = _pattern_base(pattern)
            for m in sorted(metas, key=lambda m: m.path):
                rel = m.path[len(base):].lstrip("/") if base and m.path.startswith(base) else PurePosixPath(m.path).name
                rel = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # undecodable file names
                files.append(InputFile(src, m.path, rel, int(m.size_in_bytes), float(m.last_updated_in_seconds or 0.0)))
    return files
