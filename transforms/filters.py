"""Quality filters (BigScience ROOTS set), split NeMo-Curator style into scoring and deciding.

``score_document`` computes every score once (stored in ``meta.filter_scores`` so a person can
re-threshold later without recomputing); ``keep_document`` decides with one language's
``FilterParams`` and returns the first failing filter with its value and threshold.

Words: whitespace tokens, lower-cased, with punctuation and digits stripped from their ends
(tokens that are nothing else vanish). In scripts written without spaces (Han, kana, Thai, Lao,
Myanmar, Khmer) every character is one word, so a Chinese sentence is not one long "word"; for
stop-word and flagged-word matching those runs also contribute their 2- to 4-character
substrings (BigScience's "word augmentation"), so multi-character entries such as 他妈的 or
これ can match. Whitespace runs count as one space in the character scores, so indented,
layout-preserving text (man pages) is scored like prose. Beyond BigScience's set,
``max_long_token_ratio`` catches minified code and binary decoded as text, which have few spaces.
"""
from __future__ import annotations

import heapq
import re
import string
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any, NamedTuple

from transforms.filter_config import FilterParams
from transforms.filter_wordlists import flagged_words, stopwords

SCORER_VERSION = "roots-scorers-v2"

_NO_SPACE_CHARS = r"\u0f00-\u0fff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NO_SPACE_CHAR = re.compile(f"[{_NO_SPACE_CHARS}]")
_NO_SPACE_RUN = re.compile(f"[{_NO_SPACE_CHARS}]{{2,}}")
_WHITESPACE = re.compile(r"\s+")
_STRIP = string.punctuation + string.digits + "«»“”‘’„‚‹›–—―…·•°§¶†‡、。，．！？：；（）【】《》〈〉「」『』〔〕・¿¡،؛؟٪۔।॥"
_AUGMENT_SIZES = (2, 3, 4)

# (filter name, score key, "min" or "max"), in the order BigScience applied them.
FILTERS: tuple[tuple[str, str, str], ...] = (
    ("min_words", "words", "min"),
    ("max_char_repetition", "char_repetition", "max"),
    ("max_word_repetition", "word_repetition", "max"),
    ("max_special_char_ratio", "special_char_ratio", "max"),
    ("max_long_token_ratio", "long_token_ratio", "max"),
    ("min_stopword_ratio", "stopword_ratio", "min"),
    ("max_flagged_word_ratio", "flagged_word_ratio", "max"),
    ("min_lang_score", "lang_score", "min"),
    ("max_perplexity", "perplexity", "max"),
)


class Failure(NamedTuple):
    name: str
    value: float
    threshold: float


def words(text: str) -> list[str]:
    """Lower-cased words; every character of a no-space script is one word."""
    spaced = _NO_SPACE_CHAR.sub(r" \g<0> ", text.lower())
    return [w for w in (t.strip(_STRIP) for t in spaced.split()) if w]


def count_words(text: str) -> int:
    return len(words(text))


