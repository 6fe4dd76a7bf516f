"""The second opinion's allow-list, chosen on dev evidence and proven on evidence not used to choose it.

Input: two JSON files written by ``python -m benchmarks.langid_eval --moves --evidence-out``, one
over dev files (looked at while the rule below was written) and one over proof files (never
looked at before the rule was fixed). A move (lid.176's label -> the second opinion's label)
is allowed when, counting as *harm* both the documents it broke (gold = lid.176's label) and
those it moved between two wrong labels (each adds a false positive to the new label, so both
can cost that language F1):

- it is inside a close-language group (``GROUPS``: the pairs where two models disagree on real
  text of the *source* language, as hr/sr -> bs and yue -> zh did on held-out news): on dev it
  fixed at least ``CLOSE_MIN_FIXED`` documents and at least ``RATIO`` times its harm, on proof it
  fixed at least one document and again ``RATIO`` times its harm, and on no single file (dev or
  proof) did its harm exceed what it fixed. No proof, no move;
- otherwise (languages lid.176 is unlikely to mistake for each other on real text, e.g.
  English -> Quechua): on dev it fixed at least one document and did no harm, and on proof its
  harm is at most a ``RATIO``-th of what it fixed (a move proof never saw is not refuted).

Everything else keeps lid.176's label. Output: the allow-list file with the rule, the groups,
the files each side used, and per move its dev and proof counts (fixed/broke/other).

    python -m benchmarks.langid_moves dev.json proof.json --out transforms/configs/langid-moves-v1.json
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from transforms.langid.langcodes import UNDETERMINED

VERSION = "langid-moves-v1"  # the file name in transforms/configs follows it
CLOSE_MIN_FIXED = 3
RATIO = 5
# Close-language groups: languages that share most of their vocabulary or are one language under
# several standards; a move between two of them needs proof on data not used to choose it.
GROUPS = {
    "south-slavic": "hr sr bs sh sl mk bg",
    "east-slavic": "ru uk be rue",
    "west-slavic": "cs sk pl hsb dsb szl",
    "chinese": "zh yue wuu gan lzh",
    "malay": "id ms min jv su",
    "scandinavian": "no nn da sv is",
    "romance": "es gl ast pt an ca oc fr it co sc vec nap scn lmo pms eml rm wa mwl frp lad lij",
    "west-germanic": "de als bar nds lb nl li af fy vls pfl frr ksh",
    "english-scots": "en sco",
    "indo-aryan-west": "hi ur mr ne mai bh sa new gom dty hif pa pnb gu",
    "indo-aryan-east": "bn as bpy or",
    "persian": "fa tg mzn lrc glk",
    "turkic": "tr az azb tt ba kk ky uz tk krc",
    "baltic": "lt lv",
    "finnic": "fi et vep",
    "philippine": "tl ceb war ilo pam bcl",
    "arabic": "ar arz",
    "goidelic": "ga gd gv",
    "brythonic": "cy br kw",
    "mongolic": "mn bxr xal",
    "kurdish": "ku ckb diq",
    "auxiliary": "ia ie io eo vo la",
}
_GROUP_OF = {lang: name for name, langs in GROUPS.items() for lang in langs.split()}


def close(a: str, b: str) -> bool:
    return a in _GROUP_OF and _GROUP_OF.get(a) == _GROUP_OF.get(b)


def _counts(evidence: dict, move: str) -> dict[str, int]:
    found = evidence["moves"].get(move, {})
    return {k: found.get(k, 0) for k in ("fixed", "broke", "other")}


def harm(counts: dict[str, int]) -> int:
    """Documents a move broke or moved from one wrong label to another."""
    return counts.get("broke", 0) + counts.get("other", 0)


def allowed(move: str, dev: dict[str, int], proof: dict[str, int], per_file: Iterable[dict[str, int]] = ()) -> bool:
    """The rule of the module docstring, for one move: its dev and proof counts, and its counts per file."""
    a, b = move.split(">")
    if close(a, b):
        return (dev["fixed"] >= CLOSE_MIN_FIXED and dev["fixed"] >= RATIO * harm(dev)
                and proof["fixed"] >= 1 and proof["fixed"] >= RATIO * harm(proof)
                and all(harm(c) <= c.get("fixed", 0) for c in per_file))
    return dev["fixed"] >= 1 and harm(dev) == 0 and proof["fixed"] >= RATIO * harm(proof)


def choose(dev: dict, proof: dict) -> dict:
    """The allow-list record: rule, groups, files, and the allowed moves with their evidence."""
    moves = []
    for move in sorted(dev["moves"]):
        if move.startswith(f"{UNDETERMINED}>"):  # lid.176's own label confirmed: not a move (transforms.langid)
            continue
        d, p = _counts(dev, move), _counts(proof, move)
        files = {**dev["moves"][move].get("per_file", {}), **proof["moves"].get(move, {}).get("per_file", {})}
        if allowed(move, d, p, files.values()):
            a, b = move.split(">")
            moves.append({"from": a, "to": b, "close": close(a, b), "dev": d, "proof": p, "per_file": files})
    return {"version": VERSION,
            "rule": (f"harm = broke + moved between two wrong labels; close pairs: dev fixed >= {CLOSE_MIN_FIXED} "
                     f"and >= {RATIO}x harm, proof fixed >= 1 and >= {RATIO}x harm, no file where harm > fixed; "
                     f"other pairs: dev fixed >= 1 and harm 0, proof fixed >= {RATIO}x harm"),
            "groups": GROUPS, "dev_files": dev["files"], "proof_files": proof["files"], "moves": moves}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.langid_moves", description=__doc__.split("\n\n")[0])
    parser.add_argument("dev", help="evidence JSON over the dev files")
    parser.add_argument("proof", help="evidence JSON over the proof files")
    parser.add_argument("--out", default=None, help="write the allow-list here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        with open(args.dev, encoding="utf-8") as f:
            dev = json.load(f)
        with open(args.proof, encoding="utf-8") as f:
            proof = json.load(f)
        record = choose(dev, proof)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print(f"{len(record['moves'])} moves allowed ({sum(m['close'] for m in record['moves'])} inside close groups)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
