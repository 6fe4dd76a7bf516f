"""Big files read in pieces (transforms.read.ranges) give exactly what reading them whole gives."""
from __future__ import annotations

import json
from collections import defaultdict

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to

from transforms.read.files import read_input_file
from transforms.read.limits import ReadLimits
from transforms.read.ranges import file_index, file_units, read_unit, scan_unit
from transforms.read.sources import InputFile, Source
from transforms.read.stage import ReadDocuments

SRC = Source("s", ("x",))


def _input(path) -> InputFile:
    return InputFile(SRC, str(path), path.name, path.stat().st_size)


def read_split(f: InputFile, split_bytes: int, limits: ReadLimits = ReadLimits()) -> list:
    """What the Beam steps do, in order, in one process: split, scan, index, read every unit."""
    units = file_units(f, limits, split_bytes)
    facts = defaultdict(list)
    for unit in units:
        for path, fact in scan_unit(unit, limits):
            facts[path].append(fact)
    index = dict(file_index(item) for item in facts.items())
    return [item for unit in units for item in read_unit(unit, index, limits)]


def _messy_jsonl() -> bytes:
    """Lines with and without ids, blank, malformed and invalid lines, CRLF, one very long line."""
    lines = []
    for i in range(60):
        doc = {"text": f"document number {i} " * (1 + i % 7)}
        if i % 3:
            doc["id"] = f"d{i}"
        line = json.dumps(doc).encode()
        lines.append(line + (b"\r\n" if i % 5 == 0 else b"\n"))
        if i % 11 == 0:
            lines.append(b"\n")  # blank
        if i % 13 == 0:
            lines.append(b'{"text": "broken\n')  # malformed JSON
        if i % 17 == 0:
            lines.append(b'{"text": "bad \xff\xfe\xfd\xfc bytes \xff\xff"}\n')  # too broken to repair
        if i == 30:
            lines.append(json.dumps({"text": "long " * 400}).encode() + b"\n")  # longer than a range
    return b"".join(lines)


@pytest.mark.parametrize("split_bytes", [1, 7, 64, 100, 333, 1000])
def test_jsonl_ranges_give_the_same_records_as_the_whole_file(tmp_path, split_bytes):
    path = tmp_path / "big.jsonl"
    path.write_bytes(_messy_jsonl() + b'{"text": "no newline at the end"}')
    f = _input(path)
    assert len(file_units(f, ReadLimits(), split_bytes)) > 1
    whole = list(read_input_file(f))
    assert {item["reason"] for tag, item in whole if tag == "removed"} == {"malformed_json", "invalid_utf8"}
    assert read_split(f, split_bytes) == whole


def test_ranges_ending_exactly_at_line_starts(tmp_path):
    path = tmp_path / "even.jsonl"
    lines = [json.dumps({"text": f"t{i:03d}"}).encode() + b"\n" for i in range(40)]
    assert len({len(line) for line in lines}) == 1
    path.write_bytes(b"".join(lines))
    f = _input(path)
    for split_bytes in (len(lines[0]), 2 * len(lines[0]), len(lines[0]) - 1, len(lines[0]) + 1):
        units = file_units(f, ReadLimits(), split_bytes)
        assert len(units) > 1
        assert read_split(f, split_bytes) == list(read_input_file(f))


def test_a_utf8_bom_and_a_wide_file(tmp_path):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps({"text": f"x{i}"}).encode() + b"\n" for i in range(30)))
    assert read_split(_input(bom), 50) == list(read_input_file(_input(bom)))
    wide = tmp_path / "wide.jsonl"
    wide.write_bytes("".join(json.dumps({"text": f"y{i}"}) + "\n" for i in range(30)).encode("utf-16"))
    records = read_split(_input(wide), 50)
    assert records == list(read_input_file(_input(wide))) and len(records) == 30  # read whole: 1 byte is no newline


