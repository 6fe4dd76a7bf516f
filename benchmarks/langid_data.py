"""Labelled language-id evaluation sets built from translated documentation in Debian packages.

Each set is documentation a translation team wrote in one language (GNOME help, the Debian
installation guide, the Debian Administrator's Handbook, the GIMP manual, Debian's reference,
FAQ and developer guides). The label comes from the locale in the file's path; paragraphs that
also occur in the package's English original are dropped (untranslated strings left in a
translated page), and so are paragraphs mostly made of the original's English words (captions
and notes left in English), so a document is the translation team's own text. What each set is,
its licence and how far its labels can be trusted: ``benchmarks/langid_data.md``.

Every record is assigned to a part by the hash of its set and page path without the locale, so
all translations of a page and all chunks of it land in the same part: ``dev`` (half: may be
looked at while choosing rules), ``proof`` (a quarter: a rule chosen on dev must gain here too),
``test`` (a quarter: untouched until the rules are final). Output: ``SET.PART.jsonl`` with the
fields of ``../shared`` (``id``, ``text``, ``lang`` ISO 639-3, ``lid176`` or null, ``source``,
``license``) plus ``locale`` and ``part``. Nothing is written inside the repository by default.

    python -m benchmarks.langid_data                    # download, extract, write the sets
    python -m benchmarks.langid_data --cache DIR --out DIR --sets gnome-help,gimp-help
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from transforms.langid.langcodes import to_iso639_3

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curation-lake" / "langid-data"
PARTS = ("dev", "dev", "proof", "test")  # by hash of (set, page) modulo 4
DOC_CHARS, MIN_DOC_CHARS, MAX_DOCS_PER_PAGE = 1000, 200, 3
SHORT_MIN, SHORT_MAX = 40, 200  # one paragraph per page for the short-text set
MIN_PARAGRAPH = 20
MAX_ENGLISH_SHARE = 0.5  # a paragraph whose letters are mostly English words is English left in a translation
_WORDS = re.compile(r"[^\W\d_]+")
CAP = {"dev": 60, "proof": 30, "test": 30}  # documents per (set, language, part), chosen by hash


@dataclass(frozen=True)
class Source:
    """Packages and the path pattern (groups ``loc`` and ``page``) of their translated pages."""

    set: str
    packages: tuple[str, ...]  # exact names or shell patterns over `apt-cache pkgnames`
    pattern: str
    english: str  # the locale of the original, used to drop untranslated paragraphs
    license: str
    mallard: bool = False


SOURCES = (
    Source("gnome-help", ("gnome-user-docs",),
           r"usr/share/help/(?P<loc>[^/]+)/(?P<page>[^/]+/[^/]+)\.page$", "C", "CC-BY-SA-3.0", mallard=True),
    Source("installation-guide", ("installation-guide-amd64",),
           r"usr/share/doc/installation-guide-amd64/(?P<loc>[^/]+)/(?P<page>[^/]+)\.html$", "en", "GPL-2"),
    Source("debian-handbook", ("debian-handbook",),
           r"usr/share/doc/debian-handbook/html/(?P<loc>[a-z]{2,3}-[A-Z]{2})/(?P<page>[^/]+)\.html$", "en-US",
           "GPL-2.0+ or CC-BY-SA-3.0"),
    Source("gimp-help", ("gimp-help-*",),
           r"usr/share/gimp/2\.0/help/(?P<loc>[^/]+)/(?P<page>.+)\.html$", "en", "GFDL-1.2+"),
    Source("debian-docs", ("debian-reference-*", "maint-guide*", "debian-faq*", "developers-reference*"),
           r"usr/share/(?:debian-reference/(?P<page>[^/]+)\.(?P<loc>[a-z]{2}(?:-[a-z]{2})?)\.html"
           r"|doc/maint-guide[^/]*/html/(?P<page2>[^/]+)\.(?P<loc2>[a-z]{2}(?:-[a-z]{2})?)\.html"
           r"|doc/debian/FAQ/(?:[^/]+/)?(?P<page3>[^/]+)\.(?P<loc3>[a-z]{2}(?:[-_][a-zA-Z]{2})?)\.html"
           r"|developers-reference/(?:(?P<loc4>[a-z]{2}(?:_[A-Z]{2})?)/)?(?P<page4>[^/]+)\.html)$",
           "en", "GPL-2+"),
)
SHORT_SET = "debian-docs-short"  # one short paragraph per page of every source


def lid176_labels() -> frozenset[str]:
    """The 176 labels of lid.176.ftz (read from the bundled model, so the label set cannot drift)."""
    import fasttext

    from transforms.langid.identify import default_model_path

    return frozenset(
        label.removeprefix("__label__") for label in fasttext.load_model(default_model_path()).get_labels()
    )


def label(locale: str, labels: frozenset[str]) -> tuple[str | None, str | None]:
    """(ISO 639-3, lid.176 label or None) of a locale (``pt_BR``, ``sr@latin``, ``nb-NO``, ``zh-cn``)."""
    primary = "en" if locale == "C" else re.split(r"[-_@.]", locale)[0].lower()
    lid = "no" if primary == "nb" else primary
    return to_iso639_3(primary), (lid if lid in labels else None)


def part_of(set_name: str, page: str) -> str:
    return PARTS[hashlib.sha256(f"{set_name}:{page}".encode()).digest()[0] % len(PARTS)]


def record_part(record: dict) -> str:
    """A record's part: its ``part`` field, else by the hash of its id (the ../shared files have none)."""
    return record.get("part") or PARTS[hashlib.sha256(record["id"].encode()).digest()[0] % len(PARTS)]


