"""Web crawl input: WARC/WET records to documents (``transforms.read.warc``), main-content extraction
and the dispatch from ``transforms.read.files``. The WARC files are built here (tests/warc_fixtures.py),
from a page the test writes and from the real pages of ``../shared/data/messy``."""
from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections import Counter

import pytest

from tests.conftest import shared_path
from tests.warc_fixtures import conversion, gzip_members, request, response, warc_record, warcinfo
from transforms.read.decode import codec_for_label
from transforms.read.files import read_input_file
from transforms.read.html_text import main_text, markup_to_text, page_text
from transforms.read.inputs import match_inputs
from transforms.read.sources import Source, SourceError, load_sources, split_suffixes
from transforms.read.warc import classify, http_body

PAGE = """<!DOCTYPE html><html><head><meta charset="windows-1252"><title>Le café</title></head><body>
<nav><ul><li><a href="/">Accueil</a></li><li><a href="/blog">Blog</a></li><li><a href="/contact">Contact</a></li></ul></nav>
<header><a href="/">Le site du café</a></header>
<main><article><h1>Le café à Paris</h1>
<p>Le café est une boisson préparée à partir des grains torréfiés du caféier. À Paris, les cafés sont
des lieux de rencontre où l'on discute pendant des heures, été comme hiver.</p>
<p>Cette page décrit l'histoire des cafés parisiens depuis le dix-septième siècle, leurs habitués célèbres
et la façon dont ils ont changé la vie des quartiers.</p></article></main>
<footer><p>© 2026 Le site du café · Mentions légales · Plan du site</p></footer></body></html>"""


