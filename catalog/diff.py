"""What changed between two versions: counts, languages, sources, shards, configuration, inputs."""
from __future__ import annotations

from typing import Any


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _delta(a: int, b: int) -> str:
    return f"{a:,} -> {b:,} ({b - a:+,})" if a != b else f"{a:,}"


def _changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    lines = [f"+ {k}: {fb[k]!r}" for k in sorted(fb.keys() - fa.keys())]
    lines += [f"- {k}: {fa[k]!r}" for k in sorted(fa.keys() - fb.keys())]
    lines += [f"~ {k}: {fa[k]!r} -> {fb[k]!r}" for k in sorted(fa.keys() & fb.keys()) if fa[k] != fb[k]]
    return lines


def _counts(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    ca, cb = a["counts"], b["counts"]
    rows = [("input", ca["input"], cb["input"]), ("kept", ca["kept"], cb["kept"]),
            ("filtered", sum(ca["filtered"].values()), sum(cb["filtered"].values())),
            ("duplicates", sum(ca["duplicates"].values()), sum(cb["duplicates"].values())),
            ("quarantined", ca["quarantined"], cb["quarantined"])]
    return [f"{name:<12}{_delta(x, y)}" for name, x, y in rows]


def _languages(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    la, lb = a["languages"], b["languages"]
    lines = []
    for lang in sorted(la.keys() | lb.keys()):
        x, y = la.get(lang), lb.get(lang)
        if x is None:
            lines.append(f"+ {lang:<8}{y['docs']:,} docs, {y['chars']:,} chars")
        elif y is None:
            lines.append(f"- {lang:<8}{x['docs']:,} docs, {x['chars']:,} chars")
        elif (x["docs"], x["chars"]) != (y["docs"], y["chars"]):
            lines.append(f"~ {lang:<8}docs {_delta(x['docs'], y['docs'])}, chars {_delta(x['chars'], y['chars'])}")
    return lines


def _shards(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    sa = {s["sha256"]: s["path"] for s in a["shards"]}
    sb = {s["sha256"]: s["path"] for s in b["shards"]}
    lines = [f"{len(sa.keys() & sb.keys())} identical (same sha256), {len(sb.keys() - sa.keys())} new, "
             f"{len(sa.keys() - sb.keys())} gone"]
    lines += [f"+ {sb[h]}" for h in sorted(sb.keys() - sa.keys(), key=lambda h: sb[h])]
    lines += [f"- {sa[h]}" for h in sorted(sa.keys() - sb.keys(), key=lambda h: sa[h])]
    return lines


def _inputs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    def index(m: dict[str, Any]) -> dict[str, Any]:
        return {f"{i['source']}:{i['path']}": {k: v for k, v in i.items() if k not in ("source", "path")}
                for i in m["lineage"]["inputs"]}
    return _changes(index(a), index(b))


def diff_manifests(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[str]]:
    """Section name -> lines; sections without changes are left out (counts and shards always have lines)."""
    sources = {k: {"license": v.get("license"), "kept": v.get("kept")} for k, v in a["sources"].items()}
    sources_b = {k: {"license": v.get("license"), "kept": v.get("kept")} for k, v in b["sources"].items()}
    sections = {
        "counts": _counts(a, b),
        "languages": _languages(a, b),
        "sources": _changes(sources, sources_b),
        "shards": _shards(a, b),
        "options": _changes(a["lineage"].get("options", {}), b["lineage"].get("options", {})),
        "stages": _changes(a.get("stages", {}), b.get("stages", {})),
        "code": _changes(a["lineage"].get("code", {}), b["lineage"].get("code", {})),
        "inputs": _inputs(a, b),
    }
    return {k: v for k, v in sections.items() if v}


def format_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    head = f"{a['dataset']}@v{a['version']} -> {b['dataset']}@v{b['version']}"
    out = [head]
    for section, lines in diff_manifests(a, b).items():
        out.append(f"\n  {section}")
        out += [f"    {line}" for line in lines]
    return "\n".join(out)
