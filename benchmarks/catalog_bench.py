"""Catalog benchmarks: ``verify`` throughput against ``sha256sum`` and ``list``/``show`` latency.

    python -m benchmarks.catalog_bench [--gb 1.0] [--datasets 100] [--versions 20]

Generates a ~1 GB version of Arrow shards and a lake of datasets x versions manifests in a temp
folder under /tmp, measures, prints a table, and deletes everything.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from benchmarks.results import add_record_argument, record
from catalog import lake as lakelib
from catalog.contract import DOC_SCHEMA
from catalog.verify import verify_version

SHARD_MB = 128
REPO = Path(__file__).resolve().parent.parent


def _shard_bytes(rng: np.random.Generator, mb: int, lang: str) -> tuple[bytes, int]:
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz     ", dtype=np.uint8)
    doc = 64 * 1024
    docs = mb * 1024 * 1024 // doc
    blob = letters[rng.integers(0, len(letters), docs * doc)].tobytes().decode("ascii")
    table = pa.table(  # the contract's shard schema: verify checks it
        {"id": [f"doc-{i}" for i in range(docs)], "text": [blob[i * doc : (i + 1) * doc] for i in range(docs)],
         "lang": [lang] * docs, "lang_score": [1.0] * docs, "source": ["gen"] * docs, "meta": ["{}"] * docs},
        schema=DOC_SCHEMA)
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=256)
    return sink.getvalue(), docs


def make_big_version(root: Path, gb: float) -> tuple[Path, dict]:
    """One version of ``gb`` GB in SHARD_MB shards over a few languages, with a real manifest."""
    vdir = root / "big" / "v1"
    rng = np.random.default_rng(0)
    shards = []
    for i in range(max(1, round(gb * 1024 / SHARD_MB))):
        lang = ["en", "fr", "de", "zh"][i % 4]
        data, rows = _shard_bytes(rng, SHARD_MB, lang)
        rel = f"data/lang={lang}/part-{i:05d}-000.arrow"
        (vdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (vdir / rel).write_bytes(data)
        shards.append({"path": rel, "lang": lang, "rows": rows, "bytes": len(data),
                       "sha256": hashlib.sha256(data).hexdigest(), "chars": rows * 65536, "sources": {"gen": rows}})
    return vdir, {"shards": shards, "removed_table": []}


def _mbps(total: int, seconds: float) -> float:
    return total / 1e6 / seconds


def bench_verify(root: Path, gb: float, figures: dict[str, float]) -> list[tuple[str, str]]:
    vdir, manifest = make_big_version(root, gb)
    files = [str(vdir / s["path"]) for s in manifest["shards"]]
    total = sum(s["bytes"] for s in manifest["shards"])
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)  # same page-cache state for all
    started = time.perf_counter()
    subprocess.run(["sha256sum", *files], stdout=subprocess.DEVNULL, check=True)
    baseline = time.perf_counter() - started
    figures.update(version_mb=round(total / 1e6), sha256sum_mb_s=round(_mbps(total, baseline)))
    rows = [("sha256sum (1 process, baseline)", f"{_mbps(total, baseline):,.0f} MB/s")]
    if shutil.which("openssl"):  # coreutils may lack SHA-NI; OpenSSL (what hashlib uses) has it
        started = time.perf_counter()
        subprocess.run(["openssl", "dgst", "-sha256", *files], stdout=subprocess.DEVNULL, check=True)
        figures["openssl_mb_s"] = round(_mbps(total, time.perf_counter() - started))
        rows.append(("openssl dgst -sha256 (1 process)", f"{figures['openssl_mb_s']:,} MB/s"))
    for threads in (1, os.cpu_count() or 1):
        started = time.perf_counter()
        checks = verify_version(vdir, manifest, threads=threads)
        elapsed = time.perf_counter() - started
        assert not [c for c in checks if c.problem]
        figures[f"verify_{threads}_threads_mb_s"] = round(_mbps(total, elapsed))
        rows.append((f"catalog verify, {threads} thread(s)", f"{_mbps(total, elapsed):,.0f} MB/s "
                     f"({elapsed / baseline:.2f}x sha256sum time)"))
    rows.insert(0, ("version size", f"{total / 1e6:,.0f} MB in {len(files)} shards"))
    shutil.rmtree(root / "big")
    return rows


def make_manifest_lake(root: Path, datasets: int, versions: int) -> None:
    """datasets x versions published versions, each with a realistic 40-shard, 20-language manifest."""
    langs = [f"l{i:02d}" for i in range(20)]
    shards = [{"path": f"data/lang={lang}/part-{j:05d}-000.arrow", "lang": lang, "rows": 1000, "bytes": 1 << 27,
               "sha256": "0" * 64, "chars": 10 ** 8, "sources": {"web": 1000}} for lang in langs for j in range(2)]
    base = {
        "schema_version": 1,
        "created_at": "2026-01-01T00:00:00+00:00",
        "shards": shards,
        "removed_table": [],
        "counts": {
            "input": 50000,
            "kept": 40000,
            "filtered": {"min_words": 5000},
            "duplicates": {"exact": 3000, "near": 2000},
            "quarantined": 0,
            "quarantined_by_reason": {},
        },
        "languages": {lang: {"docs": 2000, "chars": 2 * 10**8, "bytes": 1 << 28, "shards": 2} for lang in langs},
        "sources": {
            "web": {
                "license": "CC-BY-4.0",
                "input": 50000,
                "kept": 40000,
                "filtered": 5000,
                "duplicates": 5000,
                "quarantined": 0,
            }
        },
        "pii": {"email": 10},
        "stages": {},
        "lineage": {"inputs": [], "options": {}, "runner": "DirectRunner", "code": {"package_version": "0.1.0"}},
    }
    for d in range(datasets):
        for v in range(1, versions + 1):
            vdir = root / f"ds{d:03d}" / f"v{v}"
            vdir.mkdir(parents=True)
            (vdir / lakelib.MANIFEST).write_text(json.dumps(dict(base, dataset=f"ds{d:03d}", version=v)))


def _cli_seconds(args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "catalog", *args], cwd=REPO, stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def bench_browse(root: Path, datasets: int, versions: int, figures: dict[str, float]) -> list[tuple[str, str]]:
    lake = root / "lake"
    make_manifest_lake(lake, datasets, versions)
    rows = [("lake", f"{datasets} datasets x {versions} versions")]
    name = f"ds{datasets // 2:03d}"
    for key, label, args in [("list_ms", "catalog list", ["list"]), ("show_ms", "catalog show NAME", ["show", name]),
                             ("show_json_ms", "catalog show NAME@v1 --json", ["show", f"{name}@v1", "--json"])]:
        figures[key] = round(_cli_seconds(args + ["--lake", str(lake)]) * 1000)
        rows.append((f"{label} (whole process, best of 3)", f"{figures[key]:,} ms"))
    return rows


def record_result(args: argparse.Namespace, f: dict[str, float]) -> None:
    threads = os.cpu_count() or 1
    openssl = f", `openssl dgst` {f['openssl_mb_s']:,} MB/s" if "openssl_mb_s" in f else ""
    rows = [{"what": f"catalog verify, {f['version_mb']:,} MB version in 128 MB shards, page cache warm",
             "result": f"{f['verify_1_threads_mb_s']:,} MB/s on 1 thread, {f[f'verify_{threads}_threads_mb_s']:,} "
                       f"MB/s on {threads}",
             "baseline": f"`sha256sum` {f['sha256sum_mb_s']:,} MB/s{openssl}"},
            {"what": f"catalog list / show / show --json, {args.datasets} datasets x {args.versions} versions",
             "result": f"{f['list_ms']:,} / {f['show_ms']:,} / {f['show_json_ms']:,} ms (whole process, best of 3)",
             "baseline": "none (latency)"}]
    record("catalog_bench", section="Catalog and integrity", rows=rows, figures=f, options=vars(args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0, help="size of the generated version (default 1.0)")
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--versions", type=int, default=20)
    add_record_argument(parser)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="catalog-bench-", dir="/tmp"))
    figures: dict[str, float] = {}
    try:
        rows = bench_verify(root, args.gb, figures) + bench_browse(root, args.datasets, args.versions, figures)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    print(f"catalog bench ({os.cpu_count()} CPU(s))")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    if args.record:
        record_result(args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
