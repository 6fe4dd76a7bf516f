"""Readers: turn input files into documents, and anything unreadable into quarantine rows.

Formats by extension, after an optional compression suffix (``.gz``, ``.bz2``, ``.xz``,
``.zst``): ``.jsonl``/``.ndjson``/``.json`` (one JSON object per line), ``.parquet``; any other
file is one plain-text document. A bad line never stops a file, and a file that breaks half-way
(truncated archive) keeps what was read and quarantines the rest with the error.

Text files may be in any encoding (``transforms.read.decode``) and HTML pages or feeds become their
text (``transforms.read.html_text``). JSONL is UTF-8 by specification: a line with a few invalid bytes
(at most 1 %) is repaired and says so in ``meta.decode``, a worse one is quarantined; a file that
starts with a UTF-16/32 byte-order mark is read in that encoding; a record nested deeper than
``MAX_JSON_DEPTH`` is quarantined as ``too_deeply_nested``. Size limits, decompression
limits and the per-file error budget are in ``transforms.read.limits``.

Memory: every format is streamed record by record (a Parquet row group at a time), whatever the
file's size; only a file that is one document (text, HTML) or compressed Parquet (which needs
random access) is read whole, and never past ``max_text_bytes``. Only regular files are opened: a
FIFO or device would block or never end.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import lzma
import os
import re
import stat
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from catalog.contract import STAGE_QUARANTINE
from transforms.document import Item, new_document
from transforms.normalize import replace_lone_surrogates
from transforms.read.decode import decode_bytes, decode_mostly_utf8
from transforms.read.gzip_members import GzipMembers
from transforms.read.html_text import MarkupTooDeep, markup_kind, page_text
from transforms.read.limits import (
    RATIO_CHECK_AFTER,
    ReadLimitExceeded,
    ReadLimits,
    apply_error_budget,
    limit_document,
)
from transforms.read.sources import InputFile, Source, file_kind, kernel_file_system, make_uid, split_suffixes
from transforms.removed import removed_row

# A readable binary stream: a file, a decompressor or a wrapper below (typeshed gives them no common type).
ByteStream = Any
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DRAIN_CHUNK = 1 << 20
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A record nested deeper than this is quarantined (too_deeply_nested): deeper values break
# recursive code downstream (json.dumps of meta, pickling between Beam stages), and no text
# corpus needs them.
MAX_JSON_DEPTH = 100


def open_decompressed(raw: ByteStream, compression: str | None) -> ByteStream:
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw)  # reads every member of a multi-member file
    if compression == ".bz2":
        return bz2.BZ2File(raw)
    if compression == ".xz":
        return lzma.LZMAFile(raw)
    if compression == ".zst":
        return io.BufferedReader(_ZstdReader(raw), buffer_size=1 << 20)
    return raw


class _ZstdReader(io.RawIOBase):
    """Every frame of a zstd stream; unlike ``stream_reader``, a stream that ends inside a frame
    (truncated file) raises ``EOFError`` like gzip, bz2 and xz do, instead of ending quietly."""

    def __init__(self, raw: BinaryIO):
        import zstandard

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._raw, self._dobj, self._started, self._pending = raw, self._new(), False, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._dobj.unused_data or self._raw.read(1 << 20)
            if self._dobj.eof:
                self._dobj, self._started = self._new(), False
            if not chunk:
                if self._started:
                    raise EOFError("zstd stream ended before the end of its frame (truncated file)")
                return 0
            self._started = True
            self._pending = self._dobj.decompress(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Counted:
    """The compressed stream, counting the bytes its decompressor has consumed."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.bytes = raw, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.bytes += len(data)
        return data


