"""``python -m catalog``: browse, check and maintain the versions of a lake.

    python -m catalog list                          datasets and versions
    python -m catalog show NAME[@vN] [--json]       a version's summary or manifest
    python -m catalog verify NAME[@vN]              recompute every checksum and row count
    python -m catalog why NAME[@vN] DOC_ID [--source S]  where a document is, or why it is gone
    python -m catalog sample NAME[@vN] --lang fr -n 5
    python -m catalog diff NAME@vA NAME@vB
    python -m catalog export NAME[@vN] OUT_DIR      Hugging Face folder + Croissant JSON-LD
    python -m catalog tag NAME@vN TAG               pin a version (gc never collects it)
    python -m catalog gc [--grace-hours H] [--keep-last N] [--dry-run]
    python -m catalog push NAME[@vN] s3://BUCKET/PREFIX
    python -m catalog serve [--port 8000]           browse in a web browser

``--lake`` is a directory, a ``file://`` URL, or an ``s3://``/``gs://`` URL (``--endpoint-url`` or
``AWS_ENDPOINT_URL`` for an S3-compatible store); every command but ``push`` (and ``gc --keep-last``) reads an
object-store lake the way it reads a local one (``catalog.lake.open_lake``).
"""
from __future__ import annotations

import argparse
import errno
import json
import math
import sys
import time
import unicodedata

from catalog import lake as lakelib
from catalog.report import format_summary


def _printable(text: str) -> str:
    """Crawled text may hold terminal escape sequences: show control characters as escapes."""
    return "".join(c if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf") else f"\\x{ord(c):02x}"
                   for c in text)


def _lake(args: argparse.Namespace) -> lakelib.Lake:
    return lakelib.open_lake(args.lake, endpoint_url=args.endpoint_url)


def _local_only(lake: lakelib.Lake, command: str) -> None:
    if lake.is_remote:
        raise lakelib.CatalogError(f"{command} works on local lakes only; {lake} is on an object store")


def cmd_list(args: argparse.Namespace) -> int:
    """Every dataset; one whose latest manifest is damaged is listed as BROKEN (exit 1), the rest as usual."""
    lake = _lake(args)
    names = lake.list_datasets()
    if not names:
        print(f"no datasets in {args.lake}")
        return 0
    broken = 0
    for name in names:
        versions = lake.list_versions(name)
        shown = ", ".join(f"v{v}" for v in versions[-5:]) + (
            f" (+{len(versions) - 5} older)" if len(versions) > 5 else ""
        )
        try:
            _, latest = lake.load_manifest(f"{name}@v{versions[-1]}")
            c = latest["counts"]
            summary = (f"latest v{versions[-1]}: {c['kept']:,} docs, {len(latest['languages'])} languages, "
                       f"{latest['created_at']}")
        except (lakelib.CatalogError, KeyError, TypeError, ValueError, AttributeError) as e:
            broken += 1
            summary = f"latest v{versions[-1]}: BROKEN: {e if isinstance(e, lakelib.CatalogError) else repr(e)}"
        print(_printable(f"{name:<24} versions: {shown:<20} {summary}"))
    return 1 if broken else 0


