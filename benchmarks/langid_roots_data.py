"""Labelled text in ROOTS' Niger-Congo languages (and their neighbours) from Debian's translations.

lid.176 has no label for 20 of ROOTS' languages. Debian ships what translation teams wrote in
several of them: LibreOffice's language packs, GNOME and MATE applications, Tux Paint, iso-codes.
This builder downloads those packages (``apt-get download``) into a cache outside the repository,
reads their compiled gettext catalogs, and writes three parts that share no catalog:

- ``train``: the text the second language-id model (``transforms/langid/models/lid-ncg.ftz``) is
  trained on (``python -m benchmarks.langid_roots_model``);
- ``dev``: looked at while choosing the routing rule and the model's settings;
- ``test``: untouched until those were final.

A catalog (package, domain, locale) goes whole to one part, so test text comes from other program
sources than training text; a language with fewer than ``MIN_CATALOGS`` catalogs is split by
message instead (the data card says which). A translated string is kept when it differs from its
English msgid, is at least ``MIN_STRING`` characters after markup is removed, and is not mostly
made of English words of the catalog's msgids (strings left untranslated). Strings are packed in
catalog order into documents of about ``DOC_CHARS`` characters. Records: ``id``, ``text``, ``lang``
(ISO 639-3), ``label`` (what the stage must output: ``transforms.langid.langcodes`` codes),
``lid176`` (lid.176's label for it, or null), ``source``, ``license``, ``locale``, ``part``.
The data card is ``benchmarks/langid_roots_data.md``.

    python -m benchmarks.langid_roots_data            # writes CACHE/sets/roots-ncg.{train,dev,test}.jsonl
"""
from __future__ import annotations

import argparse
import gettext
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from benchmarks.langid_data import _WORDS, DEFAULT_CACHE, english_share, lid176_labels, pack
from transforms.langid.langcodes import NIGER_CONGO_NEIGHBOURS, ROOTS_NIGER_CONGO, to_iso639_3

SET = "roots-ncg"
ROOTS_PARTS = ("train", "dev", "test")
# Debian 12 packages with catalogs in at least one of the languages; licence as in their copyright file.
PACKAGES = {
    "libreoffice-l10n-zu": "MPL-2.0", "libreoffice-l10n-xh": "MPL-2.0", "libreoffice-l10n-st": "MPL-2.0",
    "libreoffice-l10n-tn": "MPL-2.0", "libreoffice-l10n-ts": "MPL-2.0", "libreoffice-l10n-nso": "MPL-2.0",
    "libreoffice-l10n-rw": "MPL-2.0", "libreoffice-l10n-nr": "MPL-2.0", "libreoffice-l10n-ss": "MPL-2.0",
    "libreoffice-l10n-ve": "MPL-2.0", "libreoffice-l10n-af": "MPL-2.0",
    "tuxpaint-data": "GPL-2+", "tuxpaint-config": "GPL-2+", "tuxpaint-stamps-default": "GPL-2+",
    "iso-codes": "LGPL-2.1+", "nautilus-data": "GPL-3+", "gedit-common": "GPL-2+",
    "gnome-control-center-data": "GPL-2+", "evince-common": "GPL-2+", "totem-common": "GPL-2+",
    "gnome-shell-common": "GPL-2+", "mate-desktop-common": "GPL-2+", "caja-common": "GPL-2+",
    "pluma-common": "GPL-2+", "gnumeric-common": "GPL-2", "abiword-common": "GPL-2+",
    "libgweather-4-common": "GPL-2+", "evolution-data-server-common": "LGPL-2+",
    "gnome-menus": "LGPL-2+", "libgtk-4-common": "LGPL-2.1+", "xfce4-session": "GPL-2+",
}
# Other languages lid.176 lacks (labelled, so that a model which calls every Ndebele page Zulu loses
# precision here), and lid.176 languages spoken beside them or left in translations.
NEIGHBOURS = NIGER_CONGO_NEIGHBOURS
LID176_NEIGHBOURS = frozenset({"af", "mg", "yo", "sw", "so", "en", "fr", "pt",
                               # and those lid.176 mistakes them for (Igbo's dotted vowels read as Vietnamese)
                               "vi", "tl", "id", "ms", "es", "it", "de", "nl", "pl", "fi", "tr", "eo", "sv", "ca"})
