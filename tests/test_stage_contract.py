"""Every stage keeps the one contract: a PTransform with named outputs and a describe() the manifest records."""
from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipelines.curate import stage_record, stages_for
from pipelines.options import CurateOptions
from transforms.document import DOC, KEPT, META_KEYS, REMOVED, new_document, tagged, with_changes
from transforms.normalize import NormalizeDocuments
from transforms.pii import RedactPII


def _opts(*argv: str) -> CurateOptions:
    return PipelineOptions(["--lake", "unused", *argv]).view_as(CurateOptions)


def test_every_stage_is_a_described_ptransform_and_the_manifest_records_them(sample_version):
    _, _, manifest = sample_version
    stages = stages_for([], _opts(), set(), "staging")
    assert set(stages) == {"read", "normalize", "langid", "filter", "pii", "dedup-exact", "dedup-near"}
    for name, stage in stages.items():
        assert isinstance(stage, beam.PTransform), name
        record = stage.describe()
        assert record and "enabled" not in record, name  # the pipeline says whether it ran
        json.dumps(record)  # the manifest stores it as JSON
    assert stage_record(stages, set()) == manifest["stages"]


def test_a_disabled_stage_is_still_described_except_filter_and_boilerplate():
    disabled = {"langid", "filter", "pii", "dedup-exact", "dedup-near"}
    record = stage_record(stages_for([], _opts("--disable", ",".join(sorted(disabled))), disabled, "staging"), disabled)
    assert record["filter"] == {"enabled": False} and record["boilerplate"] == {"enabled": False}
    assert record["langid"]["enabled"] is False and record["langid"]["model"] == "lid.176.ftz"
    assert record["dedup-near"]["enabled"] is False and record["dedup-near"]["num_perm"] == 256
    assert record["read"]["enabled"] is True and record["normalize"]["enabled"] is True


def test_stages_hand_on_copies_under_kept_and_removed():
    docs = [new_document("a", "u1", "  Write to me@example.org  ", "s", {"k": 1}),
            new_document("b", "u2", " \n\t ", "s", {})]
    with beam.Pipeline() as p:
        normal = p | beam.Create(docs) | "Normalize" >> NormalizeDocuments()
        redacted = normal[KEPT] | "PII" >> RedactPII()
        assert_that(redacted[KEPT] | beam.Map(lambda d: (d["id"], d["text"], d["meta"])),
                    equal_to([("a", "Write to <EMAIL>", {"k": 1, "pii": {"email": 1}})]), label="kept")
        assert_that(normal[REMOVED] | beam.Map(lambda r: (r["id"], r["stage"], r["reason"])),
                    equal_to([("b", "quarantine", "empty_document")]), label="removed")
        assert_that(redacted["stats"], equal_to([{"email": 1}]), label="stats")
    assert docs[0]["text"] == "  Write to me@example.org  " and docs[0]["meta"] == {"k": 1}  # inputs untouched


def test_with_changes_copies_and_tagged_routes():
    doc = new_document("a", "u", "text", "s", {"x": 1})
    changed = with_changes(doc, lang="en", meta={"pii": {}})
    assert doc["lang"] == "und" and doc["meta"] == {"x": 1}
    assert changed["lang"] == "en" and changed["meta"] == {"x": 1, "pii": {}} and changed["text"] == "text"
    assert with_changes(doc, text="t")["meta"] is doc["meta"]  # meta is copied only when it changes
    out = list(tagged([(DOC, 1), (REMOVED, 2)]))
    assert out[0] == 1 and out[1].tag == REMOVED and out[1].value == 2
    assert {"lang_alternatives", "filter_scores", "pii", "split", "decode"} <= set(META_KEYS)
