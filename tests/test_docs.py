"""README.md and docs/*.md: every relative link resolves (file and #anchor), and every command they
show in a code block exists: ``python -m X`` answers ``X --help`` (and ``python -m catalog SUB``
answers ``SUB --help``), ``make T`` names a target of the Makefile.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# python -m X, python3 -m X, .venv/bin/python -m X, and the launchers' -m X / --module X
MODULE = re.compile(r"(?:\bpython3?|/python|\btorchrun\b.*?|\bdeepspeed\b.*?)\s+(?:-m|--module)\s+"
                    r"([A-Za-z_][\w.]*)(.*)")
MAKE = re.compile(r"^\s*make\s+([\w-]+)")


def _prose(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _code_lines(text: str) -> list[str]:
    return [line for block in FENCE.findall(text) for line in block.splitlines()[1:-1]]


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "").lower()
        slug = "".join(c for c in title if c in " -_" or unicodedata.category(c)[0] in "LN").replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            rel, _, anchor = target.partition("#")
            dest = (page.parent / rel).resolve() if rel else page
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def shown_commands() -> tuple[set[tuple[str, ...]], set[str]]:
    """(``python -m`` invocations to ask for --help: (module,) or (module, subcommand)), make targets."""
    modules, targets = set(), set()
    for page in PAGES:
        for line in _code_lines(page.read_text(encoding="utf-8")):
            if (m := MODULE.search(line)) is not None:
                module, rest = m.group(1), m.group(2).split()
                if module == "catalog" and rest and not rest[0].startswith("-"):
                    modules.add((module, rest[0]))
                else:
                    modules.add((module,))
            if (t := MAKE.match(line)) is not None:
                targets.add(t.group(1))
    return modules, targets


def test_the_docs_show_the_everyday_commands():
    modules, targets = shown_commands()
    assert {("pipelines.curate",), ("catalog", "verify"), ("catalog", "export"), ("model.tokenizer",),
            ("model.train",), ("pipelines.dag",), ("benchmarks.render",)} <= modules
    assert {"run", "test", "lint"} <= targets


def test_every_make_target_shown_exists():
    _, targets = shown_commands()
    defined = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))
    assert targets <= defined, f"not in the Makefile: {sorted(targets - defined)}"


def _help(invocation: tuple[str, ...]) -> tuple[tuple[str, ...], int, str]:
    proc = subprocess.run([sys.executable, "-m", *invocation, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "DS_ACCELERATOR": "cpu"})
    out = proc.stdout + proc.stderr
    return invocation, proc.returncode if "usage" in out.lower() else -1, out[-800:]


def test_every_python_command_shown_answers_help():
    modules, _ = shown_commands()
    with ThreadPoolExecutor(max_workers=2) as pool:  # a shared 2-core machine
        results = list(pool.map(_help, sorted(modules)))
    failed = [f"python -m {' '.join(inv)} --help: exit {rc} (-1: no usage line)\n{out}" for inv, rc, out in results
              if rc != 0]
    assert not failed, "\n\n".join(failed)
