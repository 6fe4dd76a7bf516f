"""Names in a lake: datasets, versions (``NAME@vN``) and the manifest's file name.

Dataset names become directory names and object keys, so they are restricted to a safe alphabet;
every layer (storage, manifest checks, object-store commits, the lake) names versions the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import CatalogError

MANIFEST = "manifest.json"
VERSION_NUMBER = r"[1-9][0-9]{0,17}"  # canonical: no leading zero, and always fits an int64
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # always fullmatch: "$" matches before a "\n"


@dataclass(frozen=True)
class VersionRef:
    dataset: str
    version: int
    path: Path | str  # a local directory, or a URL (str: pathlib would fold ``gs://`` to ``gs:/``)

    @property
    def spec(self) -> str:
        return f"{self.dataset}@v{self.version}"


def check_name(name: str) -> str:
    """Dataset names become directory names, so they are restricted to a safe alphabet."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise CatalogError(f"invalid dataset name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def parse_spec(spec: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@vN`` (``NAME@N`` is accepted too)."""
    name, _, ver = spec.partition("@")
    check_name(name)
    if not ver:
        return name, None
    m = re.fullmatch(r"v?(\d{1,18})", ver)
    if not m:
        raise CatalogError(f"invalid version {ver!r} in {spec!r}: expected NAME@vN")
    return name, int(m.group(1))
