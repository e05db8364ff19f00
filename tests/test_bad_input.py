"""Issue 17, bad input: each class of hostile or mistaken input found by hand ends in a `UserError` (exit 2 in
the CLI) naming the file and the field, before anything large is allocated; and inputs the API accepts but
no deployment could mean are warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fitness.errors import UserError
from fitness.sweep import MAX_RUNS, load_grid
from fitness.workload.checks import unit_warnings
from fitness.workload.scenario import MAX_HORIZON_S, MAX_REQUESTS, build
from fitness.workload.spec import MAX_MODELS, load_workload
from fitness.workload.yamlio import MAX_VALUES
from sim.catalog import load_catalog

MODEL = {"name": "m", "service_time": {"dist": "constant", "value_ms": 5}}
BASE = {"name": "w", "models": [MODEL], "traffic": {"pattern": "poisson", "rate_rps": 2}, "horizon": "10m"}


def write(folder: Path, text: str, name: str = "w.yaml") -> Path:
    """A workload file holding `text`."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, *words: str) -> str:
    """The message of the UserError that loading and building `path` raise; it names the file and `words`."""
    with pytest.raises(UserError) as info:
        build(load_workload(path))
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text.strip(), text
    for w in words:
        assert w in text, text
    return text


def patched(**fields) -> str:
    """BASE with `fields` replaced, as YAML."""
    return yaml.safe_dump({**BASE, **fields}, sort_keys=False)


