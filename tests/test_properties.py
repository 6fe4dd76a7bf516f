"""Property tests: arbitrary bytes and Unicode never raise out of a stage, and what comes out is
storable (encodes as UTF-8). Example counts are small and deadlines off so the suite stays fast
on a shared machine; the strategies lean on the characters that break things (surrogates,
controls, combining marks, BOMs, NULs, line separators)."""
from __future__ import annotations

import codecs
import gzip
import io
import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from transforms.dedup.minhash import shingles
from transforms.normalize import normalize_text
from transforms.pii import redact
from transforms.read.decode import decode_bytes, decode_mostly_utf8
from transforms.read.files import iter_jsonl, iter_text, open_decompressed
from transforms.read.html_text import markup_kind, markup_to_text
from transforms.read.limits import ReadLimits, limit_document, split_points
from transforms.read.sources import Source

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRICKY = st.sampled_from(["\ud800", "\udfff", "\x00", "\r\n", "\u2028", "\ufeff", "\u0301", "\x1b[31m", "<p>",
                          "@", "1.2.3.4", "é", "中", "\U0001F600", " ", "\n\n\n", "\\ud800"])
TEXT = st.lists(st.one_of(st.text(max_size=40), TRICKY), max_size=30).map("".join)
SRC = Source(name="p", paths=("x",))


def _storable(text: str) -> None:
    text.encode("utf-8")  # raises on lone surrogates


@FAST
@given(st.binary(max_size=2000))
def test_decode_bytes_never_raises(data):
    decoded = decode_bytes(data)
    if decoded is not None:
        assert isinstance(decoded.text, str) and decoded.method
    repaired = decode_mostly_utf8(data)
    if repaired is not None:
        _storable(repaired[0])


@FAST
@given(TEXT, st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-16-le", "cp1252", "gb18030", "iso2022_jp"]))
def test_decode_round_trips_text_with_a_bom(text, encoding):
    # FF FE 00 00 is both the UTF-32-LE BOM and UTF-16's BOM before U+0000: truly ambiguous bytes,
    # read as UTF-32 like every BOM sniffer does, so UTF-16 text may not start with U+0000 here.
    data = text.encode(encoding, errors="ignore")  # drops lone surrogates, so test what was encoded
    assume(not (encoding == "utf-16" and data.decode(encoding).startswith("\x00")))
    decoded = decode_bytes(codecs.BOM_UTF8 + data if encoding == "utf-8" else data)
    if encoding in ("utf-8", "utf-16", "utf-32"):  # self-describing: must come back exactly
        assert decoded is not None and decoded.text == data.decode(encoding)


@FAST
@given(st.binary(max_size=3000), st.sampled_from([None, ".gz", ".zst"]))
def test_readers_never_raise_on_bytes(data, compression):
    limits = ReadLimits(max_line_bytes=256)
    for items in (iter_jsonl(open_decompressed(io.BytesIO(data), compression), SRC, "f", limits),
                  iter_text(open_decompressed(io.BytesIO(data), compression), SRC, "f")):
        for tag, item in items:
            assert tag in ("doc", "removed")
            json.dumps(item, ensure_ascii=False).encode("utf-8")  # Beam and Arrow can carry it


@FAST
@given(st.lists(st.one_of(TEXT, st.binary(max_size=60)), max_size=12))
def test_jsonl_lines_of_anything_are_docs_or_quarantined(lines):
    raw = b"".join((json.dumps({"text": x}) if isinstance(x, str) else x.decode("latin-1")).encode("utf-8",
                   "surrogatepass") + b"\n" for x in lines)
    items = list(iter_jsonl(io.BytesIO(gzip.decompress(gzip.compress(raw))), SRC, "f.jsonl"))
    assert len(items) <= len(raw.split(b"\n"))
    for _tag, item in items:
        json.dumps(item, ensure_ascii=False).encode("utf-8")


@FAST
@given(TEXT)
def test_normalize_is_idempotent_and_storable(text):
    once = normalize_text(text)
    _storable(once)
    assert normalize_text(once) == once
    assert "\x00" not in once and "\r" not in once and "\x1b" not in once


@FAST
@given(TEXT)
def test_markup_extraction_never_raises(text):
    for kind in ("html", "feed"):
        _storable(normalize_text(markup_to_text(text, kind)))
    assert markup_kind(text) in (None, "html", "feed")


@FAST
@given(TEXT, st.integers(min_value=1, max_value=50))
def test_split_parts_rebuild_the_document(text, max_chars):
    doc = {"id": "d", "uid": "u", "text": text, "source": "p", "meta": {}}
    parts = limit_document(doc, ReadLimits(max_doc_chars=max_chars))
    assert "".join(p["text"] for _, p in parts) == text
    assert all(len(p["text"]) <= max_chars for _, p in parts)
    assert split_points(text, max_chars) == sorted(set(split_points(text, max_chars)))


@FAST
@given(TEXT)
def test_pii_redaction_never_raises(text):
    redacted, counts = redact(normalize_text(text))
    _storable(redacted)
    assert all(n > 0 for n in counts.values())


@FAST
@given(TEXT, st.integers(min_value=1, max_value=7))
def test_shingles_never_raise(text, ngram):
    grams = shingles(normalize_text(text), ngram)
    assert all(isinstance(g, bytes) for g in grams)
