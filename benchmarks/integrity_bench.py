"""What checking files on read costs: catalog readers, the training stream's start, export.

    python -m benchmarks.integrity_bench [--gb 0.5]

Generates one version of 128 MB Arrow shards under /tmp (page cache warm, as after a first
read), then in the same run times, per MB: opening every shard unchecked versus checked in the
same pass (``open_verified_table``, what ``catalog why/sample`` do); the training stream's check
before step 0 the first time (hashing) and again (the ctime-keyed marker); and an export as a
copy hashed while copying versus a plain copy and a hard link (free, but a hard link is the lake's
own file: appending to it would change the immutable version).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.catalog_bench import make_big_version
from benchmarks.results import add_record_argument, record


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=0.5, help="size of the generated version (default 0.5)")
    add_record_argument(parser)
    args = parser.parse_args(argv)

    import pyarrow.compute as pc

    from catalog.export import _copy_hashing
    from catalog.lakefs import location
    from catalog.verify import open_verified_table
    from model.shard_reader import ShardReader, Version

    root = Path(tempfile.mkdtemp(prefix="integrity-bench-", dir="/tmp"))
    try:
        vdir, manifest = make_big_version(root, args.gb)
        manifest = dict(manifest, dataset="big", version=1)
        entries = manifest["shards"]
        mb = sum(e["bytes"] for e in entries) / 1e6
        subprocess.run(["cat", *[str(vdir / e["path"]) for e in entries]], stdout=subprocess.DEVNULL, check=True)
        rows = [("version", f"{mb:,.0f} MB in {len(entries)} shards")]

        def open_all(verify: bool) -> None:
            for e in entries:
                open_verified_table(vdir, e, "big@v1", verify=verify)

        def scan_all() -> None:  # a reader that touches every byte of the text column
            for e in entries:
                pc.sum(pc.utf8_length(open_verified_table(vdir, e, "big@v1", verify=False)["text"]))

        plain, checked, scan = _best(lambda: open_all(False)), _best(lambda: open_all(True)), _best(scan_all)
        rows.append(("catalog readers: open every shard", f"unchecked {plain * 1e3 / mb:.3f} ms/MB, checked "
                     f"{checked * 1e3 / mb:.2f} ms/MB ({mb / checked:,.0f} MB/s); a full text-column scan "
                     f"{scan * 1e3 / mb:.2f} ms/MB"))

        version = Version("big@v1", str(vdir), manifest, "0" * 64, location(vdir))
        cache = root / "cache"

        def stream_check() -> None:
            ShardReader(version, cache).verify()

        started = time.perf_counter()
        stream_check()
        first = time.perf_counter() - started
        again = _best(stream_check)
        rows.append(("stream check before step 0", f"first {first * 1e3 / mb:.2f} ms/MB ({first:.2f} s, hashing), "
                     f"then {again * 1e3:.1f} ms for all shards (marker: stat + compare)"))

        out = root / "out"
        out.mkdir()

        def each(copy) -> None:
            for e in entries:
                dst = out / Path(e["path"]).name
                if dst.exists():
                    dst.unlink()
                copy(vdir / e["path"], dst)

        hashed, copied, linked = (_best(lambda: each(_copy_hashing)), _best(lambda: each(shutil.copyfile)),
                                  _best(lambda: each(os.link)))
        rows.append(("export of every shard", f"copy + sha256 {hashed * 1e3 / mb:.2f} ms/MB, plain copy "
                     f"{copied * 1e3 / mb:.2f} ms/MB, hard link {linked * 1e3 / mb:.3f} ms/MB"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.record:
        ms = {name: round(seconds * 1e3 / mb, 3) for name, seconds in
              (("open_unchecked", plain), ("open_checked", checked), ("text_scan", scan), ("stream_first", first),
               ("export_hashed_copy", hashed), ("plain_copy", copied), ("hard_link", linked))}
        where = f"{mb:,.0f} MB in {len(entries)} shards, page cache warm"
        record("integrity_bench", section="Catalog and integrity", options=vars(args),
               figures={"mb": round(mb), "ms_per_mb": ms, "stream_again_ms": round(again * 1e3, 1)},
               rows=[{"what": f"checking every shard on open (catalog readers), {where}",
                      "result": f"{ms['open_checked']:.2f} ms/MB ({mb / checked:,.0f} MB/s)",
                      "baseline": f"unchecked open {ms['open_unchecked']:.3f} ms/MB; a text-column scan "
                                  f"{ms['text_scan']:.2f} ms/MB"},
                     {"what": "training stream's check before step 0",
                      "result": f"first {ms['stream_first']:.2f} ms/MB (hashing); then {again * 1e3:.1f} ms for all "
                                "shards (marker)",
                      "baseline": f"checked open {ms['open_checked']:.2f} ms/MB"},
                     {"what": "export: copy + sha256 of every shard",
                      "result": f"{ms['export_hashed_copy']:.2f} ms/MB",
                      "baseline": f"plain copy {ms['plain_copy']:.2f} ms/MB, hard link {ms['hard_link']:.3f} ms/MB"}])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
