"""Import layering: `sim` never imports `fitness`, and no hosting option imports another (what options share
lives in `sim/components/` or the private `sim/options/_fleet.py` and `sim/options/_scaling.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, absolute names (`from . import x` resolved against the sim package)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_sim_never_imports_fitness():
    bad = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.split(".")[0] == "fitness")
           for p in (ROOT / "sim").rglob("*.py")}
    assert {p: m for p, m in bad.items() if m} == {}


def test_no_option_imports_another_option():
    options = {p.stem for p in (ROOT / "sim" / "options").glob("*.py") if not p.stem.startswith("_")}
    assert {"realtime", "multi_container", "inference_pipeline"} <= options
    bad = {}
    for p in (ROOT / "sim" / "options").glob("*.py"):
        others = {m for m in _imports(p) if m.startswith("sim.options.")
                  and m.split(".")[2] in options and m.split(".")[2] != p.stem}
        if others:
            bad[p.name] = sorted(others)
    assert bad == {}


PACKAGES = ("sim", "fitness", "catalogs", "benchmarks")
"""The project's own code: the modules an import cycle or a hidden import could tie together."""


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _edges(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports (anywhere in it, type-checking imports included): `from a import b`
    names the module a.b when there is one, else a."""
    out = set()
    for name in _imports(path):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            out.add(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_among_the_project_s_modules():
    modules = _modules()
    graph = {m: _edges(p, modules) - {m} for m, p in modules.items()}
    assert "fitness.engine.run" in graph["fitness.engine.recommend"]  # the graph is read, not empty
    assert _cycles(graph) == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_an_import_inside_a_function_says_why():
    """Imports belong at the top of a module; one inside a function (a slow or optional dependency, loaded on
    use) carries a comment saying why, on its line."""
    silent = []
    for p in _modules().values():
        text = p.read_text(encoding="utf-8")
        lines = text.splitlines()
        for fn in (n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom) and "#" not in lines[node.lineno - 1]:
                    silent.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert silent == []