def test_a_file_over_its_error_budget_is_condemned_in_every_range(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"".join((b"not json\n" if i % 3 else json.dumps({"text": f"ok {i}"}).encode() + b"\n")
                              for i in range(300)))
    f = _input(path)
    limits = ReadLimits(error_budget_window=20)
    whole = list(read_input_file(f, limits))
    assert any(item["reason"] == "file_error_budget_exceeded" for _, item in whole)
    assert all(tag == "removed" for tag, _ in whole)
    assert read_split(f, 100, limits) == whole


def test_split_documents_and_limits_match(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"".join(json.dumps({"text": "word " * (20 + i)}).encode() + b"\n" for i in range(40)))
    f = _input(path)
    limits = ReadLimits(max_doc_chars=120, max_line_bytes=250)  # parts and line_too_long rows
    whole = list(read_input_file(f, limits))
    assert {item["reason"] for tag, item in whole if tag == "removed"} == {"line_too_long"}
    assert any("#part-" in item["id"] for tag, item in whole if tag == "doc")
    assert read_split(f, 150, limits) == whole


def test_parquet_row_groups(tmp_path):
    path = tmp_path / "rows.parquet"
    texts = [f"row {i} " * 20 if i % 9 else None for i in range(500)]
    pq.write_table(pa.table({"text": texts}), path, row_group_size=37)
    f = _input(path)
    units = file_units(f, ReadLimits(), 2000)
    assert len(units) > 3 and all(u.kind == "rows" for u in units)
    whole = list(read_input_file(f))
    assert read_split(f, 2000) == whole and len(whole) == 500


@pytest.mark.parametrize("name", ["c.jsonl.gz", "page.txt", "crawl.warc"])
def test_compressed_text_and_warc_files_are_read_whole(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"x" * 5000)
    assert [u.kind for u in file_units(_input(path), ReadLimits(), 100)] == ["whole"]


def test_read_documents_splits_in_beam(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(_messy_jsonl())
    f = _input(path)
    whole = list(read_input_file(f))
    with beam.Pipeline() as p:
        read = p | ReadDocuments([f], ReadLimits(), split_bytes=128)
        assert_that(read["kept"], equal_to([item for tag, item in whole if tag == "doc"]), label="docs")
        assert_that(read["removed"], equal_to([item for tag, item in whole if tag == "removed"]), label="removed")


def test_a_split_file_publishes_the_same_version(tmp_path):
    """The whole pipeline on one JSONL file, read whole in-process and in pieces by two worker
    processes: the same shards, removed table, dedup tables and counts, byte for byte."""
    from catalog.manifest import file_entries
    from pipelines.curate import run
    from tests.conftest import shared_path

    records = [json.loads(line) for line in shared_path("messy", "compressed", "udhr_sample.jsonl").open()][:300]
    lines = []
    for i, record in enumerate(records + records[:20]):  # exact duplicates, some of them without an id
        if i % 4 == 0:
            record = {"text": record["text"]}
        lines.append(json.dumps(record, ensure_ascii=False).encode() + (b"\r\n" if i % 7 == 0 else b"\n"))
        if i % 50 == 0:
            lines.append(b'{"text": "cut\n\n')
    corpus = tmp_path / "one.jsonl"
    corpus.write_bytes(b"".join(lines))
    versions = []
    for k, (split, workers) in enumerate(((0, 1), (20_000, 2))):
        _, manifest = run(["--input", str(corpus), "--lake", str(tmp_path / f"lake-{k}"), "--dataset", "one",
                           f"--split-bytes={split}", f"--direct_num_workers={workers}"])
        versions.append(manifest)
    whole, split = versions
    assert whole["counts"] == split["counts"]
    assert whole["counts"]["quarantined_by_reason"]["malformed_json"] and whole["counts"]["duplicates"]["exact"]
    assert [(kind, e["path"], e["sha256"]) for kind, e in file_entries(whole)] == [
        (kind, e["path"], e["sha256"]) for kind, e in file_entries(split)]


def test_a_negative_split_size_is_refused():
    from pipelines.options import CurateOptions, OptionError, validate_options

    with pytest.raises(OptionError, match="--split-bytes"):
        validate_options(CurateOptions(["--split-bytes=-1"]))
