"""No import cycle inside the project, whether the imports sit at module level or inside functions.

A function-local import is for deferring a cost (Beam, boto3, fastwarc, torch), never for hiding a
loop: a cycle means two modules cannot be understood, tested or moved apart. The test reads every
module's AST (nothing is imported), resolves each ``import``/``from ... import`` that names a module
of the project, and fails on every strongly connected component of more than one module.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("pipelines", "transforms", "catalog", "model", "benchmarks")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages (a package is its ``__init__``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import of ``name`` loads: itself, or the package it is an attribute of."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module ``module`` imports, anywhere in its body (module level or in a function)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from catalog import lake`` imports the module catalog.lake; ``from catalog.lake import X`` catalog.lake
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {target for name in names if (target := _resolve(name, modules)) and target != module}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_walk_sees_function_level_imports_and_finds_a_planted_cycle(tmp_path):
    modules = project_modules()
    assert "catalog.lake" in modules and "transforms.read.files" in modules and "benchmarks.results" in modules
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert "catalog.lakefs" in graph["catalog.lake"]  # module level
    assert "catalog.objectstore" in graph["catalog.lake"]  # inside a method: counted too
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_inside_the_project():
    modules = project_modules()
    graph = {module: imports_of(module, path, modules) for module, path in modules.items()}
    found = cycles(graph)
    assert not found, "import cycles (move the shared code down a layer, docs/design.md): " + "; ".join(
        " <-> ".join(component) for component in found)


# docs/design.md's layers of catalog/, bottom first: a module imports only from its own layer or below.
CATALOG_LAYERS = (
    {"catalog.contract", "catalog.errors", "catalog.names", "catalog.hashing"},
    {"catalog.lakefs"},
    {"catalog.manifest", "catalog.artifact_records", "catalog.verify", "catalog.schema"},
    {"catalog.objectstore"},
    {"catalog.lake"},
)


def test_the_catalog_layers_go_one_way():
    modules = project_modules()
    layer = {module: i for i, members in enumerate(CATALOG_LAYERS) for module in members}
    top = len(CATALOG_LAYERS)
    upward = []
    for module, path in modules.items():
        if module.startswith("catalog."):
            upward += [f"{module} -> {target}" for target in sorted(imports_of(module, path, modules))
                       if target.startswith("catalog.") and layer.get(target, top) > layer.get(module, top)]
    assert not upward, "imports from a higher layer (docs/design.md): " + "; ".join(upward)
