"""Perplexity under a KenLM model (optional: ``kenlm`` is imported only when a model is configured).

No model ships: set ``kenlm_model`` per language in the filter config to a KenLM ARPA or binary
file present on every worker (e.g. baked into the container image). Text is normalised the way
data_tooling did before scoring (lower case, digits to 0, whitespace collapsed per line), but
tokenised on whitespace rather than with its SentencePiece models, so thresholds must be
calibrated for the model actually used.
"""
from __future__ import annotations

import re
from functools import lru_cache

_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"[^\S\n]+")


@lru_cache(maxsize=8)
def _model(path: str):
    try:
        import kenlm
    except ImportError as e:
        raise RuntimeError(f"kenlm_model {path!r} is configured but the kenlm package is not installed "
                           "(pip install kenlm)") from e
    return kenlm.Model(path)


def perplexity(text: str, model_path: str) -> float:
    """Document perplexity: 10 ** (-sum of line log10 scores / (words + one end-of-sentence per line))."""
    model = _model(model_path)
    normalised = _SPACES.sub(" ", _DIGIT.sub("0", text.lower()))
    log_score, length = 0.0, 0
    for line in normalised.split("\n"):
        line = line.strip()
        if not line:
            continue
        log_score += model.score(line, bos=True, eos=True)
        length += len(line.split()) + 1
    return 10.0 ** (-log_score / length) if length else 0.0
