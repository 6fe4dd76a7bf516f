"""Readers: turn input files into documents, and anything unreadable into quarantine rows.

Formats by extension, after an optional compression suffix (``.gz``, ``.bz2``, ``.xz``,
``.zst``): ``.jsonl``/``.ndjson``/``.json`` (one JSON object per line), ``.parquet``; any other
file is one plain-text document. A bad line never stops a file, and a file that breaks half-way
(truncated archive) keeps what was read and quarantines the rest with the error.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
from typing import Any, BinaryIO, Iterator

from transforms.removed import STAGE_QUARANTINE, removed_row
from transforms.sources import InputFile, Source

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")

Item = tuple[str, dict[str, Any]]  # ("doc", document) or ("removed", removed row)


def make_uid(source: str, relpath: str, position: str | int) -> str:
    """A stable internal key for one input record (same file layout -> same uid)."""
    return hashlib.sha1(f"{source}\0{relpath}\0{position}".encode("utf-8", "surrogatepass")).hexdigest()[:20]


def split_suffixes(path: str) -> tuple[str, str | None]:
    """Return (format, compression) for a path."""
    lower = path.lower()
    compression = next((c for c in COMPRESSION_SUFFIXES if lower.endswith(c)), None)
    if compression:
        lower = lower[: -len(compression)]
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl", compression
    if lower.endswith(".parquet"):
        return "parquet", compression
    return "text", compression


def open_decompressed(raw: BinaryIO, compression: str | None) -> BinaryIO:
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw)  # reads every member of a multi-member file
    if compression == ".bz2":
        return bz2.BZ2File(raw)
    if compression == ".xz":
        return lzma.LZMAFile(raw)
    if compression == ".zst":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=1 << 20)  # adds line iteration
    return raw


def _open_raw(path: str) -> BinaryIO:
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


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
    return "doc", {"id": doc_id, "uid": uid, "text": text, "source": src.name, "lang": "und",
                   "lang_score": 0.0, "meta": meta}


def _quarantine(src: Source, relpath: str, position: Any, reason: str, **details: Any) -> Item:
    doc_id = f"{src.name}:{relpath}:{position}"
    return "removed", removed_row(doc_id, src.name, STAGE_QUARANTINE, reason,
                                  {"file": relpath, "record": position, **details},
                                  uid=make_uid(src.name, relpath, position))


def iter_jsonl(stream: BinaryIO, src: Source, relpath: str) -> Iterator[Item]:
    lineno = 0
    try:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield _quarantine(src, relpath, lineno, "invalid_utf8", error=str(e))
                continue
            try:
                record = json.loads(text)
            except ValueError as e:
                yield _quarantine(src, relpath, lineno, "malformed_json", error=str(e)[:200])
                continue
            yield record_to_doc(record, src, relpath, lineno)
    except Exception as e:  # EOFError, zlib.error, LZMAError, ZstdError...: decoders share no base class
        yield _quarantine(src, relpath, f"after-line-{lineno}", "corrupt_file",
                          error=f"{type(e).__name__}: {e}", records_read=lineno)


def iter_text(stream: BinaryIO, src: Source, relpath: str) -> Iterator[Item]:
    try:
        data = stream.read()
    except Exception as e:  # truncated or corrupt archive: nothing usable
        yield _quarantine(src, relpath, 0, "corrupt_file", error=f"{type(e).__name__}: {e}")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        yield _quarantine(src, relpath, 0, "invalid_utf8", error=str(e))
        return
    record = {src.text_field: text, src.id_field: f"{src.name}:{relpath}"}
    yield record_to_doc(record, src, relpath, 0)


def iter_parquet(stream: BinaryIO, src: Source, relpath: str) -> Iterator[Item]:
    import pyarrow.parquet as pq

    row = 0
    try:
        pf = pq.ParquetFile(io.BytesIO(stream.read()))
        for batch in pf.iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                yield record_to_doc(record, src, relpath, row)
                row += 1
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError for corrupt files
        yield _quarantine(src, relpath, f"after-row-{row}", "corrupt_file",
                          error=f"{type(e).__name__}: {e}", records_read=row)


def read_input_file(f: InputFile) -> Iterator[Item]:
    """Every record of one file, as documents or quarantine rows; never raises on bad data."""
    fmt, compression = split_suffixes(f.path)
    try:
        raw = _open_raw(f.path)
    except Exception as e:
        yield _quarantine(f.source, f.relpath, 0, "unreadable_file", error=f"{type(e).__name__}: {e}")
        return
    with raw:
        try:
            stream = open_decompressed(raw, compression)
        except Exception as e:
            yield _quarantine(f.source, f.relpath, 0, "corrupt_file", error=f"{type(e).__name__}: {e}")
            return
        reader = {"jsonl": iter_jsonl, "parquet": iter_parquet, "text": iter_text}[fmt]
        yield from reader(stream, f.source, f.relpath)