def _records(page: bytes = PAGE.encode("cp1252")) -> list[bytes]:
    return [warcinfo(), request("https://cafe.example/paris"),
            response("https://cafe.example/paris", page, "text/html; charset=ISO-8859-1"),
            response("https://cafe.example/missing", b"<html>gone</html>", status="404 Not Found"),
            response("https://cafe.example/moved", b"", status="301 Moved Permanently"),
            response("https://cafe.example/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
            warc_record("revisit", b"HTTP/1.1 200 OK\r\n\r\n", uri="https://cafe.example/paris",
                        content_type="application/http; msgtype=response"),
            warc_record("metadata", b"fetchTimeMs: 12\r\n", uri="https://cafe.example/paris",
                        content_type="application/warc-fields"),
            response("https://cafe.example/notes.txt", "Заметки о кофе".encode("koi8-r"), "text/plain; charset=koi8-r")]


def _read(tmp_path, name: str, data: bytes, **src) -> list[tuple[str, dict]]:
    path = tmp_path / name
    path.write_bytes(data)
    [f] = match_inputs([Source(name="crawl", paths=(str(path),), **src)])
    return list(read_input_file(f))


def test_suffixes_dispatch_to_the_warc_reader():
    assert split_suffixes("crawl/CC-MAIN-1.warc.gz") == ("warc", ".gz")
    assert split_suffixes("CC-MAIN-1.warc.wet.gz") == ("warc", ".gz")
    assert split_suffixes("a.warc") == ("warc", None)
    assert split_suffixes("a.warc.zst") == ("warc", ".zst")


@pytest.mark.parametrize("name,pack", [("c.warc", b"".join), ("c.warc.gz", gzip_members)])
def test_only_text_responses_become_documents(tmp_path, name, pack):
    items = _read(tmp_path, name, pack(_records()))
    docs = [d for t, d in items if t == "doc"]
    skipped = Counter(d["kind"] for t, d in items if t == "skipped")
    assert skipped == {"warcinfo": 1, "request": 1, "status_404": 1, "status_301": 1, "non_text": 1, "revisit": 1,
                       "metadata": 1}
    assert not [d for t, d in items if t == "removed"]
    page, notes = docs
    [rid] = re.findall(rb"WARC-Record-ID: <([^>]+)>", _records()[2])
    assert page["id"] == rid.decode()
    assert page["meta"]["url"] == "https://cafe.example/paris"
    assert page["meta"]["crawl_date"] == "2026-11-01T12:00:00Z"
    assert page["meta"]["content_type"] == "text/html; charset=ISO-8859-1"
    # ISO-8859-1 is read as windows-1252, as browsers do; the HTTP label wins over the page's own
    assert page["meta"]["charset"] == "cp1252" and page["meta"]["decode"]["method"] == "transport"
    text = page["text"]
    assert "Le café à Paris" in text and "été comme hiver" in text and "dix-septième siècle" in text
    for boilerplate in ("Accueil", "Contact", "Mentions légales"):  # navigation, header, footer
        assert boilerplate not in text
    assert notes["text"] == "Заметки о кофе" and notes["meta"]["charset"] == "koi8-r"
    assert page["uid"] != notes["uid"]


def test_record_ids_are_the_warc_record_ids(tmp_path):
    rid = "<urn:uuid:12345678-1234-5678-1234-567812345678>"
    data = warc_record("response", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", uri="https://x.example/",
                       rid=rid, content_type="application/http; msgtype=response")
    [(tag, doc)] = _read(tmp_path, "one.warc", data)
    assert tag == "doc" and doc["id"] == rid[1:-1] and doc["text"] == "hello"


def test_wet_conversion_records(tmp_path):
    wet = gzip_members([warcinfo(), conversion("https://a.example/", "Erste Zeile\nzweite Zeile"),
                        conversion("https://b.example/", "第二页的文字")])
    items = _read(tmp_path, "CC-MAIN-x.warc.wet.gz", wet)
    assert [t for t, _ in items] == ["skipped", "doc", "doc"]
    assert [d["text"] for _, d in items[1:]] == ["Erste Zeile\nzweite Zeile", "第二页的文字"]
    assert {d["meta"]["warc_type"] for _, d in items[1:]} == {"conversion"}
    assert items[1][1]["meta"]["url"] == "https://a.example/"


def test_http_charset_then_declaration_then_detection(tmp_path):
    body = (
        "<html><head><meta charset=utf-8></head><body><p>Привет, мир! Это страница на русском языке.</p></body></html>"
    )
    # the HTTP label is right and the page's declaration wrong: HTTP wins
    http_right = response("https://r.example/1", body.encode("cp1251"), "text/html; charset=windows-1251")
    # the HTTP label cannot decode the bytes (mislabelled server): the page's declaration is used
    decl = "<html><head><meta charset=shift_jis></head><body><p>日本語のページです。</p></body></html>"
    http_wrong = response("https://r.example/2", decl.encode("cp932"), "text/html; charset=utf-8")
    # no label anywhere: detection
    plain = response("https://r.example/3", ("Съешь же ещё этих мягких французских булок, да выпей чаю. " * 8)
                     .encode("koi8-r"), "text/plain")
    docs = [d for t, d in _read(tmp_path, "r.warc", http_right + http_wrong + plain) if t == "doc"]
    assert [d["meta"]["decode"]["method"] for d in docs] == ["transport", "declared", "detected"]
    assert "Привет, мир!" in docs[0]["text"] and "日本語のページです。" in docs[1]["text"]
    assert docs[2]["text"].startswith("Съешь же ещё") and docs[2]["meta"]["charset"] == "koi8-r"


@pytest.mark.parametrize("pack", [b"".join, gzip_members], ids=["warc", "warc.gz"])
def test_truncated_last_record_is_one_quarantine_row_at_every_cut(tmp_path, pack):
    records = _records()
    full = pack(records)
    last = len(pack(records[-1:]))
    for k, cut in enumerate(range(len(full) - last + 1, len(full) - 4, 3)):
        items = _read(tmp_path, f"cut{k}.warc" + (".gz" if pack is gzip_members else ""), full[:cut])
        docs = [d for t, d in items if t == "doc"]
        removed = [d for t, d in items if t == "removed"]
        # the last page is kept only when its bytes all came out (a cut inside the gzip trailer)
        assert docs[0]["meta"]["url"] == "https://cafe.example/paris" and len(docs) in (1, 2), cut
        assert docs[1:] == [] or docs[1]["text"] == "Заметки о кофе"
        assert len(removed) == 1 and removed[0]["reason"] in ("truncated_record", "corrupt_file"), cut
        assert items[-1][1] is removed[0]


def test_oversized_payload_and_cut_non_document(tmp_path, monkeypatch):
    import transforms.read.warc

    monkeypatch.setattr(transforms.read.warc, "MAX_PAYLOAD_BYTES", 100)
    big = response("https://big.example/", b"<p>" + b"long " * 100 + b"</p>")
    small = response("https://small.example/", b"<p>fits</p>")
    image = response("https://img.example/", bytes(range(256)) * 4, content_type="image/jpeg")
    items = _read(tmp_path, "big.warc", big + small + image[:-300])
    assert [(t, d.get("reason") or d.get("text")) for t, d in items] == [
        ("removed", "record_too_large"), ("doc", "fits"), ("removed", "truncated_record")]


def test_payload_encodings():
    page = b"<p>gzip page</p>"
    assert http_body(gzip.compress(page), None, "gzip") == page
    assert http_body(zlib.compress(page), None, "deflate") == page
    assert http_body(zlib.compress(page)[2:-4], None, "deflate") == page  # raw deflate
    chunked = b"5\r\n<p>gz\r\n" + b"b;ext=1\r\nip page</p>\r\n" + b"0\r\n\r\n"
    assert http_body(chunked, "chunked", None) == page
    assert http_body(page, None, "identity") == page


def test_chunked_gzip_response_and_broken_payload(tmp_path):
    page = "<html><body><p>Ein kurzer Absatz über Kaffee und Kuchen am Nachmittag.</p></body></html>".encode()
    gz = gzip.compress(page)
    block = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(gz)
        + gz
        + b"\r\n0\r\n\r\n"
    )
    broken = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\nnot gzip at all"
    data = warc_record(
        "response", block, uri="https://k.example/", content_type="application/http; msgtype=response"
    ) + warc_record("response", broken, uri="https://k.example/b", content_type="application/http; msgtype=response")
    items = _read(tmp_path, "k.warc", data)
    assert items[0][0] == "doc" and "Kaffee und Kuchen" in items[0][1]["text"]
    assert items[1][0] == "removed" and items[1][1]["reason"] == "undecodable_payload"


