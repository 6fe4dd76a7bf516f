import bz2
import codecs
import gzip
import json
import lzma

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from transforms.read.files import read_input_file
from transforms.read.inputs import match_inputs
from transforms.read.limits import ReadLimits
from transforms.read.sources import Source, load_sources, sources_from_inputs, split_suffixes

RECORDS = [{"id": "a", "text": "first document", "url": "u1"}, {"text": "no id here"}]
PAYLOAD = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()


def _read(tmp_path, name, data, limits=ReadLimits(), **src):
    path = tmp_path / name
    path.write_bytes(data)
    source = Source(name="src", paths=(str(path),), **src)
    [f] = match_inputs([source])
    return list(read_input_file(f, limits))


def test_suffixes():
    assert split_suffixes("x/a.jsonl.gz") == ("jsonl", ".gz")
    assert split_suffixes("a.parquet") == ("parquet", None)
    assert split_suffixes("notes/readme.txt.zst") == ("text", ".zst")


def test_every_compression(tmp_path):
    for suffix, compress in [("", bytes), (".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress),
                             (".zst", lambda b: zstandard.ZstdCompressor().compress(b))]:
        items = _read(tmp_path, f"data.jsonl{suffix}", compress(PAYLOAD))
        assert [t for t, _ in items] == ["doc", "doc"], suffix
        docs = [d for _, d in items]
        assert docs[0]["id"] == "a" and docs[0]["meta"] == {"url": "u1"}
        assert docs[1]["id"] == "src:data.jsonl" + suffix + ":2"  # stable id from source, file and line


def test_multi_member_gzip(tmp_path):
    items = _read(tmp_path, "m.jsonl.gz", gzip.compress(PAYLOAD) + gzip.compress(PAYLOAD))
    assert len(items) == 4 and all(t == "doc" for t, _ in items)


def test_bad_lines_are_quarantined_not_fatal(tmp_path):
    data = (
        PAYLOAD
        + b'{"id": "broken", \n'
        + b'{"id": "bin", "text": "\xff\xfe"}\n'
        + b'[1, 2]\n'
        + b'{"id": 5, "text": 7}\n'
    )
    items = _read(tmp_path, "bad.jsonl", data)
    reasons = [d["reason"] for t, d in items if t == "removed"]
    assert reasons == ["malformed_json", "invalid_utf8", "not_an_object", "missing_text"]
    assert sum(t == "doc" for t, _ in items) == 2


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    big = "".join(json.dumps({"id": str(i), "text": "word " * 50}) + "\n" for i in range(400)).encode()
    blob = gzip.compress(big)
    items = _read(tmp_path, "cut.jsonl.gz", blob[: len(blob) // 2])
    assert items[-1][0] == "removed" and items[-1][1]["reason"] == "corrupt_file"
    assert 0 < sum(t == "doc" for t, _ in items) < 400


def test_text_and_parquet(tmp_path):
    [(tag, doc)] = _read(tmp_path, "note.txt", "Une note en français.\n".encode())
    assert tag == "doc" and doc["text"].startswith("Une note") and doc["id"] == "src:note.txt"
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"doc_id": ["p1", "p2"], "body": ["eins", "zwei"], "lang": ["de", "de"]}), buf)
    items = _read(tmp_path, "t.parquet", buf.getvalue().to_pybytes(), text_field="body", id_field="doc_id")
    assert [(d["id"], d["text"], d["meta"]) for _, d in items] == [
        ("p1", "eins", {"lang": "de"}),
        ("p2", "zwei", {"lang": "de"}),
    ]
    items = _read(tmp_path, "broken.parquet", b"PAR1 this is not parquet")
    assert items[0][1]["reason"] == "corrupt_file"


