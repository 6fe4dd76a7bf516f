"""PII redaction: personal data is replaced by typed placeholders before anything is written.

Only the redacted text leaves this stage; counts per type go to the manifest.
"""
from __future__ import annotations

import ipaddress
import re
from collections import Counter

PII_VERSION = "basic-1"

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def _valid_ip(candidate: str) -> bool:
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not (ip.version == 6 and candidate.count(":") < 3 and "::" not in candidate)


def redact(text: str) -> tuple[str, Counter]:
    """Return the text with emails and IP addresses replaced, and how many of each were found."""
    counts: Counter = Counter()

    def sub_email(m: re.Match) -> str:
        counts["email"] += 1
        return "<EMAIL>"

    def sub_ip(m: re.Match) -> str:
        if not _valid_ip(m.group(0)):
            return m.group(0)
        counts["ip_address"] += 1
        return "<IP_ADDRESS>"

    text = EMAIL.sub(sub_email, text)
    text = IPV4.sub(sub_ip, text)
    text = IPV6.sub(sub_ip, text)
    return text, counts
