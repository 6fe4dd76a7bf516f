"""WARC records framed from a byte stream, with a record-level recovery from damage.

A record is its ``WARC/1.x`` header block, a blank line, ``Content-Length`` bytes of block, and
the blank line that ends it. A record is accepted only when that framing holds: its block is
followed by CRLF CRLF, or by CR/LF and the next ``WARC/`` header or the end of the file; its block
holds no valid record header after a blank line (a Content-Length that swallowed the next record;
or a WARC file archived in a WARC, which is no text either); and no byte of it comes from a damaged
gzip member (``transforms.read.gzip_members``). A record that
fails is a ``BadRecord`` and reading resynchronises on the next offset, after the bad record's
first byte, where a record passes the same checks: a Content-Length too short or too long, a
garbled header or a damaged member cost that record only, and no record's bytes end up in another.

Memory: a block of up to ``KEEP_BLOCK_BYTES`` is held to be checked and handed on; a longer one
(never a document: payloads are capped lower) is streamed past, keeping only its first bytes
(the HTTP header); if such a record's framing fails, reading resumes after it.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from transforms.read.gzip_members import Damage
from transforms.read.limits import ReadLimitExceeded

MAX_HEADER_BYTES = 64 << 10
KEEP_BLOCK_BYTES = (32 << 20) + MAX_HEADER_BYTES
_READ = 1 << 20
_MAX_SEPARATOR = 4096  # CR/LF bytes accepted between records (writers differ in how many they put)
_EMBEDDED_CHECKS = 16  # hidden-record candidates looked at per block
_DIGITS = re.compile(rb"[0-9]{1,15}")
_VERSION = re.compile(rb"WARC/[0-9]{1,3}\.[0-9]{1,3}\r?\n")
_SHORT_HEADER = 4096
_CANDIDATE = re.compile(rb"WARC/[0-9]")


@dataclass
class RawRecord:
    """A well-framed record: header fields by lower-case name, its block (or, when it was longer
    than ``KEEP_BLOCK_BYTES``, only its first ``MAX_HEADER_BYTES``)."""
    offset: int
    headers: dict[str, str]
    content_length: int
    block: bytes
    end: int  # the offset after the block
    complete: bool = True


@dataclass
class BadRecord:
    """Bytes ``[offset, offset + size)`` that are no acceptable record: a quarantine row's makings."""
    offset: int
    reason: str  # truncated_record, corrupt_record, or a read limit's reason
    details: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Window:
    """The stream's bytes from ``base`` on, read ahead as needed; a read error ends the stream and is kept."""

    def __init__(self, stream: Any):
        self._read = getattr(stream, "read1", stream.read)
        self.buf, self.base, self.eof = bytearray(), 0, False
        self.error: Exception | None = None

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self, upto: int) -> bool:
        """Read until ``upto`` is buffered or the stream ends; whether ``upto`` was reached."""
        while self.end < upto and not self.eof:
            try:
                data = self._read(min(max(upto - self.end, 1 << 16), _READ))
            except Exception as e:  # EOFError, zlib.error, a read limit...: decoders share no base class
                self.error, self.eof = e, True
                break
            if not data:
                self.eof = True
            self.buf += data
        return self.end >= upto

    def get(self, start: int, stop: int) -> bytes:
        return bytes(self.buf[max(start - self.base, 0):max(stop - self.base, 0)])

    def find(self, sub: bytes, start: int, stop: int | None = None) -> int:
        at = self.buf.find(sub, max(start - self.base, 0), None if stop is None else stop - self.base)
        return at + self.base if at >= 0 else -1

    def release(self, upto: int) -> None:
        """Forget the bytes before ``upto`` (a deque-like bytearray makes this cheap)."""
        if upto > self.base:
            del self.buf[:upto - self.base]
            self.base = upto


@dataclass
class _Parsed:
    headers: dict[str, str]
    block_start: int
    length: int


def blank_line(data: bytes | bytearray, start: int, stop: int) -> int:
    """Where the first blank line (CRLF CRLF, or LF LF as some writers end lines) of
    ``data[start:stop]`` begins (its first LF), or -1; each search stops at the first one found."""
    crlf = data.find(b"\n\r\n", start, stop)
    lf = data.find(b"\n\n", start, crlf + 2 if crlf >= 0 else stop)
    return lf if lf >= 0 else crlf


def _parse_header(raw: bytes) -> dict[str, str] | None:
    """Header fields by lower-case name, or ``None`` when a line is no ``Name: value``."""
    lines = raw.decode("utf-8", "replace").split("\n")
    headers: dict[str, str] = {}
    last = None
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and last is not None:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            return None
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


