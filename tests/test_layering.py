"""The package layering is a contract: each layer imports only the layers below it (read from the source).

    core  <-  ingest  <-  quality  <-  match  <-  store, scoring  <-  evidence;
    match, scoring  <-  pipeline  <-  engines  <-  jobs
    simulate: core and ingest only;  vvol: geomatch.core only;  no import cycles between modules.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {  # layer -> the layers of the project it may import (itself included)
    "geomatch.core": {"geomatch.core"},
    "geomatch.ingest": {"geomatch.core", "geomatch.ingest"},
    "geomatch.quality": {"geomatch.core", "geomatch.ingest", "geomatch.quality"},
    "geomatch.match": {"geomatch.core", "geomatch.ingest", "geomatch.quality", "geomatch.match"},
    "geomatch.store": {"geomatch.core", "geomatch.store"},
    "geomatch.scoring": {"geomatch.core", "geomatch.ingest", "geomatch.quality",
                         "geomatch.match", "geomatch.store", "geomatch.scoring"},
    "geomatch.evidence": {"geomatch.core", "geomatch.ingest", "geomatch.quality", "geomatch.match", "geomatch.scoring",
                          "geomatch.store", "geomatch.evidence"},
    "geomatch.simulate": {"geomatch.core", "geomatch.ingest", "geomatch.simulate"},
    "geomatch.pipeline": {"geomatch.core", "geomatch.ingest", "geomatch.quality",
                          "geomatch.match", "geomatch.scoring", "geomatch.store",
                          "geomatch.pipeline"},
    "geomatch.engines": {"geomatch.core", "geomatch.ingest", "geomatch.quality",
                         "geomatch.match", "geomatch.scoring", "geomatch.store",
                         "geomatch.pipeline", "geomatch.engines"},
    "geomatch.jobs": {"geomatch.core", "geomatch.ingest", "geomatch.quality",
                      "geomatch.match", "geomatch.scoring", "geomatch.store",
                      "geomatch.evidence", "geomatch.engines", "geomatch.pipeline", "geomatch.jobs"},
    "geomatch.web": {"geomatch.core", "geomatch.ingest", "geomatch.match", "geomatch.scoring", "geomatch.store",
                     "geomatch.evidence", "geomatch.web"},
    "vvol": {"geomatch.core", "vvol"},
}
TOP_LEVEL = {"geomatch"}  # the package __init__ re-exports everything (lazily)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports (every import statement, at any depth, type-checking ones included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in {"geomatch", "vvol"}}


def layer_of(module: str) -> str | None:
    return next((layer for layer in sorted(ALLOWED, key=len, reverse=True)
                 if module == layer or module.startswith(layer + ".")), None)


SOURCES = sorted(p for package in ("geomatch", "vvol") for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_the_layers_below_it(path):
    module = module_name(path)
    if module in TOP_LEVEL:
        return
    layer = layer_of(module)
    assert layer is not None, f"{module} belongs to no layer: add it to ALLOWED in {Path(__file__).name}"
    for imported in project_imports(path):
        target = layer_of(imported)
        if imported in TOP_LEVEL or target is None:
            assert imported in {"vvol"} or imported.startswith("vvol."), \
                f"{module} imports {imported}, the top-level package (import from its layer instead)"
            continue
        assert target in ALLOWED[layer], f"{module} ({layer}) imports {imported} ({target})"


def test_no_import_cycles_between_modules():
    modules = {module_name(p): p for p in SOURCES}
    graph = {m: {i for i in project_imports(p) if i in modules and i != m} for m, p in modules.items()}
    for package in [m for m, p in modules.items() if p.name == "__init__.py"]:
        graph[package] = set()  # a package re-exporting its modules is not a cycle through them
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_notebooks_import_only_the_top_level_packages():
    import json

    notebook = ROOT / "notebooks" / "01_matching.ipynb"
    code = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "code")
    imported = project_imports_from_text(code)
    assert imported and imported <= {"geomatch", "vvol"}, imported


def project_imports_from_text(code: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in {"geomatch", "vvol"}}
