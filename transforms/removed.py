"""Removed rows: the one record every non-kept input document leaves behind.

Every input document ends as exactly one of: a row in a shard, or a removed row saying which
stage removed it and why. That is what makes the manifest's count identity checkable by id.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from transforms.document import RemovedRow


def removed_row(doc_id: str, source: str, stage: str, reason: str, details: dict[str, Any] | None = None,
                *, uid: str, lang: str = "und") -> RemovedRow:
    """Build a removed row; ``details`` holds e.g. filter value and threshold, or the kept id."""
    return {
        "id": doc_id,
        "uid": uid,
        "source": source,
        "lang": lang,
        "stage": stage,
        "reason": reason,
        "details": json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str),
    }


def removed_from_doc(doc: Mapping[str, Any], stage: str, reason: str,
                     details: dict[str, Any] | None = None) -> RemovedRow:
    return removed_row(doc["id"], doc["source"], stage, reason, details, uid=doc["uid"], lang=doc.get("lang", "und"))
