import unicodedata

from transforms.normalize import normalize_document, normalize_text


def test_nfc_and_line_ends():
    decomposed = "Cafe\u0301\r\nline two\rline three"
    out = normalize_text(decomposed)
    assert out == "Café\nline two\nline three"
    assert unicodedata.is_normalized("NFC", out)


def test_control_characters_removed_but_tabs_and_newlines_kept():
    assert normalize_text("a\x00b\x07c\tz\u200b\ufeff\nnext") == "abc\tz\nnext"


def test_blank_lines_and_trailing_spaces_collapse():
    assert normalize_text("  para one   \n\n\n\n\npara two \u3000\n") == "para one\n\npara two"


def test_inner_spacing_is_preserved():
    # man pages and code align columns with runs of spaces: keep them
    assert normalize_text("NAME\n       getent - get entries") == "NAME\n       getent - get entries"


def test_empty_document_goes_to_quarantine():
    doc = {"id": "x", "uid": "u", "text": " \n\t\x00 ", "source": "s", "lang": "und", "meta": {}}
    tag, row = normalize_document(doc)
    assert tag == "removed"
    assert (row["stage"], row["reason"], row["id"]) == ("quarantine", "empty_document", "x")


def _plain_normal_form(text):
    """``normalize_text`` as its plain chain of substitutions, without the shortcuts."""
    import re
    import unicodedata

    from transforms import normalize

    text = re.sub(r"[\ud800-\udfff]", "\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    text = normalize._CONTROL.sub("", normalize._ANSI_ESCAPE.sub("", text))
    text = unicodedata.normalize("NFC", text)
    text = normalize._TRAILING_SPACE.sub("\n", text + "\n")
    return normalize._BLANK_LINES.sub("\n\n", text).strip()


def test_shortcuts_change_nothing():
    from tests.conftest import shared_sample
    from tests.test_scorer_equivalence import EDGE_CASES, _pii_fuzz
    from transforms.normalize import normalize_text

    texts = EDGE_CASES + ["a \n\n\n b\t\n", "x\u3000\ny", "\n\n\n", " \n", "a\u00a0\n\n\n\nb  ", "\r\n\r\n\r\n x \r"]
    texts += [t.replace("ab", " \n").replace("x", "\n\n") for t in _pii_fuzz(500, seed=1)]
    texts += [d["text"] for d in shared_sample(5)]
    for text in texts:
        assert normalize_text(text) == _plain_normal_form(text), repr(text[:80])
