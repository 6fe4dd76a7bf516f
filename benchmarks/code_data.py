"""Labelled source-code sets built from Debian, npm and PyPI packages: the code path's real test data.

Each set is the sources one package ships in one programming language, labelled by that package's
language (a Go toolchain's ``src/**/*.go`` is Go; every file of libstdc++'s ``include/c++`` tree,
extensionless headers included, is C++; glibc's headers are C), so the labels do not come from the
detector under test. Two Python standard libraries of different versions (CPython 3.11 and PyPy's
3.9 ``lib-python``) give real near-duplicates across versions. What each set is and its licence:
``benchmarks/code_data.md``. Output: ``SET.jsonl`` records with ``path`` (inside the package),
``content``, ``repo`` (the set), ``label`` (the expected ``lang``), ``license`` (the package's);
files over 1 MiB or not UTF-8 are left out. Nothing is written inside the repository.

    python -m benchmarks.code_data                      # download, extract, write every set
    python -m benchmarks.code_data --sets go,rust --cache DIR --out DIR
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curation-lake" / "code-data"
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class CodeSet:
    name: str
    label: str  # the lang every selected file should get
    registry: str  # "deb", "npm" or "pypi-sdist"
    package: str
    version: str
    patterns: tuple[str, ...]  # globs inside the unpacked package
    license: str
    inner_zip: str | None = None  # a zip inside the package to unpack first (the JDK's src.zip)


SETS = (
    CodeSet("python-cpython-3.11", "code-python", "deb", "libpython3.11-stdlib", "3.11.2-6+deb12u9",
            ("usr/lib/python3.11/**/*.py",), "PSF-2.0"),
    CodeSet("python-cpython-3.11-minimal", "code-python", "deb", "libpython3.11-minimal", "3.11.2-6+deb12u9",
            ("usr/lib/python3.11/**/*.py",), "PSF-2.0"),
    CodeSet("python-pypy-3.9", "code-python", "deb", "pypy3-lib", "7.3.11+dfsg-2+deb12u3",
            ("usr/lib/pypy3.9/**/*.py",), "PSF-2.0 AND MIT"),
    CodeSet("go", "code-go", "deb", "golang-1.19-src", "1.19.8-2", ("usr/share/go-1.19/src/**/*.go",),
            "BSD-3-Clause"),
    CodeSet("rust", "code-rust", "deb", "rust-src", "1.63.0+dfsg1-2", ("usr/lib/rustlib/src/rust/library/**/*.rs",),
            "MIT OR Apache-2.0"),
    CodeSet("c-glibc-headers", "code-c", "deb", "libc6-dev", "2.36-9+deb12u14", ("usr/include/**/*.h",),
            "LGPL-2.1-or-later"),
    CodeSet("cpp-libstdc++", "code-cpp", "deb", "libstdc++-12-dev", "12.2.0-14+deb12u1",
            ("usr/include/c++/12/**/*",), "GPL-3.0-or-later WITH GCC-exception-3.1"),
    CodeSet("ruby-stdlib", "code-ruby", "deb", "libruby3.1", "3.1.7+really3.1.2-0+deb12u1",
            ("usr/lib/ruby/3.1.0/**/*.rb",), "Ruby OR BSD-2-Clause"),
    CodeSet("ruby-scripts", "code-ruby", "deb", "ruby3.1", "3.1.7+really3.1.2-0+deb12u1", ("usr/bin/*",),
            "Ruby OR BSD-2-Clause"),
    CodeSet("lua-penlight", "code-lua", "deb", "lua-penlight", "1.13.1-3", ("usr/share/lua/**/*.lua",), "MIT"),
    CodeSet("php-symfony-console", "code-php", "deb", "php-symfony-console", "5.4.53+dfsg-0+deb12u1",
            ("usr/share/php/**/*.php",), "MIT"),
    CodeSet("php-getid3", "code-php", "deb", "php-getid3", "1.9.22+dfsg-1", ("usr/share/php/**/*.php",),
            "GPL-1.0-or-later"),
    CodeSet("java-openjdk-17", "code-java", "deb", "openjdk-17-source", "17.0.21.1+2-1~deb12u1",
            ("src/java.base/java/util/**/*.java", "src/java.base/java/io/*.java"),
            "GPL-2.0-only WITH Classpath-exception-2.0", inner_zip="usr/lib/jvm/openjdk-17/lib/src.zip"),
    CodeSet("javascript-lodash", "code-javascript", "npm", "lodash", "4.17.21", ("package/**/*.js",), "MIT"),
    CodeSet("javascript-node-bin", "code-javascript", "npm", "typescript", "5.4.5", ("package/bin/*",),
            "Apache-2.0"),
    CodeSet("typescript-rxjs", "code-typescript", "npm", "rxjs", "7.8.1", ("package/src/**/*.ts",), "Apache-2.0"),
    CodeSet("csharp-pythonnet", "code-csharp", "pypi-sdist", "pythonnet", "3.0.3", ("pythonnet-*/src/**/*.cs",),
            "MIT"),
)
BY_NAME = {s.name: s for s in SETS}
# ROOTS's 13 languages that no reachable registry ships sources of, as far as this builder knows.
ABSENT = {"code-scala": "Debian ships Scala as jars only; npm and PyPI packages hold no Scala sources"}


def fetch(s: CodeSet, cache: Path) -> Path:
    """The package unpacked under ``cache/unpacked/<registry>-<package>-<version>`` (downloaded once)."""
    target = cache / "unpacked" / f"{s.registry}-{s.package}-{s.version}"
    if target.is_dir():
        return target
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    if s.registry == "deb":
        subprocess.run(["apt-get", "download", f"{s.package}={s.version}"], cwd=downloads, check=True)
        deb = next(downloads.glob(f"{s.package}_*.deb"))
        tmp = target.parent / (target.name + ".tmp")
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
    elif s.registry == "npm":
        out = subprocess.run(["npm", "pack", f"{s.package}@{s.version}", "--silent"], cwd=downloads, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        tmp = target.parent / (target.name + ".tmp")
        with tarfile.open(downloads / out) as tar:
            tar.extractall(tmp, filter="data")
    else:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"{s.package}=={s.version}", "-d", str(downloads)], check=True, capture_output=True)
        archive = next(downloads.glob(f"{s.package}-{s.version}.tar.gz"))
        tmp = target.parent / (target.name + ".tmp")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
    if s.inner_zip:
        with zipfile.ZipFile(tmp / s.inner_zip) as z:
            z.extractall(tmp / "src")
    tmp.rename(target)
    return target


def records(s: CodeSet, root: Path) -> list[dict]:
    out = []
    for pattern in s.patterns:
        for path in sorted(glob.glob(str(root / pattern), recursive=True)):
            p = Path(path)
            if not p.is_file() or p.is_symlink() or p.stat().st_size > MAX_BYTES:
                continue
            try:
                content = p.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append({"id": f"{s.name}/{p.relative_to(root)}", "path": str(p.relative_to(root)), "content": content,
                        "repo": s.name, "label": s.label, "license": s.license})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"downloads and unpacked packages ({DEFAULT_CACHE})")
    parser.add_argument("--out", type=Path, default=None, help="where SET.jsonl go (default: CACHE/sets)")
    parser.add_argument("--sets", default=",".join(BY_NAME), help="comma-separated set names")
    args = parser.parse_args(argv)
    out = args.out or args.cache / "sets"
    out.mkdir(parents=True, exist_ok=True)
    for name in args.sets.split(","):
        s = BY_NAME[name]
        rows = records(s, fetch(s, args.cache))
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        print(f"{name}: {len(rows)} files, {sum(len(r['content']) for r in rows):,} chars ({s.package} {s.version})")
    for lang, why in ABSENT.items():
        print(f"{lang}: absent ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