def bomb(levels: int) -> str:
    """A 'billion laughs' document: each level's list repeats the previous level ten times by alias."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


CASES = {
    "non-text key": ("1: x\n" + patched(), ["top-level key 1", "not text"]),
    "deep nesting": ("models: " + "[" * 3000 + "]" * 3000 + "\n", ["too deeply"]),
    "negative seed": (patched(seed=-1), ["seed"]),
    "infinite service time": (patched(models=[{**MODEL, "service_time": {"dist": "constant", "value_ms": ".inf"}}])
                              .replace("'.inf'", ".inf"), ["models[0].service_time.value_ms", "finite"]),
    "rate 1e308": (patched(traffic={"pattern": "poisson", "rate_rps": 1e308}), ["'traffic'", "1e308", "25,000,000"]),
    "horizon 1e30": (patched(horizon=1e30), ["'horizon'", "366 days"]),
    "a day at 30,000/s": (patched(traffic={"pattern": "poisson", "rate_rps": 30000}, horizon="1d"),
                          ["'traffic'", "2,592,000,000", "horizon"]),
    "gamma cv 1e-300": (patched(models=[{**MODEL, "service_time": {"dist": "gamma", "mean_ms": 5, "cv": 1e-300}}]),
                        ["models[0].service_time.cv"]),
    "gamma cv 1e200": (patched(models=[{**MODEL, "service_time": {"dist": "gamma", "mean_ms": 5, "cv": 1e200}}]),
                       ["models[0].service_time.cv"]),
    "count 1e9": (patched(models=[{**MODEL, "count": 10**9}]), ["models[0].count", f"{MAX_MODELS}"]),
    "counts over the limit together": (patched(models=[{**MODEL, "count": MAX_MODELS},
                                                       {**MODEL, "name": "n", "count": 2}]), ["100,002"]),
    "alias bomb": (bomb(8) + patched(), ["aliases", f"{MAX_VALUES:,}"]),
    "self-referring alias": ("name: &n [*n]\n" + patched().replace("name: w\n", ""), ["aliases"]),
    "all weights zero": (patched(weights={k: 0 for k in ("cost", "latency", "throughput", "complexity",
                                                         "traffic_fit")}), ["weights", "every weight is 0"]),
    "duplicate names": (patched(models=[{**MODEL, "count": 2}, {**MODEL, "name": "m-1"}]),
                        ["models[1].name", "models[0] (name m, count 2)"]),
    "missing traffic.trace": (patched(traffic={"pattern": "trace"}), ["'traffic.trace'", "required"]),
    "missing pattern": (patched(traffic={"rate_rps": 3}), ["'traffic'", "`pattern`", "poisson"]),
    "missing dist": (patched(models=[{"name": "m", "service_time": {"value_ms": 3}}]),
                     ["models[0].service_time", "`dist`", "lognormal"]),
    "serverless memory": (patched(options={"serverless": {"memory_mb": 1500}}),
                          ["options.serverless.memory_mb", "1024, 2048", "nearest is 1024"]),
    "serverless concurrency": (patched(options={"serverless": {"max_concurrency": 10**6}}),
                               ["options.serverless.max_concurrency"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_workload_is_a_user_error_naming_the_field(case, tmp_path):
    text, words = CASES[case]
    path = write(tmp_path, text)
    refused(path, *words)
    assert path.read_text(encoding="utf-8") == text  # nothing the user wrote is changed


def test_overflowing_popularity_weights_still_spread_requests(tmp_path):
    two = [MODEL, {**MODEL, "name": "n"}]
    path = write(tmp_path, patched(models=two, traffic={"pattern": "poisson", "rate_rps": 50,
                                                         "popularity": {"weights": {"m": 1e308, "n": 1e308}}}))
    sc = build(load_workload(path))
    share = (sc.model_idx == 0).mean()
    assert 0.45 < share < 0.55  # 30,000 requests: the binomial sd of the share is 0.003


@pytest.mark.parametrize(("rows", "words"), [
    ("timestamp,count\n0,1000000000000\n60,5\n", ["'traffic'", "1e+12", "rate_multiplier"]),
    ("timestamp\n0\n3000000000\n", ["'traffic.trace'", "34,722.2 days", "horizon"]),
])
def test_traces_too_large_are_refused_before_they_are_replayed(rows, words, tmp_path):
    (tmp_path / "t.csv").write_text(rows)
    refused(write(tmp_path, patched(traffic={"pattern": "trace", "trace": "t.csv"}, horizon=None)), *words)


def test_the_limits_leave_room_for_the_bundled_examples():
    examples = Path(__file__).resolve().parents[1] / "examples"
    week = load_workload(examples / "flagship-week.yaml")
    assert week.horizon <= MAX_HORIZON_S and MAX_REQUESTS >= 2 * 12_000_000  # the week holds 12.1 M requests


def test_a_one_request_trace_is_valid(tmp_path):
    (tmp_path / "t.csv").write_text("timestamp\n5\n")
    sc = build(load_workload(write(tmp_path, patched(traffic={"pattern": "trace", "trace": "t.csv"},
                                                    horizon=None))))
    assert sc.n == 1


def test_a_latency_slo_below_one_network_call_is_warned_about(tmp_path):
    wl = load_workload(write(tmp_path, patched(slo={"delivery": "sync", "p99_ms": 0.2})))
    notes = unit_warnings(wl, load_catalog(wl.catalog))
    assert len(notes) == 1 and "slo.p99_ms is 0.2 ms" in notes[0] and "p99_ms: 200" in notes[0]
    fine = load_workload(write(tmp_path, patched(slo={"delivery": "sync", "p99_ms": 200}), "ok.yaml"))
    assert unit_warnings(fine, load_catalog(fine.catalog)) == []


def test_a_sweep_of_too_many_runs_is_refused_before_any_runs(tmp_path):
    write(tmp_path, patched())
    values = list(range(1, 1001))
    grid = {"workloads": ["w.yaml"], "options": ["realtime"],
            "parameters": {"traffic.rate_rps": values, "models[0].memory_mb": values}}
    path = write(tmp_path, yaml.safe_dump(grid), "grid.yaml")
    with pytest.raises(UserError, match=rf"at most {MAX_RUNS:,} runs.*1,000,000 runs"):
        load_grid(path)


def test_a_sweep_grid_alias_bomb_is_refused(tmp_path):
    write(tmp_path, patched())
    path = write(tmp_path, "workloads: [w.yaml]\nparameters:\n  traffic.rate_rps: &v [*v]\n", "grid.yaml")
    with pytest.raises(UserError, match="aliases"):
        load_grid(path)


def test_a_sweep_of_a_workload_holding_an_alias_bomb_is_refused_before_any_run(tmp_path):
    write(tmp_path, bomb(8) + patched())
    path = write(tmp_path, "workloads: [w.yaml]\nparameters:\n  traffic.rate_rps: [1, 2]\n", "grid.yaml")
    with pytest.raises(UserError) as info:
        load_grid(path)
    assert str(info.value).startswith(str(path)) and "w.yaml" in str(info.value) and "aliases" in str(info.value)


def _result(folder: Path) -> tuple[object, dict]:
    """The tiny realtime workload and a one-option result exported from, as `recommend --format json` writes."""
    from fitness.engine.run import simulate

    wl = load_workload(write(folder, yaml.safe_dump({**BASE, "sensitivity": False, "replications": 1, "options": {
        "realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 2}}})))
    run = simulate(wl, "realtime")
    return wl, {"workload": wl.name, "recommended": "realtime", "options": [run.summary.to_json()],
                "sizing": {"realtime": {"chosen": wl.options["realtime"]}}}


def _set(data: dict, path: str, value) -> dict:
    """`data` with the value at the dotted `path` (list indexes as numbers) replaced."""
    import copy
    out = copy.deepcopy(data)
    *parents, leaf = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = out
    for p in parents:
        node = node[p]
    node[leaf] = value
    return out


@pytest.mark.parametrize(("path", "value", "field"), [
    ("options.0", "realtime", "options[0]"),
    ("options.0.config", ["ml.c5.xlarge"], "options[0].config"),
    ("options.0.feasible", "yes", "options[0].feasible"),
    ("options.0.option", 7, "options[0].option"),
    ("workload", ["w"], "workload"),
    ("recommended", {"x": 1}, "recommended"),
    ("sizing", [], "sizing"),
    ("sizing.realtime", 3, "sizing.realtime"),
    ("sizing.realtime.chosen", "big", "sizing.realtime.chosen"),
    ("sizing.realtime.chosen.instance_count", "many", "sizing.realtime.chosen.instance_count"),
])
def test_a_result_of_the_wrong_shape_names_the_field(tmp_path: Path, path: str, value, field: str):
    import json

    from fitness.export.build import export, read_result

    wl, good = _result(tmp_path)
    assert export(wl, good).option == "realtime"
    bad = tmp_path / "rec.json"
    bad.write_text(json.dumps(_set(good, path, value)))
    with pytest.raises(UserError) as info:
        export(wl, read_result(bad), source=str(bad))
    assert str(bad) in str(info.value) and f"`{field}" in str(info.value), str(info.value)


@pytest.mark.parametrize(("key", "value", "words"), [
    ("m.initial_count", None, "whole number"),
    ("m.initial_count", "x", "whole number"),
    ("m.initial_count", -1, "whole number"),
    ("m.instance_type", "ml.c5.xlarg", "Did you mean 'ml.c5.xlarge'"),
])
def test_a_result_whose_simulated_knobs_were_edited_names_the_knob(tmp_path: Path, key: str, value, words: str):
    from fitness.export.build import export

    wl, good = _result(tmp_path)
    assert key in good["options"][0]["config"]
    good["options"][0]["config"][key] = value
    with pytest.raises(UserError) as info:
        export(wl, good, source="rec.json")
    assert f"rec.json: field `options[0].config.{key}`" in str(info.value) and words in str(info.value), str(info.value)
