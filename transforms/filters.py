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
from collections import Counter
from functools import lru_cache
from itertools import count, repeat
from typing import Any, NamedTuple

import numpy as np

from transforms.filter_config import FilterParams
from transforms.filter_wordlists import flagged_words, stopwords

SCORER_VERSION = "roots-scorers-v2"

_NO_SPACE_CHARS = r"\u0f00-\u0fff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NO_SPACE_SPLIT = re.compile(f"([{_NO_SPACE_CHARS}])")
_NO_SPACE_RUN = re.compile(f"[{_NO_SPACE_CHARS}]{{2,}}")
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
    return _words(text.lower())


def _words(lowered: str, no_space: bool = True) -> list[str]:
    """``words`` of a lower-cased text; ``no_space`` False says it has no no-space-script character."""
    # Splitting on the captured no-space characters and joining with spaces puts a space on each
    # side of every one of them, without a per-match replacement template.
    spaced = " ".join(_NO_SPACE_SPLIT.split(lowered)) if no_space else lowered
    return list(filter(None, map(str.strip, spaced.split(), repeat(_STRIP))))


def count_words(text: str) -> int:
    return len(words(text))


def _augmented(lowered: str) -> list[str]:
    """2- to 4-character substrings of no-space-script runs, for matching multi-character entries."""
    return [run[i:i + n] for run in _NO_SPACE_RUN.findall(lowered) for n in _AUGMENT_SIZES
            for i in range(len(run) - n + 1)]


def _collapsed(text: str) -> str:
    """``text`` with every whitespace run as one space: ``re.sub(r"\\s+", " ", text)`` (same
    whitespace set as ``str.split``), three times faster."""
    inner = " ".join(text.split())
    if not inner:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + inner + (" " if text[-1].isspace() else "")


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_POSITION_BITS = 21  # n-gram positions in a sorted hash key: sequences up to 2M n-grams
_POSITION_MASK = np.uint64((1 << _POSITION_BITS) - 1)


def _packed(seq: np.ndarray, bits: int, n: int) -> np.ndarray:
    """The n-grams of ``seq`` (values below ``2**bits``, ``bits * n <= 64``) as one exact integer each."""
    m = len(seq) - n + 1
    keys = seq[:m].copy()
    for j in range(1, n):
        keys <<= np.uint64(bits)
        keys |= seq[j:j + m]
    return keys


def _windows(seq: np.ndarray, width: int) -> np.ndarray:
    """Every run of ``64 // width`` consecutive values of ``seq`` (all below ``2**width``, width 8 or
    16) as one exact uint64, zero-padded past the end: one strided copy of a narrow array, where
    ``_packed`` takes a shift and an or per value."""
    per = 64 // width
    narrow = np.zeros(len(seq) + per - 1, dtype=np.uint8 if width == 8 else np.uint16)
    narrow[:len(seq)] = seq
    return np.ndarray((len(seq),), dtype="<u8", buffer=narrow, strides=(narrow.itemsize,)).copy()


