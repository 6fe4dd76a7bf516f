"""MinHash signatures and LSH band keys, datasketch-compatible, computed for many documents at once.

Shingles are word n-grams of ``dedup_normal_form`` (NFKC, lowercase, punctuation -> space,
whitespace collapsed), i.e. the byte spans "w1 w2 ... wn" of the normal form's UTF-8.
Each shingle is hashed by ``shingle_hash32`` (a polynomial hash of its bytes mod 2^64, finalised
with MurmurHash3's fmix64). The permutation step is datasketch's
``affine32`` scheme (fmix32 pre-mix, then ``a*h + b mod 2^32`` with datasketch's own
permutations for the seed), so a signature equals
``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash32).update_batch(shingles)`` bit for bit.
Bands and rows come from datasketch's own optimiser for the threshold; because candidate pairs are
verified afterwards (estimated Jaccard >= threshold), missed pairs are weighted ``recall_weight``
against false candidates ``1 - recall_weight``.

Speed: texts are normalised a group at a time (NFKC per text, per line where the quick check
fails; then lowercase and word/separator code-point tables applied by a compiled loop that writes
the UTF-8 directly), and one compiled pass over a group's bytes hashes each shingle in O(1) from
prefix sums and applies all permutations to it at once (``transforms.dedup.minhash_kernels``).
Memory: ``signatures`` works on groups of at most ``_GROUP_CHARS`` characters (one longer document
forms its own group), about 10 bytes per character of a group (measured: 10.7 MB for 1M
characters of man pages), whatever the batch size, plus 6 MB of code-point tables per process;
the shingle pass itself keeps only the last n words' offsets.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import numpy as np

from transforms.dedup.minhash_kernels import END as _END
from transforms.dedup.minhash_kernels import POLY as _POLY
from transforms.dedup.minhash_kernels import SEPARATOR as _SEPARATOR
from transforms.dedup.minhash_kernels import WORD as _WORD
from transforms.dedup.minhash_kernels import minhash_rows, normal_utf8

MINHASH_SCHEME = "affine32"
SHINGLE_HASH = "poly64-fmix64-hi32"
BAND_HASH = "fmix64-chain"
# Source code's shingles (``transforms.code.dedup``), described here with the settings they share.
CODE_SHINGLES = "code token n-grams (word runs and symbol runs, case kept); permutations seeded by seed and lang"
_PUNCT = re.compile(r"[^\w\s]+")
_MASK64 = (1 << 64) - 1
_FMIX64 = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_GROUP_CHARS = 1 << 20
_DOC_END = "\x00"  # not a word character, and inert under NFKC and lower(): a document boundary in a batch
_LOWER_IN_CONTEXT = ("\u03a3", "\u0130")  # capital sigma (final or not), dotted I (lowercases to two)


_ASCII_PUNCT_TO_SPACE = bytes(32 if _PUNCT.fullmatch(chr(c)) or chr(c).isspace() else c for c in range(256))


def _normal_bytes(text: str) -> bytes:
    """UTF-8 of ``dedup_normal_form`` for one text: the reference that ``_normal_batch`` must equal."""
    if text.isascii():
        return b" ".join(text.lower().encode("ascii").translate(_ASCII_PUNCT_TO_SPACE).split())
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCT.sub(" ", text).split()).encode("utf-8")


def _nfkc(text: str) -> str:
    """NFKC line by line where the quick check fails: one odd character costs its line, not the text.

    Exact, because a newline neither decomposes nor composes with its neighbours.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    return "\n".join(unicodedata.normalize("NFKC", line) for line in text.split("\n"))


