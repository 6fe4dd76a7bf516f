"""Markup to text: HTML pages and RSS/Atom feeds become their readable text.

Parsing is selectolax's Lexbor engine (a maintained HTML5 parser that, like a browser, never
rejects a page), not regular expressions. Scripts, styles and the document head are dropped;
block elements end a line so that paragraphs stay apart. Feeds often carry their items' HTML
entity-escaped or in CDATA sections, so after one pass whatever still looks like markup is
parsed once more.

Web pages can instead keep only their main content (``extract="main"``: navigation, menus, site
headers and footers out), by rules on the same parse tree, as readability-style extractors do:
HTML5's ``nav``/``aside``/``form``, ARIA landmarks that are not content, a site-wide ``header`` or
``footer`` (one inside an ``article``/``main`` is the article's own and stays), elements whose
class or id names navigation, menus, breadcrumbs, sidebars, cookie and sharing bars, and lists or
tables that are almost only links. An element holding an ``article`` or ``main`` is never removed,
and a page the rules would empty keeps all its text. ``python -m benchmarks.warc_bench`` compared
them with resiliparse's and trafilatura's extractors on real pages (docs/pipeline.md).

Nesting: an HTML5 parser's work grows with the depth of the open elements at each tag (scope
checks walk that stack), so a page of 200,000 unclosed ``<div>`` takes minutes. Before parsing,
``markup_depth`` estimates the deepest nesting in one linear pass over the tags (closing tags pop
to their opening tag; void elements and elements the parser closes by itself, ``p``, ``li``,
``td``..., do not nest); a page deeper than ``MAX_MARKUP_DEPTH`` raises ``MarkupTooDeep``, which
the readers quarantine as ``markup_too_deep``. The deepest of the 457 real pages and feeds of the
messy corpus is 64; Blink caps its tree at 512. The main-content rules walk up the tree with
memoised answers, so their work is linear too.
"""
from __future__ import annotations

import re
from typing import Any

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
EXTRACT_MODES = ("main", "full")
_SNIFF_CHARS = 2048
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.I)
_FEED_START = re.compile(r"<rss[\s>]|<feed[\s>]|<rdf:rdf[\s>]", re.I)
_DROP = "script, style, noscript, template, head, svg"
_BLOCKS = ("p, div, br, li, ul, ol, dl, dt, dd, h1, h2, h3, h4, h5, h6, tr, table, pre, blockquote, section, "
           "article, header, footer, nav, aside, title, item, entry, description, summary, content")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_TAG_LIKE = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
# Main content: what is not content, by tag, ARIA role, or class/id name.
_LANDMARK_TAGS = ("nav", "aside", "form")
_LANDMARK_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar")
_BOILERPLATE_NAME = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|nav(?:header|footer|bar|links|menu)|menu|menus|menubar|submenu|footer|"
    r"breadcrumbs?|sidebar|cookies?|cookie-?banner|share|sharing|social|skip-?link|pagination|pager|widgets?)"
    r"(?:$|[\s_-])", re.I)
_CANDIDATES = "header, footer, nav, aside, form, ul, ol, table, menu, [role], [class], [id]"
_MENU_MIN_LINKS = 4  # a list or table of at least this many links...
_MENU_LINK_SHARE = 0.9  # ...whose text is nearly all link text is a menu
MAX_MARKUP_DEPTH = 256
_TAG_TOKEN = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style|textarea|title|xmp|iframe|noembed|noframes|plaintext)\b"
                        r".*?(?:</\1\s*>|\Z)|<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})", re.S | re.I)
_NO_DEPTH = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                       "track", "wbr", "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "rb",
                       "rt", "rp", "rtc", "thead", "tbody", "tfoot", "colgroup", "caption", "html", "head", "body",
                       "a"))


class MarkupTooDeep(ValueError):
    """A page nested deeper than ``MAX_MARKUP_DEPTH``; ``details`` go into its quarantine row."""

    def __init__(self, depth: int):
        super().__init__(f"markup nested {depth} deep (at most {MAX_MARKUP_DEPTH})")
        self.details = {"depth": depth, "max_depth": MAX_MARKUP_DEPTH}


def markup_depth(markup: str, stop_at: int | None = None) -> int:
    """The deepest element nesting of ``markup`` as an HTML5 parser would build it, estimated in
    one pass (see the module docstring); stops counting once past ``stop_at``."""
    stack: list[str] = []
    open_count: dict[str, int] = {}
    deepest = 0
    for m in _TAG_TOKEN.finditer(markup):
        name = m.group(3)
        if name is None:
            continue
        name = name.lower()
        if name in _NO_DEPTH:
            continue
        if not m.group(2):
            stack.append(name)
            open_count[name] = open_count.get(name, 0) + 1
            if len(stack) > deepest:
                deepest = len(stack)
                if stop_at is not None and deepest > stop_at:
                    return deepest
        elif open_count.get(name):
            while True:
                top = stack.pop()
                open_count[top] -= 1
                if top == name:
                    break
    return deepest


