"""The vectorised filter scores and the prefiltered PII scans against their plain definitions.

The reference functions below are the straightforward (slow) implementations the scores are
defined by; every score must come out bit-identical on real documents in many scripts, so the
speed-up can never move a document across a threshold.
"""
import heapq
import re
import unicodedata
from collections import Counter

import pytest

from tests.conftest import shared_sample
from transforms import filters, pii
from transforms.filter_config import load_filter_config
from transforms.filter_wordlists import flagged_words, stopwords

_NO_SPACE_CHAR = re.compile(f"[{filters._NO_SPACE_CHARS}]")
_STRIP = filters._STRIP
EDGE_CASES = ["", " ", "\t \n", "a", " a ", "ab ", "x" * 100, "\x1c\x1dword\x1e end", "委员会", " 委 员 ",
              "İstanbul İİ", "\ud800abc", "a\u3000b\u2028c", "😀😀😀 🎉🎉 \U00030000\U000e0001",
              "ab" * 40 + " " + "abc" * 30, "東京 Tower に行く 他妈的他妈的"]


def ref_words(text):
    spaced = _NO_SPACE_CHAR.sub(r" \g<0> ", text.lower())
    return [w for w in (t.strip(_STRIP) for t in spaced.split()) if w]


def ref_augmented(text):
    return [run[i:i + n] for run in re.findall(f"[{filters._NO_SPACE_CHARS}]{{2,}}", text.lower())
            for n in (2, 3, 4) for i in range(len(run) - n + 1)]


def ref_char_repetition(text, n):
    text = re.sub(r"\s+", " ", text)
    freqs = Counter(text[i:i + n] for i in range(len(text) - n + 1))
    if not freqs:
        return 0.0
    top = min(int(len(freqs) ** 0.5), sum(1 for f in freqs.values() if f > 1))
    return sum(heapq.nlargest(top, freqs.values())) / sum(freqs.values())


def ref_word_repetition(words, n):
    freqs = Counter(zip(*(words[i:] for i in range(n))))
    return sum(f for f in freqs.values() if f > 1) / sum(freqs.values()) if freqs else 0.0


def ref_special(text):
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return 1.0
    return sum(1 for c in text if c == " " or unicodedata.category(c)[0] not in "LM") / len(text)


def ref_long_tokens(text, min_chars):
    total = sum(map(len, text.split()))
    long_chars = sum(len(t) for t in _NO_SPACE_CHAR.sub(" ", text).split() if len(t) >= min_chars)
    return long_chars / total if total else 0.0


def ref_word_list(words, augmented, wordlist):
    if not words:
        return 0.0
    return min(1.0, (sum(1 for w in words if w in wordlist) + sum(1 for g in augmented if g in wordlist)) / len(words))


def ref_scores(text, lang, params):
    words, augmented = ref_words(text), ref_augmented(text)
    scores = {"words": len(words),
              "char_repetition": round(ref_char_repetition(text, params.char_repetition_n), 4),
              "word_repetition": round(ref_word_repetition(words, params.word_repetition_n), 4),
              "special_char_ratio": round(ref_special(text), 4),
              "long_token_ratio": round(ref_long_tokens(text, params.long_token_chars), 4)}
    for key, wordlist in (("stopword_ratio", stopwords(lang)), ("flagged_word_ratio", flagged_words(lang))):
        if wordlist is not None:
            scores[key] = round(ref_word_list(words, augmented, wordlist), 4)
    return scores


def _shared_docs(every):
    return [(d["text"], d.get("lid176") or "en") for d in shared_sample(every)]


def test_scores_identical_to_the_plain_definitions_on_real_documents():
    config = load_filter_config()
    cases = _shared_docs(every=7) + [(t, lang) for t in EDGE_CASES for lang in ("en", "zh", "ja")]
    langs = {lang for _, lang in cases}
    assert len(langs) > 50  # many scripts: Latin, Cyrillic, Arabic, CJK, Thai, Indic, ...
    for text, lang in cases:
        params = config.params_for(lang, "s")
        assert filters.score_document(text, lang, params) == ref_scores(text, lang, params), (lang, text[:80])
        assert filters.words(text) == ref_words(text)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10, 13, 25])
def test_repetition_ratios_for_every_n(n):
    for text, _ in _shared_docs(every=41) + [(t, "en") for t in EDGE_CASES]:
        assert filters.char_repetition_ratio(text, n) == ref_char_repetition(text, n)
        assert filters.word_repetition_ratio(ref_words(text), n) == ref_word_repetition(ref_words(text), n)


