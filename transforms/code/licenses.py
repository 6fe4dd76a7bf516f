"""Licences of source files: SPDX identifiers in a file's header, and LICENSE/COPYING texts.

Two maintained libraries do the recognising, so that this module holds no licence texts of its own:
- ``license-expression`` (AboutCode, the SPDX licence list with its aliases) parses and normalises
  ``SPDX-License-Identifier:`` expressions: ``GPL-2.0+`` -> ``GPL-2.0-or-later``, ``mit`` -> ``MIT``;
  an expression it does not know is kept as ``LicenseRef-unknown``, never guessed;
- ``identify`` (pre-commit's file identification) names the licence of a LICENSE text: exact match
  after normalising whitespace and the copyright line, else the closest of choosealicense.com's
  texts within 5 % edit distance (``ukkonen``), else nothing.

A file's licence is, first found wins: its own SPDX line (in the first ``HEADER_LINES`` lines), its
repository's licence files, the source's declared ``license``. Several licence files in one
repository (``LICENSE-MIT`` and ``LICENSE-APACHE``) are joined with ``AND``: the repository does not
say which one a user may pick, so an allow-list must accept them all.
"""
from __future__ import annotations

import os
import re
import tempfile
from functools import cache
from pathlib import PurePosixPath
from typing import Any

UNKNOWN = "unknown"
UNRECOGNISED = "LicenseRef-unknown"  # an SPDX line or licence file that names no licence we know
HEADER_LINES = 30
_SPDX_LINE = re.compile(r"SPDX-License-Identifier:\s*([^\n*]+?)\s*(?:\*/|-->|#}|$)", re.MULTILINE)
LICENSE_STEMS = ("license", "licence", "copying", "unlicense")
LICENSE_SUFFIXES = ("txt", "md", "rst", "markdown", "lib", "lesser")
LICENSE_FILE_BYTES = 256 << 10  # a LICENSE file larger than this is no licence text


def is_license_file(path: str) -> bool:
    """LICENSE, LICENCE.txt, COPYING, COPYING.LIB, LICENSE-MIT, license.md ... (the name, any
    directory); not a source file that happens to be called so (``License.java``, ``license.py``)."""
    name = PurePosixPath(path).name.lower()
    stem, dot, suffix = name.partition(".")
    if dot and suffix not in LICENSE_SUFFIXES:
        return False
    return any(stem == s or stem.startswith(s + "-") or stem.startswith(s + "_") for s in LICENSE_STEMS)


@cache
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@cache
def normalise(expression: str) -> str:
    """An SPDX expression in its canonical spelling, or ``UNRECOGNISED`` when it names unknown keys."""
    try:
        return str(_licensing().parse(expression, validate=True).render())
    except Exception:  # ExpressionError, ParseError: an unknown key or a malformed expression
        return UNRECOGNISED


def spdx_identifier(text: str) -> str | None:
    """The normalised ``SPDX-License-Identifier`` of a file's first ``HEADER_LINES`` lines, if any."""
    head = "\n".join(text.split("\n", HEADER_LINES)[:HEADER_LINES])
    if "SPDX-License-Identifier" not in head:
        return None
    m = _SPDX_LINE.search(head)
    return normalise(m.group(1).strip("() \t")) if m else None


def license_of_text(text: str) -> str:
    """The SPDX id of one licence file's text (``identify.license_id``), or ``UNRECOGNISED``."""
    from identify.identify import license_id

    spdx = spdx_identifier(text)
    if spdx:
        return spdx
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(text)  # license_id reads a file by name
    try:
        found = license_id(f.name)
    finally:
        os.unlink(f.name)
    return normalise(found) if found else UNRECOGNISED


def combine(licenses: list[str]) -> str | None:
    """Several licence files' licences as one expression (``AND``, sorted, duplicates once)."""
    found = sorted(set(licenses))
    if not found:
        return None
    return found[0] if len(found) == 1 else " AND ".join(f"({x})" if " " in x else x for x in found)


def allowed(expression: str, allow: frozenset[str]) -> bool:
    """Whether an expression is usable under an allow-list of SPDX ids: an ``OR`` needs one allowed
    side, an ``AND`` all of them, ``X WITH exception`` needs ``X``; unknown licences never pass
    unless the list holds ``unknown`` (or ``LicenseRef-unknown``) itself."""
    if expression in allow:
        return True
    if expression in (UNKNOWN, UNRECOGNISED):
        return False
    try:
        parsed = _licensing().parse(expression, validate=True)
    except Exception:
        return False
    licensing = _licensing()

    def ok(node: Any) -> bool:
        if isinstance(node, licensing.OR):
            return any(ok(a) for a in node.args)
        if isinstance(node, licensing.AND):
            return all(ok(a) for a in node.args)
        symbol = getattr(node, "license_symbol", node)  # X WITH exception
        return str(symbol.key) in allow

    return ok(parsed)


def normalise_allow_list(names: list[str]) -> frozenset[str]:
    """A source's ``licenses:`` as canonical SPDX ids; ``unknown`` stays as it is."""
    return frozenset(n if n in (UNKNOWN, UNRECOGNISED) else normalise(n) for n in names)
