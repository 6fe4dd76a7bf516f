"""Stop-word and flagged-word lists per language, from maintained packages (no hand-typed lists).

Stop words: ``stopwordsiso`` (the stopwords-iso collection, 58 languages, ISO 639-1 codes).
Flagged words: ``glin-profanity`` (MIT; its bundled dictionaries, 24 languages). Both ship
their lists as package data, so Dataflow workers need nothing but the installed packages.
A language neither package covers gets ``None``: that filter is skipped and recorded.
"""
from __future__ import annotations

import re
from functools import cache

# glin-profanity names its dictionaries by English language name; lid.176 uses ISO codes.
_FLAGGED_NAMES = {
    "ar": "arabic", "zh": "chinese", "cs": "czech", "da": "danish", "nl": "dutch", "en": "english",
    "eo": "esperanto", "fi": "finnish", "fr": "french", "de": "german", "hi": "hindi", "hu": "hungarian",
    "it": "italian", "ja": "japanese", "ko": "korean", "no": "norwegian", "nb": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ru": "russian", "es": "spanish", "sv": "swedish", "th": "thai",
    "tr": "turkish",
}
# Scripts written without spaces between words (Tibetan, Thai, Lao, Myanmar, Khmer, kana, Han), as a
# regex character-class body: the scorers cut their runs into character n-grams, the word lists
# match only multi-character entries in them.
NO_SPACE_CHARS = (r"\u0f00-\u0fff\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
                  r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff")
_NO_SPACE_CHAR = re.compile(f"[{NO_SPACE_CHARS}]")
# lid.176 labels whose stopwords-iso list is filed under another code.
_STOPWORD_ALIASES = {"nb": "no", "nn": "no"}


@cache
def stopwords(lang: str) -> frozenset[str] | None:
    """Lower-cased stop words for a lid.176 language code, or None when no list exists."""
    import stopwordsiso

    code = _STOPWORD_ALIASES.get(lang, lang)
    if not stopwordsiso.has_lang(code):
        return None
    return frozenset(w.lower() for w in stopwordsiso.stopwords(code))


@cache
def flagged_words(lang: str) -> frozenset[str] | None:
    """Lower-cased flagged (obscene/offensive) words for a language, or None when no list exists."""
    name = _FLAGGED_NAMES.get(lang)
    if name is None:
        return None
    from glin_profanity.data.dictionary import DictionaryLoader

    words = DictionaryLoader().get_words(name)
    # A single Han/kana/Thai character (乳, 屌) is a common morpheme in ordinary words: only
    # multi-character entries are matched in scripts written without spaces.
    return frozenset(w.lower() for w in words if len(w) > 1 or not _NO_SPACE_CHAR.match(w)) or None


def coverage() -> dict[str, list[str] | str]:
    """Which languages each list covers, for the manifest."""
    import stopwordsiso

    return {"stopwords": sorted(stopwordsiso.langs() | {a for a, c in _STOPWORD_ALIASES.items()}),
            "stopwords_package": "stopwordsiso", "flagged_words": sorted(_FLAGGED_NAMES),
            "flagged_words_package": "glin-profanity"}