def _augmented(text: str) -> list[str]:
    """2- to 4-character substrings of no-space-script runs, for matching multi-character entries."""
    grams = []
    for run in _NO_SPACE_RUN.findall(text.lower()):
        for n in _AUGMENT_SIZES:
            grams.extend(run[i:i + n] for i in range(len(run) - n + 1))
    return grams


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of character n-gram occurrences taken by the sqrt(#distinct) most frequent repeated ones."""
    text = _WHITESPACE.sub(" ", text)
    freqs = Counter(text[i:i + n] for i in range(len(text) - n + 1))
    if not freqs:
        return 0.0
    repeated = sum(1 for f in freqs.values() if f > 1)
    top = min(int(len(freqs) ** 0.5), repeated)
    return sum(heapq.nlargest(top, freqs.values())) / sum(freqs.values())


def word_repetition_ratio(doc_words: list[str], n: int) -> float:
    """Share of word n-gram occurrences that belong to n-grams seen more than once."""
    freqs = Counter(zip(*(doc_words[i:] for i in range(n))))
    if not freqs:
        return 0.0
    return sum(f for f in freqs.values() if f > 1) / sum(freqs.values())


@lru_cache(maxsize=65536)
def _is_special(char: str) -> bool:
    return char == " " or unicodedata.category(char)[0] not in "LM"


def special_char_ratio(text: str) -> float:
    """Share of characters that are not letters or marks (digits, punctuation, symbols, spaces)."""
    text = _WHITESPACE.sub(" ", text).strip()
    if not text:
        return 1.0
    return sum(n for c, n in Counter(text).items() if _is_special(c)) / len(text)


def long_token_ratio(text: str, min_chars: int) -> float:
    """Share of non-space characters in space-free tokens of at least ``min_chars`` characters
    (minified code, base64, binary decoded as text). No-space-script characters never form long
    tokens but do count in the total, so a few URLs in a Chinese page weigh as little as in prose."""
    total = sum(map(len, text.split()))
    long_chars = sum(len(t) for t in _NO_SPACE_CHAR.sub(" ", text).split() if len(t) >= min_chars)
    return long_chars / total if total else 0.0


def word_list_ratio(doc_words: list[str], augmented: list[str], wordlist: frozenset[str]) -> float:
    """Hits of a word list among words (and augmented substrings) per word, capped at 1."""
    if not doc_words:
        return 0.0
    hits = sum(1 for w in doc_words if w in wordlist) + sum(1 for g in augmented if g in wordlist)
    return min(1.0, hits / len(doc_words))


def score_document(text: str, lang: str, params: FilterParams, lang_score: float | None = None) -> dict[str, float]:
    """Every score for one document; a score whose resource is missing (no word list, language id
    off, no KenLM model) is absent, and ``keep_document`` skips that filter."""
    doc_words = words(text)
    augmented = _augmented(text)
    scores: dict[str, float] = {
        "words": len(doc_words),
        "char_repetition": round(char_repetition_ratio(text, params.char_repetition_n), 4),
        "word_repetition": round(word_repetition_ratio(doc_words, params.word_repetition_n), 4),
        "special_char_ratio": round(special_char_ratio(text), 4),
        "long_token_ratio": round(long_token_ratio(text, params.long_token_chars), 4),
    }
    stop = stopwords(lang)
    if stop is not None:
        scores["stopword_ratio"] = round(word_list_ratio(doc_words, augmented, stop), 4)
    flagged = flagged_words(lang)
    if flagged is not None:
        scores["flagged_word_ratio"] = round(word_list_ratio(doc_words, augmented, flagged), 4)
    if lang_score is not None:
        scores["lang_score"] = round(float(lang_score), 4)
    if params.kenlm_model:
        from transforms.filter_kenlm import perplexity

        scores["perplexity"] = round(perplexity(text, params.kenlm_model), 1)
    return scores


def keep_document(scores: dict[str, float], params: FilterParams) -> Failure | None:
    """The first filter the scores fail, or None to keep the document."""
    for name, key, kind in FILTERS:
        threshold = getattr(params, name)
        value = scores.get(key)
        if threshold is None or value is None:
            continue
        if (value < threshold) if kind == "min" else (value > threshold):
            return Failure(name, value, threshold)
    return None


def skipped_filters(scores: dict[str, float], params: FilterParams) -> list[str]:
    """Filters that have a threshold but could not run (no word list, no language score, no model)."""
    return [name for name, key, _ in FILTERS
            if getattr(params, name) is not None and key not in scores and not (key == "perplexity" and not params.kenlm_model)]


def filter_document(doc: dict[str, Any], params: FilterParams, *, use_lang_score: bool = True
                    ) -> tuple[dict[str, Any], Failure | None, list[str]]:
    """The document with its scores in ``meta``, its first failing filter (or None), and skipped filters."""
    lang_score = doc.get("lang_score") if use_lang_score else None
    scores = score_document(doc["text"], doc.get("lang", "und"), params, lang_score)
    meta = dict(doc["meta"], filter_scores=scores, filter_scorer=SCORER_VERSION)
    return dict(doc, meta=meta), keep_document(scores, params), skipped_filters(scores, params)
