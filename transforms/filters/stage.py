"""The quality-filter stage: scores (``scores``) decided against per-language, per-source thresholds
(``config``), with a removed row and an audit row for each document dropped."""
from __future__ import annotations

from typing import Any

import apache_beam as beam

from catalog.contract import AUDIT_PATH, STAGE_FILTER, is_code
from transforms.document import DOC, KEPT, REMOVED, CountNested, Document, Item, tagged
from transforms.filters.audit import audit_row
from transforms.filters.code import filter_code_document
from transforms.filters.config import FilterConfig
from transforms.filters.scores import SCORER_VERSION, filter_document
from transforms.filters.wordlists import coverage as wordlist_coverage
from transforms.removed import removed_from_doc


def filter_outputs(doc: Document, config: FilterConfig, use_lang_score: bool) -> list[Item]:
    """The kept document (with its scores) or its removed row and audit row, plus one ``skipped``
    (filter, lang) per filter that could not run on it (no word list for its language). Source code
    (``lang`` ``code-*``) is judged by the code filters instead (``transforms.filters.code``)."""
    failure: tuple[str, float, float] | None
    if is_code(doc["lang"]):
        doc, failure = filter_code_document(doc, config.code.params_for(doc["lang"], doc["source"]))
        skipped: list[str] = []
        version = config.code.version
    else:
        doc, failure, skipped = filter_document(doc, config.params_for(doc["lang"], doc["source"]),
                                                use_lang_score=use_lang_score)
        version = config.version
    out: list[Item] = [("skipped", (name, doc["lang"])) for name in skipped]
    if failure is None:
        return out + [(DOC, doc)]
    name, value, threshold = failure
    details = {"value": value, "threshold": threshold, "filter_config": version}
    return out + [(REMOVED, removed_from_doc(doc, STAGE_FILTER, name, details)),
                  ("audit", audit_row(doc, name, value, threshold))]


class FilterDocuments(beam.PTransform):
    """Documents -> {"kept", "removed", "audit": audit rows of the removed, "skipped": one element,
    {filter: {lang: documents}} of filters that could not run}.

    ``use_lang_score``: the language-score filter runs only when language id did (a hinted
    language has no score)."""

    def __init__(self, config: FilterConfig, *, use_lang_score: bool = True, audit_per_filter: int = 20):
        super().__init__()
        self.config, self.use_lang_score, self.audit_per_filter = config, use_lang_score, audit_per_filter

    def expand(self, docs):
        config, use_lang_score = self.config, self.use_lang_score
        out = docs | "Decide" >> beam.FlatMap(lambda d: tagged(filter_outputs(d, config, use_lang_score))).with_outputs(
            REMOVED, "audit", "skipped", main=KEPT)
        return {KEPT: out[KEPT], REMOVED: out[REMOVED], "audit": out.audit,
                "skipped": out.skipped | "CountSkipped" >> CountNested()}

    def describe(self) -> dict[str, Any]:
        return {"scorer": SCORER_VERSION, **self.config.describe(), "word_lists": wordlist_coverage(),
                "audit_sample": {"path": AUDIT_PATH, "per_filter": self.audit_per_filter}}
