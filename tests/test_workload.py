"""The workload model: every DESIGN §3 field with its meaning, count expansion, files, durations, and the
JSON Schema that `fitness schema` prints."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from fitness.errors import UserError
from fitness.workload.scenario import build
from fitness.workload.schema_file import SCHEMA_FILE, schema_text
from fitness.workload.spec import load_workload, parse_workload, workload_schema

BASE = {"name": "w", "models": [{"name": "m", "service_time": {"dist": "constant", "value_ms": 5}}],
        "traffic": {"pattern": "poisson", "rate_rps": 2}}


def test_durations_and_defaults():
    assert parse_workload({**BASE, "horizon": "6h"}).horizon == 6 * 3600
    assert parse_workload({**BASE, "horizon": "7d"}).horizon == 7 * 86400
    assert parse_workload({**BASE, "horizon": 90}).horizon == 90
    wl = parse_workload(BASE)
    assert wl.catalog == "aws/us-east-1" and wl.slo.delivery == "sync" and wl.horizon is None
    assert build(wl).horizon_s == 3600  # no horizon, no trace: one hour


def test_count_expands_names_in_order():
    wl = parse_workload({**BASE, "models": [{"name": "t", "count": 3, "service_time": {"dist": "constant",
                                                                                        "value_ms": 1}}]})
    assert [m.name for m in wl.expanded_models] == ["t-0", "t-1", "t-2"]


def test_zipf_popularity_skews_requests_to_the_first_models():
    wl = parse_workload({**BASE, "horizon": "1h", "models": [{"name": "t", "count": 4, "service_time": {
        "dist": "constant", "value_ms": 1}}], "traffic": {"pattern": "poisson", "rate_rps": 20,
                                                           "popularity": {"zipf": 1.0}}})
    sc = build(wl)
    share = [float((sc.model_idx == i).mean()) for i in range(4)]
    expected = [1 / (i + 1) / sum(1 / k for k in range(1, 5)) for i in range(4)]
    assert share == pytest.approx(expected, abs=0.01)


def test_same_seed_same_requests_other_seed_others():
    a, b = build(parse_workload({**BASE, "seed": 5})), build(parse_workload({**BASE, "seed": 5}))
    c = build(parse_workload({**BASE, "seed": 6}))
    assert (a.arrivals_s == b.arrivals_s).all() and (a.service_s == b.service_s).all()
    assert a.arrivals_s.size != c.arrivals_s.size or (a.arrivals_s != c.arrivals_s).any()


def test_empirical_csv_is_read_relative_to_the_workload(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lat.csv").write_text("request,latency_ms\n1,10\n2,20\n3,30\n")
    wl_path = tmp_path / "w.yaml"
    wl_path.write_text("models:\n  - name: m\n    service_time: {dist: empirical, csv: data/lat.csv}\n"
                       "traffic: {pattern: poisson, rate_rps: 1}\n")
    st = load_workload(wl_path).models[0].service_time
    assert st.samples_ms == (10.0, 20.0, 30.0) and st.expected_ms == 20.0


def test_own_catalog_is_read_relative_to_the_workload(tmp_path, monkeypatch):
    """DESIGN §3: files a workload names are relative to it; run from another directory, it still loads."""
    from importlib.resources import files

    (tmp_path / "cfg").mkdir()
    builtin = files("catalogs").joinpath("aws").joinpath("us-east-1.yaml").read_text(encoding="utf-8")
    (tmp_path / "cfg" / "mine.yaml").write_text(builtin, encoding="utf-8")
    (tmp_path / "cfg" / "w.yaml").write_text(yaml.safe_dump({**BASE, "catalog": "mine.yaml"}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    wl = load_workload(tmp_path / "cfg" / "w.yaml")
    assert Path(wl.catalog) == tmp_path / "cfg" / "mine.yaml" and build(wl).catalog is not None


def test_reserved_and_impossible_fields_are_user_errors():
    """`source` carries the file's name (a user's key must not crash the parser) and a zero horizon is not
    'the default hour'."""
    for patch, field in (({"source": "x"}, "source"), ({"horizon": 0}, "horizon"), ({"horizon": "0s"}, "horizon")):
        with pytest.raises(UserError, match=field):
            parse_workload({**BASE, **patch}, "w.yaml")


@pytest.mark.parametrize(("patch", "words"), [
    ({"models": []}, ["models"]),
    ({"models": [{"name": "m", "service_time": {"dist": "weibull"}}]}, ["models[0].service_time", "weibull"]),
    ({"models": [{"name": "m", "count": 2, "service_time": {"dist": "constant", "value_ms": 1}},
                 {"name": "m-1", "service_time": {"dist": "constant", "value_ms": 1}}]}, ["models[1].name", "m-1"]),
    ({"slo": {"delivery": "carrier-pigeon"}}, ["slo.delivery"]),
    ({"catalog": "aws/us-east-2"}, ["catalog", "aws/us-east-1"]),
    ({"options": {"serverless": {"max_concurrency": 5, "provisioned_concurrency": 9}}},
     ["options.serverless", "provisioned_concurrency"]),
])
def test_errors_name_the_field(patch, words):
    with pytest.raises(UserError) as info:
        parse_workload({**BASE, **patch}, source="w.yaml")
    text = str(info.value)
    assert text.startswith("w.yaml: ")
    for w in words:
        assert w in text, text


# --- the JSON Schema (`fitness schema`) ---------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def schema() -> dict:
    return workload_schema()


def test_the_shipped_schema_is_the_generated_one(schema):
    """`load_workload` and `fitness schema` read the schema shipped in the package; it must be what the models
    generate today (regenerate with `python -m fitness.docgen docs/`)."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(schema), (
        "fitness/workload/workload.schema.json is stale: run `python -m fitness.docgen docs/`")


