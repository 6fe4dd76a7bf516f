"""Compiled loops (numba) behind MinHash signatures: the normal form's bytes, and each document's
shingle hashes and permutation minima in one pass over them.

Each kernel computes exactly what its plain definition in ``transforms.dedup.minhash`` says
(``_normal_bytes``, ``shingle_hash32`` and datasketch's ``affine32`` permutations); tests compare
them bit for bit. Compiled once per machine (``cache=True``), then loaded from the cache.

Why compiled: numpy needed one pass over all shingles per permutation (256 passes plus a
``reduceat``) and a prefix sum with two power tables of 8 bytes per byte for the shingle hashes;
here the prefix sums run along the bytes, a shingle is hashed in O(1) when its last word ends, and
it meets all 256 permutations while it sits in a register, which LLVM vectorises (uint32 lanes).
Measured on 20,236 documents (44 MB of normal form): 0.35 s against numpy's 1.0 s.
"""
from __future__ import annotations

import numpy as np
from numba import njit

SEPARATOR, WORD, END = 0, 1, 2  # code-point kinds of ``transforms.minhash._char_tables``
POLY = 0x9E3779B97F4A7C15  # the shingle hash's base; odd, hence invertible mod 2^64
_P = np.uint64(POLY)
_P_INVERSE = np.uint64(pow(POLY, -1, 1 << 64))
# MurmurHash3 fmix64, written out here as in ``transforms.filters.kernels`` rather than imported:
# numba's cache does not notice a change to a compiled function that lives in another file.
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_F1 = np.uint32(0x85EBCA6B)  # MurmurHash3 fmix32, datasketch's pre-mix of the affine32 scheme
_F2 = np.uint32(0xC2B2AE35)
_EMPTY = np.uint32(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def normal_utf8(cps, output, kind, out):
    """UTF-8 of the normal form of ``cps`` into ``out`` (at least 4 bytes per code point); returns its length.

    Keeps word characters, document ends and the first separator after a word, each replaced by its
    ``output`` code point (lowercase, space, newline), so a document ends in "\\n" or " \\n".
    """
    n = 0
    after_word = False
    for i in range(len(cps)):
        c = cps[i]
        k = kind[c]
        if k != SEPARATOR or after_word:
            o = output[c]
            if o < 0x80:
                out[n] = o
                n += 1
            elif o < 0x800:
                out[n] = 0xC0 | (o >> 6)
                out[n + 1] = 0x80 | (o & 0x3F)
                n += 2
            elif o < 0x10000:
                out[n] = 0xE0 | (o >> 12)
                out[n + 1] = 0x80 | ((o >> 6) & 0x3F)
                out[n + 2] = 0x80 | (o & 0x3F)
                n += 3
            else:
                out[n] = 0xF0 | (o >> 18)
                out[n + 1] = 0x80 | ((o >> 12) & 0x3F)
                out[n + 2] = 0x80 | ((o >> 6) & 0x3F)
                out[n + 3] = 0x80 | (o & 0x3F)
                n += 4
        after_word = k == WORD
    return n


@njit(cache=True, nogil=True)
def _finish(poly, length):
    """``shingle_hash32`` from a shingle's polynomial (sum of (byte + 1) * P^i) and its length in bytes."""
    h = poly ^ np.uint64(length)
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    h ^= h >> np.uint64(33)
    return np.uint32(h >> np.uint64(32))


@njit(cache=True, nogil=True)
def _permute_into(row, x, a, b):
    """datasketch's affine32 step for one shingle hash: fmix32, then min(row, a * x + b mod 2^32)."""
    x ^= x >> np.uint32(16)
    x = np.uint32(x * _F1)
    x ^= x >> np.uint32(13)
    x = np.uint32(x * _F2)
    x ^= x >> np.uint32(16)
    for p in range(len(a)):
        row[p] = min(row[p], np.uint32(a[p] * x + b[p]))


@njit(cache=True, nogil=True)
def minhash_rows(buf, ngram, a, b, out):
    """MinHash signature of every document of a normal-form buffer (documents end at "\\n") into
    ``out``, one row each; returns the number of documents written.

    Word n-gram shingles, or one shingle of all the words of a shorter document; a document without
    words keeps 2^32 - 1 everywhere. Words end at a byte <= 0x20 (only spaces and newlines are that
    low in a normal form) and are one space apart, so a shingle is the bytes from its first word's
    start to its last word's end. Its polynomial is a difference of two prefix sums times P^-start,
    O(1) per shingle; the last ``ngram`` word starts live in rings, so memory does not grow with the text.
    """
    start_at = np.zeros(ngram, dtype=np.int64)  # per word of the ring: start offset, prefix sum and P^-start there
    start_sum = np.zeros(ngram, dtype=np.uint64)
    start_inverse = np.zeros(ngram, dtype=np.uint64)
    prefix, power, inverse = np.uint64(0), np.uint64(1), np.uint64(1)
    word_start, word_sum, word_inverse = 0, prefix, inverse
    end_at, end_sum = 0, prefix  # the last word's end
    doc = words = slot = 0  # slot: the next word's place in the rings, words % ngram
    out[:, :] = _EMPTY
    for i in range(len(buf)):
        byte = buf[i]
        if byte <= 0x20:
            if i > word_start:
                start_at[slot], start_sum[slot], start_inverse[slot] = word_start, word_sum, word_inverse
                end_at, end_sum = i, prefix
                words += 1
                slot = slot + 1 if slot + 1 < ngram else 0  # no division: ngram is not a constant
                if words >= ngram:  # slot now holds the oldest of the last ngram words
                    poly = (prefix - start_sum[slot]) * start_inverse[slot]
                    _permute_into(out[doc], _finish(poly, i - start_at[slot]), a, b)
            if byte == 0x0A:
                if 0 < words < ngram:
                    poly = (end_sum - start_sum[0]) * start_inverse[0]
                    _permute_into(out[doc], _finish(poly, end_at - start_at[0]), a, b)
                doc += 1
                words = slot = 0
                if doc == out.shape[0]:  # never write past ``out``, whatever the buffer holds
                    return doc
        prefix += (np.uint64(byte) + np.uint64(1)) * power
        power *= _P
        inverse *= _P_INVERSE
        if byte <= 0x20:
            word_start, word_sum, word_inverse = i + 1, prefix, inverse
    return doc
