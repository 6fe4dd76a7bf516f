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


def _is_boilerplate(node: Any) -> bool:
    if node.tag in ("header", "footer"):
        parent = node.parent
        while parent is not None:
            if parent.tag in ("article", "main"):
                return False  # the article's own header (its title) or footer
            parent = parent.parent
        return True
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

    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP):
        node.decompose()
    marked = [node for node in tree.css(_CANDIDATES)
              if node.tag not in ("html", "body", "main", "article") and _is_boilerplate(node)
              and node.css_first("main, article") is None]
    ids = {node.mem_id for node in marked}
    for node in marked:  # outermost only: a removed element takes its descendants with it
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            node.decompose()
    for node in tree.css(_BLOCKS):
        node.insert_after("\n")
    root = tree.body or tree.root
    text = _tidy(root.text(deep=True, separator="", strip=False)) if root is not None else ""
    return text or markup_to_text(markup, "html")


def page_text(text: str, kind: str, extract: str = "full") -> str:
    """The text of a page of ``kind`` (``markup_kind``); HTML keeps only its main content when
    ``extract == "main"``. Feeds always keep every item, which are all content."""
    return main_text(text) if kind == "html" and extract == "main" else markup_to_text(text, kind)
