"""Exact dedup: key records grouped by the hash of their text's normal form; the best-ranked copy stays."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

from catalog.contract import STAGE_DEDUP_EXACT
from transforms.code.dedup import CODE_EXACT_KEY
from transforms.dedup.keys import Key, removed_from_key
from transforms.document import KEPT, REMOVED, tagged

EXACT_KEY = "blake2b-128 of NFKC + lowercase + punctuation removed + whitespace collapsed"


def keep_first(keys: Iterable[Key]) -> Iterator[tuple[str, Any]]:
    """Yield ("kept", key) for the best-ranked copy and ("removed", row) for the rest.

    Iterates twice instead of sorting, so a group of many copies is never copied into a list.
    """
    best = min(keys, key=lambda k: k[0])
    yield "kept", best
    doc_id, uid = best[0][0][2], best[0][1]
    for k in keys:
        if k[0][1] != uid:
            yield "removed", removed_from_key(k, STAGE_DEDUP_EXACT, "exact_duplicate",
                                              {"duplicate_of": doc_id, "duplicate_of_uid": uid})


class ExactDedup(beam.PTransform):
    """key records -> {"kept": key records, "removed": removed rows}.

    Groups key records (no text) by exact key: one group holds the copies of one text."""

    def expand(self, keys):
        out = (keys
               | "KeyByTextHash" >> beam.Map(lambda k: (k[4], k))
               | "GroupByTextHash" >> beam.GroupByKey()
               | "KeepFirst" >> beam.FlatMap(lambda kv: tagged(keep_first(kv[1]), main=KEPT))
               .with_outputs(REMOVED, main=KEPT))
        return {KEPT: out[KEPT], REMOVED: out[REMOVED]}

    def describe(self) -> dict[str, Any]:
        return {"key": EXACT_KEY, "code_key": CODE_EXACT_KEY}

