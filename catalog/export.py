"""Interop exports of a version: a Hugging Face ``datasets`` folder and MLCommons Croissant JSON-LD.

Our shards are Arrow IPC *file* format. ``datasets.load_dataset("arrow", ...)`` (and so
``load_dataset(FOLDER)``) reads that format, as do ``pyarrow.dataset`` and Polars' ``scan_ipc``;
``Dataset.from_file`` and ``load_from_disk`` read only the IPC *stream* format and are not claimed.
The export therefore copies the shards as they are next to a dataset card whose YAML lists one
config per language, plus ``croissant.json`` and the manifest.

Copies, never hard links: a hard link is the lake's own file, so appending to an exported shard
would corrupt the immutable version. Where the file system can (btrfs, XFS, ...) the copy is a
reflink, which shares the blocks until either side writes; elsewhere it is a plain copy. Each
shard is hashed while it is copied (once, from the bytes written) and checked against the
manifest, so ``croissant.json``'s sha256 is true of every exported file; a damaged shard stops
the export, which then removes what it wrote.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

from catalog.contract import check_lang, is_code
from catalog.hashing import sha256_file
from catalog.lakefs import LocalLocation, Location, location
from catalog.manifest import check_relpath, safe_join
from catalog.verify import arrow_rows, damaged

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int), clone a whole file (reflink)

ARROW_FILE = "application/vnd.apache.arrow.file"
CROISSANT_CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex", "repeated": "cr:repeated",
    "replace": "cr:replace", "samplingRate": "cr:samplingRate", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform", "equivalentProperty": "cr:equivalentProperty",
}
_FIELDS = [("id", "sc:Text", "the record's id, or SOURCE:PATH:LINE"),
           ("text", "sc:Text", "normalised, PII-redacted text"),
           ("lang", "sc:Text", "lid.176 language code, und, or code-<language> for source code"),
           ("lang_score", "sc:Float", "language-id probability of the best label"),
           ("source", "sc:Text", "source name"),
           ("meta", "sc:Text", "JSON: other record fields, filter scores, PII counts")]


def _licenses(manifest: dict[str, Any]) -> list[str]:
    return sorted({s.get("license", "unknown") for s in manifest["sources"].values() if s.get("kept", 1)})


def _description(manifest: dict[str, Any]) -> str:
    c = manifest["counts"]
    return (f"{manifest['dataset']} v{manifest['version']}: {c['kept']:,} documents in {len(manifest['languages'])} "
            f"languages, curated from {c['input']:,} inputs (filtered {sum(c['filtered'].values()):,}, "
            f"duplicates {sum(c['duplicates'].values()):,}, quarantined {c['quarantined']:,}).")


def croissant(manifest: dict[str, Any], base_url: str = "") -> dict[str, Any]:
    """Croissant 1.0 metadata: every shard as a FileObject with its sha256, one RecordSet of documents."""
    files = [{"@type": "cr:FileObject", "@id": s["path"], "name": s["path"], "contentUrl": base_url + s["path"],
              "contentSize": f"{s['bytes']} B", "encodingFormat": ARROW_FILE, "sha256": s["sha256"]}
             for s in manifest["shards"]]
    fields = [{"@type": "cr:Field", "@id": f"documents/{name}", "name": name, "description": what, "dataType": kind,
               "source": {"fileSet": {"@id": "shards"}, "extract": {"column": name}}}
              for name, kind, what in _FIELDS]
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": manifest["dataset"],
        "description": _description(manifest),
        "version": f"{manifest['version']}.0.0",
        "citeAs": f"{manifest['dataset']}@v{manifest['version']} (curation-lake catalog)",
        "datePublished": manifest["created_at"],
        "license": _licenses(manifest),
        "url": base_url or f"{manifest['dataset']}/v{manifest['version']}/",
        "inLanguage": sorted(lang for lang in manifest["languages"] if not is_code(lang)),
        "distribution": files + [{"@type": "cr:FileSet", "@id": "shards", "name": "shards",
                                  "containedIn": [{"@id": f["@id"]} for f in files],
                                  "encodingFormat": ARROW_FILE, "includes": "data/lang=*/*.arrow"}],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "documents", "name": "documents",
                       "description": "one row per kept document", "field": fields}],
    }


def dataset_card(manifest: dict[str, Any]) -> str:
    """A Hugging Face dataset card: YAML configs (``all`` plus one per language) and a short summary.

    The front matter is emitted by a YAML library, so every value is quoted where YAML needs it:
    written by hand, Norwegian's ``config_name: no`` reads back as the boolean false and
    ``datasets`` cannot load the folder at all. Each code is checked first (it names a folder).
    """
    langs = sorted(check_lang(lang) for lang in manifest["languages"])
    configs = [{"config_name": "all", "default": True,
                "data_files": [{"split": "train", "path": "data/lang=*/*.arrow"}]}]
    configs += [{"config_name": lang, "data_files": [{"split": "train", "path": f"data/lang={lang}/*.arrow"}]}
                for lang in langs]
    # The Hub's ``language`` holds natural-language codes, and ``code`` for source code (The Stack's card).
    card_langs = [lang for lang in langs if not is_code(lang)] + (["code"] if any(map(is_code, langs)) else [])
    front = {"license": "other", "license_name": ", ".join(_licenses(manifest)), "language": card_langs,
             "configs": configs}
    body = [
        f"# {manifest['dataset']} v{manifest['version']}",
        "",
        _description(manifest),
        "",
        "Licences by source: "
        + ", ".join(f"{k} ({v.get('license', 'unknown')})" for k, v in manifest["sources"].items())
        + ".",
        "",
        "Load with `datasets.load_dataset(THIS_FOLDER, 'all')` or a language config such as "
        f"`'{langs[0] if langs else 'en'}'`. Files are Arrow IPC file format; `manifest.json` holds checksums "
        "and lineage, `croissant.json` the Croissant metadata.",
    ]
    yaml_text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "---\n" + yaml_text + "---\n" + "\n".join(body) + "\n"


def _clone(src: Path, dst: Path) -> bool:
    """Reflink ``src`` to ``dst`` where the file system supports it; False (and no ``dst``) otherwise."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
            return True
        except OSError:
            pass
    dst.unlink()
    return False


