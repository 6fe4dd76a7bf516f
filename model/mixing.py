"""Language mixing weights: how much of each language a sample or a training stream should hold."""
from __future__ import annotations

from collections.abc import Mapping

from catalog.contract import is_code


def alpha_weights(sizes: Mapping[str, float], alpha: float) -> dict[str, float]:
    """Shares proportional to ``size ** alpha`` (XLM-R/BLOOM style): alpha 1 keeps the natural mix,
    smaller alphas flatten it so low-resource languages are seen more often."""
    powered = {lang: float(size) ** alpha for lang, size in sizes.items() if size > 0}
    total = sum(powered.values())
    if not total:
        raise ValueError("no language has any data")
    return {lang: value / total for lang, value in sorted(powered.items())}


def normalise_weights(weights: Mapping[str, float], present: set[str]) -> dict[str, float]:
    """Explicit weights, restricted to languages the version holds and summing to 1."""
    unknown = sorted(set(weights) - present)
    if unknown:
        raise ValueError(f"weights name languages absent from the version: {', '.join(unknown)}")
    kept = {lang: float(w) for lang, w in weights.items() if w > 0}
    total = sum(kept.values())
    if not total:
        raise ValueError("language weights sum to zero")
    return {lang: w / total for lang, w in sorted(kept.items())}


def with_code_share(weights: Mapping[str, float], share: float) -> dict[str, float]:
    """The mix with programming languages (``lang`` ``code-*``) holding ``share`` of it and natural
    languages the rest, each group keeping its own proportions (ROOTS gave code about a tenth)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"code share must be in [0, 1], got {share}")
    code = sum(w for lang, w in weights.items() if is_code(lang))
    natural = sum(w for lang, w in weights.items() if not is_code(lang))
    if (share > 0 and not code) or (share < 1 and not natural):
        raise ValueError(f"a code share of {share} needs both programming and natural languages in the version")
    scale = {True: share / code if code else 0.0, False: (1.0 - share) / natural if natural else 0.0}
    return {lang: w * scale[is_code(lang)] for lang, w in sorted(weights.items()) if w * scale[is_code(lang)] > 0}
