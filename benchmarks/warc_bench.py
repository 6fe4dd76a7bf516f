"""WARC reading and main-content extraction: the libraries compared, on real pages, in one run.

    python -m benchmarks.warc_bench [--records 20000] [--repeat 3]

1. Reading: a WARC built from the real pages of ``../shared/data/messy`` (HTML in many encodings,
   feeds; a warcinfo record, then a request and a response per page, repeated under new URLs up to
   ``--records`` responses), plain and ``.warc.gz`` (one gzip member per record). Each reader
   walks every record, parses the HTTP headers and reads every payload: fastwarc on the raw
   file, fastwarc on Python's ``gzip`` stream, the reader the pipeline uses
   (``transforms.read.warc_records`` on ``transforms.read.gzip_members``: framing checked, with a
   record-level resync after damage), and warcio.
2. Extraction: every HTML page of ``html-installation-guide`` (114 pages, 19 languages; DocBook
   pages with a navigation header and footer), timed per page, and scored against the page's own
   structure: main-content recall is the share of the ``div.sect1``/``div.chapter`` paragraph
   lines found in the output, navigation leak the share of the ``navheader``/``navfooter`` lines
   found in it. Candidates: the plain selectolax text, our selectolax rules
   (``transforms.html_text.main_text``), resiliparse's ``extract_plain_text(main_content=True)``
   and trafilatura's ``extract``; one not installed is skipped. The fastest of ``--repeat`` runs
   counts (this machine is shared and noisy). Then each is compared with trafilatura on the 29 real
   pages of ``encodings-chardet``, which have no ground truth.
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED_DATA
from benchmarks.results import add_record_argument, record
from tests.warc_fixtures import gzip_members, request, response, warcinfo

MESSY = SHARED_DATA / "messy"


def _pages() -> list[tuple[str, bytes, str]]:
    """(relative path, bytes, HTTP Content-Type) of every HTML page and feed of the messy corpus."""
    out = []
    for path in sorted(MESSY.rglob("*")):
        if path.suffix in (".html", ".htm", ".xml") and path.is_file():
            ctype = "application/rss+xml" if path.suffix == ".xml" else "text/html"
            out.append((str(path.relative_to(MESSY)), path.read_bytes(), ctype))
    return out


def build_warc(pages: list[tuple[str, bytes, str]], records: int) -> list[bytes]:
    out = [warcinfo()]
    for i in range(records):
        rel, body, ctype = pages[i % len(pages)]
        uri = f"https://site{i // len(pages)}.example/{rel}"
        out += [request(uri), response(uri, body, ctype)]
    return out


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def read_fastwarc(path: str, python_gzip: bool) -> int:
    from fastwarc.warc import ArchiveIterator

    n = 0
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if python_gzip and path.endswith(".gz") else raw
        for record in ArchiveIterator(stream, parse_http=True):
            n += len(record.reader.read())
    return n


def read_ours(path: str) -> int:
    """The reader the pipeline uses: ``transforms.read.warc_records`` framing (checked, with
    resync) on the damage-tolerant gzip member reader, and its HTTP head parser."""
    import io

    from transforms.read.gzip_members import GzipMembers
    from transforms.read.warc import _http_head
    from transforms.read.warc_records import RawRecord, iter_records

    n = 0
    with open(path, "rb") as raw:
        members = GzipMembers(raw) if path.endswith(".gz") else None
        stream = io.BufferedReader(members, 1 << 20) if members else raw
        for record in iter_records(stream, members.damage if members else ()):
            if isinstance(record, RawRecord):
                n += len(record.block) - _http_head(record.block)[2]
    return n


def read_warcio(path: str) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    with open(path, "rb") as raw:
        for record in ArchiveIterator(raw):
            n += len(record.content_stream().read())
    return n


def reading(records: int, repeat: int) -> dict[str, float]:
    """Prints each reader's speed; returns MB/s by "reader, format" and the file's size."""
    pages = _pages()
    recs = build_warc(pages, records)
    with tempfile.TemporaryDirectory() as tmp:
        plain, gz = os.path.join(tmp, "bench.warc"), os.path.join(tmp, "bench.warc.gz")
        Path(plain).write_bytes(b"".join(recs))
        Path(gz).write_bytes(gzip_members(recs))
        mb = os.path.getsize(plain) / 1e6
        print(f"reading: {len(recs):,} records ({records:,} responses of {len(pages)} real pages), {mb:.1f} MB "
              f"uncompressed, {os.path.getsize(gz) / 1e6:.1f} MB as .warc.gz; fastest of {repeat}")
        candidates = [("fastwarc", lambda p: read_fastwarc(p, False)),
                      ("fastwarc on Python gzip", lambda p: read_fastwarc(p, True)),
                      ("ours (warc_records)", read_ours), ("warcio", read_warcio)]
        base, speeds = {}, {"mb": round(mb, 1), "records": len(recs)}
        for name, fn in candidates:
            for label, path in (("warc", plain), ("warc.gz", gz)):
                try:
                    seconds, _ = _best(lambda fn=fn, path=path: fn(path), repeat)
                except ImportError as e:
                    print(f"  {name:<26} {label:<8} not installed ({e})")
                    continue
                base.setdefault(label, seconds)
                speeds[f"{name}, {label}"] = round(mb / seconds, 1)
                print(f"  {name:<26} {label:<8} {seconds:7.3f} s  {mb / seconds:7.1f} MB/s  "
                      f"{base[label] / seconds:5.2f}x the first")
    return speeds


def _structure(html: str) -> tuple[list[str], list[str]]:
    """(main-content lines, navigation lines) of a DocBook page, from its own markup."""
    from selectolax.lexbor import LexborHTMLParser

    from transforms.read.html_text import markup_to_text

    tree = LexborHTMLParser(html)

    def lines(selector: str) -> list[str]:
        return [line for node in tree.css(selector) for line in markup_to_text(node.html, "html").split("\n")
                if len(line) > 3]

    body = set(lines("div.sect1, div.chapter, div.book"))  # headings repeat the page title the header shows
    return (lines("div.sect1 p, div.chapter p, div.sect1 li, div.chapter li"),
            [line for line in lines("div.navheader, div.navfooter") if line not in body])


def _found(lines: list[str], text: str) -> int:
    flat = " ".join(text.split())
    return sum(" ".join(line.split()) in flat for line in lines)


def extraction(repeat: int) -> dict[str, dict[str, float]]:
    """Prints and returns each extractor's ms/page, main-content recall and navigation leak."""
    from transforms.read.html_text import main_text, markup_to_text

    pages = [p.read_text("utf-8") for p in sorted((MESSY / "html-installation-guide").rglob("*.html"))]
    truth = [_structure(p) for p in pages]

    def resiliparse(html: str) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, main_content=True, alt_texts=False)

    def trafilatura(html: str) -> str:
        import trafilatura as t

        return t.extract(html, include_comments=False) or ""

    candidates = [("selectolax, all text", lambda h: markup_to_text(h, "html")),
                  ("selectolax rules (ours)", main_text), ("resiliparse main_content", resiliparse),
                  ("trafilatura", trafilatura)]
    print(f"extraction: {len(pages)} pages of html-installation-guide; fastest of {repeat}")
    scores = {}
    for name, fn in candidates:
        try:
            seconds, outs = _best(lambda fn=fn: [fn(p) for p in pages], repeat)
        except ImportError as e:
            print(f"  {name:<26} not installed ({e})")
            continue
        main = sum(len(m) for m, _ in truth)
        nav = sum(len(n) for _, n in truth)
        recall = sum(_found(m, o) for (m, _), o in zip(truth, outs)) / main
        leak = sum(_found(n, o) for (_, n), o in zip(truth, outs)) / nav
        scores[name] = {"ms_per_page": round(1000 * seconds / len(pages), 2), "recall": round(recall, 3),
                        "leak": round(leak, 3)}
        print(f"  {name:<26} {1000 * seconds / len(pages):6.2f} ms/page  main-content recall {recall:.3f}  "
              f"navigation leak {leak:.3f}")
    agreement(candidates[:3])
    return scores