def test_classify():
    assert classify("response", 200, "text/html; charset=utf-8") is None
    assert classify("response", 200, "application/xhtml+xml") is None
    assert classify("response", 200, "application/atom+xml") is None
    assert classify("response", 200, "application/pdf") == "non_text"
    assert classify("response", 500, "text/html") == "status_500"
    assert classify("conversion", None, "text/plain") is None
    assert classify("resource", None, "text/html") == "resource"


def test_extract_is_configurable_per_source(tmp_path):
    [(_, main)] = [i for i in _read(tmp_path, "m.warc", _records()[2]) if i[0] == "doc"]
    [(_, full)] = [i for i in _read(tmp_path, "f.warc", _records()[2], extract="full") if i[0] == "doc"]
    assert "Accueil" not in main["text"] and "Accueil" in full["text"] and "Mentions légales" in full["text"]
    assert (main["meta"]["decode"]["extract"], full["meta"]["decode"]["extract"]) == ("main", "full")
    # an HTML file keeps all its text unless its source asks for the main content
    [(_, file_full)] = _read(tmp_path, "page.html", PAGE.encode("cp1252"))
    [(_, file_main)] = _read(tmp_path, "page2.html", PAGE.encode("cp1252"), extract="main")
    assert "Accueil" in file_full["text"] and "Accueil" not in file_main["text"]
    spec = tmp_path / "sources.yaml"
    spec.write_text(f"- name: cc\n  paths: ['{tmp_path}/m.warc']\n  extract: full\n")
    assert load_sources(str(spec))[0].extract == "full"
    assert "extract" not in Source(name="a", paths=("x",)).to_json()  # manifests of other sources unchanged
    spec.write_text(f"- name: cc\n  paths: ['{tmp_path}/m.warc']\n  extract: everything\n")
    with pytest.raises(SourceError, match="extract must be one of main, full"):
        load_sources(str(spec))


