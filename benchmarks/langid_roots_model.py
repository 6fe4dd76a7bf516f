"""Train ``lid-ncg.ftz``: the small fastText model that names ROOTS' Niger-Congo languages.

Input: the ``train`` part of ``benchmarks.langid_roots_data`` (Debian translations; never dev,
test, UDHR or Universal Dependencies text). One training line per translated string, labelled
with the stage's code (``__label__zu``). The model knows its neighbours too (Ndebele, Swati, Venda,
Hausa, ..., and lid.176 languages such as Afrikaans, Malagasy, Swahili, English, French,
Portuguese), so it can say "not one of mine" (``transforms.langid.identify`` keeps lid.176's answer
then). The build is reproducible: one thread, a fixed seed, the lines in a fixed order; the
result is quantized to a ``.ftz`` of about 1 MB.

    python -m benchmarks.langid_roots_data
    python -m benchmarks.langid_roots_model --out transforms/langid/models/lid-ncg.ftz
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.langid_data import DEFAULT_CACHE

TRAIN_FILE = DEFAULT_CACHE.with_name("langid-roots") / "sets" / "roots-ncg.train.jsonl"
# Chosen on the dev part (benchmarks.langid_eval on roots-ncg.dev.jsonl); the seed fixes the result.
PARAMS = {"minn": 2, "maxn": 5, "dim": 32, "epoch": 30, "lr": 0.5, "wordNgrams": 1, "bucket": 400_000,
          "minCount": 1, "loss": "softmax", "thread": 1, "seed": 1, "verbose": 0}
QUANTIZE = {"cutoff": 50_000, "qnorm": True, "retrain": False, "thread": 1, "verbose": 0}
MAX_LINES_PER_LANG = 6000  # keeps the big languages (en, fr, pt, af) from drowning the small ones


def training_lines(path: Path) -> list[str]:
    """``__label__xx string`` per translated string of the train part, in file order, capped per language."""
    lines, per_lang = [], {}
    with open(path, encoding="utf-8") as f:
        for record in map(json.loads, f):
            for text in record["text"].split("\n"):
                lang = record["label"]
                if per_lang.get(lang, 0) < MAX_LINES_PER_LANG:
                    per_lang[lang] = per_lang.get(lang, 0) + 1
                    lines.append(f"__label__{lang} {' '.join(text.lower().split())}")
    return lines


def train(path: Path, out: Path) -> None:
    import fasttext

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train.txt")
        with open(data, "w", encoding="utf-8") as f:
            f.write("\n".join(training_lines(path)) + "\n")
        model = fasttext.train_supervised(input=data, **PARAMS)
        model.quantize(input=data, **QUANTIZE)
        model.save_model(str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_roots_model",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=TRAIN_FILE, help=f"train part (default {TRAIN_FILE})")
    parser.add_argument("--out", type=Path, required=True, help="the .ftz to write")
    args = parser.parse_args(argv)
    if not args.train.is_file():
        print(f"error: {args.train} not found; run python -m benchmarks.langid_roots_data first", file=sys.stderr)
        return 2
    train(args.train, args.out)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
