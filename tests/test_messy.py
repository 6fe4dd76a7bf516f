"""Every file of ../shared/data/messy through the readers, checked against what its manifest says.

The expectation of each file comes from ``manifest.tsv`` (its encoding or format label), the
folder READMEs and ``compressed/faults_manifest.tsv`` (the fault on each line), never from our
own output. Known limits of encoding detection are listed by name with the reason, and are
asserted too, so that a better detector shows up as a failing test to update.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import shared_path
from transforms.normalize import normalize_document, normalize_text
from transforms.read.decode import decode_bytes
from transforms.read.files import read_input_file
from transforms.read.inputs import match_inputs
from transforms.read.limits import ReadLimits
from transforms.read.sources import Source, make_uid

# No encoding identifies these: EUC-TW has no Python codec at all; the CJK codec test texts for
# cp949 and johab are too short (346 bytes, no declaration) for charset-normalizer.
UNDETECTABLE = {"encodings-chardet/EUC-TW/_ude_euc-tw1.txt", "encodings-python-cjk/cp949.txt",
                "encodings-python-cjk/johab.txt"}
# 23 bytes of Big5-HKSCS: too little evidence; the detector picks a Latin code page.
MISDETECTED = {"encodings-python-cjk/big5hkscs.txt"}
# A detector choosing a sibling single-byte code page (cp1250 for ISO-8859-2...) garbles the few
# letters where they differ; measured worst agreement with the labelled decoding is 0.81.
MIN_AGREEMENT = 0.8
MIN_EXACT_SHARE = 0.85  # measured: 414 of 460 labelled files decode to exactly the labelled text
# Markup that must not survive extraction (text may still hold "<a@b.org>" or "#include <x.h>").
HTML_TAG = re.compile(r"</?(?:html|head|body|div|p|a|span|table|tr|td|meta|link|script|style|ul|li|h[1-6]|br|img)"
                      r"\b[^<>]*>", re.I)
FAULT_OUTCOME = {  # faults_manifest.tsv fault -> what the reader must make of that line
    "ok": "doc", "bom_first_line": "doc", "no_trailing_newline": "doc", "duplicate_key": "doc",
    "nul_char_in_text": "doc", "lone_surrogate_escape": "doc",
    "invalid_utf8_bytes": "doc", "latin1_encoded_line": "doc",  # <= 1 % bad bytes: repaired, see meta
    "blank_line": None, "truncated_json": "malformed_json", "json_array_not_object": "not_an_object",
    "text_null": "missing_text", "text_missing": "missing_text", "text_not_string": "missing_text",
}


def _manifest() -> list[dict[str, str]]:
    with open(shared_path("messy", "manifest.tsv"), encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _read(path: Path, limits: ReadLimits = ReadLimits()) -> list[tuple[str, dict]]:
    [f] = match_inputs([Source(name="messy", paths=(str(path),))])
    return list(read_input_file(f, limits))


def _label_codec(label: str) -> str | None:
    label = label.replace("gzip; ", "").replace(" inside", "").replace("UTF-8 (reference)", "utf-8")
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _reference_records(root: Path) -> list[dict]:
    with open(root / "compressed" / "udhr_sample.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_manifest_file_loads_or_is_quarantined_with_its_reason():
    root = shared_path("messy")
    rows = _manifest()
    extra = sorted({p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {r["path"] for r in rows})
    assert extra == ["README.md", "build_compressed.py", "build_manifest.py", "build_messy.sh", "manifest.tsv"]
    reference = _reference_records(root)
    outcomes: Counter = Counter()
    for rel in [r["path"] for r in rows] + extra:
        items = _read(root / rel)
        tags = Counter(t if t == "doc" else d["reason"] for t, d in items)
        outcomes.update(tags)
        docs = [d for t, d in items if t == "doc"]
        name = Path(rel).name
        if rel in UNDETECTABLE:
            assert tags == {"undetected_encoding": 1}, rel
        elif rel.startswith("compressed/udhr_sample") and "truncated" not in rel:
            assert tags == {"doc": len(reference)}, rel  # plain, gz, bz2, xz, zst, multi-member, UTF-16LE
            assert [d["id"] for d in docs] == [r["id"] for r in reference], rel
            assert [d["text"] for d in docs] == [r["text"] for r in reference], rel
        elif "truncated" in rel:
            assert tags["corrupt_file"] == 1 and items[-1][1]["reason"] == "corrupt_file", rel
            assert 0 < len(docs) < len(reference) and len(items) == len(docs) + 1, rel
            assert [d["id"] for d in docs] == [r["id"] for r in reference[: len(docs)]], rel
        elif name == "faults.jsonl":
            continue  # line by line below
        elif name == "boost_copyright_one_record.jsonl":
            assert set(tags) == {"doc"} and all(len(d["text"]) <= ReadLimits().max_doc_chars for d in docs)
        else:
            assert tags == {"doc": len(docs)} and len(docs) >= 1, rel
            assert all(len(d["text"]) <= ReadLimits().max_doc_chars for d in docs), rel
    assert sum(outcomes.values()) >= len(rows) + len(extra)


def test_faults_jsonl_line_by_line():
    root = shared_path("messy", "compressed")
    with open(root / "faults_manifest.tsv", encoding="utf-8") as f:
        faults = {int(r["line"]): r["fault"] for r in csv.DictReader(f, delimiter="\t")}
    items = _read(root / "faults.jsonl")
    by_uid = {d["uid"]: (t, d) for t, d in items}
    assert len(by_uid) == len(items) == sum(FAULT_OUTCOME[f] is not None for f in faults.values())
    for line, fault in faults.items():
        expected = FAULT_OUTCOME[fault]
        got = by_uid.get(make_uid("messy", "faults.jsonl", line))
        if expected is None:
            assert got is None, (line, fault)
            continue
        tag, item = got
        assert (tag if tag == "doc" else item["reason"]) == expected, (line, fault, item)
        if tag == "doc":
            normalized = normalize_document(item)[1]["text"]
            normalized.encode("utf-8")  # lone surrogates and NULs are gone
            assert "\x00" not in normalized and "\r" not in normalized
        if fault in ("invalid_utf8_bytes", "latin1_encoded_line"):
            assert 0 < item["meta"]["decode"]["invalid_bytes"] <= 0.01 * 600
    latin1 = next(d for t, d in items if t == "doc" and d["id"] == "udhr:cat:art08")
    assert "té dret" in latin1["text"]  # the Latin-1 byte read as windows-1252, not replaced


def test_legacy_encodings_decode_to_the_labelled_text():
    root = shared_path("messy")
    labelled, exact = 0, 0
    for row in _manifest():
        codec = _label_codec(row["encoding_or_format"])
        if codec is None or row["path"] in UNDETECTABLE:
            continue
        data = (root / row["path"]).read_bytes()
        if row["path"].endswith(".gz"):
            data = gzip.decompress(data)
        try:
            expected = data.decode(codec)
        except UnicodeDecodeError:  # the label's codec itself fails (a superset page): nothing to compare
            continue
        labelled += 1
        decoded = decode_bytes(data)
        assert decoded is not None, row["path"]
        if decoded.text == expected:
            exact += 1
            continue
        agreement = difflib.SequenceMatcher(None, decoded.text[:4000], expected[:4000]).ratio()
        assert (agreement >= MIN_AGREEMENT) != (row["path"] in MISDETECTED), (row["path"], decoded, agreement)
    assert labelled >= 450 and exact / labelled >= MIN_EXACT_SHARE, (exact, labelled)


def test_cjk_codec_texts_match_their_utf8_reference_exactly():
    root = shared_path("messy", "encodings-python-cjk")
    checked = 0
    for ref in sorted(root.glob("*-utf8.txt")):
        legacy = root / ref.name.replace("-utf8", "")
        rel = f"encodings-python-cjk/{legacy.name}"
        if rel in UNDETECTABLE | MISDETECTED:
            continue
        [(tag, doc)] = _read(legacy)
        assert tag == "doc", rel
        assert normalize_text(doc["text"]) == normalize_text(ref.read_text(encoding="utf-8")), rel
        checked += 1
    assert checked == 12


def test_html_pages_become_text():
    root = shared_path("messy", "html-installation-guide")
    lengths: dict[str, list[int]] = {}
    for page in sorted(root.rglob("*.html")):
        [(tag, doc)] = _read(page)
        assert tag == "doc" and doc["meta"]["decode"]["markup"] == "html", page
        assert not HTML_TAG.search(doc["text"]) and "<!--" not in doc["text"], page
        lengths.setdefault(page.name, []).append(len(doc["text"]))
    assert len(lengths) == 6 and all(len(v) == 19 for v in lengths.values())
    for page, sizes in lengths.items():  # parallel translations: comparable lengths
        assert min(sizes) > 0.2 * max(sizes), (page, sizes)


def test_feeds_and_legacy_html_lose_their_markup():
    root = shared_path("messy")
    feed = root / "encodings-chardet" / "windows-1251-russian" / "aif.ru.health.xml"
    [(_, doc)] = _read(feed)
    assert doc["meta"]["decode"] == {"encoding": "cp1251", "method": "declared", "markup": "feed"}
    assert "Как пережить новогоднюю ночь" in doc["text"] and not HTML_TAG.search(doc["text"])
    [(_, page)] = _read(root / "legacy-debian" / "libxslt1-dev.libxslttutorial.latin1.html")
    assert "Copyright © 2001 John Fleck" in page["text"] and not HTML_TAG.search(page["text"])


def test_size_limits_on_the_long_lines():
    root = shared_path("messy", "long-lines")
    boost = root / "boost_copyright_one_record.jsonl"
    [(tag, row)] = _read(boost, ReadLimits(max_line_bytes=1 << 20))
    assert tag == "removed" and row["reason"] == "line_too_long"
    assert json.loads(row["details"])["bytes"] == boost.stat().st_size
    original = json.loads(boost.read_bytes())["text"]
    parts = _read(boost, ReadLimits(max_doc_chars=300_000))
    assert all(t == "doc" and len(d["text"]) <= 300_000 for t, d in parts) and len(parts) >= 7
    assert "".join(d["text"] for _, d in parts) == original
    assert [d["meta"]["split"]["part"] for _, d in parts] == list(range(1, len(parts) + 1))
    no_newline = root / "udhr_107_translations_one_line_no_newline.txt"
    [(tag, row)] = _read(no_newline, ReadLimits(max_doc_chars=500_000, oversize="quarantine"))
    assert tag == "removed" and row["reason"] == "document_too_large"
    parts = _read(no_newline, ReadLimits(max_doc_chars=500_000))
    assert "".join(d["text"] for _, d in parts) == no_newline.read_text(encoding="utf-8")
    assert all(d["text"][-1] == " " for _, d in parts[:-1])  # cut at word breaks, not mid-word


@pytest.mark.parametrize("rate, condemned", [(0.5, False), (0.2, True)])
def test_error_budget_on_the_faults_file(rate, condemned):
    items = _read(shared_path("messy", "compressed", "faults.jsonl"), ReadLimits(max_file_error_rate=rate))
    reasons = Counter(t if t == "doc" else d["reason"] for t, d in items)
    assert sum(reasons.values()) == 15  # 16 lines, one blank: every record accounted for either way
    assert ("doc" not in reasons and reasons["file_error_budget_exceeded"] == 10) == condemned


def test_messy_pipeline_loses_nothing_and_reruns_byte_identical(tmp_path):
    """One of each kind of hostile input through every stage, twice."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from catalog.manifest import read_removed
    from pipelines.curate import run

    root = shared_path("messy")
    globs = ["legacy-debian/*", "encodings-python-cjk/*", "long-lines/*", "html-installation-guide/en/*",
             "encodings-chardet/UTF-*/*", "encodings-chardet/iso-2022-*/*", "encodings-chardet/EUC-TW/*",
             "compressed/faults.jsonl", "compressed/udhr_sample.truncated.jsonl.zst"]
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps([{"name": "messy", "paths": [str(root / g) for g in globs]}]))
    args = ["--sources", str(sources), "--lake", str(tmp_path / "lake"), "--dataset", "messy"]
    ref, m = run(args)

    [src] = [Source(name="messy", paths=tuple(str(root / g) for g in globs))]
    expected = Counter(item["id"] for f in match_inputs([src]) for _, item in read_input_file(f))
    kept = [i for s in m["shards"] for i in ipc.open_file(pa.memory_map(str(ref.path / s["path"]))).read_all()
            .column("id").to_pylist()]
    removed = read_removed(ref.path, m["removed_table"]).column("id").to_pylist()
    assert Counter(kept) + Counter(removed) == expected  # every input document, exactly once
    c = m["counts"]
    assert c["input"] == sum(expected.values()) == c["kept"] + sum(c["filtered"].values()) + \
        sum(c["duplicates"].values()) + c["quarantined"]
    assert c["quarantined_by_reason"] == {"undetected_encoding": len(UNDETECTABLE), "corrupt_file": 1,
                                          "malformed_json": 1, "missing_text": 3, "not_an_object": 1}

    ref2, m2 = run(args)
    assert ref2.version == ref.version + 1
    assert [(s["path"], s["sha256"]) for s in m["shards"]] == [(s["path"], s["sha256"]) for s in m2["shards"]]
    assert [s["sha256"] for s in m["removed_table"]] == [s["sha256"] for s in m2["removed_table"]]
    def strip(man):
        return {k: v for k, v in man.items() if k not in ("created_at", "version", "lineage")}
    assert strip(m) == strip(m2)