MIN_STRING, DOC_CHARS, MIN_DOC_CHARS, MIN_CATALOGS = 20, 500, 150, 3
SHARE = {"test": 0.2, "dev": 0.2}  # of a language's characters, by whole catalogs; the rest is train
CAP_CHARS = {"train": 400_000, "dev": 60_000, "test": 60_000}  # per language and part
_MARKUP = re.compile(r"<[^>]{0,80}>|%[-+ #0-9.]*[a-zA-Z]|%\([a-z_]+\)[sd]|\$\{?[A-Za-z_]+\}?|\\[nt]")
_ACCELERATOR = re.compile(r"(?<!\w)[~&_](?=\w)|(?<=[^\W_])[~&](?=\w)")  # "_Open", "Fa~yile"; not "file_name"


def clean(text: str) -> str:
    """A message without markup, placeholders and accelerator marks, whitespace collapsed."""
    return " ".join(_MARKUP.sub(" ", _ACCELERATOR.sub("", text)).split())


def wanted(locale: str) -> str | None:
    """The stage's label for a catalog's locale when it is one this set keeps (en comes from msgids)."""
    primary = re.split(r"[-_@.]", locale)[0].lower()
    if primary in ROOTS_NIGER_CONGO or primary in NEIGHBOURS or primary in LID176_NEIGHBOURS - {"en"}:
        return primary
    return None


def fetch(cache: Path) -> list[tuple[Path, str, str]]:
    """Download (once) and extract (once) every package: (root, package, version) each."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not glob.glob(str(debs / f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, capture_output=True)
    roots = []
    for package in PACKAGES:
        deb = Path(sorted(glob.glob(str(debs / f"{package}_*.deb")))[-1])
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        root = cache / "x" / deb.stem
        if not root.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root.with_suffix(".tmp"))], check=True)
            root.with_suffix(".tmp").rename(root)
        roots.append((root, package, version))
    return roots


def messages(path: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of a compiled catalog, in msgid order; [] when Python's gettext cannot read it."""
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    except (OSError, UnicodeError, ValueError, KeyError, IndexError):
        return []
    pairs = [(k[0] if isinstance(k, tuple) else k, v) for k, v in catalog.items()]
    return sorted((k, v) for k, v in pairs if k and v and v != k)


