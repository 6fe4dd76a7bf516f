"""Dominant Unicode script of a text, and which scripts each language-id label is written in.

fastText lid.176 calls Han-only Chinese (classical poems especially) Japanese; a letter count
never would. So the script is computed independently and used as a constraint on the model's
candidates. Scripts are ISO 15924 codes; ``Jpan`` is Han mixed with kana, ``Zyyy`` "no letters".
"""
from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np

NO_SCRIPT = "Zyyy"
_KANA = "Kana"
_HAN = "Hani"
_KANA_SHARE_FOR_JAPANESE = 0.05  # Japanese prose runs ~30-40% kana; Chinese has none
_CJK_WEIGHT = 3  # letters per Han/kana/Hangul character, so a Chinese page quoting English stays Han
MIN_SHARE = 0.05  # a label is ruled out only when its scripts are (nearly) absent from the text

# First word of a letter's Unicode name -> ISO 15924 code.
_NAME_PREFIX = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARABIC": "Arab", "HEBREW": "Hebr",
    "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru", "GUJARATI": "Gujr", "ORIYA": "Orya",
    "TAMIL": "Taml", "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh",
    "THAI": "Thai", "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr", "GEORGIAN": "Geor",
    "ARMENIAN": "Armn", "ETHIOPIC": "Ethi", "KHMER": "Khmr", "THAANA": "Thaa", "HANGUL": "Hang",
    "CJK": _HAN, "HIRAGANA": _KANA, "KATAKANA": _KANA, "SYRIAC": "Syrc", "MONGOLIAN": "Mong",
}

# Labels of non-Latin-script languages (lid.176 codes), by script; every other label is Latin-only.
# Languages with a living second script list both.
_SCRIPT_LANGS = {
    "Cyrl": "ru uk be bg mk sr kk ky tg tt ba cv ce os sah mn mhr mrj myv kv krc av lez bxr xal tyv rue "
            "uz az tk sh bs",
    "Grek": "el", "Hebr": "he yi", "Armn": "hy", "Geor": "ka xmf", "Ethi": "am",
    "Arab": "ar arz fa ur ps ckb azb pnb sd ug mzn lrc ku ms ks glk",
    "Deva": "hi mr ne sa mai bh new gom dty hif", "Beng": "bn as bpy", "Guru": "pa", "Gujr": "gu",
    "Orya": "or", "Taml": "ta", "Telu": "te", "Knda": "kn", "Mlym": "ml", "Sinh": "si", "Thai": "th",
    "Laoo": "lo", "Tibt": "bo", "Mymr": "my", "Khmr": "km", "Thaa": "dv", "Hang": "ko",
    "Hani": "zh yue wuu", "Jpan": "ja", "Mong": "mn",
}
_ALSO_LATIN = set("sr uz az tk sh bs ku ms ug hif tt ba".split())
LANG_SCRIPTS: dict[str, frozenset[str]] = {}
for _script, _langs in _SCRIPT_LANGS.items():
    for _lang in _langs.split():
        LANG_SCRIPTS[_lang] = LANG_SCRIPTS.get(_lang, frozenset()) | {_script}
for _lang in _ALSO_LATIN:
    LANG_SCRIPTS[_lang] |= {"Latn"}


def scripts_of(lang: str) -> frozenset[str]:
    """Scripts a label is written in (Latin for every label not listed as non-Latin)."""
    return LANG_SCRIPTS.get(lang, frozenset({"Latn"}))


_SCRIPTS = sorted(set(_NAME_PREFIX.values()))
_TABLE_SIZE = 0x30000  # BMP and the supplementary ideographic planes
_SAMPLE_CHARS = 1000  # longer texts are counted on an evenly strided sample of about this many


@functools.cache
def _table() -> np.ndarray:
    """Code point -> 1 + index of its script in ``_SCRIPTS`` (0 for non-letters and other scripts)."""
    table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
    ids = {code: i + 1 for i, code in enumerate(_SCRIPTS)}
    for cp in range(_TABLE_SIZE):
        ch = chr(cp)
        if unicodedata.category(ch)[0] == "L":
            table[cp] = ids.get(_NAME_PREFIX.get(unicodedata.name(ch, "").split(" ", 1)[0], ""), 0)
    return table


_COLUMNS = _SCRIPTS + ["Jpan"]
SCRIPTS = tuple(_COLUMNS) + (NO_SCRIPT,)  # every dominant script ``script_shares`` can give
_COL = {script: i for i, script in enumerate(_COLUMNS)}


def script_shares(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """Per text, the share of its letters in each script (a row over the columns ``_COLUMNS``) and
    the dominant script, for a whole batch in one vectorised pass. A Han, kana or Hangul character
    weighs as much as a short word's letters (``_CJK_WEIGHT``); Han with enough kana counts as
    ``Jpan``. The shares stay one array: most documents never read their row."""
    if not texts:
        return np.zeros((0, len(_COLUMNS))), []
    texts = [t if len(t) < _SAMPLE_CHARS else t[::len(t) // _SAMPLE_CHARS + 1] for t in texts]
    width = len(_COLUMNS) + 1
    flat = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    keys = np.repeat(np.arange(0, len(texts) * width, width, dtype=np.intp), list(map(len, texts)))
    if len(flat) and flat.max() >= _TABLE_SIZE:  # rare: letters beyond the table count as no script
        inside = flat < _TABLE_SIZE
        keys[inside] += _table()[flat[inside]]
    else:
        keys += _table()[flat]
    counts = np.bincount(keys, minlength=len(texts) * width)
    counts = counts.reshape(len(texts), width)[:, 1:].astype(np.float64)
    han, kana = counts[:, _COL[_HAN]], counts[:, _COL[_KANA]]
    cjk = _CJK_WEIGHT * (han + kana)
    japanese = kana >= _KANA_SHARE_FOR_JAPANESE * (han + kana)
    counts[:, _COL["Jpan"]] = np.where(japanese, cjk, 0.0)
    counts[:, _COL[_HAN]] = np.where(japanese, 0.0, cjk)
    counts[:, _COL[_KANA]] = 0.0
    counts[:, _COL["Hang"]] *= _CJK_WEIGHT
    total = counts.sum(axis=1)
    shares = counts / np.maximum(total, 1.0)[:, None]
    dominant = [_COLUMNS[i] if t else NO_SCRIPT for i, t in zip(shares.argmax(axis=1).tolist(), total.tolist())]
    return shares, dominant


def dominant_script(text: str) -> str:
    """The script with the largest (weighted) share of the letters; ``Zyyy`` when there are none."""
    return script_shares([text])[1][0]


@functools.lru_cache(maxsize=1024)
def _columns_of(lang: str) -> tuple[int, ...]:
    return tuple(_COL[script] for script in scripts_of(lang) if script in _COL)


def written_in(lang: str, shares: Sequence[float], min_share: float = MIN_SHARE) -> bool:
    """Whether at least ``min_share`` of the letters are in a script the language is written in."""
    return sum(shares[i] for i in _columns_of(lang)) >= min_share


def warm_up() -> None:
    """Build the code point table now (about half a second) rather than inside the first batch."""
    _table()
