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
