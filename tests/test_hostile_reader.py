"""Regression tests for the reader half of issue 29 (hostile round 3): one bad record costs that
record only (items 3 and 5), decompression and markup are bounded (items 6 and 7), a file of
non-documents is streamed (item 8), files of one source never share ids (item 4), and kernel
file systems are refused (item 16)."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from pipelines.curate import main as curate_main
from tests.conftest import REPO
from tests.warc_fixtures import gzip_members, request, response, warc_record, warcinfo
from transforms.read.files import MAX_JSON_DEPTH, read_input_file
from transforms.read.html_text import MAX_MARKUP_DEPTH, MarkupTooDeep, main_text, markup_depth, markup_to_text
from transforms.read.inputs import match_inputs
from transforms.read.sources import InputFile, Source, SourceError
from transforms.read.warc import http_body

FAST = ["--disable", "langid,filter,dedup-near"]


def _read(path: Path, **src) -> list[tuple[str, dict]]:
    [f] = match_inputs([Source(name="crawl", paths=(str(path),), **src)])
    return list(read_input_file(f))


def _pages(n: int = 8) -> list[bytes]:
    """``n`` response records, page K saying ``marker-K`` (a document never holds another's marker)."""
    return [response(f"https://p.example/{k}", f"<html><body><p>Seite marker-{k} mit etwas Text.</p></body></html>"
                     .encode(), "text/plain; charset=utf-8") for k in range(n)]


def _summary(items) -> tuple[list[int], list[str]]:
    """The markers of the documents, and the reasons of the quarantine rows."""
    docs = [d["text"] for t, d in items if t == "doc"]
    markers = []
    for text in docs:
        found = [k for k in range(100) if f"marker-{k} " in text]
        assert len(found) == 1 and "WARC/1.0" not in text and "HTTP/1.1" not in text, text  # one record's bytes
        markers += found
    return markers, [d["reason"] for t, d in items if t == "removed"]


def _with_length(record: bytes, delta: int) -> bytes:
    head, _, rest = record.partition(b"\r\n\r\n")
    lines = [line if not line.startswith(b"Content-Length: ") else
             b"Content-Length: %d" % (int(line.split(b": ")[1]) + delta) for line in head.split(b"\r\n")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + rest


# --- item 3: one bad record costs that record only ---------------------------------------------


def test_a_punycode_charset_is_one_record_not_the_file(tmp_path):
    pages = _pages(4)
    pages[1] = response("https://p.example/1", b"<p>Seite marker-1 mit etwas Text.</p>", "text/html; charset=punycode")
    path = tmp_path / "p.warc"
    path.write_bytes(b"".join(pages))
    markers, reasons = _summary(_read(path))
    assert markers == [0, 1, 2, 3] and reasons == []  # the label cannot decode it; the next evidence does


@pytest.mark.parametrize("delta", [-30, 500, 12, -1])
@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
def test_a_lying_content_length_costs_its_record_only(tmp_path, delta, gz):
    pages = _pages(8)
    pages[2] = _with_length(pages[2], delta)
    path = tmp_path / ("p.warc.gz" if gz else "p.warc")
    path.write_bytes(gzip_members(pages) if gz else b"".join(pages))
    markers, reasons = _summary(_read(path))
    assert markers == [0, 1, 3, 4, 5, 6, 7] and reasons == ["corrupt_record"], (markers, reasons)


def test_a_content_length_that_swallows_the_next_record_exactly_is_refused(tmp_path):
    pages = _pages(4)
    pages[1] = _with_length(pages[1], len(pages[2]))  # ends exactly where the next record ends
    path = tmp_path / "p.warc"
    path.write_bytes(b"".join(pages))
    assert _summary(_read(path)) == ([0, 2, 3], ["corrupt_record"])


@pytest.mark.parametrize("where", ["deflate", "crc", "header", "between"])
def test_a_damaged_gzip_member_costs_its_record_only(tmp_path, where):
    members = [gzip.compress(r, mtime=0) for r in _pages(8)]
    third = bytearray(members[2])
    if where == "deflate":
        third[len(third) // 2] ^= 0xFF
    elif where == "crc":
        third[-6] ^= 0x01
    elif where == "header":
        third[0] = 0
    members[2] = bytes(third)
    if where == "between":
        members.insert(3, b"\xde\xad\xbe\xef" * 5)
    path = tmp_path / "p.warc.gz"
    path.write_bytes(b"".join(members))
    markers, reasons = _summary(_read(path))
    expected = list(range(8)) if where == "between" else [0, 1, 3, 4, 5, 6, 7]
    assert markers == expected and reasons == ["corrupt_record"], (markers, reasons)


def test_garbage_between_records_and_a_garbled_header(tmp_path):
    pages = _pages(5)
    garbled = pages[3].replace(b"WARC-Type: response\r\n", b"this is no header line\r\n")
    path = tmp_path / "p.warc"
    path.write_bytes(pages[0] + b"\x00garbage\r\n" * 50 + pages[1] + pages[2] + garbled + pages[4])
    markers, reasons = _summary(_read(path))
    assert markers == [0, 1, 2, 4] and reasons == ["corrupt_record", "corrupt_record"]


@pytest.mark.parametrize("junk", [b"WARC/1.0\r\n" * 50_000, b"WARC/" * 100_000,
                                  b"WARC/1.0\r\nContent-Length: 30000000\r\n\r\n" * 10_000],
                         ids=["version-lines", "warc-runs", "headers-of-huge-records"])
def test_resynchronising_through_crafted_junk_is_quick(tmp_path, junk):
    pages = _pages(2)
    path = tmp_path / "j.warc"
    path.write_bytes(pages[0] + junk + pages[1])
    start = time.perf_counter()
    markers, reasons = _summary(_read(path))
    assert time.perf_counter() - start < 10.0
    assert markers == [0, 1] and reasons == ["corrupt_record"]


def test_a_jsonl_line_nested_too_deep_is_one_row(tmp_path):
    good = json.dumps({"id": "g", "text": "fine"})
    lines = [good, '{"text": "a", "x": ' + "[" * 5000 + "]" * 5000 + "}", good,
             '{"text": "b", "x": ' + "[" * 600 + '"\\ud800"' + "]" * 600 + "}", good,
             '{"text": "c", "x": ' + "{\"k\": " * (MAX_JSON_DEPTH + 5) + "1" + "}" * (MAX_JSON_DEPTH + 5) + "}", good,
             '{"text": "d", "x": ' + "[" * 20 + "]" * 20 + "}"]
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = _read(path)
    assert [t if t == "doc" else d["reason"] for t, d in items] == [
        "doc", "too_deeply_nested", "doc", "too_deeply_nested", "doc", "too_deeply_nested", "doc", "doc"]


# --- item 5: chunked payloads ------------------------------------------------------------------


def test_bad_chunk_sizes_are_errors_not_loops():
    """Run in a child process: on failure the loop never ends (and grows memory)."""
    code = ("from transforms.read.warc import http_body\n"
            "for body in (b'-6\\r\\nabc\\r\\n0\\r\\n\\r\\n', b'0x5\\r\\nabcde\\r\\n0\\r\\n\\r\\n',\n"
            "             b'ff\\r\\nshort\\r\\n', b' \\r\\n', b'+5\\r\\nabcde\\r\\n0\\r\\n\\r\\n'):\n"
            "    try:\n"
            "        http_body(body, 'chunked', None)\n"
            "    except ValueError:\n"
            "        continue\n"
            "    raise SystemExit(f'accepted {body!r}')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:] + proc.stdout


def test_a_negative_chunk_in_a_warc_is_one_row(tmp_path):
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabcdef\r\n0\r\n\r\n"
    bad = warc_record("response", block, uri="https://c.example/", content_type="application/http; msgtype=response")
    pages = _pages(2)
    path = tmp_path / "c.warc"
    path.write_bytes(pages[0] + bad + pages[1])
    assert _summary(_read(path)) == ([0, 1], ["undecodable_payload"])


# --- item 6: Content-Encoding bombs ------------------------------------------------------------


def _bombs(size: int) -> dict[str, bytes]:
    import brotli

    zeros = b"\0" * size
    return {"gzip": gzip.compress(zeros, 9), "deflate": zlib.compress(zeros, 9), "br": brotli.compress(zeros)}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_content_encoding_bombs_stop_at_the_cap(tmp_path, monkeypatch, encoding):
    import transforms.read.warc as warc

    monkeypatch.setattr(warc, "MAX_PAYLOAD_BYTES", 1 << 20)
    payload = _bombs(16 << 20)[encoding]
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: {encoding}\r\n\r\n".encode()
    bomb = warc_record("response", head + payload, uri="https://b.example/", content_type="application/http")
    pages = _pages(2)
    path = tmp_path / "b.warc"
    path.write_bytes(pages[0] + bomb + pages[1])
    tracemalloc.start()
    try:
        items = _read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _summary(items) == ([0, 1], ["record_too_large"])
    assert peak < 6 << 20, peak  # the 16 MiB never exist; the cap (1 MiB) and the file's bytes do
    with pytest.raises(warc.PayloadTooLarge):
        http_body(payload, None, encoding, max_bytes=1000)
    assert http_body(_bombs(1000)[encoding], None, encoding, max_bytes=1000) == b"\0" * 1000


def test_the_ratio_limit_caps_payloads_too():
    from transforms.read.limits import RATIO_CHECK_AFTER
    from transforms.read.warc import MAX_PAYLOAD_BYTES, payload_cap

    assert payload_cap(1000, 0.0) == MAX_PAYLOAD_BYTES
    assert payload_cap(1000, 100.0) == RATIO_CHECK_AFTER  # small payloads may expand up to the check point
    assert payload_cap(20 << 20, 2.0) == MAX_PAYLOAD_BYTES
    assert payload_cap(9 << 20, 2.0) == 18 << 20


# --- item 7: deeply nested markup --------------------------------------------------------------


@pytest.mark.parametrize("markup", [
    "<html><body>" + "<ul><li><a href=x>t" * 12_000 + "</body></html>",
    "<html><body>" + "<div>" * 200_000 + "x</body></html>",
    "<rss><channel><item><description>" + "&lt;div&gt;" * 5_000 + "</description></item></channel></rss>",
], ids=["ul-li-a", "div", "escaped-feed"])
def test_deeply_nested_markup_is_refused_in_linear_time(markup):
    kind = "feed" if markup.startswith("<rss") else "html"
    for extract in ((lambda m: main_text(m)), (lambda m: markup_to_text(m, kind))) if kind == "html" else \
            ((lambda m: markup_to_text(m, kind)),):
        start = time.perf_counter()
        with pytest.raises(MarkupTooDeep):
            extract(markup)
        assert time.perf_counter() - start < 5.0


def test_markup_at_the_depth_limit_is_extracted_quickly():
    deep = "<html><body>" + "<ul><li>item <a href=x>link</a>" * (MAX_MARKUP_DEPTH // 2) + "</body></html>"
    start = time.perf_counter()
    assert "item link" in main_text(deep)
    assert time.perf_counter() - start < 5.0
    # unclosed paragraphs, list items and cells are closed by the parser: they do not nest
    flat = "<html><body>" + "<p>para <li>item <td>cell <br><img src=x>" * 5_000 + "</body></html>"
    assert markup_depth(flat) < 5 and "para" in main_text(flat)
    assert markup_depth("<div><span><b>x</div><div>y</div>") == 3


def test_a_deeply_nested_page_is_one_quarantine_row(tmp_path):
    pages = _pages(2)
    bomb = response("https://d.example/", b"<html><body>" + b"<div>" * 20_000 + b"x</body></html>")
    path = tmp_path / "d.warc.gz"
    path.write_bytes(gzip_members([pages[0], bomb, pages[1]]))
    assert _summary(_read(path)) == ([0, 1], ["markup_too_deep"])
    page = tmp_path / "deep.html"
    page.write_bytes(b"<html><body>" + b"<span>" * 20_000 + b"x</body></html>")
    assert [d["reason"] for _, d in _read(page)] == ["markup_too_deep"]


# --- item 8: a WARC of non-documents -----------------------------------------------------------


def test_a_warc_of_only_requests_is_streamed(tmp_path):
    def peak_for(n: int) -> int:
        path = tmp_path / f"r{n}.warc.gz"
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(warcinfo())
            for k in range(n):
                f.write(request(f"https://r.example/{k}"))
        [f_] = match_inputs([Source(name="r", paths=(str(path),))])
        tracemalloc.start()
        try:
            count = sum(1 for _ in read_input_file(f_))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert count == n + 1
        return peak

    small, large = peak_for(10_000), peak_for(40_000)  # both fill the readers' 1 MiB buffers
    assert large < small + (1 << 20), (small, large)  # 4 times the records, not 4 times the memory


# --- item 4: one file name in two folders ------------------------------------------------------


def test_the_same_file_name_in_two_folders_keeps_distinct_ids(tmp_path):
    for folder in ("a", "b", "cc/2023", "cc/2024"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "part.jsonl").write_text('{"text": "no id of its own"}\n')
    src = Source(name="s", paths=(str(tmp_path / "a/part.jsonl"), str(tmp_path / "b/part.jsonl")))
    files = match_inputs([src])
    assert [f.relpath for f in files] == ["a/part.jsonl", "b/part.jsonl"]
    docs = [d for f in files for _, d in read_input_file(f)]
    assert len({d["id"] for d in docs}) == len({d["uid"] for d in docs}) == 2
    years = match_inputs([Source(name="cc", paths=(str(tmp_path / "cc/2023/part.jsonl"),
                                                   str(tmp_path / "cc/2024/part.jsonl")))])
    assert [f.relpath for f in years] == ["2023/part.jsonl", "2024/part.jsonl"]
    # one pattern: relpaths (so ids) as they always were
    assert [f.relpath for f in match_inputs([Source(name="g", paths=(str(tmp_path / "cc/*/part.jsonl"),))])] == [
        "2023/part.jsonl", "2024/part.jsonl"]
    assert [f.relpath for f in match_inputs([Source(name="one", paths=(str(tmp_path / "a/part.jsonl"),))])] == [
        "part.jsonl"]
    with pytest.raises(SourceError, match="matched by more than one of its patterns"):
        match_inputs([Source(name="twice", paths=(str(tmp_path / "a/part.jsonl"), str(tmp_path / "a/*.jsonl")))])


# --- item 16: kernel file systems --------------------------------------------------------------


def test_kernel_file_systems_are_refused_before_any_work(tmp_path, capsys):
    link = tmp_path / "env.jsonl"
    link.symlink_to("/proc/self/environ")
    lake = tmp_path / "lake"
    for target in ("/proc/self/environ", str(link), "/proc/self/status", "/sys/kernel/mm/transparent_hugepage/enabled"):
        if not Path(target).exists():
            continue
        rc = curate_main(["--input", target, "--lake", str(lake), *FAST])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "a kernel file system" in err and len(err.splitlines()) == 1, err
    assert not lake.exists() or not any(lake.rglob("*.arrow"))
    [(tag, row)] = list(read_input_file(InputFile(Source("s", (str(link),)), str(link), "env.jsonl", 0)))
    assert row["reason"] == "unreadable_file" and "kernel file system" in row["details"]
    if Path("/proc/kmsg").exists():  # looks like a regular file, and a read blocks forever
        with pytest.raises(SourceError, match="kernel file system"):
            match_inputs([Source(name="k", paths=("/proc/kmsg",))])

