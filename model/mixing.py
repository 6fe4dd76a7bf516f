"""Language mixing weights: how much of each language a sample or a training stream should hold."""
from __future__ import annotations

from collections.abc import Mapping


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
