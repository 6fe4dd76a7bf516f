"""PII redaction: personal data is replaced by typed placeholders before anything is written.

Source code gets ``redact_code`` (credentials and e-mails only, see there).
Only the redacted text leaves this stage; counts per type go to the manifest. Order matters:
secrets first (a JWT or a ``user:password@`` URL must not be half-eaten by the e-mail rule),
then e-mails, IP addresses, phone numbers.

Decisions: ``https://user@host.tld/`` is an e-mail-shaped identity and becomes
``https://<EMAIL>/``; ``https://user:secret@host/`` becomes ``https://<KEY>@host/``; a handle
after a slash (``https://medium.com/@name``) is public and kept. Phone numbers are found by
Google's libphonenumber (``phonenumbers``), which validates numbering plans, so dates, ISBNs
and version strings are not phones: international numbers (``+CC ...``) for every country and
national numbers for ``PHONE_REGION`` (US/NANP).
"""
from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import apache_beam as beam

from catalog.contract import is_code
from transforms.document import DOC, KEPT, Document, Item, tagged, with_changes

PII_VERSION = "pii-v2"
PHONE_REGION = "US"

# Common API keys and tokens (vendor-documented prefixes), replaced by <KEY>.
KEYS = re.compile("|".join([
    r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",                       # AWS access key id
    r"(?i:aws_secret_access_key)\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}\b",   # AWS secret with its name
    r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",                              # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",                            # GitHub fine-grained token
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",                                 # Slack tokens
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",                          # OpenAI/Anthropic-style secret keys
    r"\bAIza[0-9A-Za-z_-]{35}\b",                                      # Google API key
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
]))
# Pieces one of which every KEYS pattern contains: cheap ``in`` tests (and two regexes with a
# literal prefix the engine skips to) spare most texts the slow scan of the whole alternation.
_KEY_LITERALS = ("xox", "sk-", "eyJ", "PRIVATE KEY-----")
_KEY_PREFIXED = (re.compile("A(?:KIA|SIA|BIA|CCA|Iza)"), re.compile("gh(?:[pousr]_|ithub_pat_)"))
URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)")

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_EMAIL_DOMAIN = re.compile(EMAIL.pattern[EMAIL.pattern.index("@"):])
_LOCAL_PUNCT = "_.+-"  # with the alphanumerics (``\w``), the characters of EMAIL's local part
# ``(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)`` with the lookbehind moved after the first digit:
# the same matches, but a pattern that starts with ``\d`` lets the regex engine skip non-digits.
IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Cheap scans for a piece every match contains; most texts have none and skip the full pattern.
_IPV4_MARKER = re.compile(r"\d\.\d")
_IPV6_MARKER = re.compile(r":[0-9A-Fa-f]{0,4}:")


def _is_local_char(char: str) -> bool:
    return char.isalnum() or char in _LOCAL_PUNCT


def _redact_emails(text: str, counts: Counter) -> str:
    """``EMAIL.sub`` from each ``@``: the regex engine tries EMAIL at every position of a text, and
    an ``@`` is rare. A match's local part is the whole run of local-part characters before its
    ``@`` (the lookbehind rules out starting inside one), and a run that reaches back into the
    previous match starts no match, as in ``sub``, whose lookbehind sees the original text."""
    parts: list[str] = []
    end = 0
    at = text.find("@")
    while at != -1:
        start = at
        while start > end and _is_local_char(text[start - 1]):
            start -= 1
        domain = _EMAIL_DOMAIN.match(text, at)
        if start == at or domain is None or (start > 0 and _is_local_char(text[start - 1])):
            at = text.find("@", at + 1)
            continue
        parts += (text[end:start], "<EMAIL>")
        counts["email"] += 1
        end = domain.end()
        at = text.find("@", end)
    return "".join(parts) + text[end:] if parts else text


def _valid_ip(candidate: str) -> bool:
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not (ip.version == 6 and candidate.count(":") < 3 and "::" not in candidate)


