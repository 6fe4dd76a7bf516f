"""MinHash signatures and LSH band keys, with datasketch's semantics.

Shingles are word n-grams after NFKC, lowercasing and stripping punctuation; signatures are
computed by ``datasketch.MinHash`` (scheme ``affine32``) with permutations built once per config,
so they are datasketch's bit for bit. Bands and rows come from datasketch's own optimiser for the
threshold, exactly as ``MinHashLSH(threshold=...)`` would choose them.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

MINHASH_SCHEME = "affine32"
_PUNCT = re.compile(r"[^\w\s]+")


def dedup_normal_form(text: str) -> str:
    """NFKC, lowercase, punctuation removed, whitespace collapsed: equal here means 'same text'."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def shingles(text: str, ngram: int) -> set[bytes]:
    """Word n-grams of the normalised text; a text shorter than n is one shingle of all its words."""
    words = dedup_normal_form(text).split()
    if not words:
        return set()
    if len(words) < ngram:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + ngram]).encode("utf-8") for i in range(len(words) - ngram + 1)}


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that a pair with this Jaccard shares at least one band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


@dataclass(frozen=True)
class MinHashConfig:
    """One validated set of MinHash/LSH settings; bands x rows derive from the threshold."""
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.8
    bands: int | None = None
    rows: int | None = None
    _resolved: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ngram < 1 or self.num_perm < 2:
            raise ValueError("ngram must be >= 1 and num_perm >= 2")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be in (0, 1)")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then the threshold decides)")
        if self.bands is not None:
            if self.bands * self.rows > self.num_perm:
                raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
            resolved = (self.bands, self.rows)
        else:
            from datasketch.lsh import _optimal_param

            resolved = _optimal_param(self.threshold, self.num_perm, 0.5, 0.5)
        object.__setattr__(self, "_resolved", resolved)

    @property
    def bands_rows(self) -> tuple[int, int]:
        return self._resolved

    @cached_property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        from datasketch import MinHash

        return MinHash(num_perm=self.num_perm, seed=self.seed, scheme=MINHASH_SCHEME).permutations

    def describe(self) -> dict:
        b, r = self.bands_rows
        return {
            "ngram": self.ngram, "num_perm": self.num_perm, "seed": self.seed, "threshold": self.threshold,
            "bands": b, "rows": r, "scheme": MINHASH_SCHEME, "hash": "sha1_hash32",
            "candidate_probability": {str(j): round(candidate_probability(j, b, r), 4) for j in (0.5, 0.7, 0.8, 0.9)},
        }


def signature(shingle_set: set[bytes], config: MinHashConfig) -> np.ndarray:
    from datasketch import MinHash

    m = MinHash(num_perm=config.num_perm, seed=config.seed, permutations=config.permutations, scheme=MINHASH_SCHEME)
    if shingle_set:
        m.update_batch(sorted(shingle_set))
    return m.hashvalues


def band_keys(sig: np.ndarray, config: MinHashConfig) -> list[str]:
    """One key per band: two documents sharing a key are near-duplicate candidates."""
    bands, rows = config.bands_rows
    keys = []
    for i in range(bands):
        digest = hashlib.blake2b(sig[i * rows:(i + 1) * rows].astype("<u8").tobytes(), digest_size=12).hexdigest()
        keys.append(f"{i:03d}:{digest}")
    return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)
