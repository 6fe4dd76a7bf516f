"""Boilerplate lines across documents (``transforms.boilerplate``): the pure functions, the Beam
transform against them, real navigation on the installation-guide pages, and a whole pipeline run
over a WARC of real pages in which the count identity holds."""
from __future__ import annotations

import json
from collections import Counter

import apache_beam as beam
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.warc_fixtures import gzip_members, request, response, warcinfo
from transforms.boilerplate import (
    RemoveBoilerplate,
    clean_document,
    document_line_keys,
    frequent_keys,
    line_key,
    nest_stats,
    remove_lines,
)


def _doc(i: int, text: str, source: str = "web") -> dict:
    return {"id": f"d{i}", "uid": f"u{i}", "text": text, "source": source, "lang": "und", "lang_score": 0.0, "meta": {}}


def test_line_key_normal_form():
    assert line_key("Page 3 of 10") == line_key("  page 7   OF 12 ") != line_key("Page 3 of ten")
    assert line_key("") is None and line_key(" \t ") is None
    assert line_key("Ελληνικά") == line_key("ΕΛΛΗΝΙΚΆ".lower()) and 0 <= line_key("x") < 2 ** 64
    assert document_line_keys("a\nb\na\n\n") == {line_key("a"), line_key("b")}  # once per document


def test_remove_lines_and_clean_document():
    nav = {line_key("Home | Blog | Contact"), line_key("© 2026 Example")}
    text, n = remove_lines("Home | Blog | Contact\n\nA real paragraph.\n\n© 2026 Example", nav)
    assert (text, n) == ("A real paragraph.", 2)
    assert remove_lines("Nothing to do here.", nav) == ("Nothing to do here.", 0)
    tag, row, stats = clean_document(_doc(1, "Home | Blog | Contact\n© 2027 Example"), nav)  # digits fold
    assert tag == "removed" and row["stage"] == "filter" and row["reason"] == "boilerplate_only"
    assert json.loads(row["details"])["lines_removed"] == 2
    assert stats == Counter(docs=1, lines_removed=2, docs_changed=1, docs_emptied=1)


def test_frequent_keys_are_per_source():
    pairs = [("a", document_line_keys("menu\nxa")), ("a", document_line_keys("menu\nxb")),
             ("a", document_line_keys("menu\nmenu")), ("b", document_line_keys("menu\ny"))]
    assert frequent_keys(pairs, 3) == {"a": {line_key("menu")}}
    assert frequent_keys(pairs, 2) == {"a": {line_key("menu")}}
    assert nest_stats([(("a", "lines_removed"), 3), (("a", "docs"), 3), (("b", "docs"), 1)])["docs"] == 4


def _corpus() -> list[dict]:
    docs = []
    for i in range(12):
        body = "Article " + " ".join("".join("abcdefghij"[int(c)] for c in str(i * 100 + j)) for j in range(12))
        nav = "Home · News · Sport · Weather" if i % 4 else "Only here once"
        docs.append(_doc(i, f"{nav}\n{body}\nShare this article\nCookies help us deliver our services."))
    docs.append(_doc(99, "Share this article\nCookies help us deliver our services."))  # nothing but boilerplate
    docs.append(_doc(100, "Home · News · Sport · Weather", source="other"))  # another source: not counted with web
    return docs


def test_transform_matches_the_pure_functions_and_is_order_free(tmp_path):
    docs = _corpus()
    frequent = frequent_keys(((d["source"], document_line_keys(d["text"])) for d in docs), 5)
    assert len(frequent["web"]) == 3 and "other" not in frequent
    cleaned = [clean_document(d, frequent.get(d["source"], set())) for d in docs]
    want_kept = [item for tag, item, _ in cleaned if tag == "doc"]
    want_removed = [item for tag, item, _ in cleaned if tag == "removed"]
    assert [d["id"] for d in want_removed] == ["d99"]
    assert {d["text"].split("\n")[0] for d in want_kept if d["source"] == "web"} >= {"Only here once"}
    assert all("Cookies" not in d["text"] for d in want_kept if d["source"] == "web")
    for order in (docs, docs[::-1]):
        with BeamPipeline() as p:
            out = p | beam.Create(order) | RemoveBoilerplate(str(tmp_path), min_docs=5)
            assert_that(out["kept"], equal_to(want_kept), label="kept")
            assert_that(out["removed"], equal_to(want_removed), label="removed")
            assert_that(out["stats"], equal_to([{
                "docs": 14, "docs_changed": 13, "docs_emptied": 1, "lines_removed": 9 + 12 * 2 + 2,
                "boilerplate_lines": 3,
                "by_source": {"web": {"docs": 13, "docs_changed": 13, "docs_emptied": 1, "lines_removed": 35,
                                      "boilerplate_lines": 3},
                              "other": {"docs": 1, "docs_changed": 0, "docs_emptied": 0, "lines_removed": 0,
                                        "boilerplate_lines": 0}}}]), label="stats")
    with pytest.raises(ValueError, match="at least 2"):
        RemoveBoilerplate(str(tmp_path), min_docs=1)