# Spans that could hold a phone number: digits with the separators phone numbers use, and an
# optional extension. libphonenumber's matcher is slow on long texts, so it only sees these spans
# (with a few characters of context for its "not inside a word" checks).
PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d\s().\-/\u2010-\u2015]{5,}\d(?:\s*(?:ext\.?|x|#)\s*\d{1,6})?", re.IGNORECASE)
# ``PHONE_CANDIDATE`` from its first digit: a pattern that starts with ``\d`` lets the regex engine
# skip everything else, and ``_phone_candidates`` puts back the ``+(`` that may lead.
_PHONE_DIGITS_ON = re.compile(PHONE_CANDIDATE.pattern.removeprefix(r"\+?\(?"), re.IGNORECASE)
_PHONE_CONTEXT = 3
_PLUS_SIGNS = ("+", "\uff0b")  # what libphonenumber reads as a leading plus
# Without a plus sign, a number valid for PHONE_REGION (NANP) has at least 10 digits: 10 national
# ones, or the 011 international prefix with a country code and a national number. Shorter spans
# (dates, year ranges, version strings: most candidates) cannot hold one and skip the matcher.
_MIN_DIGITS_WITHOUT_PLUS = 10


def _phone_candidates(text: str):
    """``PHONE_CANDIDATE.finditer(text)`` as (start, end) pairs, found from each span's first digit."""
    end = 0
    for m in _PHONE_DIGITS_ON.finditer(text):
        start = m.start()
        if start > end and text[start - 1] == "(":
            start -= 1
        if start > end and text[start - 1] == "+":
            start -= 1
        end = m.end()
        yield start, end


def _redact_phones(text: str, counts: Counter) -> str:
    import phonenumbers

    parts: list[str] = []
    end = 0
    for start, stop in _phone_candidates(text):
        if sum(map(str.isdigit, text[start:stop])) < 7:
            continue
        lo = max(start - _PHONE_CONTEXT, end)
        window = text[lo:stop + _PHONE_CONTEXT]
        if (sum(map(str.isdigit, window)) < _MIN_DIGITS_WITHOUT_PLUS
                and not any(plus in window for plus in _PLUS_SIGNS)):
            continue
        for match in phonenumbers.PhoneNumberMatcher(window, PHONE_REGION, leniency=phonenumbers.Leniency.VALID):
            if lo + match.start < end:
                continue
            parts.append(text[end:lo + match.start])
            parts.append("<PHONE>")
            end = lo + match.end
            counts["phone"] += 1
    return "".join(parts) + text[end:] if parts else text


def _redact_secrets(text: str, counts: Counter) -> str:
    """Keys, tokens and URL credentials replaced by ``<KEY>``; e-mail addresses by ``<EMAIL>``."""
    def sub_key(m: re.Match) -> str:
        counts["key"] += 1
        return "<KEY>"

    if (any(literal in text for literal in _KEY_LITERALS) or any(p.search(text) for p in _KEY_PREFIXED)
            or ("_" in text and "secret_access_key" in text.lower())):
        text = KEYS.sub(sub_key, text)
    if "://" in text:
        text = URL_CREDENTIALS.sub(sub_key, text)
    return _redact_emails(text, counts) if "@" in text else text


def redact(text: str) -> tuple[str, Counter]:
    """Return the text with keys, emails, IP addresses and phone numbers replaced, and counts per type."""
    counts: Counter = Counter()

    def sub_ip(m: re.Match) -> str:
        if not _valid_ip(m.group(0)):
            return m.group(0)
        counts["ip_address"] += 1
        return "<IP_ADDRESS>"

    text = _redact_secrets(text, counts)
    if _IPV4_MARKER.search(text):
        text = IPV4.sub(sub_ip, text)
    if _IPV6_MARKER.search(text):
        text = IPV6.sub(sub_ip, text)
    return _redact_phones(text, counts), counts


def redact_code(text: str) -> tuple[str, Counter]:
    """Source code's redaction: credentials (keys, tokens, private keys, URL passwords) and e-mail
    addresses only. A placeholder takes exactly the secret's span, so the code around it is left as
    it was (a quoted key stays a quoted string); IP addresses and phone numbers are left alone,
    because in code they are mostly literals that the code needs (``127.0.0.1``, numeric constants)."""
    counts: Counter = Counter()
    return _redact_secrets(text, counts), counts


def redact_document(doc: Document) -> list[Item]:
    """The document with its PII replaced (and ``meta.pii`` counting what was), plus its counts;
    source code (``lang`` ``code-*``) by ``redact_code``."""
    text, counts = redact_code(doc["text"]) if is_code(doc.get("lang", "und")) else redact(doc["text"])
    if not counts:
        return [(DOC, doc)]
    return [(DOC, with_changes(doc, text=text, meta={"pii": dict(sorted(counts.items()))})), ("counts", dict(counts))]


def _sum_counts(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter = Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


class RedactPII(beam.PTransform):
    """Documents -> {"kept": redacted documents, "stats": one element, {kind: spans redacted}}."""

    def expand(self, docs):
        out = docs | "Redact" >> beam.FlatMap(lambda d: tagged(redact_document(d))).with_outputs("counts", main=KEPT)
        return {KEPT: out[KEPT], "stats": out.counts | "SumCounts" >> beam.CombineGlobally(_sum_counts)}

    def describe(self) -> dict[str, Any]:
        return {"version": PII_VERSION}
