"""The packed stream: exactly once per epoch, resumable at any position with any world, verified, mixed."""
import itertools
import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from model.data import PackedStream, StreamConfig
from model.sample_lake import synthetic_records, write_version
from model.shard_reader import ShardError
from model.tokenizer import train_tokenizer

SCRIPTS = {"ell": "αβγδεζηθικλμνξοπρστυφχψω", "eng": "abcdefghijklmnopqrstuvwxyz",
           "rus": "абвгдежзийклмнопрстуфхцчшщыэюя", "zho": "的一是不了人我在有他这为之大来以个中上们"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    records = synthetic_records(480, SCRIPTS, seed=1, words=(5, 60))
    records = [r for i, r in enumerate(records) if r["lang"] not in ("zho", "ell") or i % 8 in (3, 0)]  # uneven
    write_version(root / "lake", "mix", records, rows_per_shard=50)
    tok = train_tokenizer(iter([r["text"] for r in records]), 400, sum(len(r["text"]) for r in records))
    tok.save(str(root / "tok.json"))
    return str(root / "lake"), str(root / "tok.json"), str(root / "cache"), records


def stream(lake, *, rank=0, world=1, micro_batch=4, **kw) -> PackedStream:
    path, tok, cache, _ = lake
    cfg = StreamConfig(seq_len=kw.pop("seq_len", 32), micro_batch=micro_batch, cache_dir=cache, **kw)
    return PackedStream(path, "mix", tok, cfg, rank=rank, world_size=world)


def global_order(streams, workers, steps):
    """Batches in the order a training world consumes them: per step, rank 0 then rank 1..."""
    loaders = [iter(DataLoader(s, batch_size=None, num_workers=workers)) for s in streams]
    for _ in range(steps):
        step = [next(it) for it in loaders]
        for s, b in zip(streams, step):
            s.mark_consumed(b)
        yield from step


def test_every_document_once_per_epoch_over_2_ranks_x_2_workers(lake):
    streams = [stream(lake, rank=r, world=2, alpha=1.0, return_ids=True) for r in range(2)]
    per_epoch = streams[0].samples_in_epoch(0)
    steps = -(-per_epoch // (2 * 4))
    seen = []
    for batch in global_order(streams, 2, steps):
        for k, ids in enumerate(batch["doc_ids"]):
            if batch["position"] + k < per_epoch:
                seen.extend(ids)
    expected = [r["id"] for r in lake[3]]
    assert len(seen) == len(expected)
    assert sorted(seen) == sorted(expected)


def test_resume_at_a_random_step_with_another_world_reproduces_the_stream(lake):
    rng = np.random.default_rng(7)
    reference = [b["input_ids"] for b in global_order([stream(lake, rank=r, world=2) for r in range(2)], 0, 40)]
    flat = torch.cat(reference)
    stop = int(rng.integers(3, 30))
    first = [stream(lake, rank=r, world=2) for r in range(2)]
    list(global_order(first, 2, stop))
    state = first[0].state_dict()
    assert state == first[1].state_dict() and state["position"] == stop * 2 * 4
    for world, workers, micro in ((1, 3, 8), (4, 0, 2)):
        resumed = [stream(lake, rank=r, world=world, micro_batch=micro) for r in range(world)]
        for s in resumed:
            s.load_state_dict(state)
        rest = torch.cat([b["input_ids"] for b in global_order(resumed, workers, 5)])
        assert torch.equal(rest, flat[stop * 8: stop * 8 + len(rest)]), (world, workers)


def test_stream_crosses_epochs_and_reshuffles(lake):
    s = stream(lake, alpha=1.0)
    assert not np.array_equal(s.epoch_docs(0), s.epoch_docs(1))
    assert sorted(s.epoch_docs(0)) == sorted(s.epoch_docs(1))
    n = s.samples_in_epoch(0)
    batch = s.batch_at(n - 2)
    assert batch["input_ids"].shape == (4, 32)
    assert s.locate(n + 1) == (1, 1)


def test_language_shares_meet_targets_within_2_percent(lake):
    s = stream(lake, alpha=0.3, micro_batch=16, seq_len=64)
    realised = np.zeros(len(s.langs), dtype=np.int64)
    for batch in itertools.islice(iter(s), 6 * s.samples_in_epoch(0) // 16):
        realised += batch["lang_tokens"].numpy()
    mix = s.describe_mix(realised)
    natural = stream(lake, alpha=1.0).targets
    small = min(natural, key=natural.get)
    assert s.targets[small] > natural[small] * 1.2  # alpha < 1 upsamples the smallest language
    for lang, m in mix.items():
        assert abs(m["realised"] - m["target"]) <= 0.02 * m["target"], (lang, m)


def test_explicit_weights_are_followed(lake):
    s = stream(lake, weights={"eng": 3, "ell": 1, "rus": 1, "zho": 1}, micro_batch=16)
    assert s.targets["eng"] == pytest.approx(0.5)
    realised = sum(b["lang_tokens"].numpy() for b in itertools.islice(iter(s), 3 * s.samples_in_epoch(0) // 16))
    assert s.describe_mix(realised)["eng"]["realised"] == pytest.approx(0.5, rel=0.02)


def test_packing_uses_end_of_document_tokens_and_masks_padding(lake):
    s = stream(lake, alpha=1.0)
    n = s.samples_in_epoch(0)
    tokens = torch.cat([s.batch_at(p)["input_ids"][0] for p in range(0, 20)])
    assert (tokens == s.eod_id).sum() >= 1
    last = s._span(0, n - 1, 1)
    assert (last["labels"] == -100).any() or last["input_ids"].size == 32


def test_corrupted_shard_is_named(lake, tmp_path):
    path, tok, _, records = lake
    own = tmp_path / "lake"
    write_version(own, "mix", records[:120], rows_per_shard=50)
    cfg = StreamConfig(seq_len=32, micro_batch=4, cache_dir=str(tmp_path / "cache"))
    PackedStream(str(own), "mix", tok, cfg)  # builds the index and marks shards verified
    shard = sorted((own / "mix" / "v1" / "data").rglob("*.arrow"))[1]
    os.chmod(shard, 0o644)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    rel = shard.relative_to(own / "mix" / "v1").as_posix()
    with pytest.raises(ShardError, match=f"shard {rel} of mix@v1 is corrupted"):  # before step 0, not at step 40
        PackedStream(str(own), "mix", tok, cfg)


def test_refuses_a_tokenizer_or_version_other_than_the_runs(lake):
    path, tok, cache, _ = lake
    cfg = StreamConfig(seq_len=32, micro_batch=4, cache_dir=cache)
    with pytest.raises(ValueError, match="tokenizer"):
        PackedStream(path, "mix", tok, cfg, expect_tokenizer_sha256="f" * 64)
    with pytest.raises(ValueError, match="pass the same dataset version"):
        PackedStream(path, "mix", tok, cfg, expect_manifest_sha256="f" * 64)
    s = stream(lake)
    state = dict(s.state_dict(), tokenizer_sha256="f" * 64)
    with pytest.raises(ValueError, match="tokenizer_sha256"):
        s.load_state_dict(state)


def test_a_file_url_is_the_local_lake_read_in_place(lake, tmp_path):
    """``file://`` goes through the same ``open_lake`` as a path: no copy into the cache (the
    object-store path, with its cache, runs against S3 in tests/test_remote_lake.py)."""
    path, tok, _, _ = lake
    cfg = StreamConfig(seq_len=32, micro_batch=4, cache_dir=str(tmp_path / "cache"))
    by_url = PackedStream(f"file://{path}", "mix", tok, cfg)
    local = stream(lake)
    assert not by_url.version.is_remote
    assert by_url.version.manifest_sha256 == local.version.manifest_sha256
    assert torch.equal(by_url.batch_at(10)["input_ids"], local.batch_at(10)["input_ids"])
    assert not list((tmp_path / "cache").rglob("*.arrow"))


def test_reading_ahead_serves_what_batch_at_serves(lake):
    s = stream(lake, rank=1, world=2, alpha=0.3)
    served = list(itertools.islice(iter(s), 40))
    for k, batch in enumerate(served):
        position = (2 * k + 1) * 4
        assert batch["position"] == position and batch["next_position"] == (k + 1) * 8
        direct = stream(lake, rank=1, world=2, alpha=0.3).batch_at(position)
        assert torch.equal(batch["input_ids"], direct["input_ids"]) and torch.equal(batch["labels"], direct["labels"])
        assert torch.equal(batch["lang_tokens"], direct["lang_tokens"])
