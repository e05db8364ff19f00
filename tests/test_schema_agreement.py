"""Issue 17: the JSON Schema (`fitness schema`, what an editor checks) and the loader agree on YAML edge cases.

Each case edits one line of a small valid workload. Both read the text as YAML 1.2 does (an editor's reading):
`yes` and `no` are text, `1:00:00` and `3_600` are text, `1e3` is a number. Cases the schema cannot express
(a check across fields, a file that must exist, a name only the catalog knows, JSON's lack of infinity) are
listed apart: the loader refuses them and the schema cannot.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from fitness.errors import UserError
from fitness.workload.scenario import build
from fitness.workload.spec import load_workload, workload_schema
from fitness.workload.yamlio import strict_yaml

BASE = """name: w
models:
  - name: m
    service_time: {dist: constant, value_ms: 5}
traffic: {pattern: poisson, rate_rps: 2}
horizon: 10m
"""

AGREED = [  # (what, line replaced, line written, valid?)
    ("sexagesimal horizon", "horizon: 10m", "horizon: 1:00:00", False),
    ("underscored horizon", "horizon: 10m", "horizon: 3_600", False),
    ("horizon in seconds", "horizon: 10m", "horizon: 3600", True),
    ("horizon omitted (null)", "horizon: 10m", "horizon: ~", True),
    ("yes for a boolean", "horizon: 10m", "horizon: 10m\nsensitivity: yes", False),
    ("on for a boolean", "horizon: 10m", "horizon: 10m\nsensitivity: on", False),
    ("true for a boolean", "horizon: 10m", "horizon: 10m\nsensitivity: true", True),
    ("a model named no", "  - name: m", "  - name: no", True),
    ("a model named like a date", "  - name: m", "  - name: 2024-05-01", True),
    ("a quoted rate", "rate_rps: 2}", 'rate_rps: "2"}', False),
    ("a quoted service time", "value_ms: 5}", 'value_ms: "5"}', False),
    ("a rate in e-notation", "rate_rps: 2}", "rate_rps: 2e1}", True),
    ("a rate starting with a dot", "rate_rps: 2}", "rate_rps: .5}", True),
    ("a hexadecimal seed", "horizon: 10m", "horizon: 10m\nseed: 0x10", True),
    ("a negative seed", "horizon: 10m", "horizon: 10m\nseed: -1", False),
    ("a whole float as a count", "horizon: 10m", "horizon: 10m\nreplications: 2.0", True),
    ("a fractional count", "horizon: 10m", "horizon: 10m\nreplications: 2.5", False),
    ("no dist", "{dist: constant, value_ms: 5}", "{value_ms: 5}", False),
    ("no pattern", "{pattern: poisson, rate_rps: 2}", "{rate_rps: 2}", False),
    ("a capitalised pattern", "pattern: poisson", "pattern: Poisson", False),
    ("an unknown field", "horizon: 10m", "horizon: 10m\nhorizn: 5m", False),
    ("no models", "models:\n  - name: m\n    service_time: {dist: constant, value_ms: 5}", "models: []", False),
    ("a zero rate", "rate_rps: 2}", "rate_rps: 0}", False),
    ("a built-in catalog", "horizon: 10m", "horizon: 10m\ncatalog: aws/us-east-1", True),
    ("an instance type", "horizon: 10m", "horizon: 10m\noptions: {realtime: {instance_type: ml.c5.xlarge}}", True),
    ("a numeric instance type", "horizon: 10m", "horizon: 10m\noptions: {realtime: {instance_type: 5}}", False),
]

LOADER_ONLY = [  # what the schema cannot say, and the loader refuses
    ("every weight zero (across fields)", "horizon: 10m", "horizon: 10m\nweights: {cost: 0, latency: 0, "
     "throughput: 0, complexity: 0, traffic_fit: 0}"),
    ("a trace file that does not exist", "{pattern: poisson, rate_rps: 2}", "{pattern: trace, trace: none.csv}"),
    ("a misspelt instance type (only the catalog knows)", "horizon: 10m",
     "horizon: 10m\noptions: {realtime: {instance_type: ml.c5.xlarg}}"),
    ("an infinite rate (JSON has no infinity)", "rate_rps: 2}", "rate_rps: .inf}"),
    ("two models of one name", "traffic:", "  - name: m\n    service_time: {dist: constant, value_ms: 5}\ntraffic:"),
]


def edited(old: str, new: str) -> str:
    """BASE with `old` replaced by `new` (once; `old` must be there)."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def schema_accepts(text: str) -> bool:
    """The JSON Schema's verdict on the text read as YAML 1.2."""
    return jsonschema.Draft202012Validator(workload_schema()).is_valid(strict_yaml(text))


def loader_accepts(text: str, folder: Path) -> bool:
    """The loader's verdict on the text written to a file: loaded, and its scenario built (traces are read then)."""
    path = folder / "w.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        build(load_workload(path))
    except UserError as e:
        assert str(e).startswith((str(path), str(folder))) and "field" in str(e), str(e)
        return False
    return True


@pytest.mark.parametrize(("what", "old", "new", "valid"), AGREED, ids=[c[0] for c in AGREED])
def test_the_schema_and_the_loader_agree(what: str, old: str, new: str, valid: bool, tmp_path: Path):
    text = edited(old, new)
    assert (schema_accepts(text), loader_accepts(text, tmp_path)) == (valid, valid), what


@pytest.mark.parametrize(("what", "old", "new"), LOADER_ONLY, ids=[c[0] for c in LOADER_ONLY])
def test_what_the_schema_cannot_say_the_loader_refuses(what: str, old: str, new: str, tmp_path: Path):
    text = edited(old, new)
    assert schema_accepts(text) and not loader_accepts(text, tmp_path), what


def test_the_schema_offers_the_catalogs_names_for_completion():
    schema = workload_schema()
    realtime = schema["properties"]["options"]["properties"]["realtime"]["properties"]["instance_type"]
    offered = next(b["enum"] for b in realtime["anyOf"] if "enum" in b)
    assert "ml.c5.xlarge" in offered and "ml.g4dn.xlarge" in offered
    catalog = schema["properties"]["catalog"]
    assert ["aws/us-east-1"] in [b.get("enum") for b in catalog["anyOf"]]
    lognormal = schema["$defs"]["Lognormal"]
    assert "dist" in lognormal["required"] and "default" not in lognormal["properties"]["dist"]
