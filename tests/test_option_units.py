"""One unit per hosting option: every simulated option has everything the product needs, found from its id.

The conformance check (`fitness.options.problems`) names what an option lacks: a unit, pins that are knobs
of its config, a search, an export builder or an explicit `NoExport`, a complexity rubric entry, docs.
"""

from __future__ import annotations

import dataclasses

import pytest

import catalogs
from fitness import options
from fitness.engine.functions import complexity
from fitness.options import NoExport, OptionUnit, option_ids, problems, rubric_decisions, unit
from sim import options as sim_options
from sim.errors import InputError


def test_every_registered_option_is_at_parity():
    assert problems() == []
    assert set(option_ids()) == set(sim_options.load_all()) == set(options.load_all())


@pytest.fixture()
def realtime() -> OptionUnit:
    return unit("realtime")


@pytest.mark.parametrize(("change", "named"), [
    ({"pins": ("instance_cuont",)}, "pin 'instance_cuont' is not a field of RealtimeConfig"),
    ({"pins": ()}, "no pins (which knobs fix its capacity)"),
    ({"search": None}, "no right-sizing search"),
    ({"export": None}, "no export builder, and no NoExport saying why"),
    ({"export": NoExport("  ")}, "no export builder, and no NoExport saying why"),
    ({"rubric": "unrated"}, "rubric entry 'unrated' missing from catalogs/rubrics/complexity.yaml"),
    ({"docs": ""}, "no docs (title and the section of docs/options.md)"),
])
def test_what_a_unit_lacks_is_named(monkeypatch, realtime, change, named):
    monkeypatch.setitem(options.UNITS, "realtime", dataclasses.replace(realtime, **change))
    assert problems() == [f"realtime: {named}"]


def test_an_option_without_export_says_why(monkeypatch, realtime):
    monkeypatch.setitem(options.UNITS, "realtime", dataclasses.replace(realtime, export=NoExport("not yet")))
    assert problems() == []


def test_a_simulated_option_without_a_unit_is_refused(monkeypatch):
    toy = dataclasses.replace(sim_options.load_all()["realtime"], id="toy")
    monkeypatch.setitem(sim_options.REGISTRY, "toy", toy)
    assert problems() == ["toy: simulated but has no unit in fitness/options/"]
    with pytest.raises(RuntimeError, match="toy"):
        option_ids()


def test_an_unrated_option_never_scores_like_another(monkeypatch, realtime):
    monkeypatch.setitem(options.UNITS, "realtime", dataclasses.replace(realtime, rubric="unrated"))
    with pytest.raises(RuntimeError, match="no entry 'unrated'"):
        complexity.decisions("realtime", None)
    assert "default" not in catalogs.rubric("complexity")  # no fallback rating to fall back on


def test_each_option_is_rated_from_its_own_entry():
    rated = catalogs.rubric("complexity")["options"]
    for oid in option_ids():
        assert rubric_decisions(oid) == rated[unit(oid).rubric] and rubric_decisions(oid)


def test_an_unknown_option_suggests_the_nearest(realtime):
    with pytest.raises(InputError, match="realtime"):
        unit("realtme")


def test_pins_follow_each_option_s_rule(realtime):
    assert realtime.is_pinned({"instance_count": 2}) and realtime.is_pinned({"autoscaling": {"max": 3}})
    assert not realtime.is_pinned({"instance_type": "ml.c5.xlarge"})
    serverless = unit("serverless")  # both memory and concurrency fix its capacity
    assert not serverless.is_pinned({"memory_mb": 2048})
    assert serverless.is_pinned({"memory_mb": 2048, "max_concurrency": 5})
