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

import re
import string
import unicodedata
from functools import cache
from typing import NamedTuple

import numpy as np

from transforms.document import Document, with_changes
from transforms.filters import kernels
from transforms.filters.config import FilterParams
from transforms.filters.wordlists import NO_SPACE_CHARS, flagged_words, stopwords

SCORER_VERSION = "roots-scorers-v2"

_STRIP = (string.punctuation + string.digits
          + "«»“”‘’„‚‹›–—―…·•°§¶†‡、。，．！？：；（）【】《》〈〉「」『』〔〕・¿¡،؛؟٪۔।॥")

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
    lowered = text.lower()
    starts, ends, _, _ = kernels.words(_code_points32(lowered), _table(_BMP_AND_IDEOGRAPHS))
    return [lowered[s:e] for s, e in zip(starts.tolist(), ends.tolist())]


def count_words(text: str) -> int:
    return len(words(text))


_BMP_AND_IDEOGRAPHS = 0x30000  # every no-space-script, whitespace and strip character is below this
_ALL_CODE_POINTS = 0x110000


@cache
def _table(size: int) -> np.ndarray:
    """Code point -> ``kernels`` bits: SPACE (``str.isspace``), NO_SPACE, STRIP and SPECIAL (not a
    letter or mark, or a space). Built once per process (0.3 s); the full-range one only for texts
    with code points beyond the ideographic planes (emoji, tags), which can be special."""
    if size > _BMP_AND_IDEOGRAPHS:  # beyond, only the SPECIAL bit can be set
        rest = np.fromiter((_is_special(c) * kernels.SPECIAL for c in map(chr, range(_BMP_AND_IDEOGRAPHS, size))),
                           dtype=np.uint8, count=size - _BMP_AND_IDEOGRAPHS)
        return np.concatenate((_table(_BMP_AND_IDEOGRAPHS), rest))
    no_space = re.compile(f"[{NO_SPACE_CHARS}]")
    strip = set(_STRIP)
    return np.fromiter((c.isspace() * kernels.SPACE | bool(no_space.match(c)) * kernels.NO_SPACE
                        | (c in strip) * kernels.STRIP | _is_special(c) * kernels.SPECIAL
                        for c in map(chr, range(size))), dtype=np.uint8, count=size)


def _table_for(codes: np.ndarray) -> np.ndarray:
    return _table(_ALL_CODE_POINTS if len(codes) and codes.max() >= _BMP_AND_IDEOGRAPHS else _BMP_AND_IDEOGRAPHS)


_NO_WORDS: frozenset[str] = frozenset()


@cache
def _list_arrays(wordlist: frozenset[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A word list as the kernels read it: a hash table's slots, and each entry's hash, offset and
    code points (entries in a fixed order, so the table is the same in every process)."""
    entries = [_code_points32(w) for w in sorted(wordlist)]
    hashes = np.array([kernels.span_hash(e, 0, len(e)) for e in entries], dtype=np.uint64)
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in entries])
    flat = np.concatenate(entries) if entries else np.zeros(0, dtype="<u4")
    return kernels.list_table(hashes), hashes, offsets, flat


def _code_points32(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of character n-gram occurrences taken by the sqrt(#distinct) most frequent repeated ones."""
    raw = _code_points32(text)
    return kernels.char_scores(raw, _table_for(raw), n, 1)[0]


def word_repetition_ratio(doc_words: list[str], n: int) -> float:
    """Share of word n-gram occurrences that belong to n-grams seen more than once."""
    vocabulary: dict[str, int] = {}
    return kernels.repeated_share(np.array([vocabulary.setdefault(w, len(vocabulary)) for w in doc_words],
                                           dtype=np.int64), n)


def _is_special(char: str) -> bool:
    return char == " " or unicodedata.category(char)[0] not in "LM"


def special_char_ratio(text: str) -> float:
    """Share of characters that are not letters or marks (digits, punctuation, symbols, spaces),
    whitespace runs counted as one space; a leading and a trailing space are not counted."""
    raw = _code_points32(text)
    return kernels.char_scores(raw, _table_for(raw), 1, 1)[1]


def long_token_ratio(text: str, min_chars: int) -> float:
    """Share of non-space characters in space-free tokens of at least ``min_chars`` characters
    (minified code, base64, binary decoded as text). No-space-script characters never form long
    tokens but do count in the total, so a few URLs in a Chinese page weigh as little as in prose."""
    raw = _code_points32(text)
    return kernels.char_scores(raw, _table_for(raw), 1, max(1, min_chars))[2]


def score_document(text: str, lang: str, params: FilterParams, lang_score: float | None = None) -> dict[str, float]:
    """Every score for one document; a score whose resource is missing (no word list, language id
    off, no KenLM model) is absent, and ``keep_document`` skips that filter."""
    raw = _code_points32(text)
    stop, flagged = stopwords(lang), flagged_words(lang)
    n, repetition, word_repetition, special, long_tokens, stop_ratio, flagged_ratio = kernels.document_scores(
        raw, _code_points32(text.lower()), _table_for(raw), params.char_repetition_n, max(1, params.long_token_chars),
        params.word_repetition_n, _list_arrays(stop or _NO_WORDS), _list_arrays(flagged or _NO_WORDS))
    scores: dict[str, float] = {
        "words": n,
        "char_repetition": round(repetition, 4),
        "word_repetition": round(word_repetition, 4),
        "special_char_ratio": round(special, 4),
        "long_token_ratio": round(long_tokens, 4),
    }
    if stop is not None:
        scores["stopword_ratio"] = round(stop_ratio, 4)
    if flagged is not None:
        scores["flagged_word_ratio"] = round(flagged_ratio, 4)
    if lang_score is not None:
        scores["lang_score"] = round(float(lang_score), 4)
    if params.kenlm_model:
        from transforms.filters.kenlm import perplexity

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
            if getattr(params, name) is not None and key not in scores
            and not (key == "perplexity" and not params.kenlm_model)]


def filter_document(doc: Document, params: FilterParams, *, use_lang_score: bool = True
                    ) -> tuple[Document, Failure | None, list[str]]:
    """The document with its scores in ``meta``, its first failing filter (or None), and skipped filters."""
    lang_score = doc.get("lang_score") if use_lang_score else None
    scores = score_document(doc["text"], doc.get("lang", "und"), params, lang_score)
    return (with_changes(doc, meta={"filter_scores": scores, "filter_scorer": SCORER_VERSION}),
            keep_document(scores, params), skipped_filters(scores, params))
