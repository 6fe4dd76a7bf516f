"""Reading limits: oversized documents, oversized lines and files that are mostly garbage.

Every limit ends in a documented outcome, never a crash and never a silent drop: an oversized
document is split into parts (each part an input document of its own, ids ``ID#part-K``) or
quarantined as ``document_too_large``; a JSONL line over the byte limit is quarantined as
``line_too_long`` without being held in memory; a file whose share of bad records exceeds the
error budget has its good records quarantined as ``file_error_budget_exceeded`` too (the bad
ones keep their precise reason), so that every record is still accounted for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from transforms.removed import STAGE_QUARANTINE, removed_from_doc

OVERSIZE_MODES = ("split", "quarantine")
# Below this many records a file is too small for a rate to mean anything (2 bad of 3).
MIN_RECORDS_FOR_BUDGET = 10

Item = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class ReadLimits:
    max_doc_chars: int = 1_000_000  # 0: no limit
    oversize: str = "split"
    max_line_bytes: int = 16 << 20
    max_file_error_rate: float = 0.5  # 1.0: never condemn a whole file

    def __post_init__(self) -> None:
        if self.oversize not in OVERSIZE_MODES:
            raise ValueError(f"oversize must be one of {OVERSIZE_MODES}, got {self.oversize!r}")
        if self.max_doc_chars < 0 or self.max_line_bytes < 1 or not 0.0 <= self.max_file_error_rate <= 1.0:
            raise ValueError(f"invalid read limits: {self}")


def split_points(text: str, max_chars: int) -> list[int]:
    """Cut offsets so that no part exceeds ``max_chars``: at the last paragraph break, else line
    break, else space in the second half of each window; a hard cut only when there is none."""
    cuts, start = [], 0
    while len(text) - start > max_chars:
        window_end = start + max_chars
        cut = window_end
        for sep in ("\n\n", "\n", " "):
            at = text.rfind(sep, start + max_chars // 2, window_end)
            if at > start:
                cut = at + len(sep)
                break
        cuts.append(cut)
        start = cut
    return cuts


def limit_document(doc: dict[str, Any], limits: ReadLimits) -> list[Item]:
    """The document itself, its parts, or a ``document_too_large`` quarantine row."""
    text = doc["text"]
    if not limits.max_doc_chars or len(text) <= limits.max_doc_chars:
        return [("doc", doc)]
    if limits.oversize == "quarantine":
        return [("removed", removed_from_doc(doc, STAGE_QUARANTINE, "document_too_large",
                                             {"chars": len(text), "max_doc_chars": limits.max_doc_chars}))]
    bounds = [0, *split_points(text, limits.max_doc_chars), len(text)]
    parts = len(bounds) - 1
    return [("doc", dict(doc, id=f"{doc['id']}#part-{k + 1}", uid=f"{doc['uid']}-{k + 1}", text=text[a:b],
                         meta=dict(doc["meta"], split={"part": k + 1, "parts": parts, "of": doc["id"]})))
            for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def apply_error_budget(items: Iterable[Item], limits: ReadLimits, relpath: str) -> list[Item]:
    """All of a file's items; when bad records exceed the budget, its documents become quarantine rows."""
    items = list(items)
    bad = sum(tag == "removed" for tag, _ in items)
    total = sum(tag != "skipped" for tag, _ in items)  # a WARC's requests and headers are no records
    if total < MIN_RECORDS_FOR_BUDGET or bad / total <= limits.max_file_error_rate:
        return items
    details = {"file": relpath, "bad_records": bad, "records": total, "max_file_error_rate": limits.max_file_error_rate}
    return [(tag, item) if tag == "removed" else
            ("removed", removed_from_doc(item, STAGE_QUARANTINE, "file_error_budget_exceeded", details))
            for tag, item in items]

