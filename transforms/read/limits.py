"""Reading limits: oversized documents, lines and files, decompression bombs, and files that
are mostly garbage.

Every limit ends in a documented outcome, never a crash and never a silent drop: an oversized
document is split into parts (each part an input document of its own, ids ``ID#part-K``) or
quarantined as ``document_too_large``; a JSONL line over the byte limit is quarantined as
``line_too_long`` without being held in memory; a file stops being read at ``max_file_bytes``
decompressed bytes (``file_too_large``) or once its decompressed bytes outgrow
``max_compression_ratio`` times the compressed bytes consumed (``compression_ratio_exceeded``,
checked from ``RATIO_CHECK_AFTER`` bytes on); like a truncated archive, the records before the stop
are kept and one row says where and why it stopped. A file that is read whole (plain text, HTML,
compressed Parquet) over ``max_text_bytes`` is quarantined whole as ``file_too_large``.

The error budget is decided on a bounded prefix, so that a file is streamed, never held: the
first ``error_budget_window`` records (fewer when they reach ``BUDGET_WINDOW_CHARS`` characters of
text), or the whole file when it is shorter. When the share of bad records in that prefix exceeds
``max_file_error_rate``, every good record of the file, before and after the prefix, is
quarantined as ``file_error_budget_exceeded`` (the bad ones keep their precise reason), so that
every record is still accounted for; records after the prefix do not change the verdict. Records
that are no documents (a WARC's requests, metadata...) are handed on at once, never held, so that
a file of nothing else is streamed too.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from catalog.contract import STAGE_QUARANTINE
from transforms.document import Document, Item, with_changes
from transforms.removed import removed_from_doc

OVERSIZE_MODES = ("split", "quarantine")
# Below this many records a file is too small for a rate to mean anything (2 bad of 3).
MIN_RECORDS_FOR_BUDGET = 10
# The error budget's prefix also ends at this many characters of document text: its memory bound.
BUDGET_WINDOW_CHARS = 16 << 20
# The compression ratio is judged only past this many decompressed bytes: a small file of zeros
# compresses a thousandfold and harms nobody; a bomb is stopped after this much.
RATIO_CHECK_AFTER = 16 << 20

@dataclass(frozen=True)
class ReadLimits:
    max_doc_chars: int = 1_000_000  # 0: no limit
    oversize: str = "split"
    max_line_bytes: int = 16 << 20
    max_file_error_rate: float = 0.5  # 1.0: never condemn a whole file
    max_file_bytes: int = 64 << 30  # decompressed bytes read from one file; 0: no limit
    max_text_bytes: int = 64 << 20  # a file read whole (text, HTML, compressed Parquet); 0: no limit
    max_compression_ratio: float = 100.0  # decompressed / compressed bytes; 0: no limit
    error_budget_window: int = 10_000  # records the error budget is decided on

    def __post_init__(self) -> None:
        if self.oversize not in OVERSIZE_MODES:
            raise ValueError(f"oversize must be one of {OVERSIZE_MODES}, got {self.oversize!r}")
        if (self.max_doc_chars < 0 or self.max_line_bytes < 1 or not 0.0 <= self.max_file_error_rate <= 1.0
                or self.max_file_bytes < 0 or self.max_text_bytes < 0
                or not 0.0 <= self.max_compression_ratio < float("inf")
                or self.error_budget_window < MIN_RECORDS_FOR_BUDGET):
            raise ValueError(f"invalid read limits: {self}")

    @classmethod
    def from_options(cls, opts: Any) -> ReadLimits:
        """The limits a run's ``--max-*``/``--oversize`` options ask for (``pipelines.options``)."""
        return cls(max_doc_chars=opts.max_doc_chars, oversize=opts.oversize, max_line_bytes=opts.max_line_bytes,
                   max_file_error_rate=opts.max_file_error_rate, max_file_bytes=opts.max_file_bytes,
                   max_text_bytes=opts.max_text_bytes, max_compression_ratio=opts.max_compression_ratio)


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


