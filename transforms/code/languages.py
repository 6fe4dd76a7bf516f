"""Programming language of a source file: from its extension and name, with content deciding the
ambiguous cases. One table, ``LANGUAGES``, is the documented list (docs/code.md prints it).

A file's language is stored as ``lang = "code-<name>"`` (``catalog.contract.code_lang``), so the
natural-language codes of lid.176 are untouched and every reader of the lake can tell the two
apart by the prefix.

Rules, first match wins:
1. the file name (``Rakefile``, ``Gemfile``);
2. the extension; ``.h`` is C++ when its text has C++-only constructs (``namespace``, ``template<``,
   ``class X {``, access specifiers, ``std::``, an Emacs ``-*- C++ -*-`` mode line), Objective-C
   when it has ``@interface``/``@protocol``/``#import``, else C; ``.m`` is Objective-C on
   ``@interface``/``@implementation``/``#import``, MATLAB on a ``function`` line or ``%``
   comments, else undecided;
3. for a file without a known extension, an Emacs mode line or Vim modeline in its first lines,
   then its shebang line (``#!/usr/bin/env python3``).
A file none of them decides has no language (``None``): the code reader skips it, counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from catalog.contract import code_lang


@dataclass(frozen=True)
class Language:
    name: str  # the part after "code-" in ``lang``: lower case, no punctuation
    display: str
    extensions: tuple[str, ...] = ()
    filenames: tuple[str, ...] = ()
    interpreters: tuple[str, ...] = ()  # shebang programs, matched without a version suffix
    modes: tuple[str, ...] = ()  # Emacs mode / Vim filetype names, lower case
    roots: bool = True  # one of ROOTS's 13 programming languages


LANGUAGES: tuple[Language, ...] = (
    Language("c", "C", (".c",), modes=("c",)),
    Language("cpp", "C++", (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tcc", ".inl"),
             modes=("c++", "cpp")),
    Language("csharp", "C#", (".cs", ".csx"), modes=("csharp", "cs")),
    Language("go", "Go", (".go",), modes=("go",)),
    Language("java", "Java", (".java",), modes=("java",)),
    Language("javascript", "JavaScript", (".js", ".mjs", ".cjs", ".jsx"), interpreters=("node", "nodejs"),
             modes=("javascript", "js")),
    Language("lua", "Lua", (".lua",), interpreters=("lua", "luajit"), modes=("lua",)),
    Language("php", "PHP", (".php", ".phtml", ".php5"), interpreters=("php",), modes=("php",)),
    Language("python", "Python", (".py", ".pyi", ".pyw"), interpreters=("python", "pypy"),
             modes=("python",)),
    Language("ruby", "Ruby", (".rb", ".rake", ".gemspec", ".ru"), ("Rakefile", "Gemfile", "Guardfile"),
             interpreters=("ruby",), modes=("ruby",)),
    Language("rust", "Rust", (".rs",), modes=("rust",)),
    Language("scala", "Scala", (".scala", ".sc"), interpreters=("scala",), modes=("scala",)),
    Language("typescript", "TypeScript", (".ts", ".tsx", ".mts", ".cts"), interpreters=("ts-node", "deno"),
             modes=("typescript",)),
    Language("objective-c", "Objective-C", (".mm",), modes=("objc", "objective-c"), roots=False),
    Language("matlab", "MATLAB", (), modes=("matlab",), roots=False),
)
BY_NAME = {lang.name: lang for lang in LANGUAGES}
_BY_EXTENSION = {ext: lang.name for lang in LANGUAGES for ext in lang.extensions}
_BY_FILENAME = {name: lang.name for lang in LANGUAGES for name in lang.filenames}
_BY_INTERPRETER = {prog: lang.name for lang in LANGUAGES for prog in lang.interpreters}
_BY_MODE = {mode: lang.name for lang in LANGUAGES for mode in lang.modes}
AMBIGUOUS = (".h", ".m")  # decided by content (``_header_language``, ``_dot_m_language``)
HEAD_CHARS = 16384  # the content rules look at the start of a file only (licence comments run to 2 KB)

_SHEBANG = re.compile(r"#!\s*(\S+)(?:\s+(\S+))?")
_EMACS_MODE = re.compile(r"-\*-\s*(?:mode:\s*)?([\w+#-]+)\s*(?:;[^\n]*)?-\*-", re.IGNORECASE)
_VIM_MODE = re.compile(r"\bvim?:.*\b(?:ft|filetype|syntax)=([\w+#-]+)", re.IGNORECASE)
_CPP_ONLY = re.compile(
    r"^\s*(?:namespace\s+\w+|namespace\s*\{|template\s*<|(?:public|private|protected)\s*:|using\s+namespace\b"
    r"|class\s+\w+(?:\s+final)?\s*(?::[^;{]*)?\{)|\bstd::\w|\bnullptr\b|\bconstexpr\b|\bstatic_cast<",
    re.MULTILINE)
_OBJC = re.compile(r"^\s*(?:@interface|@implementation|@protocol|#import\b)", re.MULTILINE)
_MATLAB = re.compile(r"^\s*(?:function\b.*=|function\s+\w+\s*\(|%)", re.MULTILINE)
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_DIRECTIVE = re.compile(r"\s*#\s*(\w+)")
_CPLUSPLUS_ONLY = re.compile(r"\s*#\s*(?:ifdef\s+__cplusplus\b|if\s+(?:defined\s*\(?\s*)?__cplusplus\b)")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def _mode_line(head: str) -> str | None:
    """The language an Emacs mode line or Vim modeline in the first lines names, if it is in the table."""
    first_lines = "\n".join(head.split("\n", 5)[:5])
    for pattern in (_EMACS_MODE, _VIM_MODE):
        m = pattern.search(first_lines)
        if m and m.group(1).lower() in _BY_MODE:
            return _BY_MODE[m.group(1).lower()]
    return None


def _shebang_language(head: str) -> str | None:
    """``#!/usr/bin/python3``, ``#!/usr/bin/env node``: the interpreter, version suffix dropped."""
    m = _SHEBANG.match(head)
    if not m:
        return None
    prog = PurePosixPath(m.group(1)).name
    if prog == "env" and m.group(2):
        prog = m.group(2)
    return _BY_INTERPRETER.get(_VERSION_SUFFIX.sub("", prog) or prog)


