"""The lake's contract: what a version's files hold and where, and the stage names its rows carry.

Writers (``transforms/``) and readers (``catalog/``, ``model/``) both import it from here, so the
layout is defined once, by the side that promises it to users, and ``catalog`` needs nothing from
the pipeline to read a lake.
"""
from __future__ import annotations

import os
import re

import pyarrow as pa

DATA_DIR = "data"  # shards: data/lang=<code>/part-BBBBB-SSS.arrow
REMOVED_DIR = "removed"  # one row per document not kept
BANDS_DIR = "dedup/bands"  # MinHash signature and LSH bands of every kept document
CLUSTERS_DIR = "dedup/clusters"  # one row per duplicate removed: who was kept instead
AUDIT_PATH = os.path.join("audit", "filtered-sample.arrow")  # a sample of filtered documents, PII-redacted

STAGE_QUARANTINE = "quarantine"  # unreadable or empty input
STAGE_FILTER = "filter"
STAGE_DEDUP_EXACT = "dedup-exact"
STAGE_DEDUP_NEAR = "dedup-near"
DEDUP_STAGES = (STAGE_DEDUP_EXACT, STAGE_DEDUP_NEAR)

DOC_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),
    ("lang", pa.string()),
    ("lang_score", pa.float32()),
    ("source", pa.string()),
    ("meta", pa.string()),
])
REMOVED_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source", pa.string()),
    ("lang", pa.string()),
    ("stage", pa.string()),
    ("reason", pa.string()),
    ("details", pa.string()),
])
BANDS_SCHEMA = pa.schema([
    ("id", pa.string()), ("source", pa.string()), ("signature", pa.binary()), ("bands", pa.list_(pa.uint64())),
])
CLUSTERS_SCHEMA = pa.schema([
    ("kept_id", pa.string()), ("kept_version", pa.string()), ("id", pa.string()), ("source", pa.string()),
    ("lang", pa.string()), ("jaccard", pa.float32()), ("stage", pa.string()),
])
AUDIT_SCHEMA = pa.schema([
    ("filter", pa.string()), ("id", pa.string()), ("source", pa.string()), ("lang", pa.string()),
    ("value", pa.float64()), ("threshold", pa.float64()), ("text", pa.string()), ("id_hash", pa.string()),
])


# Source code's ``lang``: "code-" and the programming language (``transforms.code.languages``), e.g.
# "code-python"; natural languages keep lid.176's codes, none of which starts so.
CODE_LANG_PREFIX = "code-"


def code_lang(name: str) -> str:
    """The ``lang`` value of a programming language (``python`` -> ``code-python``)."""
    return CODE_LANG_PREFIX + name


def is_code(lang: str) -> bool:
    """Whether a ``lang`` value is a programming language rather than a natural one."""
    return lang.startswith(CODE_LANG_PREFIX)


def kinds_note(langs: list[str]) -> str:
    """``" (12 natural, 2 programming)"`` when some of ``langs`` are programming languages, else ``""``."""
    code = sum(map(is_code, langs))
    return f" ({len(langs) - code} natural, {code} programming)" if code else ""


SCHEMA_OF_KIND = {"shard": DOC_SCHEMA, "removed": REMOVED_SCHEMA, "dedup-bands": BANDS_SCHEMA,
                  "dedup-clusters": CLUSTERS_SCHEMA, "audit": AUDIT_SCHEMA}  # by catalog.manifest.file_entries kind

# A language code as it becomes a partition folder and an export config name: a lid.176 label,
# ``und``, a declared code with subtags (``pt-BR``, ``zh_Hant``), or a programming language
# (``code-python``). Always ``fullmatch``: ``$`` also matches before a trailing newline.
LANG_CODE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*|code-[a-z0-9]{1,32}")


def check_lang(lang: str) -> str:
    """``lang`` itself if it is a language code, else ``ValueError`` (it would become a path)."""
    if not isinstance(lang, str) or not LANG_CODE.fullmatch(lang):
        raise ValueError(f"invalid language code {lang!r}: expected a code such as 'en', 'ceb', 'pt-BR' "
                         f"or 'code-python'")
    return lang


def shard_dir(lang: str) -> str:
    """The Hive-style partition of one language's shards."""
    return f"{DATA_DIR}/lang={check_lang(lang)}"
