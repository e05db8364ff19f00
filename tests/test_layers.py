"""Import layering: `sim` never imports `fitness`, and no hosting option imports another (what options share
lives in `sim/components/` or the private `sim/options/_fleet.py`)."""

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
    options = {p.stem for p in (ROOT / "sim" / "options").glob("*.py")} - {"__init__", "_fleet"}
    assert {"realtime", "multi_container", "inference_pipeline"} <= options
    bad = {}
    for p in (ROOT / "sim" / "options").glob("*.py"):
        others = {m for m in _imports(p) if m.startswith("sim.options.")
                  and m.split(".")[2] in options and m.split(".")[2] != p.stem}
        if others:
            bad[p.name] = sorted(others)
    assert bad == {}
