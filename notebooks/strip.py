"""Strip outputs, execution counts and run metadata from notebooks, so git only sees what was written.

    python notebooks/strip.py                  # every notebook in this folder
    python notebooks/strip.py PATH.ipynb ...   # these notebooks

A notebook is rewritten only when it held something to strip; cell sources, markdown and the kernel
spec are kept as they are. tests/test_notebooks.py fails on any committed notebook this would change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
"""Cell metadata written by running a notebook (nbclient timings, Jupyter view state), not by its author."""

KEPT_LANGUAGE_INFO = ("name",)
"""The kernel fills in `language_info` (Python version, mimetype...) when it runs: keep only the language."""


def dirty_cells(nb: nbformat.NotebookNode) -> list[str]:
    """What running left in the notebook: one line per cell with outputs, a count or run metadata."""
    found = []
    for i, cell in enumerate(nb.cells):
        left = [k for k in RUN_METADATA if k in cell.get("metadata", {})]
        if cell.cell_type == "code" and cell.outputs:
            left.append("outputs")
        if cell.cell_type == "code" and cell.execution_count is not None:
            left.append("execution_count")
        if left:
            found.append(f"cell {i}: {', '.join(left)}")
    if "widgets" in nb.metadata:
        found.append("notebook metadata: widgets")
    if set(nb.metadata.get("language_info", {})) - set(KEPT_LANGUAGE_INFO):
        found.append("notebook metadata: language_info written by the kernel")
    return found


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without outputs, execution counts and run metadata (modified in place, returned)."""
    for cell in nb.cells:
        for key in RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    if "language_info" in nb.metadata:
        info = nb.metadata.language_info
        nb.metadata.language_info = {k: info[k] for k in KEPT_LANGUAGE_INFO if k in info}
    return nb


def main(argv: list[str]) -> int:
    """Strip the notebooks named (default: this folder's); exit 2, writing nothing, if one is not a notebook."""
    paths = [Path(a) for a in argv] or sorted(Path(__file__).parent.glob("*.ipynb"))
    books = {}
    for path in paths:  # read them all first: a bad path stops the run before any file is rewritten
        try:
            books[path] = nbformat.read(path, as_version=4)
        except (OSError, ValueError, nbformat.ValidationError) as e:  # NotJSONError is a ValueError
            print(f"{path}: cannot read it as a Jupyter notebook ({e}); expected an .ipynb file.", file=sys.stderr)
            return 2
    for path, nb in books.items():
        if dirty_cells(nb):
            tmp = path.with_name(path.name + ".tmp")
            nbformat.write(strip(nb), tmp)
            tmp.replace(path)  # write then rename: an interrupted run never leaves half a notebook
            print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
