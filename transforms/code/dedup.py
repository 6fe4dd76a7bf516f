"""Dedup keys of source code: a whitespace-insensitive exact key and token n-gram MinHash signatures,
both within one programming language.

Tokens are the runs of word characters (identifiers, keywords, numbers) and the runs of other
non-space characters (operators, brackets: ``->``, ``==``, ``):``), case kept: in code, ``Foo`` and
``foo`` are different names and ``a + b`` is not ``a - b``. Indentation, blank lines, trailing
spaces and line endings change no token, so a re-indented or re-wrapped copy is the same file.
- Exact key: blake2b-128 of the language and the tokens joined by single spaces.
- Near dedup: MinHash over token n-grams (``MinHashConfig.ngram``, 5 by default, The Stack's and
  BigCode's choice), hashed and permuted exactly as prose shingles are
  (``transforms.dedup.minhash_kernels``), but with permutations seeded by the language as well, so
  that files of two languages never look alike: each language is its own dedup space, as the
  ``lang`` partition is its own shard space.
"""
from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from functools import cache

import numpy as np

from transforms.dedup.minhash import MinHashConfig
from transforms.dedup.minhash_kernels import minhash_rows

CODE_TOKENS = re.compile(r"\w+|[^\w\s\x00-\x20]+")  # control characters separate, as in the kernel
CODE_EXACT_KEY = "blake2b-128 of lang + code tokens (word runs, symbol runs) joined by one space"


def code_tokens(text: str) -> list[str]:
    return CODE_TOKENS.findall(text)


def token_form(text: str) -> str:
    """The tokens joined by single spaces: what both keys are made of."""
    return " ".join(CODE_TOKENS.findall(text))


def code_exact_key(text: str, lang: str) -> str:
    return hashlib.blake2b(f"{lang}\0{token_form(text)}".encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


def code_shingles(text: str, ngram: int) -> set[bytes]:
    """Token n-grams as the signature hashes them; a file of fewer tokens is one shingle of them all."""
    tokens = code_tokens(text)
    if not tokens:
        return set()
    if len(tokens) < ngram:
        return {" ".join(tokens).encode("utf-8", "surrogatepass")}
    return {" ".join(tokens[i:i + ngram]).encode("utf-8", "surrogatepass") for i in range(len(tokens) - ngram + 1)}


def language_seed(seed: int, lang: str) -> int:
    """The permutation seed of one language's signatures."""
    return (seed * 1_000_003 + zlib.crc32(lang.encode("utf-8"))) % (1 << 31)


@cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def code_signatures(texts: Sequence[str], langs: Sequence[str], config: MinHashConfig) -> np.ndarray:
    """(len(texts), num_perm) uint32 signatures, one language's texts at a time."""
    out = np.empty((len(texts), config.num_perm), dtype=np.uint32)
    for lang in sorted(set(langs)):
        rows = [i for i, x in enumerate(langs) if x == lang]
        buf = "".join(token_form(texts[i]).replace("\n", " ") + "\n" for i in rows).encode("utf-8", "surrogatepass")
        a, b = _permutations(config.num_perm, language_seed(config.seed, lang))
        part = np.empty((len(rows), config.num_perm), dtype=np.uint32)
        written = minhash_rows(np.frombuffer(buf, dtype=np.uint8), config.ngram, a, b, part)
        if written != len(rows):
            raise RuntimeError(f"token form of {len(rows)} texts held {written} documents")
        out[rows] = part
    return out