def catalogs(roots: list[tuple[Path, str, str]]) -> dict[str, list[tuple[str, str, list[str]]]]:
    """Per stage label: (catalog id, source, kept strings) of every catalog, plus English from msgids."""
    out: dict[str, list[tuple[str, str, list[str]]]] = defaultdict(list)
    english_seen: set[str] = set()
    for root, package, version in roots:
        for path in sorted(glob.glob(str(root / "**" / "LC_MESSAGES" / "*.mo"), recursive=True)):
            locale = Path(path).parent.parent.name
            lang = wanted(locale)
            if lang is None:
                continue
            pairs = messages(path)
            vocabulary = {w for k, _ in pairs for w in _WORDS.findall(k.lower())}
            strings = list(dict.fromkeys(
                s for _, v in pairs if len(s := clean(v)) >= MIN_STRING and english_share(s, vocabulary) < 0.5))
            domain = Path(path).stem
            source = f"Debian 12 package {package} {version}: {os.path.relpath(path, root)}"
            if strings:
                out[lang].append((f"{package}:{domain}:{locale}", source, strings))
            if (package, domain) not in english_seen and pairs:  # the English originals, once per domain
                english_seen.add((package, domain))
                msgids = list(dict.fromkeys(s for k, _ in pairs if len(s := clean(k)) >= MIN_STRING))
                out["en"].append((f"{package}:{domain}:msgid", f"{source} (msgids)", msgids))
    return out


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def split(units: list[tuple[str, str, list[str]]]) -> tuple[str, dict[str, list[tuple[str, str, list[str]]]]]:
    """How a language's catalogs are divided (``catalog`` or ``message``) and its units per part.

    By catalog: in hash order, whole catalogs fill test, then dev, up to ``SHARE`` of the
    characters (an empty part takes a first catalog of at most half of them); the rest is train.
    With fewer than ``MIN_CATALOGS`` catalogs, each message goes to a part by the hash of its text."""
    parts: dict[str, list[tuple[str, str, list[str]]]] = {p: [] for p in ROOTS_PARTS}
    if len(units) < MIN_CATALOGS:
        for unit, source, strings in units:
            by_part: dict[str, list[str]] = defaultdict(list)
            for s in strings:
                h = int(_hash(s)[:8], 16) % 10
                by_part["test" if h < 2 else "dev" if h < 4 else "train"].append(s)
            for part, kept in by_part.items():
                parts[part].append((unit, source, kept))
        return "message", parts
    total = sum(len(s) for _, _, strings in units for s in strings)
    filled = {"test": 0, "dev": 0}
    for unit in sorted(units, key=lambda u: _hash(u[0])):
        size = sum(map(len, unit[2]))
        part = next((p for p in ("test", "dev") if filled[p] + size <= SHARE[p] * total
                     or (not filled[p] and size <= total / 2)), "train")
        if part != "train":
            filled[part] += size
        parts[part].append(unit)
    return "catalog", parts


def documents(unit: str, strings: list[str]) -> list[str]:
    """Strings packed in order into documents of about DOC_CHARS (a last one under MIN_DOC_CHARS is dropped)."""
    return pack(strings, DOC_CHARS, MIN_DOC_CHARS)


def build(cache: Path) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Records per part and, per language, how it was split and its counts (for the data card)."""
    lid176 = lid176_labels()
    records: dict[str, list[dict]] = {p: [] for p in ROOTS_PARTS}
    card = {}
    for lang, units in sorted(catalogs(fetch(cache)).items()):
        how, parts = split(units)
        card[lang] = {"split": how, "catalogs": len(units)}
        for part, chosen in parts.items():
            budget, n = CAP_CHARS[part], 0
            for unit, source, strings in chosen:
                license_ = PACKAGES[source.split()[3]]
                for i, text in enumerate(documents(unit, strings)):
                    if budget <= 0:
                        break
                    budget -= len(text)
                    n += 1
                    records[part].append({"id": f"{SET}:{unit}:{i}", "text": text, "lang": to_iso639_3(lang) or lang,
                                          "label": lang, "lid176": lang if lang in lid176 else None,
                                          "source": source, "license": license_,
                                          "locale": unit.split(":")[2], "part": part})
            card[lang][part] = n
    return records, card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_roots_data",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE.with_name("langid-roots"),
                        help="downloads and extractions (default ~/.cache/curation-lake/langid-roots)")
    parser.add_argument("--out", type=Path, default=None, help="where the JSONL parts go (default CACHE/sets)")
    args = parser.parse_args(argv)
    out = args.out or args.cache / "sets"
    out.mkdir(parents=True, exist_ok=True)
    try:
        records, card = build(args.cache)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"error: {e} (apt-get and dpkg-deb must work here; run `apt-get update` first)", file=sys.stderr)
        return 2
    for part, rows in records.items():
        with open(out / f"{SET}.{part}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    print(f"{'lang':5} {'split':8} {'catalogs':>8} {'train':>6} {'dev':>5} {'test':>5}")
    for lang, c in card.items():
        print(f"{lang:5} {c['split']:8} {c['catalogs']:8} {c['train']:6} {c['dev']:5} {c['test']:5}")
    missing = sorted(ROOTS_NIGER_CONGO - set(card))
    print(f"ROOTS languages with no text in these packages: {', '.join(missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
