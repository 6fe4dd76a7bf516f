"""The manifest's counts come from the pipeline's (source, lang, stage, reason) counts, not the removed table."""
from __future__ import annotations

import pytest

from catalog.manifest import CountMismatch, build_manifest

COUNTS = [(("web", "en", "filter", "min_words"), 3), (("web", "fr", "filter", "min_words"), 1),
          (("books", "en", "dedup-exact", "exact_duplicate"), 2), (("web", "en", "dedup-near", "near_duplicate"), 4),
          (("web", "und", "quarantine", "malformed_json"), 1)]
SHARDS = [{"path": "data/lang=en/part-00000-000.arrow", "lang": "en", "rows": 5, "chars": 50, "bytes": 900,
           "sources": {"web": 3, "books": 2}}]


def _manifest(removed_rows: int):
    return build_manifest(shards=SHARDS, removed_infos=[{"path": "removed/part-00000-000.arrow", "rows": removed_rows}],
                          removed_counts=COUNTS, input_by_source={"web": 12, "books": 4}, pii={},
                          sources=[{"name": "web"}, {"name": "books"}], inputs=[], options={}, runner="DirectRunner",
                          stages={})


def test_counts_are_nested_from_the_pipelines_combiner():
    m = _manifest(11)
    c = m["counts"]
    assert (c["input"], c["kept"], c["quarantined"]) == (16, 5, 1)
    assert c["filtered"] == {"min_words": 4} and c["duplicates"] == {"exact": 2, "near": 4}
    assert c["duplicates_by_language"] == {"en": {"exact": 2, "near": 4}}
    assert m["filter"]["by_language"] == {"en": {"min_words": 3}, "fr": {"min_words": 1}}
    assert m["removed_by_language"]["en"] == {"dedup-exact": 2, "dedup-near": 4, "filter": 3}
    assert m["sources"]["web"] == {"license": "unknown", "input": 12, "kept": 3, "filtered": 4, "duplicates": 4,
                                   "duplicates_exact": 0, "duplicates_near": 4, "quarantined": 1}


def test_a_removed_table_that_disagrees_with_the_counts_is_refused():
    with pytest.raises(CountMismatch, match="removed table holds 10 rows"):
        _manifest(10)
