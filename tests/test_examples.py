"""Every bundled example is a valid workload whose requests can be drawn (the files users copy from)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fitness.workload.scenario import build
from fitness.workload.spec import load_workload
from sim.options import load_all

EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")
                  if "workloads" not in (yaml.safe_load(p.read_text()) or {}))  # sweep grids are not workloads


def test_there_are_examples():
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_valid(path):
    wl = load_workload(path)
    sc = build(wl)
    assert sc.n > 0 and sc.horizon_s > 0


def test_design_reference_configures_every_option():
    wl = load_workload(Path(__file__).resolve().parents[1] / "examples" / "design-reference.yaml")
    assert set(wl.options) == set(load_all())
