"""``python -m catalog``: browse the lake.

    python -m catalog list [--lake DIR]
    python -m catalog show NAME[@vN] [--lake DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys

from catalog import lake as lakelib
from catalog.report import format_summary


def cmd_list(args: argparse.Namespace) -> int:
    names = lakelib.list_datasets(args.lake)
    if not names:
        print(f"no datasets in {args.lake}")
        return 0
    for name in names:
        versions = lakelib.list_versions(args.lake, name)
        _, latest = lakelib.load_manifest(args.lake, name)
        c = latest["counts"]
        print(f"{name:<24} versions: {', '.join(f'v{v}' for v in versions):<20} "
              f"latest v{latest['version']}: {c['kept']:,} docs, {len(latest['languages'])} languages, "
              f"{latest['created_at']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ref, manifest = lakelib.load_manifest(args.lake, args.spec)
    if args.json:
        json.dump(manifest, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        print()
    else:
        print(format_summary(manifest, str(ref.path)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m catalog", description="Browse the datasets and versions of a lake.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", default="./lake", help="lake root directory (default: ./lake)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", parents=[common], help="datasets and their published versions")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", parents=[common], help="a version's summary, or its manifest with --json")
    p.add_argument("spec", metavar="NAME[@vN]", help="dataset, optionally with a version (latest when omitted)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=cmd_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except lakelib.CatalogError as e:
        print(f"catalog: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
