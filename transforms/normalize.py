"""Text normalisation applied to every document before any other stage.

Unicode NFC (so that the same word has one byte form), control characters removed (except
newline and tab), Windows/Mac line ends unified, trailing spaces dropped and runs of blank lines
collapsed. Deliberately conservative: it must never change what a sentence says.
"""
from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff\ufffe]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0\u3000]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Return the canonical form of ``text`` stored in shards."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def normalize_document(doc: dict) -> tuple[str, dict]:
    """("doc", normalised doc), or ("removed", quarantine row) when nothing is left of the text."""
    from transforms.removed import STAGE_QUARANTINE, removed_from_doc

    text = normalize_text(doc["text"])
    if not text:
        return "removed", removed_from_doc(doc, STAGE_QUARANTINE, "empty_document", {"chars_before": len(doc["text"])})
    return "doc", dict(doc, text=text)