def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` and return (sha256, size) of the bytes written, in one read."""
    return LocalLocation(src).download("", dst)


def export_file(where: Location, rel: str, dst: Path, entry: dict[str, Any], spec: str, verify: bool = True) -> None:
    """Copy one shard (reflink when possible; downloaded from an object store) and check the copy
    against its manifest entry."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not where.is_file(rel):
        raise damaged(spec, entry["path"], "missing")
    src = where.local / rel if where.local is not None else None
    if src is not None and _clone(src, dst):
        if not verify:
            return
        digest, size = sha256_file(dst)
    elif src is not None and not verify:
        shutil.copyfile(src, dst)
        return
    else:
        digest, size = where.download(rel, dst)
        if not verify:
            return
    if size != entry["bytes"]:
        raise damaged(spec, entry["path"], f"size {size:,} B, manifest says {entry['bytes']:,} B")
    if digest != entry["sha256"]:
        raise damaged(spec, entry["path"], f"sha256 {digest[:16]}..., manifest says {entry['sha256'][:16]}...")
    try:
        rows = arrow_rows(dst)
    except Exception as e:
        raise damaged(spec, entry["path"], f"unreadable Arrow file: {e}") from None
    if rows != entry["rows"]:
        raise damaged(spec, entry["path"], f"{rows:,} rows, manifest says {entry['rows']:,}")


def export_version(
    root: str | Path | Location, manifest: dict[str, Any], out: str | Path, *, verify: bool = True
) -> Path:
    """Write the HF folder (shards, README.md card), croissant.json and manifest.json under ``out``.

    Every manifest path and language code is checked before anything is written. Everything is
    written into a hidden sibling folder (``.OUT.tmp-*``) that is renamed to ``out`` last, so an
    export killed half-way leaves no folder that loads as a smaller dataset; on any other failure
    the temporary folder is removed. ``out`` must be new or empty.
    """
    where, out = location(root), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"export folder {out} is not empty")
    spec = f"{manifest['dataset']}@v{manifest['version']}"
    card = dataset_card(manifest)  # checks every language code
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex}"
    pairs = [(check_relpath(s["path"]), safe_join(tmp, s["path"]), s) for s in manifest["shards"]]
    tmp.mkdir()
    try:
        for rel, dst, shard in pairs:
            export_file(where, rel, dst, shard, spec, verify)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        (tmp / "croissant.json").write_text(json.dumps(croissant(manifest), indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        os.rename(tmp, out)  # replaces an empty folder; refuses one that filled up meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
