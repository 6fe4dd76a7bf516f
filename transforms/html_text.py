"""Markup to text: HTML pages and RSS/Atom feeds become their readable text.

Parsing is selectolax's Lexbor engine (a maintained HTML5 parser that, like a browser, never
rejects a page), not regular expressions. Scripts, styles and the document head are dropped;
block elements end a line so that paragraphs stay apart. Feeds often carry their items' HTML
entity-escaped or in CDATA sections, so after one pass whatever still looks like markup is
parsed once more.
"""
from __future__ import annotations

import re

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_SNIFF_CHARS = 2048
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.I)
_FEED_START = re.compile(r"<rss[\s>]|<feed[\s>]|<rdf:rdf[\s>]", re.I)
_DROP = "script, style, noscript, template, head, svg"
_BLOCKS = ("p, div, br, li, ul, ol, dl, dt, dd, h1, h2, h3, h4, h5, h6, tr, table, pre, blockquote, section, "
           "article, header, footer, nav, aside, title, item, entry, description, summary, content")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_TAG_LIKE = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


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
