"""Web crawls: WARC and WET files, one document per page, read record by record.

``.warc``, ``.warc.gz`` (one gzip member per record, as crawlers write them) and WET files
(``.warc.wet.gz``, Common Crawl's extracted text) are parsed with fastwarc (Rust; the fastest of
the readers ``python -m benchmarks.warc_bench`` compares). The stream is the one the other
readers get (``transforms.readers.open_decompressed``, Python's gzip), because fastwarc's own
gzip reader ends quietly inside a truncated member, and a cut file must say so.

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
the records before it are kept.
"""
from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from catalog.contract import STAGE_QUARANTINE
from transforms.document import Item, new_document
from transforms.read.decode import decode_bytes
from transforms.read.html_text import markup_kind, page_text
from transforms.read.sources import Source, make_uid
from transforms.removed import removed_row

# A payload larger than this is quarantined as record_too_large, read no further than this (Common
# Crawl already truncates its payloads at 1 MiB, ``WARC-Truncated: length``).
MAX_PAYLOAD_BYTES = 32 << 20
_DOC_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "application/rss+xml": "feed",
              "application/atom+xml": "feed", "application/rdf+xml": "feed", "text/plain": None}
_SNIFFED_TYPES = ("text/xml", "application/xml")  # documents only when they are a page or a feed

class _Guarded(io.RawIOBase):
    """A stream whose read errors (a truncated gzip member, a size cap) end it instead, and are
    kept in ``error``: fastwarc reads ahead, and an exception inside its read would lose the
    records it had buffered but not yet returned."""

    def __init__(self, stream: BinaryIO):
        self._stream, self._pos = stream, 0
        self.error: Exception | None = None
        # read1 returns what one decompression step gave, so the data before a break comes out
        # before the error does (read() of a gzip stream loses the chunk it was filling)
        self._read = getattr(stream, "read1", stream.read)
        self.tail = b""  # the last bytes read: a complete WARC ends with a record's CRLF CRLF

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # fastwarc asks where the stream is (its records' ``stream_pos``)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self.error is not None:
            return 0
        try:
            data = self._read(len(buffer))
        except Exception as e:  # EOFError, zlib.error, a cap's error...: decoders share no base class
            self.error = e
            return 0
        buffer[:len(data)] = data
        self._pos += len(data)
        self.tail = (self.tail + data)[-4:] if len(data) < 4 else data[-4:]
        return len(data)


def _dechunk(data: bytes) -> bytes:
    """The body of an HTTP ``Transfer-Encoding: chunked`` payload."""
    out: list[bytes] = []
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2:end + 2 + size])
        pos = end + 4 + size


def http_body(payload: bytes, transfer_encoding: str | None, content_encoding: str | None) -> bytes:
    """The page's bytes from an HTTP payload stored as sent (chunked, gzip, deflate, brotli).
    Crawls that store decoded payloads (Common Crawl renames the headers) pass through."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        payload = _dechunk(payload)
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(payload)
    if encoding == "deflate":
        try:
            return zlib.decompress(payload)
        except zlib.error:  # raw deflate, as some servers send it
            return zlib.decompress(payload, -zlib.MAX_WBITS)
    if encoding == "br":
        import brotli

        return brotli.decompress(payload)
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


def iter_warc(stream: BinaryIO, src: Source, relpath: str) -> Iterator[Item]:
    """Every record of a WARC/WET stream (already decompressed), one at a time: documents,
    ``skipped`` records and quarantine rows; never raises on bad data."""
    from fastwarc.warc import ArchiveIterator

    guarded = _Guarded(stream)
    position, cut = 0, False
    try:
        for record in ArchiveIterator(guarded, parse_http=True, auto_decode="none", stream_detect=False):
            position += 1
            item = _record_item(record, src, relpath, position)
            cut = item[0] == "removed" and item[1]["reason"] == "truncated_record"
            yield item
            if cut:
                return
    except Exception as e:  # fastwarc's OSError on a header it cannot parse (a cut inside it)
        guarded.error = guarded.error or e
    if guarded.error is None and guarded.tail and not guarded.tail.endswith((b"\r\n\r\n", b"\n\n")):
        # bytes after the last record that fastwarc passed over: the start of a record, cut
        guarded.error = EOFError("the file ends inside a record (truncated)")
    if guarded.error is not None:
        yield _quarantine(src, relpath, position + 1, "corrupt_file",
                          error=f"{type(guarded.error).__name__}: {guarded.error}", records_read=position)


def _record_item(record: Any, src: Source, relpath: str, position: int) -> Item:
    """One record as a document, a ``skipped`` kind or a quarantine row. Only a document's payload
    is read into memory; any other record's is consumed, counted for the truncation check."""
    warc_headers = record.headers
    raw_id = (warc_headers.get("WARC-Record-ID") or "").strip().strip("<>")
    doc_id = raw_id or f"{src.name}:{relpath}:{position}"
    if warc_headers.get("Content-Length") is None:  # the file ends inside the record's header
        return _quarantine(src, relpath, position, "truncated_record", doc_id, bytes_read=0, content_length=None)
    warc_type = str(record.record_type)
    http = record.http_headers if record.is_http else None
    content_type = http.get("Content-Type") if http is not None else warc_headers.get("Content-Type")
    skip = classify(warc_type, http.status_code if http is not None else None, content_type)
    if skip:
        consumed = record.reader.consume()
        if consumed < record.content_length:
            return _quarantine(src, relpath, position, "truncated_record", doc_id, bytes_read=consumed,
                               content_length=record.content_length)
        return "skipped", {"source": src.name, "kind": skip}
    payload = record.reader.read(MAX_PAYLOAD_BYTES + 1)
    if len(payload) > MAX_PAYLOAD_BYTES:
        return _quarantine(src, relpath, position, "record_too_large", doc_id, bytes=record.content_length,
                           max_bytes=MAX_PAYLOAD_BYTES)
    if len(payload) < record.content_length:
        return _quarantine(src, relpath, position, "truncated_record", doc_id, bytes_read=len(payload),
                           content_length=record.content_length)
    try:
        body = http_body(payload, http.get("Transfer-Encoding"), http.get("Content-Encoding")) if http else payload
    except Exception as e:  # bad chunk sizes, corrupt gzip/brotli: the page is unreadable
        return _quarantine(src, relpath, position, "undecodable_payload", doc_id, error=f"{type(e).__name__}: {e}")
    headers = {"warc_type": warc_type, "url": warc_headers.get("WARC-Target-URI"),
               "date": warc_headers.get("WARC-Date"), "content_type": content_type,
               "charset": record.http_charset if http is not None else None,
               "truncated": warc_headers.get("WARC-Truncated")}
    return record_document(src, relpath, position, doc_id, headers, body)
