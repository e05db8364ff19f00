"""The notebooks in notebooks/ run top to bottom (DESIGN §6: executed in CI) and are committed stripped.

Each notebook is executed with nbclient in a fresh kernel of THIS interpreter (not whatever `python3`
kernel spec a machine has installed), with notebooks/ as the working directory, as Jupyter runs it, and
the repository first on the kernel's path, so the notebooks exercise the code under test. A
cell that raises fails the test with that cell's source and traceback; each notebook ends with a cell
asserting the claims its text makes. Outputs stay in memory: nothing is written to the repository.
Strip a notebook you ran before committing: `python notebooks/strip.py`.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
"""Per cell; each notebook takes well under a minute in all (generous for a loaded 2-core CI machine)."""
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _stripper():
    """notebooks/strip.py as a module (the folder is not a package: it is run as a script)."""
    spec = importlib.util.spec_from_file_location("notebook_strip", NOTEBOOK_DIR / "strip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


strip = _stripper()


def _this_interpreter() -> KernelManager:
    """A kernel manager for ipykernel on sys.executable: with no kernel directories to search, jupyter_client
    falls back to ipykernel's built-in spec, which it fills with the running interpreter, so a stale
    user-installed `python3` spec pointing at another Python cannot be picked up."""
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook at `path` (cwd = its folder) and return it with its outputs, in memory."""
    nb = nbformat.read(path, as_version=4)
    km = _this_interpreter()
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(path.parent)}})
    path_var = os.pathsep.join(filter(None, [str(NOTEBOOK_DIR.parent), os.environ.get("PYTHONPATH")]))
    failure = None
    try:
        client.execute(env={**os.environ, "PYTHONPATH": path_var})
    except CellExecutionError as e:  # reported outside the handler: the cell's traceback once, uncoloured
        failure = ANSI_COLOUR.sub("", str(e))
    finally:  # nbclient leaves a kernel it was given running; later tests count our child processes
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    if failure:
        pytest.fail(f"{path.name}: a cell failed\n{failure}", pytrace=False)
    return nb


def test_the_four_notebooks_of_issue_7_are_there():
    """Quickstart, serverless vs real-time, multi-model sizing and real traces (issue 7)."""
    names = {p.stem for p in NOTEBOOKS}
    assert {"01-quickstart", "02-serverless-vs-realtime", "03-multi-model-sizing", "04-real-traces"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_stripped(path):
    """No outputs, execution counts or run metadata in git: `python notebooks/strip.py` removes them."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert not strip.dirty_cells(nb), f"{path.name} holds outputs; run `python notebooks/strip.py`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    """Every cell runs without error, and the stripper leaves the executed notebook as committed."""
    nb = execute(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert strip.dirty_cells(nb)  # it ran, so there is something to strip ...
    assert not strip.dirty_cells(strip.strip(nb))  # ... and stripping leaves nothing


def test_strip_command_rewrites_only_dirty_notebooks_and_refuses_non_notebooks(tmp_path, capsys):
    """`python notebooks/strip.py PATH...`: strips a run notebook in place, keeps its sources, leaves a
    clean one untouched, and exits 2 without writing anything when a path is not a notebook."""
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# kept"), nbformat.v4.new_code_cell(
        "1 + 1", execution_count=3, outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                                                      execution_count=3)])])
    dirty, clean, bad = tmp_path / "run.ipynb", tmp_path / "clean.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(run, dirty)
    nbformat.write(strip.strip(copy.deepcopy(run)), clean)
    bad.write_text("not a notebook")
    before = dirty.read_text()
    assert strip.main([str(dirty), str(bad)]) == 2 and dirty.read_text() == before
    assert "bad.ipynb" in capsys.readouterr().err
    clean_mtime = clean.stat().st_mtime_ns
    assert strip.main([str(dirty), str(clean)]) == 0
    after = nbformat.read(dirty, as_version=4)
    assert not strip.dirty_cells(after) and [c.source for c in after.cells] == ["# kept", "1 + 1"]
    assert clean.stat().st_mtime_ns == clean_mtime