def _gram_counts(seq: np.ndarray, n: int) -> np.ndarray:
    """Occurrences of each distinct n-gram of the uint64 sequence ``seq``, in no particular order.

    Exact, with numpy sorts instead of a Counter over slices: n-grams whose values fit in 64 bits
    are packed exactly; longer ones are hashed from exactly packed chunks, and every pair of
    n-grams the hash puts together is compared chunk by chunk, so a collision (rare; the fallback
    exists only to make the result exact) switches to counting the chunk tuples. The hash keeps
    its top ``64 - _POSITION_BITS`` bits and carries the n-gram's position in the rest, so one
    plain sort (three times faster than an argsort) both groups equal hashes and says where each
    n-gram is; a sequence too long for that takes the argsort.
    """
    m = len(seq) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    bits = max(1, int(seq.max()).bit_length())
    if n * bits <= 64:
        ordered = np.sort(_packed(seq, bits, n))
        equal = ordered[1:] == ordered[:-1]
    else:
        if bits <= 16:  # text in one 8- or 16-bit range: chunks read straight from a narrow copy
            chunks = _windows(seq, 8 if bits <= 8 else 16)
            per = 8 if bits <= 8 else 4
        else:
            per = 64 // bits
            chunks = _packed(seq, bits, per)
        offsets = [*range(0, n - per, per), n - per]
        keys = chunks[:m].copy()
        for o in offsets[1:]:
            keys *= _HASH_MULTIPLIER
            keys += chunks[o:o + m]
        if m <= _POSITION_MASK:
            keys *= _HASH_MULTIPLIER  # the last chunk was only added: move its bits into the top ones kept
            keys &= ~_POSITION_MASK
            keys |= np.arange(m, dtype=np.uint64)
            keys.sort()
            order = (keys & _POSITION_MASK).astype(np.int64)
            ordered = keys >> np.uint64(_POSITION_BITS)
        else:
            order = np.argsort(keys)
            ordered = keys[order]
        equal = ordered[1:] == ordered[:-1]
        same = np.flatnonzero(equal)
        first, second = order[same], order[same + 1]
        if not all(np.array_equal(chunks[first + o], chunks[second + o]) for o in offsets):
            grams = Counter(zip(*(chunks[o:o + m].tolist() for o in offsets)))
            return np.fromiter(grams.values(), dtype=np.int64, count=len(grams))
    return np.diff(np.flatnonzero(np.concatenate(([True], ~equal, [True]))))


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of character n-gram occurrences taken by the sqrt(#distinct) most frequent repeated ones."""
    return _char_repetition(_code_points(_collapsed(text)), n)


def _char_repetition(codes: np.ndarray, n: int) -> float:
    freqs = _gram_counts(codes, n)
    if not len(freqs):
        return 0.0
    repeated = int(np.count_nonzero(freqs > 1))
    top = min(int(len(freqs) ** 0.5), repeated)
    if not top:
        return 0.0
    return int(np.partition(freqs, len(freqs) - top)[len(freqs) - top:].sum()) / int(freqs.sum())


def word_repetition_ratio(doc_words: list[str], n: int) -> float:
    """Share of word n-gram occurrences that belong to n-grams seen more than once."""
    vocabulary = dict(zip(dict.fromkeys(doc_words), count()))
    ranks = np.fromiter(map(vocabulary.__getitem__, doc_words), dtype=np.uint64, count=len(doc_words))
    freqs = _gram_counts(ranks, n)
    if not len(freqs):
        return 0.0
    return int(freqs[freqs > 1].sum()) / int(freqs.sum())


def _is_special(char: str) -> bool:
    return char == " " or unicodedata.category(char)[0] not in "LM"


_SPECIAL, _NO_SPACE = 1, 2
_TABLE_SIZE = 0x30000  # BMP and the ideographic planes: every no-space script; rarer code points are looked up one by one


@lru_cache(maxsize=None)
def _flag_table() -> np.ndarray:
    """Code point -> ``_SPECIAL`` and ``_NO_SPACE`` bits (about 0.2 s once per process)."""
    no_space = re.compile(f"[{_NO_SPACE_CHARS}]")
    return np.fromiter((_is_special(c) * _SPECIAL | bool(no_space.match(c)) * _NO_SPACE
                        for c in map(chr, range(_TABLE_SIZE))), dtype=np.uint8, count=_TABLE_SIZE)


def _char_flags(codes: np.ndarray) -> np.ndarray:
    """``_SPECIAL``/``_NO_SPACE`` bits of every code point."""
    table = _flag_table()
    if not len(codes) or codes.max() < _TABLE_SIZE:
        return table[codes]
    return np.fromiter((table[c] if c < _TABLE_SIZE else _is_special(chr(c)) * _SPECIAL for c in codes.tolist()),
                       dtype=np.uint8, count=len(codes))


def special_char_ratio(text: str) -> float:
    """Share of characters that are not letters or marks (digits, punctuation, symbols, spaces)."""
    codes = _code_points(_collapsed(text))
    return _special_ratio(codes, _char_flags(codes))


def _special_ratio(codes: np.ndarray, flags: np.ndarray) -> float:
    # Leading and trailing whitespace is not counted: after collapsing it is at most one space at each end.
    ends = int(len(codes) > 0 and codes[0] == 32) + int(len(codes) > 1 and codes[-1] == 32)
    length = len(codes) - ends
    if length <= 0:
        return 1.0
    return (int(np.count_nonzero(flags & _SPECIAL)) - ends) / length


def long_token_ratio(text: str, min_chars: int) -> float:
    """Share of non-space characters in space-free tokens of at least ``min_chars`` characters
    (minified code, base64, binary decoded as text). No-space-script characters never form long
    tokens but do count in the total, so a few URLs in a Chinese page weigh as little as in prose."""
    codes = _code_points(_collapsed(text))
    return _long_token_ratio(codes, _char_flags(codes), min_chars)


def _long_token_ratio(codes: np.ndarray, flags: np.ndarray, min_chars: int) -> float:
    """``long_token_ratio`` from the collapsed text's code points, whose only whitespace is single spaces."""
    space = codes == 32
    total = len(codes) - int(np.count_nonzero(space))
    if not total:
        return 0.0
    # Long tokens are the maximal runs between separators (spaces and no-space-script characters).
    breaks = np.flatnonzero(space | (flags & _NO_SPACE).astype(bool))
    runs = np.diff(breaks, prepend=-1, append=len(codes)) - 1
    return int(runs[runs >= max(1, min_chars)].sum()) / total


def word_list_ratio(doc_words: list[str], augmented: list[str], wordlist: frozenset[str]) -> float:
    """Hits of a word list among words (and augmented substrings) per word, capped at 1."""
    if not doc_words:
        return 0.0
    hits = sum(map(wordlist.__contains__, doc_words)) + sum(map(wordlist.__contains__, augmented))
    return min(1.0, hits / len(doc_words))


def score_document(text: str, lang: str, params: FilterParams, lang_score: float | None = None) -> dict[str, float]:
    """Every score for one document; a score whose resource is missing (no word list, language id
    off, no KenLM model) is absent, and ``keep_document`` skips that filter."""
    codes = _code_points(_collapsed(text))
    flags = _char_flags(codes)
    no_space = bool(np.any(flags & _NO_SPACE))  # lower() neither makes nor unmakes these characters
    lowered = text.lower()
    doc_words = _words(lowered, no_space)
    augmented = _augmented(lowered) if no_space else []
    scores: dict[str, float] = {
        "words": len(doc_words),
        "char_repetition": round(_char_repetition(codes, params.char_repetition_n), 4),
        "word_repetition": round(word_repetition_ratio(doc_words, params.word_repetition_n), 4),
        "special_char_ratio": round(_special_ratio(codes, flags), 4),
        "long_token_ratio": round(_long_token_ratio(codes, flags, params.long_token_chars), 4),
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