class _Metered(io.RawIOBase):
    """The decompressed stream, stopped by ``ReadLimitExceeded`` past ``max_file_bytes``, or once
    it outgrows ``max_compression_ratio`` times the compressed bytes consumed (from
    ``RATIO_CHECK_AFTER`` bytes on). Bytes up to the limit are delivered: a record that fits is kept."""

    def __init__(self, inner: ByteStream, limits: ReadLimits, compressed: _Counted | None):
        self._inner, self._limits, self._compressed, self.bytes = inner, limits, compressed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view, cap = memoryview(buffer), self._limits.max_file_bytes
        if cap:
            if self.bytes >= cap:
                if self._inner.read(1):
                    raise ReadLimitExceeded("file_too_large", {"max_file_bytes": cap, "bytes_read": self.bytes})
                return 0
            view = view[:cap - self.bytes]
        n = self._inner.readinto1(view) or 0  # one decoder step: a later failure keeps what came before
        self.bytes += n
        ratio, compressed = self._limits.max_compression_ratio, self._compressed
        if ratio and compressed is not None and self.bytes > max(RATIO_CHECK_AFTER, ratio * compressed.bytes):
            raise ReadLimitExceeded("compression_ratio_exceeded", {
                "max_compression_ratio": ratio, "bytes_read": self.bytes, "compressed_bytes_read": compressed.bytes,
                "ratio": round(self.bytes / max(compressed.bytes, 1), 1)})
        return n


def _open_raw(path: str) -> BinaryIO:
    """The file's bytes; a local path must be a regular file (a FIFO would block the worker forever)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    if "://" not in path:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{path!r} is a {file_kind(mode)}, not a regular file")
        kernel = kernel_file_system(path)
        if kernel:
            raise OSError(f"{path!r} is in {kernel}, a kernel file system, not data")
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def _scrub(value: Any) -> Any:
    """The parsed JSON value with lone surrogates replaced, in keys and values at any depth."""
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def record_to_doc(record: Any, src: Source, relpath: str, position: int) -> Item:
    """Map one parsed record to a document, or to a quarantine row saying what is wrong."""
    uid = make_uid(src.name, relpath, position)
    fallback_id = f"{src.name}:{relpath}:{position}"
    if not isinstance(record, dict):
        return "removed", removed_row(fallback_id, src.name, STAGE_QUARANTINE, "not_an_object",
                                      {"file": relpath, "record": position, "type": type(record).__name__}, uid=uid)
    raw_id = record.get(src.id_field)
    doc_id = str(raw_id) if raw_id is not None and str(raw_id) != "" else fallback_id
    text = record.get(src.text_field)
    if not isinstance(text, str):
        return "removed", removed_row(doc_id, src.name, STAGE_QUARANTINE, "missing_text",
                                      {"file": relpath, "record": position, "field": src.text_field,
                                       "type": type(text).__name__}, uid=uid)
    meta = {k: v for k, v in record.items() if k not in (src.text_field, src.id_field)}
    return "doc", new_document(doc_id, uid, text, src.name, meta)


def _quarantine(src: Source, relpath: str, position: Any, reason: str, **details: Any) -> Item:
    doc_id = f"{src.name}:{relpath}:{position}"
    return "removed", removed_row(doc_id, src.name, STAGE_QUARANTINE, reason,
                                  {"file": relpath, "record": position, **details},
                                  uid=make_uid(src.name, relpath, position))


def _read_line(stream: Any, max_len: int) -> tuple[Any, int]:
    """The next line, or ``None`` in its place when it is longer than ``max_len`` (bytes, or
    characters for a text stream), with its length; an oversized line is skipped in chunks,
    never held whole. At end of stream returns an empty line."""
    line = stream.readline(max_len + 1)
    if len(line) <= max_len:
        return line, len(line)
    size, newline = len(line), b"\n" if isinstance(line, bytes) else "\n"
    while line and not line.endswith(newline):
        line = stream.readline(_DRAIN_CHUNK)
        size += len(line)
    return None, size


def _lines(stream: ByteStream, max_line_bytes: int, sniff_bom: bool = True) -> Iterator[tuple[bytes | None, int]]:
    """UTF-8 lines of a JSONL stream (read as UTF-16/32 when it starts with such a BOM and
    ``sniff_bom`` says that its start is a file's)."""
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream)
    head = stream.peek(4)[:4] if sniff_bom else b""
    wide = next((enc for bom, enc in _WIDE_BOMS if head.startswith(bom)), None)
    reader: Any = io.TextIOWrapper(stream, encoding=wide, newline="") if wide else stream
    while True:
        line, size = _read_line(reader, max_line_bytes)
        if line is not None and not line:
            return
        if wide and line is not None:
            line = line.encode("utf-8", "surrogatepass")
        yield line, size


