"""docs/performance.md from benchmarks/results/*.json: one table per section, every row with its
command, baseline, date, machine and commit.

    python -m benchmarks.render            # rewrite docs/performance.md
    python -m benchmarks.render --check    # exit 1 when docs/performance.md is not what the results give (make lint)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks.results import REPO, RESULTS_DIR, load_results

PAGE = REPO / "docs" / "performance.md"
# Sections in reading order: the pipeline's parts first, then the lake, then training. A section
# no list names comes after these, alphabetically.
SECTIONS = ("End to end", "Pipeline throughput", "Language identification", "Quality filters and PII",
            "Deduplication", "Readers", "Catalog and integrity", "Training")
HEADER = """# Performance and quality

Measured figures, each a ratio against (or beside) a baseline measured in the same command, since
the machines are shared and noisy. Every row names the command that produced it, the date, the
machine (with its 5-minute load average when the result was recorded: on a 2-core machine a load
above 2 means the benchmark shared the cores) and the commit it ran on (`+dirty`: the tree had
uncommitted changes). Figures marked
*transcribed* come from the documentation's text rather than from a file a benchmark wrote; their
date and commit are those of the git commit that recorded them, and the notes under each table say
which.

This page is generated: `python -m benchmarks.render` writes it from `benchmarks/results/*.json`,
which each benchmark writes with `--record` (`benchmarks/results.py`); `make lint` fails when it is
out of date. What the figures mean, and the design choices they explain, are in the topic pages
([pipeline.md](pipeline.md), [langid.md](langid.md), [filters.md](filters.md), [dedup.md](dedup.md),
[lake.md](lake.md), [training.md](training.md)).
"""


def machine_text(result: dict[str, Any]) -> str:
    """The accelerator when one ran it, else the CPU machine: cores, model, memory."""
    if result.get("device"):
        return str(result["device"])
    m = result.get("machine") or {}
    memory = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    load = f", load {m['load_average'][1]:g}" if m.get("load_average") else ""  # the 5-minute average
    return f"{m.get('cores', '?')}-core {m.get('cpu', '?')}{memory}{load}"


def commit_text(result: dict[str, Any]) -> str:
    source = result.get("transcribed_from")
    commit = str(result.get("commit", "unknown"))
    return f"{commit} (transcribed)" if source else commit


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _section_key(section: str) -> tuple[int, str]:
    return (SECTIONS.index(section) if section in SECTIONS else len(SECTIONS), section)


def render(results: list[dict[str, Any]]) -> str:
    """The whole page; the same results give the same bytes."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        sections.setdefault(result["section"], []).append(result)
    out = [HEADER]
    for section in sorted(sections, key=_section_key):
        out += [f"## {section}", "", "| what | command | result | baseline | date | machine | commit |",
                "|---|---|---|---|---|---|---|"]
        for result in sorted(sections[section], key=lambda r: r["benchmark"]):
            for row in result["rows"]:
                command = row.get("command", result["command"])
                cells = [row["what"], f"`{command}`", row["result"], row["baseline"], result["date"][:10],
                         machine_text(result), commit_text(result)]
                out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        notes = [f"- `{r['benchmark']}`: transcribed from {t.get('file', 'the docs')} of commit {t['commit'][:12]}"
                 + (f": {t['note']}" if t.get("note") else "")
                 for r in sorted(sections[section], key=lambda r: r["benchmark"]) if (t := r.get("transcribed_from"))]
        out += ["", *notes, ""] if notes else [""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/performance.md is out of date")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="results folder (default benchmarks/results)")
    parser.add_argument("--out", type=Path, default=PAGE, help="the page (default docs/performance.md)")
    args = parser.parse_args(argv)
    page = render(load_results(args.results))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != page:
            print(f"{args.out} is out of date with {args.results}: run python -m benchmarks.render", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