def agreement(candidates) -> None:
    """Against trafilatura as the reference, on the 29 real pages of ``encodings-chardet`` (blogs,
    news and test pages in many encodings, no ground truth): the share of trafilatura's lines
    (over 20 characters) each candidate keeps, and how many lines it keeps that trafilatura drops."""
    try:
        import trafilatura
    except ImportError:
        return
    from transforms.read.decode import decode_bytes

    pages = [decode_bytes(p.read_bytes()).text for p in sorted((MESSY / "encodings-chardet").rglob("*.htm*"))]
    ref = [[line for line in (trafilatura.extract(h) or "").split("\n") if len(line) > 20] for h in pages]
    print(f"agreement with trafilatura on {len(pages)} encodings-chardet pages ({sum(map(len, ref))} lines):")
    for name, fn in candidates:
        outs = [fn(h) for h in pages]
        kept = sum(_found(r, o) for r, o in zip(ref, outs))
        extra = sum(1 for r, o in zip(ref, outs) for line in o.split("\n")
                    if len(line) > 20 and not any(line in x or x in line for x in r))
        total = sum(1 for o in outs for line in o.split("\n") if len(line) > 20)
        print(f"  {name:<26} keeps {kept / max(1, sum(map(len, ref))):.3f} of its lines; {extra} of its own {total} "
              f"lines are not in trafilatura's")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    add_record_argument(ap)
    args = ap.parse_args(argv)
    if not MESSY.exists():
        print(f"warc_bench: {MESSY} not found (the shared data)", file=sys.stderr)
        return 2
    speeds, scores = reading(args.records, args.repeat), extraction(args.repeat)
    if args.record:
        record_result(args, speeds, scores)
    return 0