def test_sources_file_and_input_names(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(PAYLOAD)
    spec = tmp_path / "sources.yaml"
    spec.write_text(f"- name: web\n  paths: ['{tmp_path}/*.jsonl']\n  license: CC-BY-4.0\n  lang: fr\n  priority: 2\n")
    [src] = load_sources(str(spec))
    assert (src.name, src.license, src.lang, src.priority) == ("web", "CC-BY-4.0", "fr", 2)
    [f] = match_inputs([src])
    assert f.relpath == "a.jsonl" and f.size == len(PAYLOAD)
    names = [s.name for s in sources_from_inputs(["x/fr.jsonl.gz", "y/fr.jsonl", "z/*.txt"])]
    assert names == ["fr", "fr-2", "input"]


def test_legacy_text_files_are_decoded_not_quarantined(tmp_path):
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 20
    for name, data, encoding in [("ru.txt", text.encode("cp1251"), "cp1251"),
                                 ("le.txt", text.encode("utf-16-le"), "utf-16-le"),
                                 ("bom.txt", codecs.BOM_UTF32_BE + text.encode("utf-32-be"), "utf-32")]:
        [(tag, doc)] = _read(tmp_path, name, data)
        assert tag == "doc" and doc["text"] == text and doc["meta"]["decode"]["encoding"] == encoding, name
    [(tag, row)] = _read(tmp_path, "blob.bin", bytes(range(256)) * 8)
    assert tag == "removed" and row["reason"] == "undetected_encoding"


def test_html_is_converted_to_text(tmp_path):
    page = b"<html><head><title>t</title><script>var x=1;</script></head><body><p>Hello <b>big</b> world.</p>" \
           b"<p>Second &amp; last.</p></body></html>"
    [(tag, doc)] = _read(tmp_path, "page.html", page)
    assert doc["text"] == "Hello big world.\nSecond & last." and doc["meta"]["decode"]["markup"] == "html"


def test_jsonl_in_utf16_with_bom_and_mostly_utf8_lines(tmp_path):
    items = _read(tmp_path, "w.jsonl", codecs.BOM_UTF16_LE + PAYLOAD.decode().encode("utf-16-le"))
    assert [d["text"] for _, d in items] == ["first document", "no id here"]
    record = {"id": "x", "text": "caf\u00e9 " + "long enough line " * 20}
    line = json.dumps(record, ensure_ascii=False).encode().replace(b"\xc3\xa9", b"\xe9")
    [(tag, doc)] = _read(tmp_path, "m.jsonl", line + b"\n")
    assert doc["text"].startswith("café") and doc["meta"]["decode"]["invalid_bytes"] == 1


def test_long_lines_and_documents(tmp_path):
    big = json.dumps({"id": "big", "text": "word " * 5000}).encode() + b"\n"
    items = _read(tmp_path, "l.jsonl", PAYLOAD + big + PAYLOAD, limits=ReadLimits(max_line_bytes=1000))
    assert [t if t == "doc" else d["reason"] for t, d in items] == ["doc", "doc", "line_too_long", "doc", "doc"]
    parts = _read(tmp_path, "l2.jsonl", big, limits=ReadLimits(max_doc_chars=10_000))
    assert [d["id"] for _, d in parts] == ["big#part-1", "big#part-2", "big#part-3"]
    assert "".join(d["text"] for _, d in parts) == "word " * 5000
    [(tag, row)] = _read(tmp_path, "l3.jsonl", big, limits=ReadLimits(max_doc_chars=10_000, oversize="quarantine"))
    assert row["reason"] == "document_too_large"


def test_truncated_zstd_is_reported(tmp_path):
    big = "".join(json.dumps({"id": str(i), "text": f"record {i} " * 40}) + "\n" for i in range(2000)).encode()
    blob = zstandard.ZstdCompressor().compress(big)
    items = _read(tmp_path, "cut.jsonl.zst", blob[: len(blob) // 2])
    assert items[-1][1]["reason"] == "corrupt_file" and "truncated" in items[-1][1]["details"]
    assert 0 < len(items) - 1 < 2000


def test_error_budget_quarantines_a_garbage_file_whole(tmp_path):
    garbage = PAYLOAD + b"not json\n" * 20
    items = _read(tmp_path, "g.jsonl", garbage, limits=ReadLimits(max_file_error_rate=0.5))
    reasons = [d["reason"] for t, d in items]
    assert len(items) == 22 and reasons.count("file_error_budget_exceeded") == 2
    assert reasons.count("malformed_json") == 20
    kept = _read(tmp_path, "g2.jsonl", garbage, limits=ReadLimits(max_file_error_rate=1.0))
    assert [t for t, _ in kept][:2] == ["doc", "doc"]
