"""The human summary of a version, printed after a run and by ``python -m catalog show``."""
from __future__ import annotations

from typing import Any

from catalog.contract import kinds_note


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 10_000 else f"{n:,} B"


def _top(counts: dict[str, int], k: int = 3) -> str:
    """``a 5, b 3, c 1 +4 more``: the largest counts first, so a skewed drop stands out."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    more = f" +{len(ranked) - k} more" if len(ranked) > k else ""
    return ", ".join(f"{key} {n:,}" for key, n in ranked[:k]) + more


def _filter_lines(manifest: dict[str, Any]) -> list[str]:
    """One line per quality filter with its top languages, then the filters that could not run."""
    by_filter: dict[str, dict[str, int]] = {}
    for lang, reasons in manifest.get("filter", {}).get("by_language", {}).items():
        for reason, n in reasons.items():
            by_filter.setdefault(reason, {})[lang] = n
    lines = [f"    {reason:<26}{n:>6,}   {_top(by_filter.get(reason, {}))}"
             for reason, n in sorted(manifest["counts"]["filtered"].items(), key=lambda kv: (-kv[1], kv[0]))]
    skipped = manifest.get("filter", {}).get("skipped", {})
    if skipped:
        lines.append("    docs a filter could not check (no word list or score): " + ", ".join(
            f"{name} {sum(langs.values()):,}" for name, langs in sorted(skipped.items())))
    return lines


def format_summary(manifest: dict[str, Any], location: str, lake: str | None = None) -> str:
    c = manifest["counts"]
    dupes = c["duplicates"]
    lines = [
        f"{manifest['dataset']}@v{manifest['version']}  ({manifest['created_at']})",
        "",
        f"  documents in        {c['input']:>8,}",
        f"  kept                {c['kept']:>8,}",
        f"  filtered            {sum(c['filtered'].values()):>8,}"
        + ("   (top languages per filter)" if c["filtered"] else ""),
        *_filter_lines(manifest),
        f"  duplicates removed  {dupes['exact'] + dupes['near']:>8,}   "
        f"(exact {dupes['exact']:,}, near {dupes['near']:,})",
        f"  quarantined         {c['quarantined']:>8,}"
        + "".join(f"\n    {reason:<26}{n:>6,}" for reason, n in c.get("quarantined_by_reason", {}).items()),
    ]
    skipped: dict[str, int] = {}
    for kinds in manifest.get("skipped_records", {}).values():
        for kind, n in kinds.items():
            skipped[kind] = skipped.get(kind, 0) + n
    if skipped:
        lines.append(f"  not documents       {sum(skipped.values()):>8,}   (WARC records: {_top(skipped, 4)})")
    if manifest.get("boilerplate"):
        b = manifest["boilerplate"]
        lines.append(f"  boilerplate lines   {b['lines_removed']:>8,}   removed from {b['docs_changed']:,} docs "
                     f"({b['boilerplate_lines']:,} distinct lines; {b['docs_emptied']:,} docs emptied)")
    if manifest.get("pii"):
        lines.append("  PII redacted        " + ", ".join(f"{k} {v:,}" for k, v in manifest["pii"].items()))
    lines += ["", f"  {'language':<10}{'docs':>8}{'chars':>12}{'shards':>8}"]
    for lang, s in sorted(manifest["languages"].items(), key=lambda kv: (-kv[1]["docs"], kv[0])):
        lines.append(f"  {lang:<10}{s['docs']:>8,}{s['chars']:>12,}{s['shards']:>8}")
    total_bytes = sum(s["bytes"] for s in manifest["shards"])
    lines += ["", f"  shards: {len(manifest['shards'])} ({_mb(total_bytes)})   languages: {len(manifest['languages'])}"
              f"{kinds_note(list(manifest['languages']))}",
              f"  lives in: {location}"]
    if lake is not None:
        spec = f"{manifest['dataset']}@v{manifest['version']}"
        lines.append(f"  browse:   python -m catalog show {spec} --lake {lake}   (--json for the manifest)")
    return "\n".join(lines)
