"""Multi-member gzip that survives a damaged member, for ``.warc.gz`` files.

Crawlers write one gzip member per WARC record, so a flipped byte should cost one record, not the
rest of the file, as it does with Python's ``gzip`` (which stops at the first bad member). This
reader decompresses member by member; when a member fails (a deflate error, a wrong CRC or
length), it records the decompressed range that member produced as ``Damage`` and goes on with the
next gzip header found in the compressed bytes after the failed member's start. Bytes between
members that are no member are skipped and recorded the same way (as an empty range). The WARC
reader (``transforms.read.warc_records``) quarantines every record that touches a damaged range.

A stream that ends inside a member raises ``EOFError`` as ``gzip`` does: a cut file says so.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Any

_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 16
# Compressed bytes kept of the member being read, to look for the next member inside them when it
# fails (a damaged deflate stream can run past the member's end before it errs). A longer member is
# searched from where it failed.
_KEEP_MEMBER_BYTES = 256 << 10


@dataclass(frozen=True)
class Damage:
    """Decompressed bytes ``[start, end)`` came from a damaged member (or, empty, where junk was skipped)."""
    start: int
    end: int
    error: str


def _header_at(data: bytes | bytearray, start: int) -> int:
    """The offset of the first plausible gzip header at or after ``start`` (magic, deflate, no
    reserved flag bits), or -1."""
    at = data.find(_MAGIC, start)
    while at >= 0 and at + 3 < len(data) and data[at + 3] & 0xE0:
        at = data.find(_MAGIC, at + 1)
    return at


class GzipMembers(io.RawIOBase):
    """The decompressed bytes of every readable member of a gzip stream; ``damage`` lists what was lost."""

    def __init__(self, raw: Any):  # a file or a counting wrapper around one
        self._raw, self._raw_eof = raw, False
        self._input = bytearray()  # compressed bytes not yet given to the decompressor
        self._member = bytearray()  # compressed bytes of the current member, from its header on
        self._member_start_out = 0
        self._dobj: Any = None
        self._out = b""  # decompressed bytes not yet delivered
        self.delivered = 0
        self.damage: list[Damage] = []

    def readable(self) -> bool:
        return True

    def _more(self) -> bool:
        if self._raw_eof:
            return False
        data = self._raw.read(_CHUNK)
        if not data:
            self._raw_eof = True
            return False
        self._input += data
        return True

    def _produced(self) -> int:
        return self.delivered + len(self._out)

    def _start_member(self) -> bool:
        """Position at the next gzip header; ``False`` at the end of the stream. Skipped bytes other
        than zero padding are recorded as damage."""
        skipped, junk = 0, False
        while True:
            while len(self._input) < 4 and self._more():
                pass
            at = _header_at(self._input, 0)
            if at == 0 and len(self._input) >= 4:
                break
            cut = at if at > 0 else max(len(self._input) - 3, 0) if at < 0 else 0  # a header may be cut
            if cut == 0 and not self._more():
                if self._input and _MAGIC.startswith(bytes(self._input[:3])) and len(self._input) < 10:
                    raise EOFError("Compressed file ended inside a gzip header")
                cut = len(self._input)
            junk = junk or bool(self._input[:cut].strip(b"\0"))
            skipped += cut
            del self._input[:cut]
            if not self._input and self._raw_eof:
                break
        if junk:
            self._add_damage(Damage(self._produced(), self._produced(), f"{skipped} bytes that are no gzip member"))
        if not self._input:
            return False
        self._dobj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._member = bytearray()
        self._member_start_out = self._produced()
        return True

    def _add_damage(self, damage: Damage) -> None:
        """Keep ``damage``, as one with the last when they meet (a failed member, then the rest of
        it skipped as junk): one loss, one quarantine row."""
        last = self.damage[-1] if self.damage else None
        if last is not None and last.end == damage.start == damage.end:
            self.damage[-1] = Damage(last.start, last.end, f"{last.error}; {damage.error}")
        else:
            self.damage.append(damage)

    def _fail_member(self, error: Exception, unread: bytes) -> None:
        """Record the member's output as damaged; look for the next member after its first byte."""
        self._add_damage(Damage(self._member_start_out, self._produced(), f"{type(error).__name__}: {error}"))
        self._dobj = None
        kept = len(self._member) < _KEEP_MEMBER_BYTES
        self._input[:0] = (self._member + unread)[1:] if kept else unread
        self._member = bytearray()

    def _step(self, size: int) -> None:
        """Decompress some input into ``_out`` (up to ``size`` bytes), moving between members."""
        while not self._out:
            if self._dobj is None and not self._start_member():
                return
            if not self._input and not self._more():
                self._dobj = None  # a cut file, not damage: the reader reports the cut record
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            chunk = bytes(self._input[:_CHUNK])
            del self._input[:_CHUNK]
            try:
                out = self._dobj.decompress(chunk, size)
            except zlib.error as e:
                self._fail_member(e, chunk)
                continue
            # at the end of a member zlib leaves what follows in both attributes
            rest = self._dobj.unused_data if self._dobj.eof else self._dobj.unconsumed_tail
            if len(self._member) < _KEEP_MEMBER_BYTES:
                self._member += chunk[:len(chunk) - len(rest)]
            self._input[:0] = rest
            self._out = out
            if self._dobj.eof:
                self._dobj = None

    def readinto(self, buffer: Any) -> int:
        if not self._out:
            self._step(max(len(buffer), 1))
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        self.delivered += n
        return n