class _Framer:
    def __init__(self, stream: Any, damage: Sequence[Damage]):
        self.win = _Window(stream)
        self.damage = damage

    def header(self, pos: int) -> _Parsed | BadRecord:
        """The header block at ``pos``, or why there is none."""
        win = self.win
        win.fill(pos + MAX_HEADER_BYTES)
        if not win.get(pos, pos + 5) == b"WARC/":
            short = win.eof and win.end - pos < 5 and b"WARC/".startswith(win.get(pos, win.end))
            return BadRecord(pos, "truncated_record" if short else "corrupt_record",
                             {"error": "the file ends inside a record header" if short else "no WARC header here"})
        if not _VERSION.match(win.get(pos, pos + 16)):
            cut = win.eof and b"\n" not in win.get(pos, win.end)  # the file ends inside the version line
            return BadRecord(pos, "truncated_record" if cut else "corrupt_record",
                             {"error": "the file ends inside a record header" if cut else "no WARC version line"})
        end = self._header_end(pos)
        if end < 0:
            if win.eof and win.end < pos + MAX_HEADER_BYTES and win.find(b"\nWARC/", pos, win.end) < 0:
                return BadRecord(pos, "truncated_record", {"error": "the file ends inside a record header",
                                                           "bytes_read": 0, "content_length": None})
            return BadRecord(pos, "corrupt_record", {"error": "no blank line ends the header"})
        block_start = end + (3 if win.get(end, end + 3) == b"\n\r\n" else 2)
        headers = _parse_header(win.get(pos, end))
        if headers is None:
            return BadRecord(pos, "corrupt_record", {"error": "a header line is no 'Name: value'"})
        length = headers.get("content-length", "")
        if not _DIGITS.fullmatch(length.encode()):
            return BadRecord(pos, "corrupt_record", {"error": f"Content-Length {length[:40]!r} is no length"},
                             headers)
        return _Parsed(headers, block_start, int(length))

    def _header_end(self, pos: int) -> int:
        """Where the header at ``pos`` ends (its blank line), or -1. A header is short: the first
        ``_SHORT_HEADER`` bytes are searched, then no further than the next ``WARC/`` line (no
        header holds one), so that resynchronising through junk costs little per candidate."""
        win, base = self.win, self.win.base
        end = blank_line(win.buf, pos - base, pos - base + _SHORT_HEADER)
        if end < 0:
            following = win.find(b"\nWARC/", pos, pos + MAX_HEADER_BYTES)
            end = blank_line(win.buf, pos - base, (following if following >= 0 else pos + MAX_HEADER_BYTES) - base)
        return end + base if end >= 0 else -1

    def _ends_record(self, at: int) -> bool | None:
        """Whether the bytes at ``at`` close a record: CR/LF, then the next ``WARC/`` or the end of
        the file; ``None`` when the file ends inside the next record's first bytes."""
        win, span = self.win, _MAX_SEPARATOR + 5
        if win.fill(at + 9) and win.get(at, at + 9) == b"\r\n\r\nWARC/":  # as the standard writes them
            return True
        win.fill(at + span)
        rest = win.get(at, at + span).lstrip(b"\r\n")
        if rest.startswith(b"WARC/"):
            return True
        if win.eof and win.end <= at + span:  # these are the file's last bytes
            return True if not rest else None if b"WARC/".startswith(rest) else False
        return False

    def _damaged(self, start: int, stop: int) -> Damage | None:
        """The first damage touching ``[start, stop)`` (the list is in stream order)."""
        first = bisect.bisect_right(self.damage, start, key=lambda d: d.end)
        return self.damage[first] if first < len(self.damage) and self.damage[first].start < stop else None

    def _holds_a_record_header(self, block_start: int, block_end: int) -> bool:
        """Whether the block holds a valid record header after a blank line: its Content-Length
        swallowed the next record (or it is a WARC file archived in a WARC, which is no text)."""
        at = block_start
        for _ in range(_EMBEDDED_CHECKS):
            at = self.win.find(b"\r\n\r\nWARC/", at, block_end)
            if at < 0:
                return False
            if isinstance(self.header(at + 4), _Parsed):
                return True
            at += 1
        return False

    def record(self, pos: int) -> RawRecord | BadRecord:
        """The record at ``pos`` if its framing holds (see the module docstring)."""
        parsed = self.header(pos)
        if isinstance(parsed, BadRecord):
            return parsed
        win, headers, length = self.win, parsed.headers, parsed.length
        block_end = parsed.block_start + length
        keep = length <= KEEP_BLOCK_BYTES
        if keep:
            win.fill(block_end)
        else:
            head = win.get(parsed.block_start, parsed.block_start + MAX_HEADER_BYTES)
            while win.end < block_end and not win.eof:
                win.release(max(win.end, pos))
                win.fill(min(block_end, win.end + _READ))
        if win.end < block_end:
            return BadRecord(pos, "truncated_record", {"bytes_read": max(win.end - parsed.block_start, 0),
                                                       "content_length": length}, headers)
        closed = self._ends_record(block_end) is not False or win.get(block_end, block_end + 4) == b"\r\n\r\n"
        if not closed or keep and self._holds_a_record_header(parsed.block_start, block_end):
            return BadRecord(pos, "corrupt_record", {"error": f"Content-Length {length} does not end the record"},
                             headers)
        damaged = self._damaged(pos, block_end + 1)
        if damaged is not None:
            return BadRecord(pos, "corrupt_record", {"error": f"damaged gzip member: {damaged.error}"}, headers)
        block = win.get(parsed.block_start, block_end) if keep else head
        return RawRecord(pos, headers, length, block, block_end, keep)

    def _candidate(self, start: int) -> int:
        """The next offset from ``start`` on where a record may start (``WARC/`` and a digit), or
        -1 if none is buffered."""
        found = _CANDIDATE.search(self.win.buf, max(start - self.win.base, 0))
        return found.start() + self.win.base if found else -1

    def resync(self, start: int) -> RawRecord | BadRecord | None:
        """The first record from ``start`` on that is acceptable, else the first one the end of
        the file cuts; ``None`` when there is neither."""
        win, cut = self.win, None
        while True:
            start = max(start, win.base)
            win.fill(start + _READ)
            at = self._candidate(start)
            if at < 0:
                if win.eof:
                    return cut
                start = max(win.end - 5, start)
                if cut is None:
                    win.release(start)
                continue
            found = self.record(at)
            if isinstance(found, RawRecord):
                return found
            if found.reason == "truncated_record" and win.eof and cut is None:
                cut = found  # the file's cut last record, unless a whole record follows (junk headers)
                if found.offset < win.base:  # streamed past: nothing left to look at
                    return cut
            start = at + 1