def test_real_pages_lose_their_template_lines_through_the_transform(tmp_path):
    """The messy corpus' 457 real pages and feeds (main content, as one crawl): lines that five or
    more of them share go (the Blogger feed notice, feed metadata, the same Russian news feed
    served in six encodings), the Beam transform gives exactly what the pure functions give, and
    a page none of whose lines repeat is left as it was."""
    from tests.test_warc import _messy_pages
    from transforms.read.decode import decode_bytes
    from transforms.read.html_text import page_text

    docs = [
        _doc(i, page_text(decode_bytes(raw).text, kind, "main")) for i, (_, raw, _, kind) in enumerate(_messy_pages())
    ]
    frequent = frequent_keys(((d["source"], document_line_keys(d["text"])) for d in docs), 5)["web"]
    cleaned = [clean_document(d, frequent) for d in docs]
    notice = "This is an Atom formatted XML site feed. It is intended to be viewed in a Newsreader"
    had_notice = [d for d in docs if notice in d["text"]]
    assert len(had_notice) >= 5
    assert not [item for tag, item, _ in cleaned if tag == "doc" and notice in item["text"]]
    untouched = [d for d, (_, item, stats) in zip(docs, cleaned) if not stats["lines_removed"]]
    assert untouched and all(item is d for d, (_, item, _) in zip(docs, cleaned) if d in untouched)
    with BeamPipeline() as p:
        out = p | beam.Create(docs) | RemoveBoilerplate(str(tmp_path), min_docs=5)
        assert_that(out["kept"], equal_to([item for tag, item, _ in cleaned if tag == "doc"]), label="kept")
        assert_that(out["removed"] | beam.Map(lambda r: r["id"]),
                    equal_to([item["id"] for tag, item, _ in cleaned if tag == "removed"]), label="removed")
        assert_that(out["stats"] | beam.Map(lambda s: (s["lines_removed"], s["boilerplate_lines"])),
                    equal_to([(sum(st["lines_removed"] for *_, st in cleaned), len(frequent))]), label="stats")


def test_pipeline_over_a_warc_of_real_pages_keeps_the_count_identity(tmp_path):
    """The installation guide's pages and the encodings corpus' pages and feeds as one crawl (plus
    requests, errors and a cut last record) through every stage with the boilerplate stage on."""
    from catalog.manifest import read_removed
    from catalog.report import format_summary
    from pipelines.curate import run
    from tests.test_warc import messy_warc

    data, pages = messy_warc(with_http_charset=True)
    last = response("https://x.example/cut", b"<html><body><p>" + b"cut " * 400 + b"</p></body></html>")
    extra = gzip_members([warcinfo(), request("https://x.example/404"),
                          response("https://x.example/404", b"<html>missing</html>", status="404 Not Found"),
                          response("https://x.example/img", b"\x89PNG", content_type="image/png"), last])
    (tmp_path / "crawl").mkdir()
    (tmp_path / "crawl" / "messy.warc.gz").write_bytes(data)
    (tmp_path / "crawl" / "extra.warc.gz").write_bytes(extra[:-len(gzip_members([last])) // 2])
    sources = tmp_path / "sources.yaml"
    sources.write_text(f"- name: crawl\n  paths: ['{tmp_path}/crawl/*.warc.gz']\n  license: mixed\n")
    ref, m = run(["--sources", str(sources), "--lake", str(tmp_path / "lake"), "--dataset", "crawl",
                  "--boilerplate-min-docs", "5"])
    c = m["counts"]
    assert c["input"] == len(pages) + 1
    assert c["input"] == c["kept"] + sum(c["filtered"].values()) + sum(c["duplicates"].values()) + c["quarantined"]
    assert c["quarantined_by_reason"].get("truncated_record") == 1
    assert m["skipped_records"] == {"crawl": {"warcinfo": 2, "request": len(pages) + 1, "status_404": 1,
                                              "non_text": 1}}
    b = m["boilerplate"]
    assert b["by_source"]["crawl"]["docs"] == len(pages) - c["quarantined_by_reason"].get("empty_document", 0)
    assert b["lines_removed"] > 100 and b["boilerplate_lines"] > 10 and b["docs_changed"] > 100
    assert c["filtered"].get("boilerplate_only", 0) == b["docs_emptied"]
    assert m["stages"]["boilerplate"]["enabled"] and m["stages"]["boilerplate"]["min_docs"] == 5
    summary = format_summary(m, str(ref.path))
    assert f"not documents       {len(pages) + 5:>8,}   (WARC records: request {len(pages) + 1}" in summary
    assert f"boilerplate lines   {b['lines_removed']:>8,}   removed from {b['docs_changed']:,} docs" in summary
    kept = [i for s in m["shards"] for i in ipc.open_file(pa.memory_map(str(ref.path / s["path"]))).read_all()
            .column("id").to_pylist()]
    removed = read_removed(ref.path, m["removed_table"]).column("id").to_pylist()
    assert len(kept) + len(removed) == c["input"] and len(set(kept)) == len(kept)
    assert all(i.startswith("urn:uuid:") for i in kept)
