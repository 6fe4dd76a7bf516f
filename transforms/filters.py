"""Quality filters, split NeMo-Curator style into scoring and deciding.

``score_document`` computes every score once (they are stored in ``meta`` so a person can
re-threshold later); ``first_failure`` decides with thresholds from a ``FilterConfig``. Words are
whitespace-separated tokens; for scripts written without spaces (Han, kana, Thai, ...) every such
character counts as one word, so a Chinese sentence is not mistaken for a one-word document.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

FILTERS_VERSION = "basic-1"

_NO_SPACE_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class FilterConfig:
    min_words: int = 5
    max_special_char_ratio: float = 0.4


def count_words(text: str) -> int:
    no_space_chars = len(_NO_SPACE_SCRIPT.findall(text))
    if not no_space_chars:
        return len(text.split())
    return no_space_chars + len(_NO_SPACE_SCRIPT.sub(" ", text).split())


def special_char_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters, marks nor digits."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 1.0
    special = sum(1 for c in chars if unicodedata.category(c)[0] not in "LMN")
    return special / len(chars)


def score_document(text: str) -> dict[str, float]:
    return {"words": count_words(text), "special_char_ratio": round(special_char_ratio(text), 4)}


def first_failure(scores: dict[str, float], config: FilterConfig) -> tuple[str, float, float] | None:
    """(filter name, value, threshold) of the first filter the scores fail, else None."""
    if scores["words"] < config.min_words:
        return "min_words", scores["words"], config.min_words
    if scores["special_char_ratio"] > config.max_special_char_ratio:
        return "max_special_char_ratio", scores["special_char_ratio"], config.max_special_char_ratio
    return None


def filter_document(doc: dict[str, Any], config: FilterConfig) -> tuple[dict[str, Any], tuple[str, float, float] | None]:
    """Return the document with its scores in ``meta`` and its first failing filter, if any."""
    scores = score_document(doc["text"])
    return dict(doc, meta=dict(doc["meta"], filter_scores=scores)), first_failure(scores, config)
