"""A small, deterministic sample of filtered documents per filter, kept with the version for audit.

At most ``k`` rows per filter: those with the smallest blake2b hash of the document id, so the
same run always keeps the same sample. Texts are PII-redacted before they enter the sample;
the original text is never written. Written to ``<staging>/audit/filtered-sample.arrow`` so the
version commit moves it in with the shards.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import apache_beam as beam

from catalog.contract import AUDIT_PATH, AUDIT_SCHEMA
from transforms.pii import redact
from transforms.shards import arrow_file_bytes, write_bytes


def audit_row(doc: Mapping[str, Any], name: str, value: float, threshold: float) -> dict[str, Any]:
    """One sample row; the text is redacted here, before it can be kept anywhere."""
    return {"filter": name, "id": doc["id"], "source": doc["source"], "lang": doc.get("lang", "und"),
            "value": float(value), "threshold": float(threshold), "text": redact(doc["text"])[0],
            "id_hash": hashlib.blake2b(doc["uid"].encode("utf-8"), digest_size=16).hexdigest()}


class WriteFilterAudit(beam.PTransform):
    """Keep the ``k`` smallest-hash rows per filter and write them as one Arrow file."""

    def __init__(self, root: str, k: int):
        super().__init__()
        self.path = os.path.join(root, AUDIT_PATH)
        self.k = k

    def expand(self, rows):
        path = self.path

        def write(kept: list[list[dict[str, Any]]]) -> str:
            ordered = sorted((r for group in kept for r in group), key=lambda r: (r["filter"], r["id_hash"]))
            write_bytes(path, arrow_file_bytes(ordered, AUDIT_SCHEMA))
            return AUDIT_PATH

        return (rows
                | "ByFilter" >> beam.Map(lambda r: (r["filter"], r))
                | "SmallestHash" >> beam.combiners.Top.PerKey(self.k, key=lambda r: r["id_hash"], reverse=True)
                | "DropKeys" >> beam.Values()
                | "AllFilters" >> beam.combiners.ToList()
                | "Write" >> beam.Map(write))