def test_lower_case_never_adds_or_removes_no_space_characters():
    """``score_document`` decides once, on the original text, whether the lower-cased one needs splitting."""
    changed = [cp for cp in range(0x30000) if not 0xD800 <= cp < 0xE000
               and bool(_NO_SPACE_CHAR.search(chr(cp))) != bool(_NO_SPACE_CHAR.search(chr(cp).lower()))]
    assert changed == []


REF_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")


def ref_redact_phones(text, counts):
    """Every ``PHONE_CANDIDATE`` span with seven digits or more, through libphonenumber's matcher."""
    import phonenumbers

    parts, end = [], 0
    for candidate in pii.PHONE_CANDIDATE.finditer(text):
        if sum(map(str.isdigit, candidate.group(0))) < 7:
            continue
        lo = max(candidate.start() - pii._PHONE_CONTEXT, end)
        window = text[lo:candidate.end() + pii._PHONE_CONTEXT]
        for match in phonenumbers.PhoneNumberMatcher(window, pii.PHONE_REGION, leniency=phonenumbers.Leniency.VALID):
            if lo + match.start < end:
                continue
            parts += (text[end:lo + match.start], "<PHONE>")
            end = lo + match.end
            counts["phone"] += 1
    return "".join(parts) + text[end:]


def ref_redact(text):
    """``pii.redact`` without its prefilters and shortcuts: every pattern in its original form, as ``sub``."""
    counts = Counter()

    def sub(kind):
        def replace(m):
            counts[kind] += 1
            return f"<{kind.upper()}>"
        return replace

    def sub_ip(m):
        if not pii._valid_ip(m.group(0)):
            return m.group(0)
        counts["ip_address"] += 1
        return "<IP_ADDRESS>"

    text = pii.KEYS.sub(sub("key"), text)
    text = pii.URL_CREDENTIALS.sub(sub("key"), text)
    text = pii.EMAIL.sub(sub("email"), text)
    text = pii.IPV6.sub(sub_ip, REF_IPV4.sub(sub_ip, text))
    return ref_redact_phones(text, counts), counts


PII_TRICKY = ["10.0.0.1 and 1.2.3.4.5 and v1.2.3.4 and 999.1.1.1", "fe80::1%eth0 ::1 a::b 2001:db8::ff00:42:8329",
              "a.b@example.com https://u:p@host/ x@y.zz", "Call +1 650-253-0000 ext. 123", "AKIAIOSFODNN7EXAMPLE",
              "a@b.com.x@c.org", "x@y.zz@w.com", "@foo.com a@b @ .@x.io -@x.io", "ü.ö@例え.jp and ålesund@dns.no",
              "mail:a@b.cd,e@f.gh;i@j.kl", "a@b.c1 a@b.cd-e a@b.cd_e", "+290 1234 and +683 4002",
              "(555) 123-4567 and +(44) 20 7946 0958", "011 44 20 7946 0958", "2001-2005 2006-2010 call 650 253 0000",
              "\uff0b44 20 7946 0958", "tel: 650.253.0000x12 or 1-800-555-0199", "12,650-253-0000", "(+1) 650 253 0000",
              "token ghp_" + "a1B2" * 9 + " and github_pat_" + "x" * 30, "AIza" + "B" * 35 + " ASIA" + "Q" * 16,
              "xoxb-1234567890-abc sk-proj-" + "k" * 24, "AWS_SECRET_ACCESS_KEY = " + "s3cr3t/" * 5 + "abcde"]


def _pii_fuzz(count, seed=0):
    """Random strings over the characters every PII rule turns on, dense enough to hit their edges."""
    import random

    rng = random.Random(seed)
    pieces = ["@", ".", "+", "-", "_", "(", ")", " ", "ab", "x", "é", "例", "com", "io", "0", "1", "5", "650",
              "253", "0000", "44", "\uff0b", ":", "/", "ext "]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def test_pii_prefilters_change_nothing_on_real_documents():
    for text in [t for t, _ in _shared_docs(every=3)] + PII_TRICKY + _pii_fuzz(3000):
        assert pii.redact(text) == ref_redact(text), text[:80]


def test_ipv4_pattern_matches_the_original_form():
    for text, _ in _shared_docs(every=2):
        assert [m.span() for m in pii.IPV4.finditer(text)] == [m.span() for m in REF_IPV4.finditer(text)]
