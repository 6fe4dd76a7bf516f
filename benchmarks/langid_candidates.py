"""Candidate models for the languages lid.176 lacks, on the same labelled file: recall, precision, speed.

Each candidate labels every document of the file (``text``, gold ``label`` or ``lid176``) on its
own; the table gives, over ROOTS' Niger-Congo languages in the file, how many the candidate can
name at all, its macro recall and macro precision (precision counts every document it gave that
label, whatever its gold), its accuracy on the other documents (does it keep what lid.176 knows?),
CPU docs/s, and on-disk size and licence. Candidates whose package is not installed are listed
as such: ``heliport`` (GPL-3.0, 220 languages in its 87 MB wheel) and ``gcld3`` (``cld3-py``,
Apache-2.0) are not dependencies of this project and are measured only where installed by hand.

    python -m benchmarks.langid_candidates ~/.cache/curation-lake/langid-roots/sets/roots-ncg.dev.jsonl
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable

from benchmarks.langid_eval import BATCH, expected
from benchmarks.results import add_record_argument, record
from transforms.langid.identify import (
    LabelBatches,
    LangIdConfig,
    ask_cld2,
    default_model_path,
    prepare,
    supplement_model_path,
)
from transforms.langid.langcodes import ROOTS_NIGER_CONGO, from_iso639_3, parse_label

Labeller = Callable[[list[str]], list[str]]


def _fasttext(path: str) -> Labeller:
    import fasttext

    model = fasttext.load_model(path)
    lower = os.path.basename(path) == os.path.basename(supplement_model_path())  # lid-ncg reads lowercased text

    def label(texts: list[str]) -> list[str]:
        prepared = [prepare(t).lower() if lower else prepare(t) for t in texts]
        return [parse_label(row[0])[0] if row else "und" for row in model.predict(prepared, k=1)[0]]
    return label


def _cld2(texts: list[str]) -> list[str]:
    return [lang if reliable else "und" for lang, _, reliable in map(ask_cld2, texts)]


def _stage(texts: list[str], _stage_fn: list = []) -> list[str]:  # noqa: B006 - one loaded stage per process
    if not _stage_fn:
        stage = LabelBatches(LangIdConfig())
        stage.setup()
        _stage_fn.append(stage)
    return [d["lang"] for d in _stage_fn[0].process([{"id": "", "text": t, "meta": {}} for t in texts])]


def _heliport() -> Labeller:
    import heliport

    identifier = heliport.Identifier()
    return lambda texts: [from_iso639_3(identifier.identify(prepare(t))) for t in texts]


def _gcld3() -> Labeller:
    import gcld3

    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=2000)
    return lambda texts: [r.language.split("-")[0] if r.is_reliable else "und"
                          for r in map(identifier.FindLanguage, texts)]


def _size(module: str) -> int:
    spec = importlib.util.find_spec(module)
    root = list(spec.submodule_search_locations or [])[0] if spec and spec.submodule_search_locations else None
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs) if root else 0


def candidates() -> dict[str, tuple[Callable[[], Labeller] | None, str, Callable[[], int]]]:
    """Name -> (loader or None when not installed, licence, on-disk size in bytes)."""
    installed = {m: importlib.util.find_spec(m) is not None for m in ("heliport", "gcld3")}
    return {
        "lid.176.ftz": (lambda: _fasttext(default_model_path()), "CC-BY-SA-3.0",
                        lambda: os.path.getsize(default_model_path())),
        "cld2 (pycld2)": (lambda: _cld2, "Apache-2.0", lambda: _size("pycld2")),
        "lid-ncg.ftz": (lambda: _fasttext(supplement_model_path()), "this project's (data: GPL/LGPL/MPL)",
                        lambda: os.path.getsize(supplement_model_path())),
        "heliport 1.0.1": (_heliport if installed["heliport"] else None, "GPL-3.0", lambda: _size("heliport")),
        "gcld3 (cld3-py 3.1.0)": (_gcld3 if installed["gcld3"] else None, "Apache-2.0", lambda: _size("gcld3")),
        "the stage (lid.176 + CLD2 + lid-ncg)": (lambda: _stage, "as its parts",
                                                 lambda: os.path.getsize(default_model_path())
                                                 + os.path.getsize(supplement_model_path()) + _size("pycld2")),
    }


def measure(records: list[dict], labeller: Labeller) -> dict[str, float]:
    """Coverage, macro recall and precision over the ROOTS languages, accuracy on the rest, docs/s."""
    gold = [expected(r) for r in records]
    pred: list[str] = []
    started = time.process_time()
    for i in range(0, len(records), BATCH):
        pred += labeller([r["text"] for r in records[i:i + BATCH]])
    seconds = time.process_time() - started
    langs = sorted({g for g in gold if g in ROOTS_NIGER_CONGO})
    given = Counter(pred)
    hits = Counter(g for g, p in zip(gold, pred) if g == p)
    support = Counter(gold)
    named = [lang for lang in langs if given[lang]]
    rest = [(g, p) for g, p in zip(gold, pred) if g not in ROOTS_NIGER_CONGO]
    return {"languages": len(langs), "named": len(named),
            "macro_recall": sum(hits[lang] / support[lang] for lang in langs) / max(1, len(langs)),
            "macro_precision": sum(hits[lang] / given[lang] for lang in named) / max(1, len(named)),
            "others_accuracy": sum(g == p for g, p in rest) / max(1, len(rest)),
            "docs_per_s": len(records) / seconds if seconds else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_candidates",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="labelled JSONL (benchmarks.langid_roots_data's dev part)")
    parser.add_argument("--limit", type=int, default=0, help="first N documents only (0: all)")
    add_record_argument(parser)
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8") as f:
        records = [r for r in map(json.loads, f) if expected(r)]
    records = records[:args.limit] if args.limit else records
    rows, figures = [], {}
    print(f"{args.file}: {len(records)} docs\n{'candidate':38} {'names':>7} {'recall':>7} {'prec.':>7} "
          f"{'others':>7} {'docs/s':>8} {'MB':>6}  licence")
    for name, (loader, licence, size) in candidates().items():
        if loader is None:
            print(f"{name:38} not installed  ({licence})")
            continue
        m = measure(records, loader())
        mb = size() / 2**20
        figures[name] = {**m, "size_mb": round(mb, 1), "licence": licence}
        rows.append({"what": f"{name}: ROOTS languages named, macro recall / precision",
                     "result": f"{m['named']}/{m['languages']}, {m['macro_recall']:.3f} / {m['macro_precision']:.3f}",
                     "baseline": f"lid.176.ftz in the same command; {m['docs_per_s']:.0f} docs/s, {mb:.1f} MB"})
        print(f"{name:38} {m['named']:>3}/{m['languages']:<3} {m['macro_recall']:7.3f} {m['macro_precision']:7.3f} "
              f"{m['others_accuracy']:7.3f} {m['docs_per_s']:8.0f} {mb:6.1f}  {licence}", flush=True)
    if args.record:
        record("langid_candidates", section="Language id", figures={"docs": len(records), **figures}, rows=rows,
               options=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
