"""Web crawls: WARC and WET files, one document per page, read record by record.

``.warc``, ``.warc.gz`` (one gzip member per record, as crawlers write them) and WET files
(``.warc.wet.gz``, Common Crawl's extracted text) are framed record by record by
``transforms.read.warc_records``, which checks every record's framing and resynchronises after a
bad one, and ``.gz`` is read member by member (``transforms.read.gzip_members``): a damaged
member, a lying Content-Length or a garbled header cost one record, never the rest of the file,
and no document holds another record's bytes. HTTP heads are parsed here.

Documents come from ``response`` records with HTTP status 200 and an HTML, XHTML, RSS/Atom or
plain-text Content-Type, and from WET ``conversion`` records. Every other record (``warcinfo``,
``request``, ``metadata``, ``revisit``, ``resource``, a non-text or non-200 response) is no
document: it is yielded as ``("skipped", {"source", "kind"})`` and counted per kind in the
manifest's ``skipped_records``.

A document's id is its ``WARC-Record-ID`` (without the angle brackets); ``meta`` keeps the URL,
the crawl date (``WARC-Date``), the HTTP Content-Type and the charset the text was decoded with.
Decoding follows the HTTP charset, then the page's own declaration, then detection
(``transforms.read.decode``). HTML keeps its main content (``transforms.html_text.main_text``) unless
the source says ``extract: full``.
A record cut short (the last one of a truncated file) is a ``truncated_record`` quarantine row;
the records before it are kept. A record whose framing fails is ``corrupt_record``; a payload
over ``MAX_PAYLOAD_BYTES``, also once decompressed (Content-Encoding gzip, deflate or brotli,
inflated in steps and stopped at the cap or at the run's ``max_compression_ratio``), is
``record_too_large``; HTML nested deeper than the parser can take in linear time is
``markup_too_deep`` (``transforms.read.html_text``); any other failure on one record is
``unreadable_record``, and reading goes on.
"""
from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from catalog.contract import STAGE_QUARANTINE
from transforms.document import Item, new_document
from transforms.read.decode import decode_bytes
from transforms.read.gzip_members import Damage
from transforms.read.html_text import MarkupTooDeep, markup_kind, page_text
from transforms.read.limits import RATIO_CHECK_AFTER, ReadLimits
from transforms.read.sources import Source, make_uid
from transforms.read.warc_records import MAX_HEADER_BYTES, BadRecord, RawRecord, blank_line, iter_records
from transforms.removed import removed_row

# A payload larger than this is quarantined as record_too_large, read no further than this (Common
# Crawl already truncates its payloads at 1 MiB, ``WARC-Truncated: length``).
MAX_PAYLOAD_BYTES = 32 << 20
_DOC_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "application/rss+xml": "feed",
              "application/atom+xml": "feed", "application/rdf+xml": "feed", "text/plain": None}
_SNIFFED_TYPES = ("text/xml", "application/xml")  # documents only when they are a page or a feed

_WARC_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,15}")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.I)


class PayloadTooLarge(Exception):
    """A payload that decompresses past its cap; ``details`` go into its quarantine row."""

    def __init__(self, details: dict[str, Any]):
        super().__init__("payload too large once decompressed")
        self.details = details


def _dechunk(data: bytes) -> bytes:
    """The body of an HTTP ``Transfer-Encoding: chunked`` payload; a size that is no hex number
    (negative, empty, too long) or a chunk past the end is a ``ValueError``."""
    out: list[bytes] = []
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size_field = data[pos:end].split(b";")[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_field):
            raise ValueError(f"bad chunk size {size_field[:20]!r}")
        size = int(size_field, 16)
        if size == 0:
            return b"".join(out)
        if end + 2 + size > len(data):
            raise ValueError("chunk past the end of the payload")
        out.append(data[end + 2:end + 2 + size])
        pos = end + 4 + size


def _inflate(payload: bytes, wbits: int, cap: int) -> bytes:
    dobj = zlib.decompressobj(wbits)
    out = dobj.decompress(payload, cap + 1)
    if len(out) > cap:
        raise PayloadTooLarge({"max_bytes": cap})
    if not dobj.eof:
        raise EOFError("compressed payload ends before its end-of-stream marker")
    return out


