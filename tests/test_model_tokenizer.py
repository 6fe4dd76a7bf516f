"""Tokenizer training on a catalog version: balanced sample, lossless on every script, recorded."""
import json
from pathlib import Path

import pytest

from catalog.artifacts import find_artifact
from catalog.hashing import sha256_file
from model.mixing import alpha_weights
from model.sample_lake import write_version
from model.tokenizer import EOD, PAD, load_tokenizer, main

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCES = ["debian-fortunes/fortunes.jsonl", "debian-gettext/gettext.jsonl", "debian-manpages-l10n/manpages_l10n.jsonl"]


def shared_records() -> list[dict]:
    files = [SHARED / s for s in SOURCES if (SHARED / s).is_file()]
    if not files:
        pytest.skip(f"shared multilingual samples not found under {SHARED}")
    return [json.loads(line) for f in files for line in f.open(encoding="utf-8")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    records = shared_records()
    lake = tmp_path_factory.mktemp("lake")
    write_version(lake, "shared", records, rows_per_shard=400)
    out = lake / "tok" / "tokenizer.json"
    assert main(["--lake", str(lake), "--dataset", "shared@v1", "--vocab-size", "1500", "--out", str(out),
                 "--sample-chars", "1500000", "--cache-dir", str(lake / "cache")]) == 0
    return lake, out, records


def test_alpha_weights_flatten_the_mix():
    w = alpha_weights({"big": 10_000, "small": 100}, 0.3)
    assert w["big"] + w["small"] == pytest.approx(1)
    assert 0.0099 < w["small"] and w["small"] / w["big"] == pytest.approx((100 / 10_000) ** 0.3)
    assert alpha_weights({"big": 10_000, "small": 100}, 1.0)["small"] == pytest.approx(100 / 10_100)


def test_round_trip_on_every_script_in_shared_data(trained):
    _, out, records = trained
    tok, _ = load_tokenizer(out)
    by_lang = {}
    for r in records:
        by_lang.setdefault(r["lang"], []).append(r["text"])
    assert len(by_lang) > 50
    failures = [lang for lang, texts in by_lang.items() for text in texts[:20]
                if tok.decode(tok.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) != text]
    assert failures == []
    literal = f"a document that mentions {EOD} and {PAD} literally"
    assert tok.decode(tok.encode(literal).ids, skip_special_tokens=False) == literal


def test_tokenizer_is_recorded_as_an_artifact_of_its_version(trained):
    lake, out, _ = trained
    record = find_artifact(lake, "shared@v1", "tokenizer")
    assert record["sha256"] == sha256_file(out)[0]
    assert record["metadata"]["trained_on"] == "shared@v1"
    assert record["metadata"]["vocab_size"] == 1500
    assert Path(record["path"]).read_bytes() == out.read_bytes()


def test_special_tokens_and_hash_check(trained):
    _, out, _ = trained
    tok, digest = load_tokenizer(out, expect_sha256=sha256_file(out)[0])
    assert tok.token_to_id(EOD) is not None and tok.token_to_id(PAD) is not None
    with pytest.raises(ValueError, match="use the tokenizer the run was started with"):
        load_tokenizer(out, expect_sha256="0" * 64)
