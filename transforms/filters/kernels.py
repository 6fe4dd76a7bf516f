"""Compiled loops (numba) behind the quality-filter scores that Python cannot do in bulk.

Each function computes exactly what its plain definition in ``transforms.filters.scores`` says (a test
compares them on real documents): hashes only bucket things, and every pair a hash puts together
is compared element by element. Compiled once per machine (``cache=True``; about 6 s the first
time, then about 0.7 s per process to load).

Inputs are code-point arrays (uint32) and a per-code-point flag table, so no Python object is
made per character, word or n-gram.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Character-table bits: str.isspace(), no-space script, stripped from word ends, "special" (not a letter or mark).
SPACE, NO_SPACE, STRIP, SPECIAL = 1, 2, 4, 8
_P = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)


@njit(cache=True, nogil=True)
def _mix(h):
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    return h ^ (h >> np.uint64(33))


@njit(cache=True, nogil=True)
def span_hash(cps, start, end):
    """A 64-bit hash of ``cps[start:end]``; equal spans hash equal (the converse is checked, never assumed)."""
    h = np.uint64(end - start)
    for i in range(start, end):
        h = h * _P + np.uint64(cps[i]) + np.uint64(1)
    return _mix(h)


@njit(cache=True, nogil=True)
def _same(cps, a, b, n):
    for j in range(n):
        if cps[a + j] != cps[b + j]:
            return False
    return True


@njit(cache=True, nogil=True)
def _table_size(min_slots):
    """The slots of an open-addressing table (the smallest power of two >= ``min_slots``, at least 2:
    a shift by 64, a 1-slot table, is undefined) and the shift that maps a 64-bit hash to a slot."""
    size = 2
    while size < min_slots:
        size *= 2
    return size, np.uint64(64 - int(np.log2(size)))


@njit(cache=True, nogil=True)
def _gram_counts(seq, n):
    """Occurrences of each distinct n-gram of ``seq`` (any order): a hash table of first positions,
    probed linearly, with every candidate match compared element by element."""
    m = len(seq) - n + 1
    size, shift = _table_size(2 * m)
    first = np.full(size, -1, dtype=np.int32)  # 8 bytes a slot: the table stays in cache longer
    count = np.zeros(size, dtype=np.int32)
    top = np.uint64(1)
    for _ in range(n - 1):
        top *= _P
    h = np.uint64(0)
    for j in range(n):
        h = h * _P + np.uint64(seq[j])
    distinct = 0
    for i in range(m):
        if i:
            h = (h - np.uint64(seq[i - 1]) * top) * _P + np.uint64(seq[i + n - 1])
        slot = _mix(h) >> shift
        while True:
            pos = first[slot]
            if pos < 0:
                first[slot] = i
                count[slot] = 1
                distinct += 1
                break
            if _same(seq, pos, i, n):
                count[slot] += 1
                break
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
    freqs = np.empty(distinct, dtype=np.int64)
    k = 0
    for s in range(size):
        if first[s] >= 0:
            freqs[k] = count[s]
            k += 1
    return freqs


@njit(cache=True, nogil=True)
def collapsed(raw, table):
    """The code points of ``raw`` with every whitespace run as one space (``str.split``'s whitespace)."""
    out = np.empty(len(raw), dtype=np.uint32)
    k = 0
    in_space = False
    for cp in raw:
        if cp < len(table) and table[cp] & SPACE:
            if not in_space:
                out[k] = 32
                k += 1
                in_space = True
        else:
            out[k] = cp
            k += 1
            in_space = False
    return out[:k]


@njit(cache=True, nogil=True)
def char_scores(raw, table, n, min_chars):
    """(character repetition, special-character ratio, long-token ratio) of a text's code points,
    whitespace runs counted as one space: the floor(sqrt(#distinct)) most frequent repeated
    n-grams' share of all n-gram occurrences; the share of special characters (not counting one
    leading and one trailing space); the share of non-space characters in runs of at least
    ``min_chars`` characters that are neither spaces nor no-space script."""
    codes = collapsed(raw, table)
    length = len(codes)
    repetition = 0.0
    if length - n + 1 > 0:
        freqs = _gram_counts(codes, n)
        repeated = 0
        most = 0
        for f in freqs:
            if f > 1:
                repeated += 1
            most = max(most, f)
        keep = min(int(np.sqrt(len(freqs))), repeated)
        if keep:
            # The sum of the ``keep`` largest frequencies, from a histogram of them: no sort.
            histogram = np.zeros(most + 1, dtype=np.int64)
            for f in freqs:
                histogram[f] += 1
            total = 0
            f = most
            while keep:
                take = min(keep, histogram[f])
                total += take * f
                keep -= take
                f -= 1
            repetition = total / (length - n + 1)
    ends = 0
    if length > 0 and codes[0] == 32:
        ends += 1
    if length > 1 and codes[length - 1] == 32:
        ends += 1
    special = 0
    spaces = 0
    long_chars = 0
    run = 0
    for i in range(length):
        cp = codes[i]
        f = table[cp] if cp < len(table) else 0
        if f & SPECIAL:
            special += 1
        if cp == 32:
            spaces += 1
        if cp == 32 or f & NO_SPACE:
            if run >= min_chars:
                long_chars += run
            run = 0
        else:
            run += 1
    if run >= min_chars:
        long_chars += run
    special_ratio = 1.0 if length - ends <= 0 else (special - ends) / (length - ends)
    total = length - spaces
    long_ratio = 0.0 if total == 0 else long_chars / total
    return repetition, special_ratio, long_ratio


@njit(cache=True, nogil=True)
def repeated_share(ids, n):
    """Share of the n-grams of ``ids`` (word numbers) that occur more than once."""
    m = len(ids) - n + 1
    if m <= 0:
        return 0.0
    freqs = _gram_counts(ids, n)
    repeated = 0
    for f in freqs:
        if f > 1:
            repeated += f
    return repeated / m


@njit(cache=True, nogil=True)
def words(low, table):
    """The words of a lower-cased text's code points: (starts, ends, ids, first position of each id).

    As ``transforms.filters.words``: whitespace splits, every no-space-script character is a token
    of its own, ``STRIP`` characters come off both ends of a token and empty tokens vanish. ``ids``
    number distinct words in first-seen order.
    """
    n = len(low)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    count = 0
    i = 0
    while i < n:
        f = table[low[i]] if low[i] < len(table) else 0
        if f & SPACE:
            i += 1
            continue
        s = i
        if f & NO_SPACE:
            i += 1
        else:
            i += 1
            while i < n:
                g = table[low[i]] if low[i] < len(table) else 0
                if g & (SPACE | NO_SPACE):
                    break
                i += 1
        e = i
        while s < e and low[s] < len(table) and table[low[s]] & STRIP:
            s += 1
        while e > s and low[e - 1] < len(table) and table[low[e - 1]] & STRIP:
            e -= 1
        if s < e:
            starts[count] = s
            ends[count] = e
            count += 1
    starts, ends = starts[:count], ends[:count]
    size, shift = _table_size(2 * count + 1)
    slot_word = np.full(size, -1, dtype=np.int64)
    slot_id = np.zeros(size, dtype=np.int64)
    ids = np.empty(count, dtype=np.int64)
    firsts = np.empty(count, dtype=np.int64)
    distinct = 0
    for w in range(count):
        length = ends[w] - starts[w]
        slot = span_hash(low, starts[w], ends[w]) >> shift
        while True:
            other = slot_word[slot]
            if other < 0:
                slot_word[slot] = w
                slot_id[slot] = distinct
                firsts[distinct] = w
                ids[w] = distinct
                distinct += 1
                break
            if ends[other] - starts[other] == length and _same(low, starts[other], starts[w], length):
                ids[w] = slot_id[slot]
                break
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
    return starts, ends, ids, firsts[:distinct]


@njit(cache=True, nogil=True)
def list_table(hashes):
    """An open-addressing table over a word list's entry hashes: slot -> entry index, -1 for empty."""
    size, shift = _table_size(2 * len(hashes) + 1)
    slots = np.full(size, -1, dtype=np.int64)
    for e in range(len(hashes)):
        slot = hashes[e] >> shift
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & np.uint64(size - 1)
        slots[slot] = e
    return slots


@njit(cache=True, nogil=True)
def _listed(cps, start, end, slots, hashes, offsets, entries):
    """Whether ``cps[start:end]`` is one of a word list's entries (``list_table`` slots; entry i's
    hash ``hashes[i]``, its code points ``entries[offsets[i]:offsets[i + 1]]``)."""
    h = span_hash(cps, start, end)
    size = len(slots)
    slot = h >> np.uint64(64 - int(np.log2(size)))
    length = end - start
    while True:
        e = slots[slot]
        if e < 0:
            return False
        if hashes[e] == h and offsets[e + 1] - offsets[e] == length:
            lo = offsets[e]
            same = True
            for j in range(length):
                if entries[lo + j] != cps[start + j]:
                    same = False
                    break
            if same:
                return True
        slot = (slot + np.uint64(1)) & np.uint64(size - 1)


@njit(cache=True, nogil=True)
def no_space_runs(low, table):
    """(start, end) of every run of two or more no-space-script characters."""
    n = len(low)
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    count = 0
    i = 0
    while i < n:
        if low[i] < len(table) and table[low[i]] & NO_SPACE:
            s = i
            while i < n and low[i] < len(table) and table[low[i]] & NO_SPACE:
                i += 1
            if i - s >= 2:
                starts[count] = s
                ends[count] = i
                count += 1
        else:
            i += 1
    return starts[:count], ends[:count]


@njit(cache=True, nogil=True)
def list_hits(low, starts, ends, firsts, per_id, run_starts, run_ends, slots, hashes, offsets, entries):
    """Occurrences of a word list's entries among the words (each distinct word looked up once and
    weighted by its count), plus among the 2- to 4-character substrings of the no-space runs
    (BigScience's augmentation)."""
    hits = 0
    for d in range(len(firsts)):
        w = firsts[d]
        if _listed(low, starts[w], ends[w], slots, hashes, offsets, entries):
            hits += per_id[d]
    for r in range(len(run_starts)):
        s, e = run_starts[r], run_ends[r]
        for size in range(2, 5):
            for a in range(s, e - size + 1):
                if _listed(low, a, a + size, slots, hashes, offsets, entries):
                    hits += 1
    return hits


@njit(cache=True, nogil=True)
def _word_list_ratio(low, starts, ends, firsts, per_id, run_starts, run_ends, slots, hashes, offsets, entries):
    words = len(starts)
    if words == 0:
        return 0.0
    hits = list_hits(low, starts, ends, firsts, per_id, run_starts, run_ends, slots, hashes, offsets, entries)
    return min(1.0, hits / words)


@njit(cache=True, nogil=True)
def document_scores(raw, low, table, char_n, long_chars, word_n, stop, flagged):
    """Every kernel score of one document in one call (one dispatch, one cache load per process):
    (words, character repetition, word repetition, special-character ratio, long-token ratio,
    stop-word ratio, flagged-word ratio). ``stop`` and ``flagged`` are ``(slots, hashes, offsets,
    entries)`` of a word list; a list with no entries gives a ratio the caller drops."""
    repetition, special, long_ratio = char_scores(raw, table, char_n, long_chars)
    starts, ends, ids, firsts = words(low, table)
    word_repetition = repeated_share(ids, word_n)
    per_id = np.zeros(len(firsts), dtype=np.int64)
    for w in range(len(ids)):
        per_id[ids[w]] += 1
    run_starts, run_ends = no_space_runs(low, table)
    stop_ratio = _word_list_ratio(low, starts, ends, firsts, per_id, run_starts, run_ends,
                                  stop[0], stop[1], stop[2], stop[3])
    flagged_ratio = _word_list_ratio(low, starts, ends, firsts, per_id, run_starts, run_ends,
                                     flagged[0], flagged[1], flagged[2], flagged[3])
    return len(ids), repetition, word_repetition, special, long_ratio, stop_ratio, flagged_ratio
