"""The human summary of a version, printed after a run and by ``python -m catalog show``."""
from __future__ import annotations

from typing import Any


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 10_000 else f"{n:,} B"


def format_summary(manifest: dict[str, Any], location: str, lake: str | None = None) -> str:
    c = manifest["counts"]
    dupes = c["duplicates"]
    lines = [
        f"{manifest['dataset']}@v{manifest['version']}  ({manifest['created_at']})",
        "",
        f"  documents in        {c['input']:>8,}",
        f"  kept                {c['kept']:>8,}",
        f"  filtered            {sum(c['filtered'].values()):>8,}" + "".join(
            f"\n    {reason:<26}{n:>6,}" for reason, n in c["filtered"].items()),
        f"  duplicates removed  {dupes['exact'] + dupes['near']:>8,}   (exact {dupes['exact']:,}, near {dupes['near']:,})",
        f"  quarantined         {c['quarantined']:>8,}" + "".join(
            f"\n    {reason:<26}{n:>6,}" for reason, n in c.get("quarantined_by_reason", {}).items()),
    ]
    if manifest.get("pii"):
        lines.append("  PII redacted        " + ", ".join(f"{k} {v:,}" for k, v in manifest["pii"].items()))
    lines += ["", f"  {'language':<10}{'docs':>8}{'chars':>12}{'shards':>8}"]
    for lang, s in sorted(manifest["languages"].items(), key=lambda kv: (-kv[1]["docs"], kv[0])):
        lines.append(f"  {lang:<10}{s['docs']:>8,}{s['chars']:>12,}{s['shards']:>8}")
    total_bytes = sum(s["bytes"] for s in manifest["shards"])
    lines += ["", f"  shards: {len(manifest['shards'])} ({_mb(total_bytes)})   languages: {len(manifest['languages'])}",
              f"  lives in: {location}"]
    if lake is not None:
        spec = f"{manifest['dataset']}@v{manifest['version']}"
        lines.append(f"  browse:   python -m catalog show {spec} --lake {lake}   (--json for the manifest)")
    return "\n".join(lines)
