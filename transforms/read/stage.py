"""The read stage: every input file, a big one in pieces, as documents and quarantine rows."""
from __future__ import annotations

import dataclasses
from typing import Any

import apache_beam as beam

from transforms.document import KEPT, REMOVED, CountNested
from transforms.read.code import describe_code_reader
from transforms.read.files import DECODE_DESCRIPTION
from transforms.read.limits import ReadLimits
from transforms.read.ranges import SPLIT_BYTES, ReadFileUnits
from transforms.read.sources import InputFile


class ReadDocuments(beam.PTransform):
    """Input files -> {"kept": documents, "removed": quarantine rows, "skipped": one element,
    {source: {kind: records}} of WARC records that are no documents}. Files, and the pieces of a
    big file (``transforms.read.ranges``, ``split_bytes``), are spread over workers; records streamed."""

    def __init__(self, files: list[InputFile], limits: ReadLimits, split_bytes: int | None = None):
        super().__init__()
        self.files, self.limits, self.split_bytes = files, limits, split_bytes

    def expand(self, pbegin):
        split = SPLIT_BYTES if self.split_bytes is None else self.split_bytes
        read = pbegin | "Files" >> ReadFileUnits(self.files, self.limits, split)  # big files in pieces, streamed
        skipped = (read.skipped
                   | "SkippedKind" >> beam.Map(lambda s: (s["source"], s["kind"]))
                   | "CountSkipped" >> CountNested())
        return {KEPT: read[KEPT], REMOVED: read[REMOVED], "skipped": skipped}

    def describe(self) -> dict[str, Any]:
        record = {**dataclasses.asdict(self.limits), "decode": DECODE_DESCRIPTION}
        if any(f.source.kind == "code" for f in self.files):
            record["code"] = describe_code_reader()
        return record
