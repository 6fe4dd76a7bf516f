"""PII redaction: personal data is replaced by typed placeholders before anything is written.

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
# Literal pieces one of which every KEYS pattern contains: a cheap ``in`` test spares most texts
# the slow scan of the whole alternation.
_KEY_MARKERS = ("AKIA", "ASIA", "ABIA", "ACCA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox",
                "sk-", "AIza", "eyJ", "PRIVATE KEY-----")
URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)")

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
# ``(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)`` with the lookbehind moved after the first digit:
# the same matches, but a pattern that starts with ``\d`` lets the regex engine skip non-digits.
IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Cheap scans for a piece every match contains; most texts have none and skip the full pattern.
_IPV4_MARKER = re.compile(r"\d\.\d")
_IPV6_MARKER = re.compile(r":[0-9A-Fa-f]{0,4}:")


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
_PHONE_CONTEXT = 3
_PHONE_MARKER = re.compile(r"\d[\d\s().\-/\u2010-\u2015]{5,}\d")  # in every candidate; starts with a digit, so fast


def _redact_phones(text: str, counts: Counter) -> str:
    import phonenumbers

    if not _PHONE_MARKER.search(text):
        return text
    parts, end = [], 0
    for candidate in PHONE_CANDIDATE.finditer(text):
        if sum(map(str.isdigit, candidate.group(0))) < 7:
            continue
        lo = max(candidate.start() - _PHONE_CONTEXT, end)
        window = text[lo:candidate.end() + _PHONE_CONTEXT]
        for match in phonenumbers.PhoneNumberMatcher(window, PHONE_REGION, leniency=phonenumbers.Leniency.VALID):
            if lo + match.start < end:
                continue
            parts.append(text[end:lo + match.start])
            parts.append("<PHONE>")
            end = lo + match.end
            counts["phone"] += 1
    return "".join(parts) + text[end:] if parts else text


def redact(text: str) -> tuple[str, Counter]:
    """Return the text with keys, emails, IP addresses and phone numbers replaced, and counts per type."""
    counts: Counter = Counter()

    def sub_key(m: re.Match) -> str:
        counts["key"] += 1
        return "<KEY>"

    def sub_email(m: re.Match) -> str:
        counts["email"] += 1
        return "<EMAIL>"

    def sub_ip(m: re.Match) -> str:
        if not _valid_ip(m.group(0)):
            return m.group(0)
        counts["ip_address"] += 1
        return "<IP_ADDRESS>"

    if any(marker in text for marker in _KEY_MARKERS) or "secret_access_key" in text.lower():
        text = KEYS.sub(sub_key, text)
    if "://" in text:
        text = URL_CREDENTIALS.sub(sub_key, text)
    if "@" in text:
        text = EMAIL.sub(sub_email, text)
    if _IPV4_MARKER.search(text):
        text = IPV4.sub(sub_ip, text)
    if _IPV6_MARKER.search(text):
        text = IPV6.sub(sub_ip, text)
    return _redact_phones(text, counts), counts