def _decode_line(line: bytes) -> tuple[str | None, int, str]:
    """The line's text (``None`` when too broken to repair), how many invalid bytes were
    repaired, and the decoding error."""
    try:
        return line.decode("utf-8"), 0, ""
    except UnicodeDecodeError as e:
        text, repaired = decode_mostly_utf8(line) or (None, 0)
        return text, repaired, str(e)


def _line_item(line: bytes, src: Source, relpath: str, lineno: int) -> Item:
    """One non-empty JSONL line as a document or a quarantine row."""
    text, repaired, error = _decode_line(line)
    if text is None:
        return _quarantine(src, relpath, lineno, "invalid_utf8", error=error, bytes=len(line))
    try:
        record = json.loads(text)
    except ValueError as e:
        return _quarantine(src, relpath, lineno, "malformed_json", error=str(e)[:200])
    except RecursionError:
        return _quarantine(src, relpath, lineno, "too_deeply_nested", max_depth=MAX_JSON_DEPTH)
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nested_deeper(record, MAX_JSON_DEPTH):
        return _quarantine(src, relpath, lineno, "too_deeply_nested", max_depth=MAX_JSON_DEPTH)
    if _SURROGATE_ESCAPE.search(text):  # only escapes can smuggle in lone surrogates
        record = _scrub(record)
    tag, item = record_to_doc(record, src, relpath, lineno)
    if repaired and tag == "doc":
        item["meta"] = dict(item["meta"], decode={"encoding": "utf-8+cp1252", "invalid_bytes": repaired})
    return tag, item


def iter_jsonl(stream: BinaryIO, src: Source, relpath: str, limits: ReadLimits = ReadLimits(),
               first_line: int = 1) -> Iterator[Item]:
    """Every line as a document or a quarantine row; a line that breaks in any other way is
    ``unreadable_record`` and the next line is read. ``first_line`` numbers the stream's first line
    (a range of a split file starts further in: ``transforms.read.ranges``)."""
    lineno = first_line - 1
    try:
        for lineno, (line, size) in enumerate(_lines(stream, limits.max_line_bytes, first_line == 1),
                                              start=first_line):
            if line is None:
                yield _quarantine(src, relpath, lineno, "line_too_long", bytes=size,
                                  max_line_bytes=limits.max_line_bytes)
                continue
            if lineno == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
            if not line.strip():
                continue
            try:
                item = _line_item(line, src, relpath, lineno)
            except Exception as e:  # a record that breaks code downstream of the parser: this line only
                item = _quarantine(src, relpath, lineno, "unreadable_record", error=f"{type(e).__name__}: {e}"[:300])
            yield item
    except ReadLimitExceeded as e:
        yield _quarantine(src, relpath, f"after-line-{lineno}", e.reason, **e.details, records_read=lineno)
    except Exception as e:  # EOFError, zlib.error, LZMAError, ZstdError...: decoders share no base class
        yield _quarantine(src, relpath, f"after-line-{lineno}", "corrupt_file",
                          error=f"{type(e).__name__}: {e}", records_read=lineno)


def _read_whole(stream: BinaryIO, src: Source, relpath: str, limits: ReadLimits) -> bytes | Item:
    """The file's bytes, or its quarantine row when it is over ``max_text_bytes`` (never read further)."""
    cap = limits.max_text_bytes
    try:
        data = stream.read(cap + 1) if cap else stream.read()
    except ReadLimitExceeded as e:
        return _quarantine(src, relpath, 0, e.reason, **e.details)
    except Exception as e:  # truncated or corrupt archive: nothing usable
        return _quarantine(src, relpath, 0, "corrupt_file", error=f"{type(e).__name__}: {e}")
    if cap and len(data) > cap:
        return _quarantine(src, relpath, 0, "file_too_large", max_text_bytes=cap)
    return data