def _unbrotli(payload: bytes, cap: int) -> bytes:
    import brotli

    dobj = brotli.Decompressor()
    out = dobj.process(payload, output_buffer_limit=cap + 1)
    if len(out) > cap:
        raise PayloadTooLarge({"max_bytes": cap})
    if not dobj.is_finished():
        raise EOFError("compressed payload ends before its end-of-stream marker")
    return out


def payload_cap(compressed_bytes: int, max_compression_ratio: float = 0.0) -> int:
    """The most bytes a payload may decompress to: ``MAX_PAYLOAD_BYTES``, and within the ratio
    limit past ``RATIO_CHECK_AFTER`` bytes, as for whole files (``transforms.read.limits``)."""
    if not max_compression_ratio:
        return MAX_PAYLOAD_BYTES
    return min(MAX_PAYLOAD_BYTES, max(RATIO_CHECK_AFTER, int(max_compression_ratio * compressed_bytes)))


def http_body(payload: bytes, transfer_encoding: str | None, content_encoding: str | None,
              max_bytes: int | None = None) -> bytes:
    """The page's bytes from an HTTP payload stored as sent (chunked, gzip, deflate, brotli),
    decompressed to at most ``max_bytes`` (``payload_cap``; else ``PayloadTooLarge``). Crawls that
    store decoded payloads (Common Crawl renames the headers) pass through."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        payload = _dechunk(payload)
    cap = payload_cap(len(payload)) if max_bytes is None else max_bytes
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _inflate(payload, 16 + zlib.MAX_WBITS, cap)
    if encoding == "deflate":
        try:
            return _inflate(payload, zlib.MAX_WBITS, cap)
        except zlib.error:  # raw deflate, as some servers send it
            return _inflate(payload, -zlib.MAX_WBITS, cap)
    if encoding == "br":
        return _unbrotli(payload, cap)
    return payload


def classify(warc_type: str, status: int | None, content_type: str | None) -> str | None:
    """``None`` when a record can be a document, else the kind it is counted under: its WARC type
    (``request``, ``warcinfo``...), ``status_<code>`` for a response other than 200, or
    ``non_text`` for a response of another media type."""
    if warc_type == "conversion":
        return None
    if warc_type != "response":
        return warc_type
    if status != 200:
        return f"status_{status}" if status is not None else "not_http"
    media = (content_type or "").split(";")[0].strip().lower()
    return None if media in _DOC_TYPES or media in _SNIFFED_TYPES else "non_text"


def _quarantine(src: Source, relpath: str, position: int, reason: str, doc_id: str | None = None,
                **details: Any) -> Item:
    return "removed", removed_row(doc_id or f"{src.name}:{relpath}:{position}", src.name, STAGE_QUARANTINE, reason,
                                  {"file": relpath, "record": position, **details},
                                  uid=make_uid(src.name, relpath, position))


def record_document(src: Source, relpath: str, position: int, doc_id: str, headers: dict[str, str | None],
                    body: bytes) -> Item:
    """A document from one page's bytes, or a quarantine row (undecodable) or ``skipped``
    (an XML body that is not a page or feed)."""
    content_type, charset = headers.get("content_type"), headers.get("charset")
    decoded = decode_bytes(body, transport=charset)
    if decoded is None:
        return _quarantine(src, relpath, position, "undetected_encoding", doc_id, bytes=len(body))
    media = (content_type or "").split(";")[0].strip().lower()
    kind = _DOC_TYPES.get(media, markup_kind(decoded.text)) if media else markup_kind(decoded.text)
    if media in _SNIFFED_TYPES and kind is None:
        return "skipped", {"source": src.name, "kind": "non_text"}
    extract = src.extract or "main"
    text = page_text(decoded.text, kind, extract) if kind else decoded.text
    decode = {"encoding": decoded.encoding, "method": decoded.method}
    if kind:
        decode |= {"markup": kind, "extract": extract if kind == "html" else "full"}
    meta = {"url": headers.get("url"), "crawl_date": headers.get("date"), "content_type": content_type,
            "charset": _codec_name(decoded.encoding), "warc_type": headers["warc_type"], "decode": decode}
    if headers.get("truncated"):
        meta["warc_truncated"] = headers["truncated"]
    return "doc", new_document(doc_id, make_uid(src.name, relpath, position), text, src.name, meta)


def _codec_name(encoding: str) -> str:
    """Python's canonical name (``koi8-r``, also for a detector's ``koi8_r``), or the name as given
    (``utf-8+cp1252``, UTF-8 with a few bytes repaired)."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding


def _http_head(block: bytes) -> tuple[int | None, dict[str, str], int]:
    """The HTTP status, head fields (lower-case names, the first of repeated ones) and where the
    payload starts; status ``None`` when the block starts with no readable HTTP head."""
    end = blank_line(block, 0, MAX_HEADER_BYTES) if block.startswith(b"HTTP/") else -1
    if end < 0:
        return None, {}, 0
    lines = block[:end].decode("latin-1").split("\n")
    status_line = lines[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() and len(status_line[1]) == 3 \
        else None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    return status, fields, end + (3 if block[end:end + 3] == b"\n\r\n" else 2)


def iter_warc(stream: BinaryIO, src: Source, relpath: str, limits: ReadLimits = ReadLimits(),
              damage: Sequence[Damage] = ()) -> Iterator[Item]:
    """Every record of a WARC/WET stream (already decompressed; ``damage``: what a gzip member
    reader lost), one at a time: documents, ``skipped`` records and quarantine rows; never raises
    on bad data."""
    position = 0
    for record in iter_records(stream, damage):
        position += 1
        if isinstance(record, BadRecord):
            rid = record.headers.get("warc-record-id", "").strip().strip("<>") or None
            yield _quarantine(src, relpath, position, record.reason, rid, offset=record.offset, **record.details)
            continue
        try:
            yield _record_item(record, src, relpath, position, limits)
        except MarkupTooDeep as e:
            yield _quarantine(src, relpath, position, "markup_too_deep", _record_id(record, src, relpath, position),
                              **e.details)
        except Exception as e:  # anything else one record can break: that record only
            yield _quarantine(src, relpath, position, "unreadable_record", _record_id(record, src, relpath, position),
                              error=f"{type(e).__name__}: {e}"[:300])


def _record_id(record: RawRecord, src: Source, relpath: str, position: int) -> str:
    return record.headers.get("warc-record-id", "").strip().strip("<>") or f"{src.name}:{relpath}:{position}"


def _record_item(record: RawRecord, src: Source, relpath: str, position: int, limits: ReadLimits) -> Item:
    """One well-framed record as a document, a ``skipped`` kind or a quarantine row."""
    headers = record.headers
    doc_id = _record_id(record, src, relpath, position)
    warc_type = headers.get("warc-type", "").strip().lower()
    warc_type = warc_type if warc_type in _WARC_TYPES else "unknown"
    is_http = warc_type in ("response", "request") and headers.get("content-type", "").lower().startswith(
        "application/http")
    status, http, payload_start = _http_head(record.block) if is_http else (None, {}, 0)
    content_type = http.get("content-type") if is_http else headers.get("content-type")
    skip = classify(warc_type, status, content_type)
    if skip:
        return "skipped", {"source": src.name, "kind": skip}
    payload_bytes = record.content_length - payload_start
    if not record.complete or payload_bytes > MAX_PAYLOAD_BYTES:
        return _quarantine(src, relpath, position, "record_too_large", doc_id, bytes=payload_bytes,
                           max_bytes=MAX_PAYLOAD_BYTES)
    payload = record.block[payload_start:]
    try:
        body = http_body(payload, http.get("transfer-encoding"), http.get("content-encoding"),
                         payload_cap(len(payload), limits.max_compression_ratio)) if is_http else payload
    except PayloadTooLarge as e:
        return _quarantine(src, relpath, position, "record_too_large", doc_id, bytes=len(payload),
                           max_compression_ratio=limits.max_compression_ratio, **e.details)
    except Exception as e:  # bad chunk sizes, corrupt gzip/brotli: the page is unreadable
        return _quarantine(src, relpath, position, "undecodable_payload", doc_id, error=f"{type(e).__name__}: {e}")
    charset = _CHARSET.search(content_type or "") if is_http else None
    fields = {"warc_type": warc_type, "url": headers.get("warc-target-uri"), "date": headers.get("warc-date"),
              "content_type": content_type, "charset": charset.group(1) if charset else None,
              "truncated": headers.get("warc-truncated")}
    return record_document(src, relpath, position, doc_id, fields, body)