@cache
def _char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(output, kind) of every code point, built once per process (0.1 s) from Python itself.

    Kind: ``_WORD`` where ``\\w`` matches its lowercase, ``_END`` for ``_DOC_END``, else separator; the
    normal form's words are the runs of ``\\w`` (``[^\\w\\s]`` and ``\\s`` both separate them), taken
    from the regex engine so they cannot drift from ``_PUNCT``. Output: the lowercase of a word
    character, a space for a separator, a newline for ``_DOC_END``. Lowercase is ``str.lower()`` per
    code point, exact except for ``_LOWER_IN_CONTEXT``, whose texts are lowered with ``str.lower()`` first.
    """
    every = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    word = np.zeros(0x110000, dtype=bool)
    for m in re.finditer(r"\w+", every):
        word[m.start():m.end()] = True
    dotted = ord("\u0130")  # the one code point whose lowercase is two
    lowered = every[:dotted].lower() + every[dotted] + every[dotted + 1:].lower()
    lower = np.frombuffer(lowered.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    if len(lower) != 0x110000 or (lower[lower] != lower).any():
        raise RuntimeError("this Python's Unicode data breaks the lowercase table "
                           "(several code points, not idempotent)")
    kind = np.where(word[lower], _WORD, _SEPARATOR).astype(np.uint8)
    output = np.where(word[lower], lower, np.uint32(0x20)).astype("<u4")
    kind[ord(_DOC_END)], output[ord(_DOC_END)] = _END, 0x0A
    return output, kind


def _nfkc_lower_in_context(text: str) -> str:
    """NFKC, then ``str.lower()`` for the rare text the lowercase table cannot do (idempotent after)."""
    text = text.replace(_DOC_END, " ")
    if text.isascii():
        return text
    text = _nfkc(text)
    return text.lower() if any(c in text for c in _LOWER_IN_CONTEXT) else text


def _normal_batch(texts: Sequence[str]) -> np.ndarray:
    """UTF-8 bytes of every text's normal form, each followed by a newline, as one uint8 array.

    A space may precede a newline (it ends no word, so shingles do not see it).

    The texts joined by ``_DOC_END`` go through NFKC, then through code-point tables (lowercase,
    word or separator) in one compiled loop, instead of lower(), a regex and split/join per text.
    """
    output, kinds = _char_tables()
    joined = _DOC_END.join(map(_nfkc_lower_in_context, texts)) + _DOC_END
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    buf = np.empty(4 * len(cps), dtype=np.uint8)
    return buf[:normal_utf8(cps, output, kinds, buf)]


def normal_forms(texts: Sequence[str]) -> list[bytes]:
    """UTF-8 of every text's ``dedup_normal_form``, from one ``_normal_batch`` pass (code-point
    tables in a compiled loop instead of a regex per text)."""
    if not texts:
        return []
    return [form.removesuffix(b" ") for form in _normal_batch(texts).tobytes().split(b"\n")[:-1]]


def dedup_normal_form(text: str) -> str:
    """NFKC, lowercase, punctuation removed, whitespace collapsed: equal here means 'same text'."""
    return _normal_bytes(text).decode("utf-8")


def shingles(text: str, ngram: int) -> set[bytes]:
    """Word n-grams of the normalised text; a text shorter than n is one shingle of all its words."""
    words = dedup_normal_form(text).split()
    if not words:
        return set()
    if len(words) < ngram:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + ngram]).encode("utf-8") for i in range(len(words) - ngram + 1)}


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def shingle_hash32(data: bytes) -> int:
    """The shingle hash as a plain function (datasketch ``hashfunc=``); ``signatures`` vectorises it."""
    h, p = 0, 1
    for byte in data:
        h = (h + (byte + 1) * p) & _MASK64
        p = (p * _POLY) & _MASK64
    return _fmix64_int(h ^ len(data)) >> 32


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX64[0]
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX64[1]
    return h ^ (h >> np.uint64(33))


def _groups(texts: Sequence[str]) -> list[tuple[int, int]]:
    """[lo, hi) ranges of consecutive texts of at most ``_GROUP_CHARS`` characters (or one text)."""
    bounds, size = [0], 0
    for i, text in enumerate(texts):
        if size and size + len(text) > _GROUP_CHARS:
            bounds.append(i)
            size = 0
        size += len(text)
    bounds.append(len(texts))
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def signatures(texts: Sequence[str], config: MinHashConfig) -> np.ndarray:
    """MinHash signatures of many texts at once: a (len(texts), num_perm) uint32 array.

    A text without shingles keeps datasketch's empty value (2^32 - 1 everywhere).
    """
    a, b = config.permutations
    out = np.empty((len(texts), config.num_perm), dtype=np.uint32)
    for first_text, end_text in _groups(texts):
        written = minhash_rows(_normal_batch(texts[first_text:end_text]), config.ngram, a, b, out[first_text:end_text])
        if written != end_text - first_text:
            raise RuntimeError(f"normal form of {end_text - first_text} texts held {written} documents")
    return out


def has_shingles(sigs: np.ndarray) -> np.ndarray:
    """False for texts without any shingle (empty after normalisation): they never join a cluster."""
    return (sigs != np.iinfo(np.uint32).max).any(axis=1)


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that a pair with this Jaccard shares at least one band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


_TIE = 1e-9  # relative gap under which two (bands, rows) choices are left to datasketch's own integration


@cache
def _optimal_bands_rows(threshold: float, num_perm: int, recall_weight: float) -> tuple[int, int]:
    """datasketch's ``MinHashLSH`` optimiser (``datasketch.lsh._optimal_param``): the (bands, rows)
    that minimise the weighted areas of false positives below the threshold and false negatives
    above it. The integrands are polynomials of degree rows x bands <= num_perm, which
    Gauss-Legendre quadrature with num_perm / 2 + 1 nodes integrates exactly, for every pair at
    once (milliseconds, where datasketch's 3,000 calls to scipy's ``quad`` take a second per
    process). A near-tie, where the two methods' rounding could pick different pairs, is handed to
    datasketch, so the choice is always datasketch's."""
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    bands, rows = pairs[:, :1], pairs[:, 1:]

    def area(lo: float, hi: float, above: bool) -> np.ndarray:
        s = (nodes + 1.0) * (hi - lo) / 2.0 + lo
        candidate = 1.0 - (1.0 - s[None, :] ** rows) ** bands  # probability that a pair at Jaccard s shares a band
        return ((1.0 - candidate) if above else candidate) @ weights * (hi - lo) / 2.0

    error = area(0.0, threshold, False) * (1.0 - recall_weight) + area(threshold, 1.0, True) * recall_weight
    order = np.argsort(error, kind="stable")
    if error[order[1]] - error[order[0]] <= _TIE * error[order[0]]:
        from datasketch.lsh import _optimal_param

        return _optimal_param(threshold, num_perm, 1.0 - recall_weight, recall_weight)
    b, r = pairs[order[0]]
    return int(b), int(r)


