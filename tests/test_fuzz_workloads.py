"""Issue 17, done-when: workloads generated from `fitness schema`, and mutations of the bundled examples, end
either in a scenario or in a `UserError` (exit 2 in the CLI) -- never in another exception.

The request limit is lowered for these tests so that a generated 30-day, 1,000 req/s workload is refused by
the same estimate the CLI uses instead of being simulated; the refusal is still a path under test.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

import fitness.workload.scenario as scenario_module
from fitness.errors import UserError
from fitness.workload.scenario import build
from fitness.workload.spec import load_workload, parse_workload, workload_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.name != "sweep-grid.yaml")
SMALL = 20_000
"""Requests a generated scenario may hold in these tests (the real limit is MAX_REQUESTS)."""

HOSTILE = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, -1, 1e308, -1e308, 10**30, math.inf, -math.inf, math.nan]),
    st.integers(), st.floats(allow_nan=True), st.text(max_size=12), st.sampled_from(["1:00:00", "yes", "3_600",
                                                                                     "10m", "no", "ml.c5.xlarg"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
"""Values a careless or hostile user puts where any other value was expected."""


def accepted_or_refused(data, source: str) -> None:
    """Parse and build `data`; any exception but UserError fails the test (with the workload in its message)."""
    try:
        wl = parse_workload(data, source) if isinstance(data, dict) else None
        if wl is not None:
            build(wl)
    except UserError as e:
        text = str(e)
        assert text.strip() and "Traceback" not in text, text


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    monkeypatch.setattr(scenario_module, "MAX_REQUESTS", SMALL)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=from_schema(workload_schema()))
def test_workloads_generated_from_the_schema_are_accepted_or_refused(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "w.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        build(load_workload(path))
    except UserError as e:  # the workload, or a file it names (a trace, a CSV of samples), is named first
        assert str(e).startswith((str(path), str(path.parent))), str(e)


def _paths(node, prefix=()) -> list[tuple]:
    """Every path (tuple of keys and indexes) to a value inside a YAML tree."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def mutated(data: dict, path: tuple, action: str, value):
    """`data` with the value at `path` replaced by `value`, deleted, or given an extra unknown key."""
    out = copy.deepcopy(data)
    node = out
    for p in path[:-1]:
        node = node[p]
    leaf = path[-1]
    if action == "delete":
        del node[leaf]
    elif action == "extra" and isinstance(node[leaf], dict):
        node[leaf]["unexpected_field"] = value
    else:
        node[leaf] = value
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(choice=st.data())
def test_mutated_examples_are_accepted_or_refused(choice):
    example = choice.draw(st.sampled_from(EXAMPLES), label="example")
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    path = choice.draw(st.sampled_from(_paths(data)), label="path")
    action = choice.draw(st.sampled_from(["replace", "replace", "delete", "extra"]), label="action")
    value = choice.draw(HOSTILE, label="value")
    accepted_or_refused(mutated(data, path, action, value), str(example))


def test_the_mutations_reach_the_simulation_and_the_refusals():
    """The fuzzing above is not vacuous: an example survives intact, and a mutation is refused."""
    data = yaml.safe_load((ROOT / "examples" / "fraud-detection.yaml").read_text(encoding="utf-8"))
    with pytest.raises(UserError):
        parse_workload(mutated(data, ("models", 0, "service_time"), "replace", "fast"), "fraud-detection.yaml")
    assert parse_workload(data, str(ROOT / "examples" / "fraud-detection.yaml")).name
