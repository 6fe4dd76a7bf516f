"""Train a byte-level BPE tokenizer on a language-balanced sample of a catalog version.

Byte-level BPE with no normaliser encodes every string losslessly, so ``decode(encode(x)) == x``
holds for any script. The sample draws each language with probability proportional to its size
to the power alpha, so small languages get vocabulary without the big ones being starved. The
tokenizer is attached to the version as an artifact recording its hash, vocab size and the
version it was trained on.

    python -m model.tokenizer --lake LAKE --dataset NAME@v1 --vocab-size 32000 --out tok.json
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm import tqdm

from catalog.hashing import sha256_file
from catalog.lake import CatalogError
from model.mixing import alpha_weights
from model.shard_reader import ShardError, ShardReader, Version, open_version

EOD = "<|endoftext|>"
PAD = "<pad>"
SPECIAL_TOKENS = [EOD, PAD]
SAMPLE_BATCH = 1024  # rows of one shard read at once while sampling


def load_tokenizer(path: str | Path, expect_sha256: str | None = None) -> tuple[Tokenizer, str]:
    """Load a tokenizer for encoding data, refusing one that differs from the run's recorded hash,
    or, when ``path`` is a tokenizer artifact of a version, from its ``artifact.json``."""
    from catalog.artifacts import record_for

    digest, _ = sha256_file(path)
    record = record_for(path)
    if record is not None and digest != record.get("sha256"):
        raise ValueError(f"tokenizer artifact {path} was modified: sha256 {digest[:12]}…, its artifact.json "
                         f"records {str(record.get('sha256'))[:12]}…: refusing it (re-attach the original)")
    if expect_sha256 and digest != expect_sha256:
        raise ValueError(f"tokenizer {path} has sha256 {digest[:12]}…, but this run was recorded with "
                         f"{expect_sha256[:12]}…: use the tokenizer the run was started with")
    tok = Tokenizer.from_file(str(path))
    tok.encode_special_tokens = True  # a literal "<|endoftext|>" inside a document stays text
    for special in SPECIAL_TOKENS:
        if tok.token_to_id(special) is None:
            raise ValueError(f"tokenizer {path} lacks the special token {special!r}")
    return tok, digest


def special_ids(tok: Tokenizer) -> tuple[int, int]:
    """(end-of-document id, padding id)."""
    eod, pad = tok.token_to_id(EOD), tok.token_to_id(PAD)
    if eod is None or pad is None:
        raise ValueError(f"the tokenizer has no {EOD} or no {PAD} token: train it with python -m model.tokenizer")
    return eod, pad


def language_sample(version: Version, reader: ShardReader, alpha: float, sample_chars: int,
                    seed: int) -> tuple[dict[str, int], Iterator[str]]:
    """Per-language character budgets and an iterator over sampled documents meeting them.

    Streamed, in memory independent of a language's size: each pass visits the language's shards
    in a seeded random order and takes each document of a shard with probability budget / size (all
    of them when the budget exceeds the size, which is what upsampling means for frequency-based
    BPE), reading the chosen rows of one shard at a time, in batches. Only the current shard's
    choice is held, never a list of every document. The same version, budgets and seed give the
    same sample.
    """
    sizes = {lang: info["chars"] for lang, info in version.manifest["languages"].items()}
    budgets = {lang: max(1, int(sample_chars * w)) for lang, w in alpha_weights(sizes, alpha).items()}
    shards_of: dict[str, list[int]] = {}
    for i, entry in enumerate(version.shards):
        if entry["rows"]:
            shards_of.setdefault(entry["lang"], []).append(i)

    def docs() -> Iterator[str]:
        rng = np.random.default_rng(seed)
        for lang, budget in budgets.items():
            shards = shards_of.get(lang, [])
            rate = min(1.0, budget / max(sizes[lang], 1))
            taken = 0
            while shards and taken < budget:
                before = taken
                for k in rng.permutation(len(shards)):
                    index = shards[k]
                    rows = np.arange(version.shards[index]["rows"])
                    if rate < 1.0:
                        rows = rows[rng.random(len(rows)) < rate]
                    rng.shuffle(rows)
                    for start in range(0, len(rows), SAMPLE_BATCH):
                        for text in reader.column(index, rows[start:start + SAMPLE_BATCH]):
                            yield text
                            taken += len(text)
                            if taken >= budget:
                                break
                        if taken >= budget:
                            break
                    if taken >= budget:
                        break
                if taken == before and rate >= 1.0:  # every document is empty: no pass can add more
                    break

    return budgets, docs()


def train_tokenizer(texts: Iterator[str], vocab_size: int, total_chars: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=True)
    with tqdm(total=total_chars, unit="char", unit_scale=True, desc="sampling", file=sys.stderr) as bar:
        def counted() -> Iterator[str]:
            for text in texts:
                bar.update(len(text))
                yield text
        tok.train_from_iterator(counted(), trainer)
    return tok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.tokenizer",
        description="Train a byte-level BPE tokenizer on a language-balanced sample of a catalog version "
                    "and attach it to that version as an artifact.")
    parser.add_argument("--lake", required=True, help="lake root (a directory, gs:// or s3:// URI)")
    parser.add_argument("--dataset", required=True, help="NAME or NAME@vN (latest version when no @vN)")
    parser.add_argument("--vocab-size", type=int, required=True, help="vocabulary size, special tokens included")
    parser.add_argument("--out", required=True, help="where to write tokenizer.json")
    parser.add_argument("--alpha", type=float, default=0.3, help="language sampling exponent (default 0.3)")
    parser.add_argument("--sample-chars", type=int, default=200_000_000,
                        help="characters to sample across languages (default 200M)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--cache-dir", help="local cache for remote shards and verification marks "
                                             "(default $LAKE_CACHE or ~/.cache/curation-lake)")
    parser.add_argument("--no-attach", action="store_true", help="do not attach the tokenizer to the version")
    args = parser.parse_args(argv)

    try:
        version = open_version(args.lake, args.dataset)
        reader = ShardReader(version, args.cache_dir)
        reader.verify([i for i, s in enumerate(version.shards) if s["rows"]])  # all before sampling starts
    except (ShardError, CatalogError) as e:
        print(f"model.tokenizer: {e}", file=sys.stderr)
        return 2
    total = sum(info["chars"] for info in version.manifest["languages"].values())
    sample_chars = min(args.sample_chars, max(total, 1) * 4)
    budgets, texts = language_sample(version, reader, args.alpha, sample_chars, args.seed)
    tok = train_tokenizer(texts, args.vocab_size, sum(budgets.values()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(out))
    digest, _ = sha256_file(out)
    metadata = {"vocab_size": tok.get_vocab_size(), "trained_on": version.spec,
                "manifest_sha256": version.manifest_sha256, "alpha": args.alpha,
                "sample_chars": sum(budgets.values()), "seed": args.seed, "special_tokens": SPECIAL_TOKENS}
    where = "not attached"
    if not args.no_attach and not version.is_remote:
        from catalog.artifacts import attach_artifact

        where = attach_artifact(args.lake, version.spec, out, "tokenizer", metadata)["path"]
    top = sorted(budgets.items(), key=lambda kv: -kv[1])
    print(f"\ntokenizer  {out}\nsha256     {digest}\nvocab      {tok.get_vocab_size()}\n"
          f"trained on {version.spec} ({len(budgets)} languages, alpha {args.alpha}, "
          f"{sum(budgets.values()):,} chars sampled)\nartifact   {where}")
    print("largest shares: " + ", ".join(f"{lang} {n / sum(budgets.values()):.1%}" for lang, n in top[:8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
