"""WARC files built in the tests (no committed binaries): a plain writer of WARC/1.0 records.

Written out by hand rather than with a WARC library so that the fixtures do not depend on the
reader under test, and so that tests can cut a file anywhere (a truncated last record).
"""
from __future__ import annotations

import gzip
import uuid

DATE = "2026-11-01T12:00:00Z"


def record_id(key: str) -> str:
    """A deterministic ``<urn:uuid:...>`` for a fixture record."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}>"


def warc_record(warc_type: str, block: bytes, *, uri: str | None = None, rid: str | None = None,
                content_type: str | None = None, date: str = DATE, extra: dict[str, str] | None = None) -> bytes:
    """One WARC/1.0 record: header lines, a blank line, the block, two CRLFs."""
    headers = {"WARC-Type": warc_type, "WARC-Record-ID": rid or record_id(f"{warc_type}:{uri}:{len(block)}"),
               "WARC-Date": date}
    if uri:
        headers["WARC-Target-URI"] = uri
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    headers["Content-Length"] = str(len(block))
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str | None = "text/html; charset=utf-8", status: str = "200 OK") -> bytes:
    """An HTTP/1.1 response block (status line, headers, body)."""
    head = f"HTTP/1.1 {status}\r\n" + (f"Content-Type: {content_type}\r\n" if content_type else "")
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


def response(uri: str, body: bytes, content_type: str | None = "text/html; charset=utf-8",
             status: str = "200 OK") -> bytes:
    """A ``response`` record for ``uri`` with an HTTP response block."""
    return warc_record("response", http_response(body, content_type, status), uri=uri,
                       content_type="application/http; msgtype=response")


def request(uri: str) -> bytes:
    block = f"GET / HTTP/1.1\r\nHost: {uri.split('/')[2]}\r\n\r\n".encode()
    return warc_record("request", block, uri=uri, content_type="application/http; msgtype=request")


def warcinfo() -> bytes:
    return warc_record("warcinfo", b"software: curation-lake tests\r\nformat: WARC File Format 1.0\r\n",
                       content_type="application/warc-fields")


def conversion(uri: str, text: str) -> bytes:
    """A WET ``conversion`` record (the extracted text of a page, UTF-8)."""
    return warc_record("conversion", text.encode("utf-8"), uri=uri, content_type="text/plain",
                       extra={"WARC-Refers-To": record_id(f"response:{uri}")})


def gzip_members(records: list[bytes]) -> bytes:
    """A ``.warc.gz``: one gzip member per record, as crawlers write them."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)
