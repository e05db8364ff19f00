"""Start fast (issue 18): `fitness --help`, `validate` and `schema`, and `import fitness`, never import pandas,
plotly, dask or scipy. Each case runs in a fresh interpreter, since this test process has them loaded already;
what is checked is which modules got imported, never how long it took (speed is in benchmarks/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fraud-detection.yaml"
HEAVY = ("pandas", "plotly", "dask", "distributed", "scipy", "numba")
"""Packages that take seconds to import and that only recommend, sweep, calibrate and the reports need."""

PROBE = """\
import json, sys
heavy, argv, code = {heavy!r}, {argv!r}, None
if argv is None:
    {statement}
else:
    sys.argv = ["fitness", *argv]
    from fitness.cli import main
    try:
        main()
    except SystemExit as e:
        code = e.code
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "loaded": loaded}}) + "\\n")
"""
"""Run a command (or a statement), then report its exit code and the heavy packages in sys.modules."""


def probe(argv: list[str] | None = None, statement: str = "pass") -> tuple[int | None, list[str], str]:
    """(exit code, heavy packages loaded, stdout) of `fitness ARGV`, or of `statement`, in a fresh process."""
    code = PROBE.format(heavy=HEAVY, argv=argv, statement=statement)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stderr.rpartition("\nPROBE ")[2])
    return report["code"], report["loaded"], done.stdout


@pytest.mark.parametrize("argv, says", [
    (["--help"], "recommend"),
    (["validate", str(EXAMPLE)], "valid ("),
    (["schema"], '"title": "Workload"'),
], ids=["help", "validate", "schema"])
def test_the_quick_commands_never_import_the_heavy_libraries(argv, says):
    code, loaded, out = probe(argv)
    assert code == 0 and says in out
    assert loaded == []


def test_import_fitness_never_imports_the_heavy_libraries():
    assert probe(statement="import fitness")[1] == []


def test_the_entry_points_still_import_from_the_package():
    statement = ("from fitness import __version__, figures, load_workload, recommend, simulate; "
                 "assert all(map(callable, (figures, load_workload, recommend, simulate))) and __version__")
    assert probe(statement=statement)[0] is None  # the probe fails (returncode 1) if the import or assert does


def test_the_probe_sees_a_heavy_import():
    """The checks above can fail: sweeps tabulate their runs with pandas, and the probe says so."""
    assert "pandas" in probe(statement="import fitness.sweep")[1]


def test_the_engine_behind_recommend_imports_no_pandas():
    """`recommend` ranks and reports without pandas (a DataFrame is made only when asked: `to_frame`)."""
    assert "pandas" not in probe(statement="import fitness.engine.recommend")[1]


def test_loading_the_kernels_leaves_scipy_linalg_alone_and_numba_blas_still_compiles():
    """numba's array maths imports scipy.linalg to see whether BLAS is there (0.3 s a process); `sim.jit` imports
    it with scipy.linalg hidden. Kernels load without it, and a numba function that needs BLAS still compiles
    (importing scipy then) and computes."""
    code = ("import sys\nfrom sim import jit, options\nimport sim.traffic_stats\noptions.load_all()\njit.warm()\n"
            "before = 'scipy.linalg' in sys.modules\nimport numpy as np\nfrom numba import njit\n"
            "dot = njit(lambda a, b: np.dot(a, b))\nprint(before, dot(np.ones(3), np.arange(3.0)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "3.0"]
