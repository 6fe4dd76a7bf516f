"""Big files read in parallel: one input file becomes several read units, each read by any worker.

- JSONL (uncompressed, UTF-8): byte ranges of about ``split_bytes``; a range holds the lines that
  start in it (the last one read to its end, past the range). A document without an id is named
  after its line number (``SOURCE:RELPATH:LINE``, and its uid from it), so a first parallel step
  counts the newlines of every range and the readers get the prefix sums as a side input: every
  record gets the same line number, id and uid as when the file is read whole.
- Parquet (not compressed as a whole file): groups of consecutive row groups of about
  ``split_bytes``, each with its first row number from the file's footer.
- Read whole, as one unit: a compressed file (a compressed stream has no seek points), a file of
  at most ``split_bytes``, a file over ``max_file_bytes`` (its limit row says where it stopped), a
  JSONL file in UTF-16/32 (found by the first step: a newline is not one byte there), plain text
  and HTML (one document per file), and WARC (a record's position is its ordinal in the file:
  finding it from an offset needs the whole file decompressed first).

The per-file error budget (``transforms.read.limits``) is judged once, on the file's prefix, in the
first step; every unit of a condemned file quarantines its documents with the same details.
Same inputs give the same documents and quarantine rows, split or not; a Parquet row group that
cannot be decoded is the one difference: its unit quarantines the rest of that row group
(``corrupt_file``) and the following units still read theirs.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from transforms.document import KEPT, REMOVED, Item, tagged
from transforms.read.code import read_code_input
from transforms.read.files import _WIDE_BOMS, _open_raw, _quarantine, iter_jsonl, iter_parquet, read_input_file
from transforms.read.limits import ReadLimits, condemn, error_budget_verdict, limit_document
from transforms.read.sources import InputFile, split_suffixes

SPLIT_BYTES = 4 << 20  # pieces of a big file; small enough that two workers get even shares of a 30 MB file
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReadUnit:
    """One piece of a file: ``whole``; ``lines``, bytes ``[start, end)``; ``rows``, row groups
    ``[start, end)`` whose first row is the file's row ``first_row``. ``index`` orders a file's units."""
    file: InputFile
    kind: str = "whole"
    index: int = 0
    start: int = 0
    end: int = 0
    first_row: int = 0


def read_whole_file(f: InputFile, limits: ReadLimits) -> Iterator[Item]:
    """Every record of one file read whole: a code source's container by ``transforms.read.code``,
    any other file by ``transforms.read.files``."""
    return read_code_input(f, limits) if f.source.kind == "code" else read_input_file(f, limits)


def may_split(f: InputFile, limits: ReadLimits, split_bytes: int) -> bool:
    """Whether ``f`` may be read in pieces (from its name and size: a JSONL file always is then);
    a code source's files are read whole (its records are labelled by ``transforms.read.code``)."""
    fmt, compression = split_suffixes(f.path)
    too_big = bool(limits.max_file_bytes) and f.size > limits.max_file_bytes
    return bool(split_bytes) and f.source.kind != "code" and not compression and not too_big \
        and f.size > split_bytes and fmt in ("jsonl", "parquet")


