"""Text normalisation applied to every document before any other stage.

Unicode NFC (so that the same word has one byte form), control characters removed (except
newline and tab), Windows/Mac line ends unified, trailing spaces dropped and runs of blank lines
collapsed. Deliberately conservative: it must never change what a sentence says. Lone
surrogates (``"\ud800"`` escapes in JSON) become U+FFFD, so every result encodes as UTF-8;
terminal escape sequences (ANSI colours in fortune files) are removed with the control characters.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

import apache_beam as beam

from catalog.contract import STAGE_QUARANTINE, is_code
from transforms.document import DOC, KEPT, REMOVED, Document, Item, tagged, with_changes
from transforms.removed import removed_from_doc

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff\ufffe]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0\u3000]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
# Pieces one of which every _TRAILING_SPACE match contains: ``in`` finds them far faster than the
# regex engine, which tries a pattern that starts with a class or a repeat at every position.
_TRAILING_MARKERS = tuple(f"{c}\n" for c in " \t\u00a0\u3000")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal colour/cursor codes, not text


def replace_lone_surrogates(text: str) -> str:
    """U+FFFD for each lone surrogate (a ``"\ud800"`` JSON escape), which no UTF-8 encoder,
    Beam's coders included, accepts."""
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


def normalize_text(text: str) -> str:
    """Return the canonical form of ``text`` stored in shards."""
    text = replace_lone_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _ANSI_ESCAPE.sub("", text))
    text = unicodedata.normalize("NFC", text)  # after removals, which can bring a mark to a new base
    text += "\n"
    if any(marker in text for marker in _TRAILING_MARKERS):
        text = _TRAILING_SPACE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def normalize_code(text: str) -> str:
    """Source code as it is, byte for byte, but for lone surrogates (U+FFFD): indentation, blank
    lines, trailing spaces, line ends and decomposed characters can all matter to a program, and a
    stored file must equal its original (PII redaction aside)."""
    return replace_lone_surrogates(text)


def normalize_document(doc: Document) -> Item:
    """("doc", normalised doc), or ("removed", quarantine row) when nothing is left of the text.
    Source code (``lang`` ``code-*``) is kept as it is (``normalize_code``)."""
    text = normalize_code(doc["text"]) if is_code(doc.get("lang", "und")) else normalize_text(doc["text"])
    if not text.strip():  # a prose text is stripped already
        return REMOVED, removed_from_doc(doc, STAGE_QUARANTINE, "empty_document", {"chars_before": len(doc["text"])})
    return DOC, with_changes(doc, text=text)


class NormalizeDocuments(beam.PTransform):
    """Documents -> {"kept": normalised documents, "removed": documents left empty (quarantine rows)}."""

    def expand(self, docs):
        out = docs | "NormalizeText" >> beam.FlatMap(lambda d: tagged([normalize_document(d)])).with_outputs(
            REMOVED, main=KEPT)
        return {KEPT: out[KEPT], REMOVED: out[REMOVED]}

    def describe(self) -> dict[str, Any]:
        return {"form": "NFC, control characters removed, line ends unified", "code": "as read (lone surrogates only)"}
