"""Source code as input: language table, the code reader (trees, archives, records), licences,
code filters, secrets redaction on real files, code dedup keys, and the pipeline end to end.

Real files come from this machine: the running Python's standard library and /usr/include (what
``benchmarks/code_data.py`` builds at full size from packages); a test skips when they are absent."""
from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from catalog.contract import code_lang, is_code
from transforms.code.dedup import code_exact_key, code_signatures
from transforms.code.languages import LANGUAGES, detect, detect_lang
from transforms.code.licenses import allowed, is_license_file, license_of_text, normalise, spdx_identifier
from transforms.dedup.minhash import MinHashConfig, estimated_jaccards
from transforms.filters.code import filter_code_document
from transforms.filters.config import load_filter_config
from transforms.pii import redact_code, redact_document
from transforms.read.code import match_code_inputs, read_code_input
from transforms.read.sources import Source, SourceError, load_sources

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_FILES = ["json/decoder.py", "json/encoder.py", "json/scanner.py", "textwrap.py", "colorsys.py"]
LICENSE_TEXTS = Path("/usr/share/common-licenses")


def _stdlib(name: str) -> Path:
    path = STDLIB / name
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    return path


def _doc(text: str, lang: str, source: str = "t") -> dict:
    return {"id": "x", "uid": "x", "text": text, "source": source, "lang": lang, "lang_score": 1.0, "meta": {}}


def test_table_covers_the_13_roots_languages_with_unique_extensions():
    roots = {lang.name for lang in LANGUAGES if lang.roots}
    assert roots == {"java", "php", "cpp", "python", "javascript", "csharp", "ruby", "lua", "go", "typescript", "c",
                     "scala", "rust"}
    extensions = [e for lang in LANGUAGES for e in lang.extensions]
    assert len(extensions) == len(set(extensions))
    assert all(is_code(code_lang(lang.name)) for lang in LANGUAGES) and not is_code("en") and not is_code("und")


@pytest.mark.parametrize("path, text, expected", [
    ("a.h", "#include <stdio.h>\nint f(void);\n", "c"),
    ("a.h", "#ifdef __cplusplus\nextern \"C\" {\nclass X {};\n#endif\nint f(void);\n", "c"),
    ("a.h", "namespace foo {\nint f();\n}\n", "cpp"),
    ("a.h", "template <typename T> T f(T);\n", "cpp"),
    ("a.h", "@interface Foo : NSObject\n@end\n", "objective-c"),
    ("vector", "// <vector> -*- C++ -*-\n", "cpp"),
    ("a.m", "#import <Foundation/Foundation.h>\n", "objective-c"),
    ("a.m", "function y = f(x)\n  y = x;\nend\n", "matlab"),
    ("tool", "#!/usr/bin/env python3\nprint(1)\n", "python"),
    ("tool", "#!/usr/bin/ruby3.1\nputs 1\n", "ruby"),
    ("tsc", "#!/usr/bin/env node\nrequire('x')\n", "javascript"),
    ("Rakefile", "task :default\n", "ruby"),
    ("x.d.ts", "export {};\n", "typescript"),
])
def test_detect_decides_ambiguous_cases_by_content(path, text, expected):
    assert detect(path, text)[0] == expected


@pytest.mark.parametrize("path, text", [("README.md", "# x"), ("data.json", "{}"), ("a.m", "x = 1"),
                                        ("script", "#!/bin/sh\necho\n")])
def test_detect_leaves_what_it_cannot_decide_unlabelled(path, text):
    assert detect(path, text) is None


def test_real_headers_c_and_cpp():
    c_headers = [p for p in ("/usr/include/stdio.h", "/usr/include/stdlib.h", "/usr/include/string.h")
                 if os.path.isfile(p)]
    libstdcxx = Path("/usr/include/c++")
    cpp = sorted(libstdcxx.glob("*/vector")) + sorted(libstdcxx.glob("*/bits/stl_vector.h"))
    if not c_headers or not cpp:
        pytest.skip("glibc or libstdc++ headers are not installed here")
    assert {detect_lang(p, Path(p).read_text(errors="replace")) for p in c_headers} == {"code-c"}
    assert {detect_lang(str(p), p.read_text(errors="replace")) for p in cpp} == {"code-cpp"}