def _norm(text: str) -> str:
    return " ".join(text.split())


def paragraphs(path: str, mallard: bool) -> list[str]:
    """The text of a page's ``<p>`` elements, whitespace collapsed, in document order."""
    if mallard:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            return []
        info = {id(p) for i in root.iter("{http://projectmallard.org/1.0/}info") for p in i.iter()}
        return [t for p in root.iter("{http://projectmallard.org/1.0/}p") if id(p) not in info
                if (t := _norm("".join(p.itertext())))]
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    with open(path, "rb") as f:
        tree = HTMLParser(f.read())
    return [t for p in tree.css("p") if (t := _norm(p.text(separator=" ")))]


def english_share(paragraph: str, vocabulary: set[str]) -> float:
    """Share of the paragraph's letters in words (3+ letters) of the English original's vocabulary:
    figure captions and notes left in English inside a translated sentence score high."""
    words = _WORDS.findall(paragraph.lower())
    letters = sum(map(len, words))
    return sum(len(w) for w in words if len(w) >= 3 and w in vocabulary) / letters if letters else 1.0


def _packages(patterns: tuple[str, ...]) -> list[str]:
    names = subprocess.run(["apt-cache", "pkgnames"], capture_output=True, text=True, check=True).stdout.split()
    import fnmatch

    return sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})


def fetch(source: Source, cache: Path) -> list[tuple[Path, str, str]]:
    """Download (once) and extract (once) the source's packages: (root, package, version) each."""
    debs, roots = cache / "debs", []
    debs.mkdir(parents=True, exist_ok=True)
    wanted = _packages(source.packages)
    missing = [p for p in wanted if not glob.glob(str(debs / f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, capture_output=True)
    for package in wanted:
        deb = Path(sorted(glob.glob(str(debs / f"{package}_*.deb")))[-1])
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        root = cache / "x" / deb.stem
        if not root.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)  # dpkg-deb -x makes only the last directory
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root.with_suffix(".tmp"))], check=True)
            root.with_suffix(".tmp").rename(root)
        roots.append((root, package, version))
    return roots


def pages(source: Source, roots: list[tuple[Path, str, str]]) -> Iterator[tuple[str, str, str, str]]:
    """(locale, page, package version, path) of every translated page, sorted."""
    pattern = re.compile(source.pattern)
    found = []
    for root, package, version in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                match = pattern.search(os.path.relpath(path, root))
                if not match:
                    continue
                groups = {k: v for k, v in match.groupdict().items() if v}
                loc = next((v for k, v in groups.items() if k.startswith("loc")), source.english)
                page = next(v for k, v in groups.items() if k.startswith("page"))
                found.append((loc, page, f"{package} {version}", path))
    yield from sorted(found)