def without_cplusplus_blocks(text: str) -> str:
    """C text without comments and without what only a C++ compiler sees (``#ifdef __cplusplus``
    blocks, up to their ``#else``/``#endif``): a C header's C++ guards do not make it C++."""
    text = _COMMENTS.sub(" ", text)
    kept, depth, skipping = [], 0, 0  # skipping: the depth whose block is C++-only (0: none)
    for line in text.split("\n"):
        directive = _DIRECTIVE.match(line)
        word = directive.group(1) if directive else ""
        if word.startswith("if"):
            depth += 1
            if not skipping and _CPLUSPLUS_ONLY.match(line):
                skipping = depth
            continue
        if word in ("else", "elif") and skipping == depth:
            skipping = 0
            continue
        if word == "endif":
            skipping = 0 if skipping == depth else skipping
            depth = max(depth - 1, 0)
            continue
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def _header_language(head: str) -> str:
    mode = _mode_line(head)
    if mode is not None and mode in ("c", "cpp", "objective-c"):
        return mode
    if _OBJC.search(head):
        return "objective-c"
    return "cpp" if _CPP_ONLY.search(without_cplusplus_blocks(head)) else "c"


def _dot_m_language(head: str) -> str | None:
    if _OBJC.search(head):
        return "objective-c"
    return "matlab" if _MATLAB.search(head) else None


def detect(path: str, text: str) -> tuple[str, str] | None:
    """(language name, the rule that decided it) of one file, or None when nothing decides."""
    name = PurePosixPath(path).name
    if name in _BY_FILENAME:
        return _BY_FILENAME[name], "filename"
    suffix = PurePosixPath(name).suffix.lower()
    head = text[:HEAD_CHARS]
    if suffix == ".h":
        return _header_language(head), "content:.h"
    if suffix == ".m":
        found = _dot_m_language(head)
        return (found, "content:.m") if found else None
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix], "extension"
    if suffix and suffix[1:].isalpha() and len(suffix) <= 5:
        return None  # a known kind of file that is not code of the table (.md, .txt, .json)
    mode = _mode_line(head)
    if mode:
        return mode, "modeline"
    shebang = _shebang_language(head)
    return (shebang, "shebang") if shebang else None


def detect_lang(path: str, text: str) -> str | None:
    """``detect`` as the document's ``lang`` value (``code-python``), or None."""
    found = detect(path, text)
    return code_lang(found[0]) if found else None


def table_markdown() -> str:
    """The table as docs/code.md shows it."""
    rows = ["| `lang` | language | extensions | file names, shebang programs | ROOTS |", "|---|---|---|---|---|"]
    for lang in LANGUAGES:
        exts = " ".join(lang.extensions) + (" .h (content)" if lang.name in ("c", "cpp", "objective-c") else "")
        exts += " .m (content)" if lang.name in ("objective-c", "matlab") else ""
        rows.append(f"| `{code_lang(lang.name)}` | {lang.display} | {exts.strip()} | "
                    f"{' '.join(lang.filenames + lang.interpreters)} | {'yes' if lang.roots else ''} |")
    return "\n".join(rows)