def iter_text(stream: BinaryIO, src: Source, relpath: str, limits: ReadLimits = ReadLimits()) -> Iterator[Item]:
    """One document per file, in whatever encoding; read whole (up to ``max_text_bytes``), since
    the encoding is judged on all of it and a markup page's text can be far shorter than its bytes
    (``--max-doc-chars`` applies to the text)."""
    data = _read_whole(stream, src, relpath, limits)
    if isinstance(data, tuple):
        yield data
        return
    decoded = decode_bytes(data)
    if decoded is None:
        yield _quarantine(src, relpath, 0, "undetected_encoding", bytes=len(data))
        return
    text, meta = decoded.text, {"encoding": decoded.encoding, "method": decoded.method}
    kind = markup_kind(text, relpath)
    if kind:
        try:
            text, meta = page_text(text, kind, src.extract or "full"), dict(meta, markup=kind)
        except MarkupTooDeep as e:
            yield _quarantine(src, relpath, 0, "markup_too_deep", **e.details)
            return
    tag, doc = record_to_doc({src.text_field: text, src.id_field: f"{src.name}:{relpath}"}, src, relpath, 0)
    if meta["method"] != "utf-8" or kind:
        doc["meta"] = dict(doc["meta"], decode=meta)
    yield tag, doc


def iter_parquet(stream: BinaryIO, src: Source, relpath: str, limits: ReadLimits = ReadLimits(), *,
                 seekable: bool = False, row_groups: list[int] | None = None, first_row: int = 0) -> Iterator[Item]:
    """Rows a batch at a time; a stream that cannot seek (a decompressed one) is read whole first.
    ``row_groups`` (all by default) are the file's, the first of them starting at row ``first_row``."""
    import pyarrow.parquet as pq

    if not seekable:
        data = _read_whole(stream, src, relpath, limits)
        if isinstance(data, tuple):
            yield data
            return
        stream = io.BytesIO(data)
    row = first_row
    try:
        pf = pq.ParquetFile(stream)
        for batch in pf.iter_batches(batch_size=1024, row_groups=row_groups):
            for record in batch.to_pylist():
                yield record_to_doc(record, src, relpath, row)
                row += 1
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError for corrupt files
        yield _quarantine(src, relpath, f"after-row-{row}", "corrupt_file",
                          error=f"{type(e).__name__}: {e}", records_read=row)


def read_input_file(f: InputFile, limits: ReadLimits = ReadLimits()) -> Iterator[Item]:
    """Every record of one file, as documents or quarantine rows, within ``limits``; never
    raises on bad data. A generator that holds at most the error budget's prefix. (A code source's
    directories, archives and records are read by ``transforms.read.code``.)"""
    for tag, item in apply_error_budget(_read_records(f, limits), limits, f.relpath):
        if tag == "doc":
            yield from limit_document(item, limits)
        else:
            yield tag, item


def _read_records(f: InputFile, limits: ReadLimits) -> Iterator[Item]:
    fmt, compression = split_suffixes(f.path)
    try:
        raw = _open_raw(f.path)
    except Exception as e:
        yield _quarantine(f.source, f.relpath, 0, "unreadable_file", error=f"{type(e).__name__}: {e}")
        return
    with raw:
        if fmt == "parquet" and not compression:
            if limits.max_file_bytes and f.size > limits.max_file_bytes:
                yield _quarantine(f.source, f.relpath, 0, "file_too_large", max_file_bytes=limits.max_file_bytes,
                                  bytes=f.size)
                return
            yield from iter_parquet(raw, f.source, f.relpath, limits, seekable=True)
            return
        compressed = _Counted(raw) if compression else None
        members = GzipMembers(compressed) if fmt == "warc" and compression == ".gz" else None  # damage-tolerant
        try:
            stream = (io.BufferedReader(members, _DRAIN_CHUNK) if members
                      else open_decompressed(compressed or raw, compression))
        except Exception as e:
            yield _quarantine(f.source, f.relpath, 0, "corrupt_file", error=f"{type(e).__name__}: {e}")
            return
        metered = io.BufferedReader(_Metered(stream, limits, compressed), buffer_size=_DRAIN_CHUNK)
        if fmt == "warc":
            from transforms.read.warc import iter_warc

            yield from iter_warc(metered, f.source, f.relpath, limits, members.damage if members else ())
            return
        readers: dict[str, Callable[..., Iterator[Item]]] = {"jsonl": iter_jsonl, "parquet": iter_parquet}
        read = readers.get(fmt, iter_text)
        yield from read(metered, f.source, f.relpath, limits)


DECODE_DESCRIPTION = ("BOM, UTF-16/32 NUL pattern, ISO-2022/HZ escapes, UTF-8, declared charset, mostly UTF-8 "
                      "(<= 1 % bad bytes as cp1252), charset-normalizer; HTML/feeds via selectolax")
