"""Per-language, per-source quality-filter thresholds, loaded from a versioned YAML config.

The shipped config (``transforms/configs/filters-bigscience-v1.yaml``, package data so Dataflow
workers have it) holds BigScience's settings; ``--filter-config FILE`` is merged on top of it.
Resolution order for one document: ``default`` < ``languages[lang]`` < ``sources[source]``
(a source entry may hold its own ``languages:`` map, applied last). A language without an
entry falls back to ``default`` instead of failing. The config is read on the submitting
machine and travels pickled inside the pipeline, so workers never need the file's path.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import yaml

from transforms.filters.code import CodeFilterConfig, check_keys, code_config

DEFAULT_CONFIG = "filters-bigscience-v1.yaml"


@dataclass(frozen=True)
class FilterParams:
    """Thresholds for one language (and source); ``None`` switches a filter off."""

    min_words: int | None = 10
    char_repetition_n: int = 10
    max_char_repetition: float | None = 0.2
    word_repetition_n: int = 5
    max_word_repetition: float | None = 0.3
    max_special_char_ratio: float | None = 0.4
    long_token_chars: int = 40
    max_long_token_ratio: float | None = 0.3
    min_stopword_ratio: float | None = 0.1
    max_flagged_word_ratio: float | None = 0.1
    min_lang_score: float | None = 0.7
    max_perplexity: float | None = None
    kenlm_model: str | None = None


_FIELDS = {f.name for f in dataclasses.fields(FilterParams)}


@dataclass(frozen=True)
class FilterConfig:
    """A whole filter configuration: defaults, language and source overrides, and its version."""

    version: str
    default: FilterParams = FilterParams()
    languages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    override: Mapping[str, str] | None = None
    code: CodeFilterConfig = CodeFilterConfig()  # the ``code:`` section: source code's own filters

    def params_for(self, lang: str, source: str) -> FilterParams:
        # Resolved once per (language, source) and kept in the instance: a corpus has few of those,
        # and building a FilterParams costs more than scoring a short document's special characters.
        resolved = self.__dict__.setdefault("_resolved", {})
        params = resolved.get((lang, source))
        if params is None:
            src = dict(self.sources.get(source, {}))
            src_langs = src.pop("languages", {})
            merged = {**self.languages.get(lang, {}), **src, **src_langs.get(lang, {})}
            params = resolved[lang, source] = dataclasses.replace(self.default, **merged) if merged else self.default
        return params

    def choice_for(self, lang: str) -> dict[str, Any]:
        """How a language is filtered, for reports: its own config entry or the default, and the
        filters switched off on purpose (a threshold of null), as opposed to skipped for want of a list."""
        params = self.params_for(lang, "")
        return {"parameters": "own entry" if lang in self.languages else "default",
                "off": sorted(f.name for f in dataclasses.fields(params)
                              if f.name.startswith(("min_", "max_")) and getattr(params, f.name) is None)}

    @classmethod
    def from_options(cls, opts: Any) -> FilterConfig:
        """The shipped config with ``--filter-config`` (if given) merged on top."""
        return load_filter_config(opts.filter_config)

    def describe(self) -> dict[str, Any]:
        """What the manifest records under ``stages.filter``."""
        return {"version": self.version, "default": dataclasses.asdict(self.default),
                "languages": {k: dict(v) for k, v in sorted(self.languages.items())},
                "sources": {k: dict(v) for k, v in sorted(self.sources.items())},
                "override_file": dict(self.override) if self.override else None, "code": self.code.describe()}


def _merge_sections(base: dict[str, Any], extra: Mapping[str, Any], section: str) -> dict[str, Any]:
    out = {k: dict(v) for k, v in base.items()}
    for name, values in (extra or {}).items():
        values = dict(values or {})
        nested = values.pop("languages", None) if section == "sources" else None
        entry = {**out.get(name, {}), **check_keys(f"{section}.{name}", values, _FIELDS)}
        if nested:
            entry["languages"] = {lang: check_keys(f"{section}.{name}.languages.{lang}", v or {}, _FIELDS)
                                  for lang, v in nested.items()}
        out[name] = entry
    return out


def _from_mapping(data: Mapping[str, Any], base: FilterConfig | None = None,
                  override: Mapping[str, str] | None = None) -> FilterConfig:
    default_values = check_keys("default", data.get("default") or {}, _FIELDS)
    default = dataclasses.replace(base.default if base else FilterParams(), **default_values)
    return FilterConfig(
        version=str(data.get("version") or (base.version if base else "unversioned")),
        default=default,
        languages=_merge_sections(dict(base.languages) if base else {}, data.get("languages") or {}, "languages"),
        sources=_merge_sections(dict(base.sources) if base else {}, data.get("sources") or {}, "sources"),
        override=override,
        code=code_config(data.get("code"), base.code if base else None),
    )


def load_filter_config(path: str | None = None) -> FilterConfig:
    """The shipped BigScience config, with the YAML file at ``path`` (if any) merged on top.

    An override that does not set ``version`` keeps the shipped version, suffixed with the
    override's sha256 prefix, so two runs with different overrides never share a version string.
    """
    shipped = yaml.safe_load((files("transforms") / "configs" / DEFAULT_CONFIG).read_text(encoding="utf-8"))
    config = _from_mapping(shipped)
    if not path:
        return config
    with open(path, "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    data = yaml.safe_load(raw) or {}
    if "version" not in data:
        data = dict(data, version=f"{config.version}+override-{digest[:12]}")
    return _from_mapping(data, base=config, override={"path": path, "sha256": digest})