def test_a_workload_is_held_to_the_shipped_schema(tmp_path, monkeypatch):
    """The loader checks a file against the shipped schema (not a fresh generation): a schema that forbids
    every document makes a valid workload fail with the schema's message."""
    monkeypatch.setattr("fitness.workload.spec.shipped_schema", lambda: {"not": {}})
    path = tmp_path / "w.yaml"
    path.write_text((EXAMPLES / "fraud-detection.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(UserError, match="held to the JSON Schema"):
        load_workload(path)


def _refs(node: object):
    """Every `$ref` value anywhere in a schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _target(document: dict, ref: str) -> object:
    """What a local reference ('#/a/b', a JSON Pointer) points to in `document`, or None."""
    if not ref.startswith("#/"):
        return None
    node: object = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def test_every_schema_reference_resolves_from_the_root(schema):
    """Option configs bring their own definitions (Autoscaling, BacklogScaling): they live in the top-level
    `$defs`, so a reference means the same thing wherever it appears."""
    refs = set(_refs(schema))
    assert {"#/$defs/Autoscaling", "#/$defs/BacklogScaling"} <= refs
    assert not [ref for ref in sorted(refs) if _target(schema, ref) is None]
    options = schema["properties"]["options"]["properties"]
    assert not [oid for oid, sub in options.items() if "$defs" in sub]


def test_schema_refuses_two_different_definitions_of_one_name(monkeypatch):
    class Budget(BaseModel):  # not the workload's Budget
        euros: float = 0.0

    class Config(BaseModel):
        budget: Budget | None = None

    monkeypatch.setattr("fitness.workload.spec.load_all", lambda: {"odd": SimpleNamespace(config_model=Config)})
    with pytest.raises(ValueError, match="odd defines Budget differently"):
        workload_schema()


def test_schema_bounds_durations_as_the_validators_do(schema):
    """Traffic durations, the batch schedule and the horizon must be > 0; an offset >= 0."""
    defs, batch = schema["$defs"], schema["properties"]["options"]["properties"]["batch"]["properties"]
    positive = [defs["OnOffTraffic"]["properties"]["on_s"], defs["BurstyTraffic"]["properties"]["mean_gap_s"],
                defs["DiurnalTraffic"]["properties"]["period_s"], defs["TraceTraffic"]["properties"]["interval_s"]
                ["anyOf"][0], batch["schedule"]["anyOf"][0], schema["properties"]["horizon"]["anyOf"][0]]
    for node in positive:
        assert node["exclusiveMinimum"] == 0 and node["not"]["type"] == "string"
    offset = defs["DiurnalTraffic"]["properties"]["peak_at_s"]
    assert "exclusiveMinimum" not in offset and offset["anyOf"][0]["minimum"] == 0


@pytest.mark.parametrize("value", [0, 0.0, "0", "0s", " 0.00h ", ".0m", "0e3", 0.001, 1, "1s", "30m", "7d", -1, "-1s",
                                   "1 week"], ids=repr)
def test_schema_and_validators_agree_on_durations(schema, value):
    validator = jsonschema.Draft202012Validator(schema)
    cases = {"traffic.on_s": {"traffic": {"pattern": "on_off", "rate_rps": 1, "on_s": value, "off_s": 1}},
             "options.batch.schedule": {"options": {"batch": {"schedule": value}}},
             "horizon": {"horizon": value},
             "traffic.peak_at_s": {"traffic": {"pattern": "diurnal", "rate_rps": 1, "peak_at_s": value}}}
    for field, patch in cases.items():
        data = {**BASE, **patch}
        try:
            accepted = bool(parse_workload(data))
        except UserError:
            accepted = False
        assert validator.is_valid(data) == accepted, f"{field}: {value!r}"


def test_examples_validate_against_the_schema(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    workloads = [p for p in sorted(EXAMPLES.glob("*.yaml")) if "models" in yaml.safe_load(p.read_text())]
    assert len(workloads) >= 10
    for path in workloads:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, f"{path.name}: {errors}"


def test_default_weights_are_the_rubric_s():
    """The default weights are catalog data (catalogs/rubrics/fitness.yaml), not numbers in the code: a
    workload without `weights` gets exactly the rubric's, field by field."""
    import catalogs

    rubric = catalogs.rubric("fitness")["default_weights"]
    assert parse_workload(BASE).weights.model_dump() == rubric