def _skip_separators(win: _Window, pos: int) -> int:
    """The offset after the CR/LF between records, forgetting them as it goes."""
    while True:
        win.fill(pos + _MAX_SEPARATOR)
        rest = win.get(pos, pos + _MAX_SEPARATOR)
        pos += len(rest) - len(rest.lstrip(b"\r\n"))
        win.release(pos)
        if rest.lstrip(b"\r\n") or win.eof:
            return pos


def iter_records(stream: Any, damage: Sequence[Damage] = ()) -> Iterator[RawRecord | BadRecord]:
    """Every record of a decompressed WARC stream, in order: ``RawRecord`` when its framing holds,
    else a ``BadRecord`` covering the bytes up to the next acceptable record. Damage outside any
    record (a gzip member lost between records) is a ``BadRecord`` of its own; a read error (a read
    limit, a cut compressed stream) ends the stream with one."""
    framer = _Framer(stream, damage)
    win, pos, reported = framer.win, 0, 0
    found: RawRecord | BadRecord | None = None
    while True:
        if found is None:
            pos = _skip_separators(win, pos)
            for d in damage[reported:]:
                if d.end > pos:
                    break
                reported += 1
                yield BadRecord(d.start, "corrupt_record", {"error": f"damaged gzip member: {d.error}"})
            if win.end <= pos and win.eof:
                break
            found = framer.record(pos)
        if isinstance(found, RawRecord):
            yield found
            pos, found = found.end, None
            continue
        nxt = framer.resync(pos + 1)
        if nxt is None and found.reason == "truncated_record":
            error = win.error
            if isinstance(error, ReadLimitExceeded):  # a read limit stopped the file here
                found = BadRecord(pos, error.reason, dict(error.details), found.headers)
            elif error is not None:
                found.details["error"] = f"{type(error).__name__}: {error}"
            yield found
            return
        if found.reason == "truncated_record" and isinstance(nxt, RawRecord):  # not the last record: a lie
            found = BadRecord(pos, "corrupt_record", {"error": "Content-Length runs past the end of the file"},
                              found.headers)
        stop = nxt.offset if nxt is not None else win.end
        found.details["bytes_skipped"] = stop - pos
        yield found
        while reported < len(damage) and damage[reported].end <= stop:  # told of by this row
            reported += 1
        if nxt is None:
            break
        pos, found = nxt.offset, nxt
    if win.error is not None:
        error = win.error
        if isinstance(error, ReadLimitExceeded):
            yield BadRecord(win.end, error.reason, dict(error.details))
        else:  # EOFError: the compressed stream is cut (inside a gzip header, say) where a record starts
            yield BadRecord(win.end, "truncated_record" if isinstance(error, EOFError) else "corrupt_file",
                            {"error": f"{type(error).__name__}: {error}"})