def pack(texts: list[str], doc_chars: int, min_chars: int) -> list[str]:
    """Texts joined in order into documents of about ``doc_chars`` (a last one under ``min_chars`` is dropped)."""
    docs, current = [], ""
    for t in texts:
        current = f"{current}\n{t}" if current else t
        if len(current) >= doc_chars:
            docs.append(current)
            current = ""
    if len(current) >= min_chars:
        docs.append(current)
    return docs


def chunk(paras: list[str]) -> list[str]:
    """Paragraphs packed in order into documents of about DOC_CHARS, at most MAX_DOCS_PER_PAGE."""
    return pack(paras, DOC_CHARS, MIN_DOC_CHARS)[:MAX_DOCS_PER_PAGE]


def build(source: Source, cache: Path, labels: frozenset[str]) -> tuple[list[dict], list[dict], dict]:
    """The set's documents and short paragraphs, and counts for the data card."""
    listed = list(pages(source, fetch(source, cache)))
    english = {p for loc, _, _, path in listed if loc == source.english for p in paragraphs(path, source.mallard)}
    vocabulary = {w for p in english for w in _WORDS.findall(p.lower())}
    docs, shorts, dropped, kept = [], [], 0, 0
    for loc, page, package, path in listed:
        iso, lid = label(loc, labels)
        all_paras = [p for p in paragraphs(path, source.mallard) if len(p) >= MIN_PARAGRAPH]
        paras = all_paras if loc == source.english else [
            p for p in all_paras if p not in english and english_share(p, vocabulary) < MAX_ENGLISH_SHARE]
        dropped, kept = dropped + len(all_paras) - len(paras), kept + len(paras)
        base = {"lang": iso, "lid176": lid, "locale": loc, "license": source.license,
                "source": f"Debian 12 package {package}: {os.path.relpath(path, cache / 'x')}"}
        for i, text in enumerate(chunk(paras)):
            docs.append({"id": f"{source.set}:{loc}:{page}:{i}", "text": text, **base,
                         "part": part_of(source.set, page)})
        short = next((p for p in paras if SHORT_MIN <= len(p) <= SHORT_MAX), None)
        if short:
            shorts.append({"id": f"{SHORT_SET}:{source.set}:{loc}:{page}", "text": short, **base,
                           "part": part_of(SHORT_SET, f"{source.set}:{page}")})
    return docs, shorts, {"english_paragraphs_dropped": dropped, "paragraphs_kept": kept}


def capped(records: list[dict]) -> list[dict]:
    """At most CAP[part] records per (locale, part), the ones whose id hashes lowest."""
    ordered = sorted(records, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in ordered:
        key = (r["locale"], r["part"])
        if seen.get(key, 0) < CAP[r["part"]]:
            seen[key] = seen.get(key, 0) + 1
            out.append(r)
    return sorted(out, key=lambda r: r["id"])


def write(out: Path, name: str, records: list[dict]) -> dict[str, int]:
    counts = {}
    for part in dict.fromkeys(PARTS):
        rows = [r for r in records if r["part"] == part]
        with open(out / f"{name}.{part}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        counts[part] = len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"downloads and extractions (default {DEFAULT_CACHE})")
    parser.add_argument("--out", type=Path, default=None, help="where the JSONL sets go (default CACHE/sets)")
    parser.add_argument("--sets", default=",".join(s.set for s in SOURCES), help="comma-separated set names")
    args = parser.parse_args(argv)
    chosen = [s for s in SOURCES if s.set in args.sets.split(",")]
    if not chosen:
        print(f"error: no known set in {args.sets!r}; known: {', '.join(s.set for s in SOURCES)}", file=sys.stderr)
        return 2
    out = args.out or args.cache / "sets"
    out.mkdir(parents=True, exist_ok=True)
    labels, shorts = lid176_labels(), []
    try:
        for source in chosen:
            docs, short, stats = build(source, args.cache, labels)
            shorts += short
            docs = capped(docs)
            langs = len({r["locale"] for r in docs})
            print(f"{source.set}: {write(out, source.set, docs)} docs, {langs} locales, {stats}", flush=True)
        print(f"{SHORT_SET}: {write(out, SHORT_SET, capped(shorts))} docs", flush=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"error: {e} (apt-get and dpkg-deb must work here; run `apt-get update` first)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