def test_licences_spdx_lines_and_licence_texts():
    assert spdx_identifier("// SPDX-License-Identifier: GPL-2.0+\nint x;") == "GPL-2.0-or-later"
    assert spdx_identifier("/* SPDX-License-Identifier: MIT OR Apache-2.0 */") == "MIT OR Apache-2.0"
    assert spdx_identifier("# SPDX-License-Identifier: no-such-licence") == "LicenseRef-unknown"
    assert normalise("mit") == "MIT"
    assert all(map(is_license_file, ["LICENSE", "pkg/COPYING.LIB", "LICENSE-MIT", "licence.md", "LICENSE_APACHE"]))
    assert not any(map(is_license_file, ["src/License.java", "license.py", "licenses/gpl.json"]))
    assert allowed("MIT OR GPL-3.0-only", frozenset({"MIT"}))
    assert not allowed("MIT AND GPL-3.0-only", frozenset({"MIT"}))
    assert allowed("GPL-2.0-only WITH Classpath-exception-2.0", frozenset({"GPL-2.0-only"}))
    assert not allowed("unknown", frozenset({"MIT"}))
    apache = LICENSE_TEXTS / "Apache-2.0"
    if not apache.is_file():
        pytest.skip("Debian's common licences are not installed here")
    assert license_of_text(apache.read_text()) == "Apache-2.0"
    assert license_of_text("Do whatever you like, but not on Tuesdays.") == "LicenseRef-unknown"