def file_units(f: InputFile, limits: ReadLimits, split_bytes: int) -> list[ReadUnit]:
    """The units ``f`` is read in: byte ranges of a JSONL file and groups of row groups of a Parquet
    file bigger than ``split_bytes``; any other file whole. Reads at most a Parquet footer."""
    if not may_split(f, limits, split_bytes):
        return [ReadUnit(f)]
    if split_suffixes(f.path)[0] == "jsonl":
        n = -(-f.size // split_bytes)
        bounds = [k * f.size // n for k in range(n + 1)]
        return [ReadUnit(f, "lines", k, a, b) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    return _row_group_units(f, split_bytes)


def _row_group_units(f: InputFile, split_bytes: int) -> list[ReadUnit]:
    import pyarrow.parquet as pq

    try:
        with _open_raw(f.path) as raw:
            meta = pq.ParquetFile(raw).metadata
            groups = [(meta.row_group(i).num_rows, meta.row_group(i).total_byte_size)
                      for i in range(meta.num_row_groups)]
    except Exception:  # an unreadable footer: the whole-file reader says why, in its quarantine row
        return [ReadUnit(f)]
    units: list[ReadUnit] = []
    start = row = first_row = size = 0
    for i, (rows, nbytes) in enumerate(groups):
        row, size = row + rows, size + nbytes
        if size >= split_bytes or i == len(groups) - 1:
            units.append(ReadUnit(f, "rows", len(units), start, i + 1, first_row))
            start, first_row, size = i + 1, row, 0
    return units if len(units) > 1 else [ReadUnit(f)]


def count_newlines(raw: Any, start: int, end: int) -> int:
    """Newlines in bytes ``[start, end)`` of a seekable stream, read a chunk at a time."""
    raw.seek(start)
    count, left = 0, end - start
    while left > 0:
        chunk = raw.read(min(_CHUNK, left))
        if not chunk:
            break
        count, left = count + chunk.count(b"\n"), left - len(chunk)
    return count


def scan_unit(unit: ReadUnit, limits: ReadLimits) -> Iterator[tuple[str, tuple[str, Any]]]:
    """What the readers of a split file need to know, keyed by path: each range's newline count and,
    from the first unit, whether the file is wide-encoded (read whole then) and its error-budget verdict."""
    if unit.kind == "whole":
        return
    f = unit.file
    try:
        with _open_raw(f.path) as raw:
            if unit.kind == "lines":
                yield f.path, ("newlines", (unit.index, count_newlines(raw, unit.start, unit.end)))
            if unit.index != 0:
                return
            if unit.kind == "lines":
                raw.seek(0)
                head = raw.read(4)
                if any(head.startswith(bom) for bom, _ in _WIDE_BOMS):
                    yield f.path, ("whole", True)
                    return
            if limits.max_file_error_rate < 1.0:
                yield f.path, ("verdict", error_budget_verdict(_whole_file_records(raw, unit, limits), limits,
                                                               f.relpath))
    except Exception:  # the file went away or cannot be read: its first unit reads it whole and says why
        yield f.path, ("whole", True)


def _whole_file_records(raw: Any, unit: ReadUnit, limits: ReadLimits) -> Iterator[Item]:
    """The file's records from its start, as the whole-file reader sees them (read as far as consumed)."""
    raw.seek(0)
    f = unit.file
    if unit.kind == "lines":
        return iter_jsonl(io.BufferedReader(_Unclosed(raw), buffer_size=_CHUNK), f.source, f.relpath, limits)
    return iter_parquet(raw, f.source, f.relpath, limits, seekable=True)


def file_index(path_and_facts: tuple[str, Iterable[tuple[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """(path, {"newlines_before": [per unit], "whole": bool, "verdict": details or None}) of one split file."""
    path, facts = path_and_facts
    counts: dict[int, int] = {}
    info: dict[str, Any] = {"whole": False, "verdict": None}
    for kind, value in facts:
        if kind == "newlines":
            counts[value[0]] = value[1]
        else:
            info[kind] = value
    before, total = [], 0
    for k in sorted(counts):
        before.append(total)
        total += counts[k]
    return path, dict(info, newlines_before=before)


class _Unclosed(io.RawIOBase):
    """A view of a stream that leaves it open when the view is closed (its owner closes it)."""

    def __init__(self, raw: Any):
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _LineRange(io.RawIOBase):
    """The bytes of the lines that start in ``[begin, end)``, ``begin`` being a line start: up to
    ``end``, then on to the end of the line that crosses it."""

    def __init__(self, raw: Any, begin: int, end: int):
        raw.seek(begin)
        self._raw, self._left, self._done, self._last = raw, end - begin, begin >= end, b"\n"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        if self._left > 0:
            data = self._raw.read(min(len(buffer), self._left))
            self._left -= len(data)
        else:
            if self._last == b"\n":  # the range ended at a line start: that line is the next range's
                self._done = True
                return 0
            data = self._raw.read(len(buffer))
            cut = data.find(b"\n")
            if cut >= 0:
                data, self._done = data[:cut + 1], True
        if not data:
            self._done = True
            return 0
        buffer[:len(data)] = data
        self._last = data[-1:]
        return len(data)


def _first_line_start(raw: Any, start: int) -> tuple[int, bool]:
    """The first line start at or after ``start``, and whether a partial line was skipped to reach it."""
    if start == 0:
        return 0, False
    raw.seek(start - 1)
    if raw.read(1) == b"\n":
        return start, False
    pos = start
    while chunk := raw.read(_CHUNK):
        cut = chunk.find(b"\n")
        if cut >= 0:
            return pos + cut + 1, True
        pos += len(chunk)
    return pos, True


def _range_records(unit: ReadUnit, info: dict[str, Any], limits: ReadLimits) -> Iterator[Item]:
    f = unit.file
    try:
        raw = _open_raw(f.path)
    except Exception as e:
        yield _quarantine(f.source, f.relpath, f"unit-{unit.index}", "unreadable_file",
                          error=f"{type(e).__name__}: {e}")
        return
    with raw:
        if unit.kind == "rows":
            yield from iter_parquet(raw, f.source, f.relpath, limits, seekable=True,
                                    row_groups=list(range(unit.start, unit.end)), first_row=unit.first_row)
            return
        try:
            begin, skipped = _first_line_start(raw, unit.start)
        except Exception as e:  # the object went away or shrank since it was listed
            yield _quarantine(f.source, f.relpath, f"unit-{unit.index}", "unreadable_file",
                              error=f"{type(e).__name__}: {e}")
            return
        first_line = 1 + info["newlines_before"][unit.index] + skipped
        stream = io.BufferedReader(_LineRange(raw, begin, unit.end), buffer_size=_CHUNK)
        yield from iter_jsonl(stream, f.source, f.relpath, limits, first_line=first_line)


def read_unit(unit: ReadUnit, index: dict[str, dict[str, Any]], limits: ReadLimits) -> Iterator[Item]:
    """Every record of one unit, as documents or quarantine rows, as reading its file whole gives them."""
    info = index.get(unit.file.path, {"whole": False, "verdict": None})  # row groups of a file with no budget
    if unit.kind == "whole" or info["whole"]:
        if unit.index == 0:
            yield from read_whole_file(unit.file, limits)
        return
    items = _range_records(unit, info, limits)
    if info["verdict"] is not None:
        items = condemn(items, info["verdict"])
    for tag, item in items:
        if tag == "doc":
            yield from limit_document(item, limits)
        else:
            yield tag, item


class ReadFileUnits(beam.PTransform):
    """Input files -> tagged records (``kept`` documents; ``removed``, ``skipped``), a big file's
    pieces read by different workers. When no file is big enough to split, files are read whole
    with no scan step (two fused stages fewer)."""

    def __init__(self, files: list[InputFile], limits: ReadLimits, split_bytes: int = SPLIT_BYTES):
        super().__init__()
        self.files, self.limits, self.split_bytes = files, limits, split_bytes

    def expand(self, pbegin):
        limits, split_bytes = self.limits, self.split_bytes
        files = pbegin | "ListFiles" >> beam.Create(self.files)
        if not any(may_split(f, limits, split_bytes) for f in self.files):
            return (files
                    | "Spread" >> beam.Reshuffle()
                    | "Records" >> beam.FlatMap(lambda f: tagged(read_whole_file(f, limits)))
                    .with_outputs(REMOVED, "skipped", main=KEPT))
        units = (files
                 | "Split" >> beam.FlatMap(lambda f: file_units(f, limits, split_bytes))
                 | "Spread" >> beam.Reshuffle())
        index = (units
                 | "Scan" >> beam.FlatMap(lambda u: scan_unit(u, limits))
                 | "GroupScans" >> beam.GroupByKey()
                 | "FileIndex" >> beam.Map(file_index))
        return (units
                | "Records" >> beam.FlatMap(lambda u, ix: tagged(read_unit(u, ix, limits)), beam.pvalue.AsDict(index))
                .with_outputs(REMOVED, "skipped", main=KEPT))
