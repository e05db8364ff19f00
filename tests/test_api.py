"""The Python API for notebooks and the JSON Schema of workload files (issue 7, first part)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import yaml

import fitness
from sim.options import load_all

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [p for p in sorted((ROOT / "examples").glob("*.yaml"))
            if "workloads" not in (yaml.safe_load(p.read_text()) or {})]
DESIGN_FIELDS = {"name", "horizon", "seed", "catalog", "models", "traffic", "application", "slo", "budget",
                 "weights", "options"}


def _schema() -> dict:
    out = subprocess.run([sys.executable, "-m", "fitness.cli", "schema"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_schema_has_every_design_field_and_every_option():
    schema = _schema()
    assert set(schema["properties"]) >= DESIGN_FIELDS
    assert set(schema["properties"]["options"]["properties"]) == set(load_all())
    assert "instance_count" in schema["properties"]["options"]["properties"]["realtime"]["properties"]


def test_schema_accepts_durations_as_written():
    horizon = _schema()["properties"]["horizon"]["anyOf"][0]
    pattern = next(a["pattern"] for a in horizon["anyOf"] if a.get("type") == "string")
    assert all(re.match(pattern, v) for v in ("30m", "6h", "7d", "90s", "1.5h"))
    assert not re.match(pattern, "10 minutes")


def test_every_example_uses_only_schema_fields():
    props = set(_schema()["properties"])
    for path in EXAMPLES:
        assert set(yaml.safe_load(path.read_text())) <= props, path.name


def test_notebook_api_returns_frames_and_figures():
    wl = fitness.load_workload(ROOT / "examples" / "fraud-detection.yaml").model_copy(
        update={"horizon": 600.0, "replications": 1, "sensitivity": False})
    run = fitness.simulate(wl, "realtime")
    frame = run.to_frame()
    assert len(frame) == run.summary.requests.offered
    assert (frame["latency_ms"] >= 0).all() and set(frame["status"].cat.categories) == {"served", "throttled",
                                                                                       "failed"}
    rec = fitness.recommend(wl)
    assert len(rec.to_frame()) == len(load_all())
    figures = fitness.figures(rec)
    assert {"pareto", "latency-cdf"} <= set(figures)
    assert all(isinstance(f, go.Figure) for f in figures.values())
