"""The catalog's errors, at the bottom of its layers so that every module can raise them."""
from __future__ import annotations


class CatalogError(Exception):
    """A catalog request that cannot be served (unknown dataset, version, bad name)."""


class ManifestError(CatalogError):
    """A published version (or tag) whose file cannot be read or parsed: that version is broken."""
