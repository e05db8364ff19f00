"""Fixtures shared by the test files: the real data the repository ships, found inside the repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIRS = {
    "traces": ROOT / "examples" / "traces",  # the examples replay them too: one copy, beside the workloads
    "validation": ROOT / "tests" / "data" / "validation",
}
"""Where each kind of real data lives; each folder's README gives the source and licence of every file."""


def find_data(kind: str, name: str) -> Path:
    """The path of data file `name` of `kind` (a key of DATA_DIRS); a missing file fails the test, never skips it."""
    path = DATA_DIRS[kind] / name
    assert path.is_file(), (f"{path} is missing: it is part of the repository (see {DATA_DIRS[kind]}/README.md); "
                            f"restore it with `git checkout -- {path.relative_to(ROOT)}`")
    return path


@pytest.fixture()
def data_file() -> Callable[[str, str], Path]:
    """`data_file(kind, name)`: a real data file of the repository (`find_data`), e.g. ("traces", "x.csv")."""
    return find_data
