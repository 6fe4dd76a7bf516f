"""Bytes to text: find the encoding of a file that does not say it is UTF-8, and decode it.

Order of evidence, strongest first (as browsers do it, WHATWG "encoding sniffing"):

1. a byte-order mark (UTF-8, UTF-16 and UTF-32, both byte orders), then the transport's charset
   label (HTTP ``Content-Type`` of a crawled page) when the caller has one;
2. UTF-16/32 without a BOM, recognised by the few values their high bytes take (checked before
   UTF-8, which such bytes often also satisfy);
3. 7-bit escape encodings (ISO-2022-JP/KR, HZ), recognised by their shift sequences, since
   their bytes are also valid ASCII and so valid UTF-8;
4. valid UTF-8 (the odds that legacy 8-bit text with non-ASCII bytes is valid UTF-8 are tiny);
5. an encoding declared in the first bytes (``<?xml encoding=...?>``, ``<meta charset=...>``),
   used only when it decodes the whole file without error;
6. mostly UTF-8: when at most 1 % of the bytes are invalid UTF-8 (a changelog edited with two
   editors, English Latin-1 text with a few names), each invalid byte is read as windows-1252,
   the WHATWG fallback for unlabelled Western text; so few bytes give a detector too little
   evidence (charset-normalizer reads make's Latin-1 NEWS as Big5);
7. ``charset-normalizer``'s detection (a maintained detector: coherence and mess measures over
   the candidate code pages).

``None`` means no encoding explains the bytes (binary data, or a legacy encoding that neither a
declaration nor the detector identifies); the caller quarantines it.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED = re.compile(rb"""(?:encoding|charset)\s*=\s*["']?\s*([A-Za-z0-9._:-]{2,40})""", re.I)
_DECLARATION_WINDOW = 2048
# Labels that browsers read with a superset decoder (WHATWG Encoding Standard), because pages
# labelled so routinely use the superset's extra characters.
_WHATWG_SUPERSET = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254",
                    "tis-620": "cp874", "shift_jis": "cp932", "euc_kr": "cp949", "gb2312": "gbk", "big5": "big5hkscs"}
_LEGACY_LABELS = {"x-sjis": "cp932", "sjis": "cp932", "windows-31j": "cp932", "x-euc-jp": "euc_jp",
                  "x-mac-cyrillic": "mac_cyrillic"}  # labels Python's codec registry does not know
_ESCAPES = (  # shift sequences that only these encodings use
    ((b"\x1b$)C",), "iso2022_kr"),
    ((b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b$(D"), "iso2022_jp_2"),
    ((b"~{",), "hz"),  # and a closing "~}", checked below
)
# Share of invalid bytes up to which UTF-8 with stray legacy bytes is repaired rather than
# rejected. Measured on the messy corpus: the mixed UTF-8/Latin-1 changelog and the two broken
# lines of faults.jsonl have 0.01 %, 0.52 % and 0.45 %; a Latin-1 line of French has ~4 %.
MOSTLY_UTF8_MAX_INVALID = 0.01


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    method: str  # bom, transport, wide-pattern, escapes, utf-8, declared, mostly-utf-8, detected


def _bom(data: bytes) -> str | None:
    return next((enc for bom, enc in _BOMS if data.startswith(bom)), None)


def _wide_without_bom(data: bytes) -> str | None:
    """UTF-32 leaves two or three NULs in every four bytes; UTF-16 text in one or two scripts
    repeats a handful of values (0x00 for Latin, 0x04 for Cyrillic...) in its high bytes while
    the low bytes vary. Legacy 8-bit text and UTF-8 show neither pattern."""
    n = min(len(data), 4096) // 4 * 4
    if n < 8:
        return None
    sample = data[:n]
    nuls = [sample[i::4].count(0) / (n // 4) for i in range(4)]
    if min(nuls[1:]) > 0.9:
        return "utf-32-le"
    if min(nuls[:3]) > 0.9:
        return "utf-32-be"
    if len(data) % 2:
        return None
    for encoding, high, low in (("utf-16-le", sample[1::2], sample[0::2]), ("utf-16-be", sample[0::2], sample[1::2])):
        if len(set(high)) <= 3 and len(set(low)) > 8 and not any(0x20 <= b < 0x7F for b in set(high) - {0}):
            return encoding
    return None


def _escape_encoding(data: bytes) -> str | None:
    if not data.isascii():
        return None
    found = next((enc for marks, enc in _ESCAPES if any(m in data for m in marks)), None)
    return None if found == "hz" and b"~}" not in data else found


def codec_for_label(label: str | None) -> str | None:
    """The Python codec a browser would use for a charset label (``ISO-8859-1`` -> ``cp1252``), or
    ``None`` for an unknown label."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_LEGACY_LABELS.get(label, label)).name
    except LookupError:
        return None
    return _WHATWG_SUPERSET.get(name, name)


def _declared(data: bytes) -> str | None:
    m = _DECLARED.search(data[:_DECLARATION_WINDOW])
    return codec_for_label(m.group(1).decode("ascii")) if m else None


def _try(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: punycode, idna... raise the base class
        return None


def _is_stray(ch: str) -> bool:
    return "\udc80" <= ch <= "\udcff"


def decode_mostly_utf8(data: bytes, max_invalid: float = MOSTLY_UTF8_MAX_INVALID) -> tuple[str, int] | None:
    """UTF-8 with each invalid byte read as windows-1252, and how many there were; ``None`` when
    more than ``max_invalid`` of the bytes are invalid."""
    text = data.decode("utf-8", errors="surrogateescape")
    stray = sum(1 for ch in text if _is_stray(ch))
    if stray > max_invalid * len(data):
        return None
    if stray:
        text = "".join(bytes([ord(ch) - 0xDC00]).decode("cp1252", errors="replace") if _is_stray(ch) else ch
                       for ch in text)
    return text, stray


def _detected(data: bytes) -> Decoded | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    return Decoded(str(best), best.encoding, "detected")


def decode_bytes(data: bytes, transport: str | None = None) -> Decoded | None:
    """The text of ``data`` with the encoding and the evidence used; ``None`` when nothing
    explains the bytes. A BOM that its encoding cannot follow (coincidence, or damage) is
    ignored and the other evidence weighed. ``transport`` is a charset label from outside the
    bytes (an HTTP ``Content-Type``): after a BOM it is the strongest evidence, as in browsers,
    and is used when it decodes the whole text without error."""
    candidates = (("bom", _bom(data)), ("transport", codec_for_label(transport)),
                  ("wide-pattern", _wide_without_bom(data)), ("escapes", _escape_encoding(data)),
                  ("utf-8", "utf-8"), ("declared", _declared(data)))
    for method, encoding in candidates:
        if encoding:
            text = _try(data, encoding)
            if text is not None:
                return Decoded(text, encoding, method)
    repaired = decode_mostly_utf8(data)
    if repaired is not None:
        return Decoded(repaired[0], "utf-8+cp1252", "mostly-utf-8")
    return _detected(data)
