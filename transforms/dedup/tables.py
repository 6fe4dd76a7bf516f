"""The dedup tables a version keeps beside its shards, and reading them back for later runs.

``dedup/bands/part-*.arrow``: one row per kept document: id, source, MinHash signature and its
LSH band hashes, so a later run can dedup against this version without recomputing it.
``dedup/clusters/part-*.arrow``: one row per duplicate removed: who was kept (and from which
published version), who was removed, the estimated Jaccard and the stage, for audits.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog.contract import DEDUP_STAGES
from catalog.lakefs import Location, location
from transforms.dedup.keys import published_node
from transforms.dedup.nodes import Node


def cluster_row(removed: dict[str, Any]) -> dict[str, Any]:
    """The audit row of a dedup removal (exact duplicates have Jaccard 1)."""
    details = json.loads(removed["details"])
    return {"kept_id": details["duplicate_of"], "kept_version": details.get("duplicate_of_version", ""),
            "id": removed["id"], "source": removed["source"], "lang": removed["lang"],
            "jaccard": details.get("jaccard", 1.0), "stage": removed["stage"], "_uid": removed["uid"]}


def is_dedup_removal(removed: dict[str, Any]) -> bool:
    return removed["stage"] in DEDUP_STAGES


def read_published(file: dict[str, Any], parent_index: int, parent: str) -> Iterator[tuple[Node, bytes]]:
    """(node, signature) of every kept document in one bands file of a published version.

    ``file`` is its manifest entry plus the version's ``root`` (from :func:`bands_files`); the
    bytes read are checked against the entry in the same pass, so a file damaged after the
    launcher checked it still fails, naming it, instead of changing what the run keeps.
    """
    from catalog.verify import open_verified_table

    table = open_verified_table(file["root"], file, parent, override=False)
    for doc_id, sig in zip(table.column("id").to_pylist(), table.column("signature").to_pylist()):
        yield published_node(parent_index, doc_id, parent), sig


def bands_files(version_dir: Path | Location, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest entries of a version's bands files, each with the version's ``root`` to read it from
    (a ``catalog.lakefs.Location``: it pickles with its S3 settings, so workers reach the same bucket)."""
    return [dict(info, root=location(version_dir)) for info in manifest.get("dedup", {}).get("bands", [])]