def limit_document(doc: Document, limits: ReadLimits) -> list[Item]:
    """The document itself, its parts, or a ``document_too_large`` quarantine row."""
    text = doc["text"]
    if not limits.max_doc_chars or len(text) <= limits.max_doc_chars:
        return [("doc", doc)]
    if limits.oversize == "quarantine":
        return [("removed", removed_from_doc(doc, STAGE_QUARANTINE, "document_too_large",
                                             {"chars": len(text), "max_doc_chars": limits.max_doc_chars}))]
    bounds = [0, *split_points(text, limits.max_doc_chars), len(text)]
    parts = len(bounds) - 1
    return [("doc", with_changes(doc, id=f"{doc['id']}#part-{k + 1}", uid=f"{doc['uid']}-{k + 1}", text=text[a:b],
                                 meta={"split": {"part": k + 1, "parts": parts, "of": doc["id"]}}))
            for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


class ReadLimitExceeded(Exception):
    """A file went past a byte or compression-ratio limit; ``reason`` and ``details`` make its quarantine row."""

    def __init__(self, reason: str, details: dict[str, Any]):
        super().__init__(reason)
        self.reason, self.details = reason, details


def _drain(queue: deque) -> Iterator[Item]:
    """The queue's items, each released as soon as it is handed on."""
    while queue:
        yield queue.popleft()


def _judge(items: Iterator[Item], limits: ReadLimits,
           relpath: str) -> Generator[Item, None, tuple[deque, Item | None, dict | None]]:
    """Read a file's prefix (see the module docstring), yielding the items that are no records (a
    WARC's requests and headers: handed on, never held); returns (the prefix's records, the item
    after it, and the quarantine details when the prefix condemns the file, else ``None``)."""
    prefix: deque = deque()
    bad = chars = total = 0
    for tag, item in items:
        if tag == "skipped":
            yield tag, item
            continue
        prefix.append((tag, item))
        total += 1
        bad += tag == "removed"
        chars += len(item["text"]) if tag == "doc" else 0
        if total >= limits.error_budget_window or chars >= BUDGET_WINDOW_CHARS:
            break
    following = next(items, None)
    if total < MIN_RECORDS_FOR_BUDGET or bad / total <= limits.max_file_error_rate:
        return prefix, following, None
    details = {"file": relpath, "bad_records": bad, "records": total, "max_file_error_rate": limits.max_file_error_rate}
    if following is not None:
        details["judged_on_first_records"] = total  # the file goes on; its prefix decided
    return prefix, following, details


def error_budget_verdict(items: Iterable[Item], limits: ReadLimits, relpath: str) -> dict | None:
    """The ``file_error_budget_exceeded`` details of a file whose prefix (the first of ``items``, a
    file's records from its start) is over the budget; ``None`` for a file within it."""
    judge = _judge(iter(items), limits, relpath)
    while True:
        try:
            next(judge)
        except StopIteration as done:
            return done.value[2]


def condemn(items: Iterable[Item], details: dict) -> Iterator[Item]:
    """The items of a file over its error budget: documents become quarantine rows with ``details``."""
    for tag, item in items:
        yield (tag, item) if tag != "doc" else \
            ("removed", removed_from_doc(item, STAGE_QUARANTINE, "file_error_budget_exceeded", details))


def apply_error_budget(items: Iterable[Item], limits: ReadLimits, relpath: str) -> Iterator[Item]:
    """All of a file's items, streamed; when bad records exceed the budget in the file's prefix
    (see the module docstring), its documents become quarantine rows. Holds only the prefix."""
    rest = iter(items)
    prefix, following, details = yield from _judge(rest, limits, relpath)
    if following is not None:
        rest = chain([following], rest)
    if details is None:
        yield from _drain(prefix)
        yield from rest
        return
    yield from condemn(chain(_drain(prefix), rest), details)
