"""Benchmark results as data: one JSON file per benchmark (and variant) under ``benchmarks/results/``.

A benchmark calls ``record`` with its figures and the rows it wants in docs/performance.md; the file
carries the command that produced it, the options, the date, the machine and the commit, so no
figure in the docs is without its conditions. ``python -m benchmarks.render`` turns the files into
docs/performance.md.

    from benchmarks.results import add_record_argument, record
    parser = argparse.ArgumentParser(...); add_record_argument(parser)
    ...
    if args.record:
        record("e2e_bench", section="End to end", figures={"ratio": 1.62, ...},
               rows=[{"what": "...", "result": "1.62x", "baseline": "naive script 10.4 s"}], options=vars(args))
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Where ``record`` writes; ``CURATION_RESULTS`` points a trial run (or a test) elsewhere.
RESULTS_DIR = Path(os.environ.get("CURATION_RESULTS", REPO / "benchmarks" / "results"))
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def add_record_argument(parser: argparse.ArgumentParser) -> None:
    """``--record``: also write the result to benchmarks/results/ (off by default: a quick try leaves no trace)."""
    parser.add_argument("--record", action="store_true",
                        help="write the result to benchmarks/results/<name>.json for docs/performance.md")


def machine() -> dict[str, Any]:
    """What ran it: CPU model, cores, memory, OS, Python, and the load average when it was recorded."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}  # 1, 5, 15 min: how busy the machine was


def commit() -> str:
    """The commit the benchmark ran on, ``+dirty`` when the tree had changes (then the figure is not reproducible)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/results"], cwd=REPO,  # results written earlier in a run
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def command_line() -> str:
    """The command as a user types it: ``python -m benchmarks.x --flag`` rather than the script's path."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    head = ["python", "-m", spec.name] if spec is not None and spec.name else ["python", sys.argv[0]]
    return shlex.join(head + [a for a in sys.argv[1:] if a != "--record"])


def record(name: str, *, section: str, rows: list[dict[str, str]], figures: dict[str, Any],
           options: dict[str, Any] | None = None, device: str | None = None,
           results_dir: Path = RESULTS_DIR, command: str | None = None) -> Path:
    """Write ``results_dir/<name>.json``; returns its path.

    ``rows`` are the lines of docs/performance.md's table for ``section``: each a dict with
    ``what``, ``result`` and ``baseline`` (the baseline measured in the same command). ``figures``
    holds the raw numbers. ``device`` names an accelerator when one ran it (else the CPU machine).
    ``command`` replaces the command line of this process (for a benchmark run from a shell script).
    A row may carry its own ``command`` when it comes from another invocation than the file's.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"result name {name!r}: lowercase letters, digits, '_', '.', '-'")
    for row in rows:
        missing = {"what", "result", "baseline"} - set(row)
        if missing:
            raise ValueError(f"result row {row!r} lacks {sorted(missing)}")
    result = {
        "benchmark": name, "section": section, "command": command or command_line(),
        "options": {k: v for k, v in sorted((options or {}).items()) if k != "record"},
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": machine(), "device": device, "commit": commit(), "figures": figures, "rows": rows,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)
    print(f"recorded: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=sys.stderr)
    return path


def load_results(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every recorded result, by section then name."""
    results = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    return sorted(results, key=lambda r: (r["section"], r["benchmark"]))