@dataclass(frozen=True)
class MinHashConfig:
    """One validated set of MinHash/LSH settings; bands x rows derive from the threshold.

    ``threshold`` is both the Jaccard the LSH is tuned for and the estimated Jaccard a candidate
    pair must reach when ``verify`` is on. ``partitions`` splits each band's buckets over that many
    groups (each holds about documents / partitions postings); ``bucket_fanout`` caps the candidate
    pairs of a bucket member (see ``transforms.dedup.bucket_pairs``).
    """
    ngram: int = 5
    num_perm: int = 256
    seed: int = 1
    threshold: float = 0.7
    bands: int | None = None
    rows: int | None = None
    recall_weight: float = 0.9
    verify: bool = True
    partitions: int = 16
    bucket_fanout: int = 32
    _resolved: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be in (0, 1)")
        if self.partitions < 1 or self.bucket_fanout < 1:
            raise ValueError("partitions and bucket_fanout must be >= 1")
        if not 0.0 < self.recall_weight < 1.0:
            raise ValueError("recall_weight must be in (0, 1)")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then the threshold decides)")
        if self.bands is not None and self.rows is not None:
            if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
                raise ValueError(f"bands x rows = {self.bands} x {self.rows} must be >= 1 "
                                 f"and <= num_perm = {self.num_perm}")
            resolved = (self.bands, self.rows)
        else:
            resolved = _optimal_bands_rows(self.threshold, self.num_perm, self.recall_weight)
        object.__setattr__(self, "_resolved", resolved)

    @property
    def bands_rows(self) -> tuple[int, int]:
        return self._resolved

    @cached_property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        from datasketch import MinHash

        a, b = MinHash(num_perm=self.num_perm, seed=self.seed, scheme=MINHASH_SCHEME).permutations
        return a.astype(np.uint32), b.astype(np.uint32)

    def signature_settings(self) -> dict:
        """What makes two signatures comparable (bands and rows can be recomputed from them)."""
        return {"ngram": self.ngram, "num_perm": self.num_perm, "seed": self.seed,
                "scheme": MINHASH_SCHEME, "hash": SHINGLE_HASH}

    @classmethod
    def from_options(cls, opts: Any) -> MinHashConfig:
        """The settings the ``--minhash-*`` options ask for."""
        return cls(ngram=opts.minhash_ngram, num_perm=opts.minhash_perm, seed=opts.minhash_seed,
                   threshold=opts.minhash_threshold, bands=opts.minhash_bands, rows=opts.minhash_rows,
                   verify=opts.minhash_verify, partitions=opts.minhash_partitions,
                   bucket_fanout=opts.minhash_bucket_fanout)

    def describe(self) -> dict:
        b, r = self.bands_rows
        return {
            **self.signature_settings(), "threshold": self.threshold, "bands": b, "rows": r,
            "band_hash": BAND_HASH, "recall_weight": self.recall_weight, "verify": self.verify,
            "partitions": self.partitions, "bucket_fanout": self.bucket_fanout, "clustering": "greedy-star",
            "code_shingles": CODE_SHINGLES,
            "candidate_probability": {str(j): round(candidate_probability(j, b, r), 4) for j in (0.5, 0.7, 0.8, 0.9)},
        }


def band_hashes(sigs: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """(docs, bands) uint64: two documents with equal values in one column are candidates."""
    bands, rows = config.bands_rows
    grid = sigs[:, :bands * rows].reshape(len(sigs), bands, rows).astype(np.uint64)
    h = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _FMIX64[1], grid.shape[:2])
    for r in range(rows):
        h = _fmix64(h ^ grid[:, :, r])
    return h


def estimated_jaccards(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, the share of equal signature values of two (pairs, num_perm) arrays."""
    return np.count_nonzero(a == b, axis=1) / a.shape[1]