def check_depth(markup: str) -> None:
    """Raise ``MarkupTooDeep`` for a page the parser could not take in linear time. A page with
    fewer tags than the limit is not scanned."""
    if markup.count("<") > MAX_MARKUP_DEPTH:
        depth = markup_depth(markup, MAX_MARKUP_DEPTH)
        if depth > MAX_MARKUP_DEPTH:
            raise MarkupTooDeep(depth)


def markup_kind(text: str, path: str = "") -> str | None:
    """``"html"``, ``"feed"`` or ``None`` (plain text), from the extension and the first bytes."""
    head = text[:_SNIFF_CHARS].lstrip("\ufeff \t\r\n")
    if _FEED_START.search(head):
        return "feed"
    if path.lower().endswith(HTML_SUFFIXES) or _HTML_START.search(head):
        return "html"
    return None


def _extract(markup: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    check_depth(markup)
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP):
        node.decompose()
    for node in tree.css(_BLOCKS):
        node.insert_after("\n")
    root = tree.body or tree.root
    return root.text(deep=True, separator="", strip=False) if root is not None else ""


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def markup_to_text(text: str, kind: str) -> str:
    """The readable text of an HTML page (``kind="html"``) or a feed (``kind="feed"``)."""
    if kind == "feed":
        text = _extract(text.replace("<![CDATA[", "").replace("]]>", ""))
        if _TAG_LIKE.search(text):  # entity-escaped item HTML
            text = _extract(text)
        return _tidy(text)
    return _tidy(_extract(text))


def _has_ancestor(node: Any, test: Any, memo: dict[int, bool]) -> bool:
    """Whether an ancestor of ``node`` passes ``test``; ``memo`` keeps the answer for every node
    walked through, so that walks over a whole tree take linear time."""
    path, parent, found = [], node.parent, False
    while parent is not None:
        key = parent.mem_id
        if key in memo:
            found = memo[key]
            break
        if test(parent):
            found = True
            break
        path.append(key)
        parent = parent.parent
    for key in path:
        memo[key] = found
    return found


def _is_boilerplate(node: Any, in_article: dict[int, bool]) -> bool:
    if node.tag in ("header", "footer"):
        # the article's own header (its title) or footer stays
        return not _has_ancestor(node, lambda n: n.tag in ("article", "main"), in_article)
    name = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
    if node.tag in _LANDMARK_TAGS or node.attributes.get("role") in _LANDMARK_ROLES or _BOILERPLATE_NAME.search(name):
        return True
    if node.tag in ("ul", "ol", "table", "menu"):
        links = node.css("a")
        if len(links) >= _MENU_MIN_LINKS:
            text = len("".join(node.text(deep=True).split()))
            return sum(len("".join(a.text(deep=True).split())) for a in links) >= _MENU_LINK_SHARE * text
    return False


def main_text(markup: str) -> str:
    """The main content of an HTML page, without navigation, menus, site headers and footers."""
    from selectolax.lexbor import LexborHTMLParser

    check_depth(markup)
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP):
        node.decompose()
    in_article: dict[int, bool] = {}
    marked = [node for node in tree.css(_CANDIDATES)
              if node.tag not in ("html", "body", "main", "article") and _is_boilerplate(node, in_article)
              and node.css_first("main, article") is None]
    ids = {node.mem_id for node in marked}
    under_marked: dict[int, bool] = {}
    outermost = [node for node in marked if not _has_ancestor(node, lambda n: n.mem_id in ids, under_marked)]
    for node in outermost:  # a removed element takes its descendants with it
        node.decompose()
    for node in tree.css(_BLOCKS):
        node.insert_after("\n")
    root = tree.body or tree.root
    text = _tidy(root.text(deep=True, separator="", strip=False)) if root is not None else ""
    return text or markup_to_text(markup, "html")


def page_text(text: str, kind: str, extract: str = "full") -> str:
    """The text of a page of ``kind`` (``markup_kind``); HTML keeps only its main content when
    ``extract == "main"``. Feeds always keep every item, which are all content. ``MarkupTooDeep``
    for a page nested too deep to parse in linear time."""
    return main_text(text) if kind == "html" and extract == "main" else markup_to_text(text, kind)