def cmd_show(args: argparse.Namespace) -> int:
    ref, manifest = _lake(args).load_manifest(args.spec)
    if args.json:
        json.dump(manifest, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        print()
    else:
        print(format_summary(manifest, str(ref.path)))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from catalog.verify import describe_unlisted, manifest_problems, verify_version

    lake = _lake(args)
    ref, manifest = lake.load_manifest(args.spec)  # the schema, and the version against its folder
    where = lake.version_dir(ref)
    started = time.monotonic()
    lies = manifest_problems(manifest)
    checks = verify_version(where, manifest, threads=args.threads)
    elapsed = max(time.monotonic() - started, 1e-9)
    total = sum(c.bytes for c in checks)
    bad = [c for c in checks if c.problem]
    for lie in lies:
        print(f"BAD  {ref.spec} {lakelib.MANIFEST}: {lie}")
    for c in bad:
        print(f"BAD  {ref.spec} {c.path}: {c.problem}")
    for line in describe_unlisted(where, manifest):
        print(f"NOTE {ref.spec} {line}")
    verdict = "FAILED" if bad or lies else "ok"
    print(f"{ref.spec}: {verdict}: {len(checks) - len(bad)}/{len(checks)} files intact, "
          f"{total / 1e6:,.1f} MB in {elapsed:.2f} s ({total / 1e6 / elapsed:,.0f} MB/s)"
          + (f"; the manifest contradicts itself ({len(lies)} problem(s))" if lies else ""))
    return 1 if bad or lies else 0


def cmd_why(args: argparse.Namespace) -> int:
    from catalog.why import explain, format_explanation

    lake = _lake(args)
    ref, manifest = lake.load_manifest(args.spec)
    answer = explain(lake.version_dir(ref), manifest, args.doc_id, source=args.source, verify=not args.no_verify)
    print(json.dumps(answer, ensure_ascii=False) if args.json else _printable(format_explanation(answer, ref.spec)))
    return 1 if answer["status"] == "unknown" else 0


def cmd_sample(args: argparse.Namespace) -> int:
    from catalog.read import sample_rows

    lake = _lake(args)
    ref, manifest = lake.load_manifest(args.spec)
    if args.lang and args.lang not in manifest["languages"]:
        raise lakelib.CatalogError(f"{ref.spec} has no documents in {args.lang!r} "
                                   f"(languages: {', '.join(sorted(manifest['languages']))})")
    for row in sample_rows(lake.version_dir(ref), manifest, args.lang, args.n, args.seed, verify=not args.no_verify):
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        text = row["text"] if len(row["text"]) <= args.chars else row["text"][:args.chars] + " [...]"
        print(f"--- {_printable(row['id'])}  [{row['lang']} {row['lang_score']:.2f}, {_printable(row['source'])}]")
        print(_printable(text))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from catalog.diff import format_diff
    from catalog.manifest import file_entries
    from catalog.verify import require_intact

    lake = _lake(args)
    ref_a, a = lake.load_manifest(args.old)
    ref_b, b = lake.load_manifest(args.new)
    if not args.no_verify:  # "identical (same sha256)" is only true of intact files
        for ref, m in ((ref_a, a), (ref_b, b)):
            require_intact(lake.version_dir(ref), [e for _, e in file_entries(m)], ref.spec)
    print(format_diff(a, b))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from catalog.export import export_version

    lake = _lake(args)
    ref, manifest = lake.load_manifest(args.spec)
    try:
        out = export_version(lake.version_dir(ref), manifest, args.out, verify=not args.no_verify)
    except (FileExistsError, ValueError) as e:  # a folder in the way, a language code that is no code
        raise lakelib.CatalogError(str(e)) from None
    print(f"exported {ref.spec} to {out}\n"
          f"  Hugging Face: datasets.load_dataset({str(out)!r}, 'all')  (configs: all, "
          f"{', '.join(sorted(manifest['languages']))})\n"
          f"  Croissant:    {out / 'croissant.json'}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    ref = _lake(args).add_tag(args.spec, args.tag)
    print(f"tagged {ref.spec} as {args.tag!r}: gc will never collect it")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from catalog.gc import collect

    lake = _lake(args)
    if lake.is_remote and args.keep_last:
        raise lakelib.CatalogError(f"gc --keep-last works on local lakes only; {lake} is on an object store "
                                   f"(gc without it collects the staging of dead runs there)")
    result = collect(lake, grace=args.grace_hours * 3600, keep_last=args.keep_last, dry_run=args.dry_run)
    for path in result.removed:
        print(f"{'would remove' if args.dry_run else 'removed'}  {path}")
    for path in result.live:
        print(f"kept     {path}: its run is live (it holds its lease)")
    for reason in result.skipped:
        print(f"catalog: gc skipped {reason}", file=sys.stderr)
    print(f"{'would free' if args.dry_run else 'freed'} {result.bytes / 1e6:,.2f} MB in {len(result.removed)} "
          f"path(s) (grace {args.grace_hours:g} h)")
    return 2 if result.skipped else 0


def cmd_push(args: argparse.Namespace) -> int:
    from catalog.objectstore import S3Store, publish

    lake = _lake(args)
    _local_only(lake, "push")
    ref, manifest = lake.load_manifest(args.spec)
    store = S3Store.from_url(args.url, endpoint_url=args.endpoint_url)
    version = publish(store, ref.dataset, ref.path, manifest)
    print(f"published {ref.spec} to {args.url.rstrip('/')}/{ref.dataset}/v{version}/ as {ref.dataset}@v{version}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from catalog.serve import make_server

    server = make_server(_lake(args), args.host, args.port)
    host, port = server.server_address[:2]
    print(f"browsing {args.lake} at http://{host}:{port}/  (Ctrl-C stops)")  # type: ignore[str-bytes-safe]
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _number(kind: type, low: float, rule: str):
    """An argparse type: a finite ``kind`` >= ``low``; anything else is a usage error (exit 2)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}")
        return value
    return parse


def _port(text: str) -> int:
    value = _number(int, 0, "a port number from 0 to 65535")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catalog", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Browse, check and maintain the datasets and versions of a lake.\n"
                    "NAME@vN names a version; NAME alone means its latest version.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", default="./lake",
                        help="lake root: a directory, file://, s3:// or gs:// URL (default: ./lake)")
    common.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, moto, ...) for s3:// URLs: the lake "
                                               "and push's destination; default: AWS_ENDPOINT_URL, else AWS")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    def spec(p: argparse.ArgumentParser) -> None:
        p.add_argument("spec", metavar="NAME[@vN]", help="dataset, optionally with a version (latest when omitted)")

    def no_verify(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--no-verify",
            action="store_true",
            help="read files without checking them against the manifest (a damaged file is refused otherwise)",
        )

    add("list", cmd_list, "datasets and their published versions")
    p = add("show", cmd_show, "a version's summary, or its manifest with --json")
    spec(p)
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p = add("verify", cmd_verify, "recompute the sha256, size and row count of every file the manifest lists and "
                                  "every artifact; exit 1 naming any bad file")
    spec(p)
    p.add_argument(
        "--threads",
        type=_number(int, 1, "an integer >= 1"),
        help="files hashed in parallel (default: CPU count, at most 8)",
    )
    p = add("why", cmd_why, "where a document is kept, or which stage removed it and why")
    spec(p)
    p.add_argument("doc_id", metavar="DOC_ID", help="the document's id as in the input (or SOURCE:PATH:LINE)")
    p.add_argument("--source", help="only documents of this source (ids are unique only within an input)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    no_verify(p)
    p = add("sample", cmd_sample, "print a reproducible random sample of documents")
    spec(p)
    p.add_argument("--lang", help="only this language code (default: all)")
    p.add_argument("-n", type=_number(int, 0, "an integer >= 0"), default=5, help="how many documents (default 5)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--chars",
        type=_number(int, 1, "an integer >= 1"),
        default=500,
        help="cut texts after this many characters (default 500)",
    )
    p.add_argument("--json", action="store_true", help="print whole rows as JSON lines")
    no_verify(p)
    p = add("diff", cmd_diff, "what changed between two versions")
    p.add_argument("old", metavar="NAME@vA")
    p.add_argument("new", metavar="NAME@vB")
    no_verify(p)
    p = add("export", cmd_export, "write a Hugging Face datasets folder with Croissant JSON-LD for a version")
    spec(p)
    p.add_argument("out", metavar="OUT_DIR", help="an empty or new folder (shards are copied, as reflinks where "
                                                  "the file system supports them, and checked)")
    no_verify(p)
    p = add("tag", cmd_tag, "pin a version under a name; tagged versions are never garbage-collected")
    p.add_argument("spec", metavar="NAME@vN")
    p.add_argument("tag", metavar="TAG")
    p = add("gc", cmd_gc, "remove leftovers of aborted runs (and with --keep-last, old untagged versions)")
    p.add_argument("--grace-hours", type=_number(float, 0, "a number of hours >= 0"), default=24.0,
                   help="only touch files unchanged for this long, so live publishers are safe (default 24)")
    p.add_argument(
        "--keep-last",
        type=_number(int, 1, "an integer >= 1"),
        metavar="N",
        help="also retire published versions older than the newest N",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    p = add("push", cmd_push, "publish a local version to S3 (or an S3-compatible store) as its next version there")
    spec(p)
    p.add_argument("url", metavar="s3://BUCKET/PREFIX")
    p = add("serve", cmd_serve, "browse the lake in a web browser (read-only)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except lakelib.CatalogError as e:
        print(f"catalog: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, quota, read-only or forbidden: what was written is already removed
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise
        print(f"catalog: {args.command}: {e.strerror} writing {e.filename or 'its output'}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