def _tree(root: Path) -> Path:
    """A small repository of real files: stdlib modules, a licence, a .git dir, vendored, binary, symlink."""
    repo = root / "myrepo"
    (repo / "pkg").mkdir(parents=True)
    for name in STDLIB_FILES:
        shutil.copy(_stdlib(name), repo / "pkg" / name.replace("/", "_"))
    apache = LICENSE_TEXTS / "Apache-2.0"
    if not apache.is_file():
        pytest.skip("Debian's common licences are not installed here")
    shutil.copy(apache, repo / "LICENSE")
    (repo / ".git" / "objects").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / "node_modules" / "dep").mkdir(parents=True)
    (repo / "node_modules" / "dep" / "index.js").write_text("module.exports = 1;\n")
    (repo / "pkg" / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (repo / "README.md").write_text("# my repo\n")
    (repo / "app.min.js").write_text("var a=1;")
    (repo / "gpl.py").write_text("# SPDX-License-Identifier: GPL-3.0-only\n" + _stdlib("colorsys.py").read_text())
    os.symlink("pkg/textwrap.py", repo / "link.py")
    return repo


def _read(path: Path, **source) -> list[tuple[str, dict]]:
    src = Source(name="code", paths=(str(path),), kind="code", text_field="content", **source)
    return [item for f in match_code_inputs(src) for item in read_code_input(f)]


def _summary(items: list[tuple[str, dict]]) -> tuple[dict, Counter]:
    docs = {d["meta"]["path"]: d for tag, d in items if tag == "doc"}
    return docs, Counter(r["reason"] for tag, r in items if tag == "removed")


def test_tree_reader_labels_keeps_repo_path_licence_and_counts_every_skip(tmp_path):
    docs, skipped = _summary(_read(_tree(tmp_path)))
    assert set(docs) == {f"pkg/{n.replace('/', '_')}" for n in STDLIB_FILES} | {"gpl.py"}
    assert skipped == Counter({"vendored_path": 1, "binary_file": 1, "not_code": 2, "minified_file": 1,
                               "symlink": 1})  # not_code: README.md and LICENSE; .git is not read at all
    doc = docs["pkg/json_decoder.py"]
    assert doc["lang"] == "code-python" and doc["id"] == "myrepo/pkg/json_decoder.py"
    assert doc["text"] == _stdlib("json/decoder.py").read_text()
    assert doc["meta"] == {"repo": "myrepo", "path": "pkg/json_decoder.py", "license": "Apache-2.0",
                           "license_from": "file", "lang_rule": "extension"}
    assert docs["gpl.py"]["meta"]["license"] == "GPL-3.0-only" and docs["gpl.py"]["meta"]["license_from"] == "spdx"


def test_licence_allow_list_drops_with_the_licence_as_reason(tmp_path):
    docs, skipped = _summary(_read(_tree(tmp_path), licenses=("Apache-2.0",)))
    assert "gpl.py" not in docs and skipped["license_not_allowed:GPL-3.0-only"] == 1
    assert len(docs) == len(STDLIB_FILES)


def test_archives_and_records_read_like_the_tree(tmp_path):
    repo = _tree(tmp_path / "src")
    os.unlink(repo / "link.py")  # zip keeps no symlinks
    tree_docs, _ = _summary(_read(repo))
    with tarfile.open(tmp_path / "myrepo.tar.gz", "w:gz") as tar:
        tar.add(repo, arcname="myrepo")
    with zipfile.ZipFile(tmp_path / "myrepo.zip", "w") as z:
        for p in sorted(repo.rglob("*")):
            if p.is_file():
                z.write(p, f"myrepo/{p.relative_to(repo)}")
    for archive in ("myrepo.tar.gz", "myrepo.zip"):
        docs, skipped = _summary(_read(tmp_path / archive))
        assert {k: (d["id"], d["text"], d["lang"], d["meta"]) for k, d in docs.items()} == \
            {k: (d["id"], d["text"], d["lang"], d["meta"]) for k, d in tree_docs.items()}, archive
    records = tmp_path / "files.jsonl"
    with open(records, "w") as f:
        for name in STDLIB_FILES:
            f.write(json.dumps({"path": name, "content": _stdlib(name).read_text(), "repo": "cpython",
                                "license": "PSF-2.0"}) + "\n")
        f.write(json.dumps({"content": "x = 1"}) + "\n")
    docs, skipped = _summary(_read(records))
    assert set(docs) == set(STDLIB_FILES) and skipped == Counter({"missing_path": 1})
    assert docs["json/decoder.py"]["meta"]["license"] == "PSF-2.0" and docs["json/decoder.py"]["id"] == \
        "cpython/json/decoder.py"


def test_sources_yaml_declares_code_and_refuses_unknown_licence_ids(tmp_path):
    good = tmp_path / "s.yaml"
    good.write_text("- {name: c, kind: code, paths: [x], licenses: [mit, Apache-2.0]}\n")
    (src,) = load_sources(str(good))
    assert src.kind == "code" and src.text_field == "content" and src.licenses == ("Apache-2.0", "MIT")
    assert src.to_json()["kind"] == "code"
    assert "kind" not in Source(name="t", paths=("x",)).to_json()  # prose sources record as before
    bad = tmp_path / "b.yaml"
    bad.write_text("- {name: c, kind: code, paths: [x], licenses: [not-a-licence]}\n")
    with pytest.raises(SourceError, match="does not know"):
        load_sources(str(bad))


def test_code_filters_keep_real_code_and_drop_minified_generated_and_blobs():
    config = load_filter_config().code
    params = config.params_for("code-python", "t")
    for name in STDLIB_FILES:
        doc, failure = filter_code_document(_doc(_stdlib(name).read_text(), "code-python"), params)
        assert failure is None, (name, failure)
        assert doc["meta"]["filter_scores"]["alphanum_fraction"] > 0.25
    real = _stdlib("textwrap.py").read_text()
    assert filter_code_document(_doc(real.replace("\n", ";"), "code-python"), params)[1].name == "max_line_length"
    generated = "# Code generated by protoc-gen-go. DO NOT EDIT.\n" + real
    assert filter_code_document(_doc(generated, "code-python"), params)[1].name == "drop_autogenerated"
    blob = real + '\nDATA = """\n' + "\n".join(["QUJD" * 19] * 20) + '\n"""\n'  # base64 as files embed it
    assert filter_code_document(_doc(blob, "code-python"), params)[1].name == "max_encoded_run"
    table = "TABLE = [\n" + "".join(f'    "name{i}", "value", {i}, 0x{i:04x},\n' for i in range(200)) + "]\n"
    assert filter_code_document(_doc(table, "code-python"), params)[1].name == "max_data_line_fraction"


def test_secrets_redacted_in_real_code_and_nothing_else_changes():
    real = _stdlib("json/encoder.py").read_text()
    key, token = "AKIA" + "ABCDEFGHIJKLMNOP", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    planted = real.replace("import re\n", f'import re\nAWS_KEY = "{key}"\nTOKEN = \'{token}\'\n', 1)
    redacted, counts = redact_code(planted)
    assert counts == {"key": 2}
    assert redacted == real.replace("import re\n", 'import re\nAWS_KEY = "<KEY>"\nTOKEN = \'<KEY>\'\n', 1)
    for name in STDLIB_FILES:  # code without secrets or addresses is left byte for byte
        text = _stdlib(name).read_text()
        if "@" not in text:
            assert redact_code(text) == (text, {})
    numbers = 'HOST = "127.0.0.1"\nPHONE_LIKE = 2125551234\n'
    assert redact_code(numbers)[0] == numbers
    assert redact_document(_doc(numbers, "code-python"))[0][1]["text"] == numbers
    assert "<IP_ADDRESS>" in redact_document(_doc("see 8.8.8.8 now", "en"))[0][1]["text"]


def test_code_keys_ignore_whitespace_and_stay_within_one_language():
    real = _stdlib("textwrap.py").read_text()
    reindented = "\n".join("  " + line.replace("    ", "\t") + "   " for line in real.split("\n")) + "\n\n"
    assert code_exact_key(real, "code-python") == code_exact_key(reindented, "code-python")
    assert code_exact_key(real, "code-python") != code_exact_key(real, "code-ruby")
    assert code_exact_key(real, "code-python") != code_exact_key(real.replace("width", "Width"), "code-python")
    config = MinHashConfig()
    sigs = code_signatures([real, real, reindented], ["code-python", "code-ruby", "code-python"], config)
    assert estimated_jaccards(sigs[:1], sigs[2:3])[0] == 1.0
    assert estimated_jaccards(sigs[:1], sigs[1:2])[0] < 0.1


def test_pipeline_curates_a_code_tree_next_to_prose(tmp_path):
    from pipelines.curate import run

    repo = _tree(tmp_path / "src")
    prose = tmp_path / "en.jsonl"
    prose.write_text(json.dumps({"id": "p1", "text": "This is an ordinary English sentence about the weather "
                                 "and the people who talk about it every single day of the year."}) + "\n")
    ref, manifest = run(["--code-input", str(repo), "--input", str(prose), "--lake", str(tmp_path / "lake"),
                         "--dataset", "mixed"])
    langs = set(manifest["languages"])
    assert "code-python" in langs and not any(is_code(x) for x in langs - {"code-python"})
    assert manifest["stages"]["read"]["code"]["max_code_file_bytes"] == 1 << 20
    q = manifest["counts"]["quarantined_by_reason"]
    assert q["vendored_path"] == 1 and q["binary_file"] == 1 and q["symlink"] == 1
    shard = next(s for s in manifest["shards"] if s["lang"] == "code-python")
    assert shard["path"].startswith("data/lang=code-python/")
    assert manifest["counts"]["input"] == manifest["counts"]["kept"] + sum(manifest["counts"]["filtered"].values()) \
        + sum(manifest["counts"]["duplicates"].values()) + manifest["counts"]["quarantined"]
    import pyarrow as pa

    with pa.memory_map(str(Path(ref.path) / shard["path"])) as f:
        stored = {r["id"]: r["text"] for r in pa.ipc.open_file(f).read_all().to_pylist()}
    original = _stdlib("json/decoder.py").read_text()
    assert stored["myrepo/pkg/json_decoder.py"] == original  # code is stored as it was read, byte for byte
    import yaml

    from catalog.export import dataset_card

    card = yaml.safe_load(dataset_card(manifest).split("---\n")[1])
    assert "code" in card["language"] and "code-python" not in card["language"]
    assert sys.modules["transforms.read.code"]  # the code reader ran


def test_training_mix_gives_programming_languages_their_share():
    from model.mixing import with_code_share

    mix = with_code_share({"en": 0.5, "fr": 0.3, "code-python": 0.15, "code-go": 0.05}, 0.1)
    assert mix == pytest.approx({"en": 0.5625, "fr": 0.3375, "code-python": 0.075, "code-go": 0.025})
    assert with_code_share({"en": 1.0, "code-c": 1.0}, 0.0) == {"en": 1.0}
    with pytest.raises(ValueError, match="needs both"):
        with_code_share({"en": 1.0}, 0.1)


def test_a_single_source_file_is_a_container_of_one(tmp_path):
    path = tmp_path / "proj" / "colorsys.py"
    path.parent.mkdir()
    shutil.copy(_stdlib("colorsys.py"), path)
    docs, skipped = _summary(_read(path))
    assert list(docs) == ["colorsys.py"] and not skipped
    assert docs["colorsys.py"]["id"] == "proj/colorsys.py" and docs["colorsys.py"]["lang"] == "code-python"


def test_git_checkouts_inside_a_tree_are_repositories_of_their_own(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed here")
    import subprocess

    for repo, name in (("alpha", "colorsys.py"), ("beta", "textwrap.py")):
        path = tmp_path / "checkouts" / repo
        (path / "src").mkdir(parents=True)
        shutil.copy(_stdlib(name), path / "src" / name)
        git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "import"], check=True)
    docs, skipped = _summary(_read(tmp_path / "checkouts"))
    assert {(d["meta"]["repo"], d["meta"]["path"], d["id"]) for d in docs.values()} == {
        ("alpha", "src/colorsys.py", "alpha/src/colorsys.py"), ("beta", "src/textwrap.py", "beta/src/textwrap.py")}
    assert not skipped  # nothing of .git is read or counted


def test_boilerplate_lines_are_never_taken_out_of_code():
    from transforms.boilerplate import clean_document, line_key, source_line_keys

    real = _stdlib("textwrap.py").read_text()
    doc = _doc(real, "code-python")
    assert source_line_keys(doc) == []
    every_line = {line_key(line) for line in real.split("\n")}
    assert clean_document(doc, every_line)[1] is doc
    assert source_line_keys(_doc("one line\nanother", "en"))
