"""Peak RSS of the Read step on large and high-ratio inputs: the streaming reader against a reader
that materialises each file's records (the Read step of commit 8dc65e6), same run.

Three generated files: a plain JSONL of ``--jsonl-mb`` MB (1 kB records), a ``.jsonl.gz`` of
``--bomb-mb`` MB of identical small records (a decompression bomb: a few MB on disk) and a
``.txt.gz`` of ``--bomb-mb`` MB of text. Each is read by a fresh process, exactly as the pipeline's Read step
does: this tree's code iterates ``read_input_file`` (the step streams); the ``--before`` commit
is read as its Read step read, ``list(read_input_file(...))``. A watcher samples the child's RSS
every 20 ms and kills it past ``--cap-gb`` (reported as ``> cap``), so that the materialising
reader cannot take the machine down.

    python -m benchmarks.reader_memory                                 # 200 MB JSONL, 2 GB bombs
    python -m benchmarks.reader_memory --before 8dc65e6 --jsonl-mb 50 --bomb-mb 500
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results import add_record_argument, record

REPO = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
from transforms.read.files import read_input_file
from transforms.read.sources import Source
try:
    from transforms.read.inputs import match_inputs
except ImportError:  # a --before commit, where sources matched the inputs
    from transforms.read.sources import match_inputs
[f] = match_inputs([Source(name="bench", paths=(sys.argv[1],))])
started = time.monotonic()
if sys.argv[2] == "list":
    items = list(read_input_file(f))
    n, last = len(items), items[-1]
else:
    n, last = 0, None
    for last in read_input_file(f):
        n += 1
reason = last[1].get("reason", "doc") if last else None
print(json.dumps({"items": n, "last": reason, "seconds": round(time.monotonic() - started, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def measure(code_root: Path, path: Path, mode: str, cap_mb: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code_root))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode], cwd=code_root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = 0.0
    while proc.poll() is None:
        seen = max(seen, _rss_mb(proc.pid))
        if seen > cap_mb:
            proc.kill()
            proc.wait()
            return {"peak_rss_mb": f"> {cap_mb:.0f} (killed)"}
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"rc {proc.returncode}"}
    return json.loads(out.strip().splitlines()[-1])


def generate(tmp: Path, jsonl_mb: int, bomb_mb: int) -> list[Path]:
    text = ("lorem ipsum dolor sit amet " * 40)[:1000]
    big = tmp / "big.jsonl"
    with open(big, "w") as f:
        for i in range(jsonl_mb * 1000):
            f.write(json.dumps({"id": str(i), "text": f"{i} {text}"}) + "\n")
    bomb = tmp / "bomb.jsonl.gz"
    small = json.dumps({"text": "a small record"}).encode() + b"\n"  # identical records: ~1000x
    small *= 20_000
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        for _ in range(bomb_mb * (1 << 20) // len(small)):
            f.write(small)
    textbomb = tmp / "bomb.txt.gz"
    block = b"All work and no play makes Jack a dull boy.\n" * 24_000
    with gzip.open(textbomb, "wb", compresslevel=9) as f:
        for _ in range(bomb_mb * (1 << 20) // len(block)):
            f.write(block)
    return [big, bomb, textbomb]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="8dc65e6", help="commit whose Read step to compare with (default 8dc65e6)")
    ap.add_argument("--jsonl-mb", type=int, default=200)
    ap.add_argument("--bomb-mb", type=int, default=2000)
    ap.add_argument("--cap-gb", type=float, default=4.0, help="kill a reader past this RSS (default 4)")
    add_record_argument(ap)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="reader-memory-") as tmp:
        tmp = Path(tmp)
        old = tmp / "before"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        started = time.monotonic()
        files = generate(tmp, args.jsonl_mb, args.bomb_mb)
        print(f"generated in {time.monotonic() - started:.0f} s; reader peak RSS (MB), cap {args.cap_gb:g} GB")
        print(f"{'file':<16} {'on disk':>10} {'decompressed':>13}  {'before (' + args.before + ')':<34} now")
        rows, figures = [], {}
        for path in files:
            raw = path.stat().st_size
            unpacked = raw if path.suffix != ".gz" else sum(len(c) for c in _chunks(path))
            before = measure(old, path, "list", args.cap_gb * 1024)
            now = measure(REPO, path, "stream", args.cap_gb * 1024)
            print(f"{path.name:<16} {raw / 1e6:>8.1f}MB {unpacked / 1e6:>11.0f}MB  {_fmt(before):<34} {_fmt(now)}")
            figures[path.name] = {"bytes": raw, "decompressed": unpacked, "before": before, "now": now}
            rows.append({"what": f"Read step peak RSS, {path.name} ({raw / 1e6:.1f} MB on disk, "
                                 f"{unpacked / 1e6:,.0f} MB decompressed)",
                         "result": f"streaming reader: {_fmt(now)}",
                         "baseline": f"materialising reader ({args.before}): {_fmt(before)}"})
    if args.record:
        record("reader_memory", section="Readers", rows=rows, figures=figures, options=vars(args))


def _chunks(path: Path):
    with gzip.open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            yield chunk


def _fmt(r: dict) -> str:
    if "error" in r:
        return f"error: {r['error'][:40]}"
    if "items" not in r:
        return str(r["peak_rss_mb"])
    return f"{r['peak_rss_mb']} ({r['items']:,} items, {r['last']}, {r['seconds']} s)"


if __name__ == "__main__":
    main()