def test_main_content_rules():
    page = """<html><body>
    <div id="cookie-banner">We use cookies. Accept all</div>
    <header class="site-header"><a href="/">Brand</a><ul><li><a href="/a">A</a></li></ul></header>
    <ol class="breadcrumbs"><li><a href="/">Home</a></li><li><a href="/docs">Docs</a></li></ol>
    <div class="layout"><div class="main-column"><article>
      <header><h1>The article title stays</h1></header>
      <p>Its first paragraph, with <a href="/x">a link</a> inside the sentence, stays as well.</p>
      <ul><li>A list of the text, <a href="/1">one</a> link each, stays.</li><li>Second item <a href="/2">two</a>.</li>
          <li>Third item <a href="/3">three</a>.</li><li>Fourth item <a href="/4">four</a>.</li></ul>
      <footer>Posted in essays</footer>
    </article></div>
    <div class="sidebar-wrap"><aside>Popular posts</aside></div>
    <div><ul><li><a href="/p1">Page one</a></li><li><a href="/p2">Page two</a></li><li><a href="/p3">Three</a></li>
        <li><a href="/p4">Four</a></li></ul></div></div>
    <div class="social-share">Share on everything</div>
    <footer><p>Copyright 2026</p></footer></body></html>"""
    text = main_text(page)
    for kept in ("The article title stays", "Its first paragraph, with a link inside", "A list of the text",
                 "Fourth item four.", "Posted in essays"):
        assert kept in text, kept
    for dropped in ("cookies", "Brand", "Home", "Popular posts", "Page one", "Share on", "Copyright"):
        assert dropped not in text, dropped
    # a page that is nothing but navigation keeps its text rather than becoming empty
    assert main_text("<nav><a href='/'>Only a menu</a></nav>") == "Only a menu"
    # the layout column holds the article, so its name cannot remove it
    assert "stays" in main_text('<div class="nav-wrapper"><article><p>The text stays.</p></article></div>')


def _messy_pages() -> list[tuple[str, bytes, str, str]]:
    """(path, bytes, labelled encoding, kind) of every HTML page and feed of the messy corpus."""
    root = shared_path("messy")
    with open(root / "manifest.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for row in rows:
        path = row["path"]
        if path.endswith((".html", ".htm", ".xml")):
            encoding = row["encoding_or_format"].replace(" HTML", "")
            out.append((path, (root / path).read_bytes(), encoding, "feed" if path.endswith(".xml") else "html"))
    return out


def messy_warc(with_http_charset: bool) -> tuple[bytes, list[tuple[str, bytes, str, str]]]:
    """A .warc.gz of every messy page, each a request and a response (with the page's labelled
    charset in its HTTP Content-Type when asked), the messy corpus' own encodings."""
    pages = _messy_pages()
    records = [warcinfo()]
    for path, data, encoding, kind in pages:
        uri = f"https://messy.example/{path}"
        media = "application/rss+xml" if kind == "feed" else "text/html"
        label = codec_for_label(encoding) if with_http_charset else None
        records += [request(uri), response(uri, data, f"{media}; charset={encoding}" if label else media)]
    return gzip_members(records), pages


def test_messy_pages_through_a_warc_decode_as_labelled(tmp_path):
    """Every real page and feed of the messy corpus (51 encodings, 20 languages) served with its
    labelled charset: each becomes a document decoded with that charset, whose text is the
    page's text read the same way; with no HTTP label the file reader's own chain gives the same."""
    data, pages = messy_warc(with_http_charset=True)
    items = _read(tmp_path, "messy.warc.gz", data, extract="full")
    docs = {d["meta"]["url"].removeprefix("https://messy.example/"): d for t, d in items if t == "doc"}
    assert Counter(t for t, _ in items) == {"doc": len(pages), "skipped": len(pages) + 1}
    assert Counter(d["meta"]["decode"]["method"] for d in docs.values()) == {"transport": len(pages)}
    for path, raw, encoding, kind in pages:
        codec = codec_for_label(encoding)
        assert docs[path]["meta"]["charset"] == codec, path
        expected = raw.decode(codec)
        assert docs[path]["text"] == page_text(expected, kind, "full") == markup_to_text(expected, kind), path

    unlabelled, _ = messy_warc(with_http_charset=False)
    from_warc = {d["meta"]["url"]: d["text"] for t, d in _read(tmp_path, "u.warc.gz", unlabelled, extract="full")
                 if t == "doc"}
    html = [(path, raw) for path, raw, _, kind in pages if kind == "html"]
    for i, (path, raw) in enumerate(html):
        [(tag, as_file)] = _read(tmp_path, f"file{i}.html", raw)
        assert tag == "doc" and from_warc[f"https://messy.example/{path}"] == as_file["text"], path
