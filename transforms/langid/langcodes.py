"""Language labels of fastText LID models, normalised to one code system: lid.176's.

The code system of ``lang`` everywhere in the lake is the one lid.176 outputs: ISO 639-1 where
the language has one, otherwise a three-letter code kept whole (``ceb``, ``yue``, ``war``,
``ast``). lid.176's Wikipedia-style labels keep lid.176's meaning: ``als`` is Alemannic (ISO
``gsw``, not Tosk Albanian), ``sh`` is Serbo-Croatian, ``bh`` Bihari, ``nah`` Nahuatl, ``eml``
Emilian-Romagnol; ``no`` is Norwegian Bokmål (``nb`` folds into it), ``nn`` Nynorsk.
Models with ISO 639-3 + script labels (GlotLID, OpenLID: ``__label__fra_Latn``) are mapped
into the same system (individual languages fold to their macrolanguage: ``cmn``->``zh``,
``arb``->``ar``), the script going to its own field, so partitions do not change with the model.
The languages lid.176 lacks, which the stage's supplement names (``SUPPLEMENTARY``: ROOTS'
Niger-Congo languages and their neighbours), follow the same rule: ISO 639-1 where one exists,
else ISO 639-3 (``tum``, ``fon``, ``nso``); ``from_iso639_3`` maps a source's ISO 639-3 code into it.
"""
from __future__ import annotations

import re

LABEL_PREFIX = "__label__"
# The 20 natural languages of ROOTS (BigScience's corpus) for which lid.176 has no label, all
# Niger-Congo, in the lake's code system: ISO 639-1 where one exists, else ISO 639-3. Twi (``tw``)
# is kept apart from Akan (``ak``, its macrolanguage) as ROOTS lists both.
ROOTS_NIGER_CONGO = frozenset({
    "ak", "tw", "bm", "ny", "sn", "tum", "fon", "ig", "ki", "rw", "rn", "ln", "lg", "nso", "st", "tn",
    "wo", "ts", "zu", "xh",
})
# Languages lid.176 also lacks, spoken beside them and translated by the same teams: the
# supplementary models know them so that Ndebele or Swati text is not called Zulu.
NIGER_CONGO_NEIGHBOURS = frozenset({"nr", "ss", "ve", "ha"})
SUPPLEMENTARY = ROOTS_NIGER_CONGO | NIGER_CONGO_NEIGHBOURS  # the labels that only the supplement gives
UNDETERMINED = "und"
_LABEL = re.compile(r"([a-z]{2,3})(?:[_-]([A-Z][a-z]{3}))?")

# ISO 639-3 -> ISO 639-1, all 184 pairs (Debian iso-codes 4.15, iso_639-3.json).
_ISO3_TO_ISO1 = dict(p.split(":") for p in """
    aar:aa abk:ab afr:af aka:ak amh:am ara:ar arg:an asm:as ava:av ave:ae aym:ay aze:az bak:ba
    bam:bm bel:be ben:bn bis:bi bod:bo bos:bs bre:br bul:bg cat:ca ces:cs cha:ch che:ce chu:cu
    chv:cv cor:kw cos:co cre:cr cym:cy dan:da deu:de div:dv dzo:dz ell:el eng:en epo:eo est:et
    eus:eu ewe:ee fao:fo fas:fa fij:fj fin:fi fra:fr fry:fy ful:ff gla:gd gle:ga glg:gl glv:gv
    grn:gn guj:gu hat:ht hau:ha hbs:sh heb:he her:hz hin:hi hmo:ho hrv:hr hun:hu hye:hy ibo:ig
    ido:io iii:ii iku:iu ile:ie ina:ia ind:id ipk:ik isl:is ita:it jav:jv jpn:ja kal:kl kan:kn
    kas:ks kat:ka kau:kr kaz:kk khm:km kik:ki kin:rw kir:ky kom:kv kon:kg kor:ko kua:kj kur:ku
    lao:lo lat:la lav:lv lim:li lin:ln lit:lt ltz:lb lub:lu lug:lg mah:mh mal:ml mar:mr mkd:mk
    mlg:mg mlt:mt mon:mn mri:mi msa:ms mya:my nau:na nav:nv nbl:nr nde:nd ndo:ng nep:ne nld:nl
    nno:nn nob:nb nor:no nya:ny oci:oc oji:oj ori:or orm:om oss:os pan:pa pli:pi pol:pl por:pt
    pus:ps que:qu roh:rm ron:ro run:rn rus:ru sag:sg san:sa sin:si slk:sk slv:sl sme:se smo:sm
    sna:sn snd:sd som:so sot:st spa:es sqi:sq srd:sc srp:sr ssw:ss sun:su swa:sw swe:sv tah:ty
    tam:ta tat:tt tel:te tgk:tg tgl:tl tha:th tir:ti ton:to tsn:tn tso:ts tuk:tk tur:tr twi:tw
    uig:ug ukr:uk urd:ur uzb:uz ven:ve vie:vi vol:vo wln:wa wol:wo xho:xh yid:yi yor:yo zha:za
    zho:zh zul:zu
""".split())

# Individual languages -> the lid.176 label of their macrolanguage or Wikipedia code, and the
# places where lid.176's label is not the ISO 639-1 code.
_FOLD = {
    "cmn": "zh", "lzh": "zh", "arb": "ar", "pes": "fa", "prs": "fa", "ekk": "et", "lvs": "lv",
    "zsm": "ms", "zlm": "ms", "npi": "ne", "uzn": "uz", "uzs": "uz", "azj": "az", "khk": "mn",
    "swh": "sw", "swc": "sw", "plt": "mg", "ydd": "yi", "kmr": "ku", "pbt": "ps", "pbu": "ps",
    "quz": "qu", "quy": "qu", "qug": "qu", "nhn": "nah", "bho": "bh", "fil": "tl", "gug": "gn",
    "als": "sq", "aln": "sq", "gsw": "als", "nob": "no", "hbs": "sh", "ory": "or",
    "mly": "ms", "rgn": "eml", "koi": "kv", "kpv": "kv", "src": "sc",
    "zxx": UNDETERMINED,
}


def parse_label(label: str) -> tuple[str, str | None]:
    """``__label__fra_Latn`` -> (``fr``, ``Latn``); ``__label__ceb`` -> (``ceb``, None).

    Labels without a script are lid.176's own and pass through unchanged (its ``als`` is
    Alemannic); labels with one are ISO 639-3 (GlotLID, OpenLID) and are mapped.
    """
    raw = label.removeprefix(LABEL_PREFIX)
    match = _LABEL.fullmatch(raw)
    if not match or not match.group(2):
        return raw.lower(), None
    code, script = match.groups()
    return _FOLD.get(code) or _ISO3_TO_ISO1.get(code, code), script


def from_iso639_3(code: str) -> str:
    """The lake's code of an ISO 639-3 code (``zul`` -> ``zu``, ``nso`` stays, ``cmn`` -> ``zh``)."""
    code = code.lower()
    return _FOLD.get(code) or _ISO3_TO_ISO1.get(code, code)


_ISO1_TO_ISO3 = {iso1: iso3 for iso3, iso1 in _ISO3_TO_ISO1.items()}


def to_iso639_3(code: str) -> str | None:
    """The ISO 639-3 code of an ISO 639-1 code (``pt`` -> ``por``); three-letter codes pass through."""
    code = code.lower()
    return code if len(code) == 3 else _ISO1_TO_ISO3.get(code)
