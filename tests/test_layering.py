"""The package's import graph: no cycles, and every subpackage imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "crnn"

# Lowest first. A module may import its own subpackage and any subpackage before it, never one after it.
LAYERS = (
    "core",
    "models",
    "config",
    "synth",
    "datasets",
    "reading",
    "evaluation",
    "training",
    "recognizer",
    "detector",
    "tracking",
    "cli",
)
TORCH_FREE = ("core", "models", "config", "synth", "datasets", "reading", "evaluation")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules `path` imports, at the top or inside functions (a lazy import is an edge too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            # the longest package module the name is or lies in
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != "crnn":
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {m: _imports(p, modules) - {m} for m, p in files.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "crnn"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40  # the whole package was read
    assert cycles(graph) == []


def test_layers_import_only_downwards():
    graph = import_graph()
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        if _layer(m) in rank
        for d in deps
        if _layer(d) in rank and rank[_layer(d)] > rank[_layer(m)]
    ]
    assert upward == []
    assert set(LAYERS) <= {_layer(m) for m in graph}


def test_torch_free_layers_do_not_import_training_libraries():
    heavy = ("torch", "lightning", "timm", "clearml", "onnx.", "torchvision")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if _layer(_module(path)) not in TORCH_FREE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            found += [f"{_module(path)}: {m}" for m in mods if (m + ".").startswith(heavy) or m in ("onnx",)]
    assert found == []