def record_result(args: argparse.Namespace, speeds: dict[str, float], scores: dict[str, dict[str, float]]) -> None:
    def speed(name: str) -> str:
        return " / ".join(f"{speeds[f'{name}, {fmt}']:,.0f}" if f"{name}, {fmt}" in speeds else "-"
                          for fmt in ("warc", "warc.gz"))

    def extractor(name: str) -> str:
        s = scores.get(name)
        if s is None:
            return "not installed"
        return f"{s['ms_per_page']:.2f} ms/page, recall {s['recall']:.3f}, leak {s['leak']:.3f}"

    rows = [{"what": f"reading {speeds['records']:,} WARC records of the real messy pages ({speeds['mb']:.0f} MB), "
                     f"MB/s `.warc` / `.warc.gz`, fastest of {args.repeat}",
             "result": f"the reader (`warc_records` on `gzip_members`: resyncs after a bad record) "
                       f"{speed('ours (warc_records)')}",
             "baseline": f"fastwarc {speed('fastwarc')} (on the Python gzip stream "
                         f"{speed('fastwarc on Python gzip')}); warcio {speed('warcio')}"},
            {"what": "main-content extraction, 114 installation-guide pages (recall of the chapters' paragraphs, "
                     "leak of the navigation lines)",
             "result": f"selectolax rules (`extract: main`): {extractor('selectolax rules (ours)')}",
             "baseline": f"all text {extractor('selectolax, all text')}; resiliparse "
                         f"{extractor('resiliparse main_content')}; trafilatura {extractor('trafilatura')}"}]
    record("warc_bench", section="Readers", rows=rows, figures={"reading_mb_s": speeds, "extraction": scores},
           options=vars(args))


if __name__ == "__main__":
    sys.exit(main())
