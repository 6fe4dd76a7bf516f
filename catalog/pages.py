"""HTML pages of the lake browser. Every value from a manifest or a shard is escaped here.

Crawled text is hostile, so nothing is ever inserted unescaped, the pages carry no script at all,
and the server adds a Content-Security-Policy that forbids scripts anyway.

A lake can be damaged, too: a dataset or version whose manifest (or tags, or a shard) cannot be
read is shown as broken, with the reason, and the rest of the lake stays browsable.
"""
from __future__ import annotations

import datetime as dt
import json
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from catalog import lake as lakelib
from catalog.contract import kinds_note
from catalog.lakefs import Location

SAMPLES_PER_LANGUAGE = 3
SAMPLE_CHARS = 1200


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _n(value: int) -> str:
    return f"{value:,}"


def _page(title: str, body: str, crumbs: list[tuple[str, str]]) -> str:
    nav = " / ".join(f'<a href="{_e(href)}">{_e(text)}</a>' for text, href in crumbs)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>"
            f"<body><nav>{nav}</nav><main><h1>{_e(title)}</h1>{body}</main></body></html>")


def _table(headers: list[str], rows: list[list[str]], attrs: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _href(name: str, version: int | None = None) -> str:
    return f"/d/{quote(name)}/" + (f"v{version}/" if version is not None else "")


# What a damaged manifest raises when a page reads it: missing keys, wrong types, bad values.
DAMAGE = (lakelib.CatalogError, KeyError, TypeError, ValueError, AttributeError, OverflowError)


def _broken(reason: Any) -> str:
    return f'<span class="broken">broken: {_e(reason)}</span>'


def _reason(error: Exception) -> str:
    return (
        str(error) if isinstance(error, lakelib.CatalogError) else f"manifest damaged ({type(error).__name__}: {error})"
    )


def index_page(lake: Path | lakelib.Lake) -> str:
    rows = []
    for name in lakelib.list_datasets(lake):
        versions = lakelib.list_versions(lake, name)
        link = f'<a class="dataset" href="{_href(name)}">{_e(name)}</a>'
        latest = f'<a href="{_href(name, versions[-1])}">v{versions[-1]}</a>'
        try:
            _, m = lakelib.load_manifest(lake, f"{name}@v{versions[-1]}")
            rows.append([link, _n(len(versions)), latest, _n(m["counts"]["kept"]), _n(len(m["languages"])),
                         _e(m["created_at"])])
        except DAMAGE as e:
            rows.append([link, _n(len(versions)), latest, _broken(_reason(e)), "", ""])
    body = _table(["dataset", "versions", "latest", "documents", "languages", "published"], rows) if rows \
        else "<p>No published datasets in this lake yet.</p>"
    return _page("Datasets", body, [("lake", "/")])


def dataset_page(lake: Path | lakelib.Lake, name: str) -> str:
    tags: dict[int, list[str]] = {}
    notes = ""
    try:
        for tag, version in lakelib.list_tags(lake, name).items():
            tags.setdefault(version, []).append(tag)
    except lakelib.CatalogError as e:
        notes = f"<p>Tags: {_broken(e)}</p>"
    rows = []
    for version in reversed(lakelib.list_versions(lake, name)):
        link = f'<a class="version" href="{_href(name, version)}">v{version}</a>'
        try:
            _, m = lakelib.load_manifest(lake, f"{name}@v{version}")
            c = m["counts"]
            rows.append([link, _e(", ".join(tags.get(version, []))), _e(m["created_at"]), _n(c["input"]), _n(c["kept"]),
                         _n(len(m["languages"])), _e(m["lineage"].get("code", {}).get("git_commit") or "")[:12]])
        except DAMAGE as e:
            rows.append([link, _e(", ".join(tags.get(version, []))), _broken(_reason(e)), "", "", "", ""])
    body = notes + _table(["version", "tags", "published", "input", "kept", "languages", "git commit"], rows)
    return _page(name, body, [("lake", "/"), (name, _href(name))])


def _bar_chart(items: list[tuple[str, int]], unit: str) -> str:
    """Horizontal bars as inline SVG (no script, no external resources)."""
    top = max((v for _, v in items), default=0) or 1
    row_h, label_w, bar_w = 22, 70, 420
    parts = [f'<svg class="chart" role="img" aria-label="documents per language" width="{label_w + bar_w + 110}" '
             f'height="{row_h * len(items) + 4}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(items):
        y = i * row_h + 2
        width = max(1, round(bar_w * value / top))
        parts.append(f'<g><title>{_e(label)}: {_n(value)} {_e(unit)}</title>'
                     f'<text x="0" y="{y + 15}">{_e(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{width}" height="{row_h - 6}" fill="#3b6ea5"></rect>'
                     f'<text x="{label_w + width + 6}" y="{y + 15}">{_n(value)}</text></g>')
    return "".join(parts) + "</svg>"


def _funnel(c: dict[str, Any]) -> str:
    quarantined, filtered = c["quarantined"], sum(c["filtered"].values())
    duplicates = sum(c["duplicates"].values())
    steps = [
        ("input", "documents in", c["input"], ""),
        (
            "quarantined",
            "quarantined (unreadable)",
            quarantined,
            ", ".join(f"{k} {_n(v)}" for k, v in c.get("quarantined_by_reason", {}).items()),
        ),
        ("filtered", "dropped by filters", filtered, ", ".join(f"{k} {_n(v)}" for k, v in c["filtered"].items())),
        (
            "duplicates",
            "removed as duplicates",
            duplicates,
            f"exact {_n(c['duplicates']['exact'])}, near {_n(c['duplicates']['near'])}",
        ),
        ("kept", "kept", c["kept"], ""),
    ]
    rows = [[_e(label), f'<span id="funnel-{key}" class="num">{_n(value)}</span>', _e(detail)]
            for key, label, value, detail in steps]
    return _table(["stage", "documents", "by reason"], rows, ' class="funnel"')


def _kv(items: dict[str, Any]) -> str:
    rows = [[_e(k), f"<code>{_e(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)}</code>"]
            for k, v in items.items()]
    return _table(["", ""], rows, ' class="kv"')


def _stamp(entry: dict[str, Any]) -> str:
    if entry.get("sha256"):
        return f"sha256 {entry['sha256'][:16]}…"
    if entry.get("mtime") is not None:
        return "modified " + dt.datetime.fromtimestamp(entry["mtime"], dt.timezone.utc).isoformat(timespec="seconds")
    return ""


def _lineage(m: dict[str, Any]) -> str:
    lin = m["lineage"]
    code = lin.get("code", {})
    facts = {"runner": lin.get("runner"), "package version": code.get("package_version"),
             "git commit": code.get("git_commit") or "unknown", "Beam": code.get("beam_version"),
             "Python": code.get("python"), "wall time (s)": lin.get("wall_seconds"),
             "parent versions": ", ".join(map(str, lin.get("parents", []))) or "none"}
    inputs = [
        [_e(i.get("source")), _e(i.get("path")), _n(i.get("bytes", 0)), _e(_stamp(i))] for i in lin.get("inputs", [])
    ]
    return (_kv(facts) + "<h3>Inputs</h3>" + _table(["source", "path", "bytes", "checksum / stamp"], inputs)
            + "<h3>Options</h3>" + _kv(lin.get("options", {})) + "<h3>Stages</h3>" + _kv(m.get("stages", {})))


def _samples(root: Path | Location, m: dict[str, Any]) -> str:
    from catalog.read import sample_rows

    out = []
    for lang in sorted(m["languages"]):
        try:
            rows = sample_rows(root, m, lang, SAMPLES_PER_LANGUAGE, seed=0, remember=True)  # hashed once per file
        except Exception as e:  # a truncated or missing shard (ArrowInvalid, OSError...): this language only
            out.append(f'<p class="doc" data-lang="{_e(lang)}">Samples in {_e(lang)}: '
                       f'{_broken(f"a shard cannot be read ({type(e).__name__}: {e}); run catalog verify")}</p>')
            continue
        for row in rows:
            text = row["text"] if len(row["text"]) <= SAMPLE_CHARS else row["text"][:SAMPLE_CHARS] + "…"
            out.append(f'<article class="doc" data-lang="{_e(lang)}"><header><code>{_e(row["id"])}</code> '
                       f'{_e(lang)} · {_e(row["source"])}</header><pre class="text">{_e(text)}</pre></article>')
    return "".join(out)


def version_page(lake: Path | lakelib.Lake, name: str, version: int) -> str:
    ref, m = lakelib.load_manifest(lake, f"{name}@v{version}")
    c = m["counts"]
    langs = sorted(m["languages"].items(), key=lambda kv: (-kv[1]["docs"], kv[0]))
    has_tokens = any("tokens" in s for _, s in langs)
    lang_rows = [[_e(lang), f'<span class="num" data-lang="{_e(lang)}" data-field="docs">{_n(s["docs"])}</span>',
                  _n(s["chars"]), _n(s["bytes"]), _n(s["shards"])] + ([_n(s.get("tokens", 0))] if has_tokens else [])
                 for lang, s in langs]
    sources = [[_e(src), _e(s.get("license", "unknown")), _n(s.get("input", 0)), _n(s.get("kept", 0)),
                _n(s.get("filtered", 0)), _n(s.get("duplicates", 0)), _n(s.get("quarantined", 0))]
               for src, s in m["sources"].items()]
    total_bytes = sum(s["bytes"] for s in m["shards"])
    body = (
        f'<p class="summary"><span id="kept" class="num">{_n(c["kept"])}</span> documents kept of '
        f'<span id="input" class="num">{_n(c["input"])}</span>, in <span id="languages">{len(m["languages"])}</span> '
        f'languages{_e(kinds_note(list(m["languages"])))} '
        f'and {_n(len(m["shards"]))} shards ({_n(total_bytes)} bytes); published {_e(m["created_at"])}. '
        f'<a href="manifest.json">manifest.json</a></p>'
        "<h2>Filter and dedup funnel</h2>"
        + _funnel(c)
        + "<h2>Languages</h2>"
        + _bar_chart([(lang, s["docs"]) for lang, s in langs], "documents")
        + _table(
            ["language", "documents", "characters", "bytes", "shards"] + (["tokens"] if has_tokens else []),
            lang_rows,
            ' class="languages"',
        )
        + "<h2>Sources and licences</h2>"
        + _table(["source", "licence", "input", "kept", "filtered", "duplicates", "quarantined"], sources)
        + "<h2>PII redacted</h2>"
        + (_kv(m["pii"]) if m.get("pii") else "<p>none</p>")
        + "<h2>Lineage</h2>"
        + _lineage(m)
        + "<h2>Sample documents</h2>"
        + _samples(lakelib.open_lake(lake).version_dir(ref), m)
    )
    return _page(ref.spec, body, [("lake", "/"), (name, _href(name)), (f"v{version}", _href(name, version))])


def not_found_page(message: str) -> str:
    return _page("Not found", f"<p>{_e(message)}</p>", [("lake", "/")])


def broken_page(title: str, error: Exception, crumbs: list[tuple[str, str]] | None = None) -> str:
    return _page(f"{title} is broken", f"<p>{_broken(_reason(error))}</p>", crumbs or [("lake", "/")])
