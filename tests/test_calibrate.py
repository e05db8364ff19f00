"""`fitness calibrate` and `fitness import-trace`: fits, CloudWatch exports, the written workload, bad input.

Tolerances come from the run-to-run spread of each estimator, measured over seeds 0..99 with
`python -m tests.test_calibrate` (about 10 s). Relative error of the fitted parameter: mean / sd / max |.|.
- maximum likelihood, n = 2,000 per seed:
  lognormal(p50 20, p99 80): p50 +0.0% / 1.4% / 4.4%, p99 -0.6% / 2.3% / 6.3%;
  gamma(mean 30, cv 0.6): mean +0.2% / 1.3% / 3.1%, cv +0.0% / 1.4% / 3.8%;
  exponential(mean 25): mean +0.2% / 2.2% / 7.0%.
  The family with the lowest BIC was the true one in 100 of 100 seeds for each of the three.
- per-minute aggregates of the same lognormal, 60 minutes of ~300 requests:
  p50 and p99 exported: mean -0.9% / 0.6% / 2.3%, p99 -3.6% / 1.6% / 7.2% (per-minute sample p99s run low);
  Average and SampleCount only: mean +0.0% / 0.5% / 1.4%, cv -0.1% / 9.5% / 26.7%.
Each test below allows |bias| + 4 sd.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fitness.calibration.calibrate import Inputs, calibrate
from fitness.calibration.cloudwatch import count_trace, latency_ms, read_export
from fitness.calibration.fits import fit_aggregates, fit_samples, summary_ms
from fitness.calibration.yaml_edit import set_model_fields
from fitness.engine.run import simulate
from fitness.workload.spec import load_workload, parse_workload
from sim.catalog import load_catalog
from sim.distributions import Exponential, Gamma, Lognormal
from sim.traces import load_trace
from sim.traffic import TraceTraffic

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "examples" / "measurements"
# Real per-invocation durations: a sample of the Azure Functions 2021 trace (public repository
# Azure/AzurePublicDataset, sample kept in vhive-serverless/invitro); see examples/traces/README.md.
AZURE = "azure-functions-2021-sample.csv"  # found by the `data_file` fixture (conftest.py)
AZURE_FUNC = "9bc86d6cd1ee254aaa313492f0fd88be8bd7b92d50d4237ff52d7685440c0906"  # 32 invocations, 25-49 s
N = 2000
LAWS = {"lognormal": Lognormal(p50_ms=20, p99_ms=80), "gamma": Gamma(mean_ms=30, cv=0.6),
        "exponential": Exponential(mean_ms=25)}
TOLERANCE = {"lognormal": {"p50_ms": 0.058, "p99_ms": 0.098}, "gamma": {"mean_ms": 0.054, "cv": 0.056},
             "exponential": {"mean_ms": 0.09}}

WORKLOAD = """\
# Calibration target: the comments must survive.
name: cal
horizon: 10m
seed: 3
models:
  - name: scorer          # the model we measured
    size_mb: 100
    memory_mb: 500
    service_time:         # a guess before measuring
      dist: exponential
      mean_ms: 50
    load_s: 1
traffic: {pattern: poisson, rate_rps: 5}
"""


def _samples(law, seed: int, n: int = N) -> np.ndarray:
    return law.sample_s(np.random.default_rng(seed), n) * 1000


def _minutes(seed: int, percentiles: bool, law=LAWS["lognormal"], minutes: int = 60) -> pd.DataFrame:
    """Per-minute CloudWatch-style statistics (ms) of ~300 requests a minute drawn from `law`."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(minutes):
        x = law.sample_s(rng, rng.poisson(300)) * 1000
        row = {"SampleCount": x.size, "Average": x.mean(), "Sum": x.sum(), "Minimum": x.min(), "Maximum": x.max()}
        rows.append(row | ({"p50": np.percentile(x, 50), "p99": np.percentile(x, 99)} if percentiles else {}))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("family", list(LAWS))
def test_maximum_likelihood_recovers_the_parameters(family):
    law = LAWS[family]
    fit = fit_samples(_samples(law, seed=11), family=family)
    for key, tol in TOLERANCE[family].items():
        assert getattr(fit.dist, key) == pytest.approx(getattr(law, key), rel=tol), key


@pytest.mark.parametrize("family", list(LAWS))
def test_lowest_bic_picks_the_true_family(family):
    picked = [fit_samples(_samples(LAWS[family], seed)).dist.dist for seed in range(10)]
    assert picked == [family] * 10


def test_goodness_of_fit_line_reports_ks_and_percentiles():
    fit = fit_samples(_samples(LAWS["gamma"], seed=3))
    line = fit.line()
    assert fit.dist.dist == "gamma" and fit.p_value > 0.01
    assert "KS D=" in line and "p99 observed" in line and "BIC" in line and "n=2,000" in line


def test_ks_rejects_a_wrong_family():
    fit = fit_samples(_samples(LAWS["lognormal"], seed=4), family="exponential")
    assert fit.p_value < 1e-6


def test_aggregates_with_percentiles_recover_mean_and_p99():
    truth = summary_ms(LAWS["lognormal"])
    fit = fit_aggregates(_minutes(seed=5, percentiles=True))
    assert fit.dist.dist == "lognormal" and fit.ks is None
    assert fit.fitted["mean"] == pytest.approx(truth["mean"], rel=0.009 + 4 * 0.0064)
    assert fit.fitted["p99"] == pytest.approx(truth["p99"], rel=0.036 + 4 * 0.016)
    assert "KS not computed" in fit.line()


def test_aggregates_without_percentiles_recover_mean_and_spread():
    law = LAWS["lognormal"]
    fit = fit_aggregates(_minutes(seed=6, percentiles=False))
    assert fit.dist.dist == "gamma"
    assert fit.fitted["mean"] == pytest.approx(law.expected_ms, rel=4 * 0.005)
    assert fit.dist.cv == pytest.approx(math.sqrt(law.scv), rel=4 * 0.095)


def test_mean_only_keeps_the_workload_shape():
    frame = pd.DataFrame({"Average": [30.0, 34.0]})
    fit = fit_aggregates(frame, current=LAWS["lognormal"])
    assert fit.dist.sigma == pytest.approx(LAWS["lognormal"].sigma, rel=1e-4)
    assert fit.fitted["mean"] == pytest.approx(32.0, rel=1e-4)
    assert "mean only" in fit.line()


def _datapoints(frame: pd.DataFrame, to_us: float = 1000.0) -> list[dict]:
    start = pd.Timestamp("2024-05-01T00:00:00Z")
    out = []
    for i, row in frame.iterrows():
        point = {"Timestamp": (start + pd.Timedelta(minutes=i)).isoformat(), "Unit": "Microseconds"}
        point |= {k: float(row[k]) * (1 if k == "SampleCount" else to_us) for k in
                  ("SampleCount", "Average", "Sum", "Minimum", "Maximum")}
        point["ExtendedStatistics"] = {k: float(row[k]) * to_us for k in ("p50", "p99")}
        out.append(point)
    return out[::-1]  # CloudWatch returns datapoints in no particular order


def test_get_metric_statistics_json_in_microseconds(tmp_path):
    frame = _minutes(seed=7, percentiles=True)
    path = tmp_path / "ModelLatency.json"
    path.write_text(json.dumps({"Label": "ModelLatency", "Datapoints": _datapoints(frame)}))
    export = read_export(path, "MEASUREMENTS")
    ms, why = latency_ms(export, None, "MEASUREMENTS")
    assert export.period_s == 60 and "Microseconds" in why and ms.index.is_monotonic_increasing
    assert ms["Average"].to_numpy() == pytest.approx(frame["Average"].to_numpy())
    assert fit_aggregates(ms).fitted["p99"] == pytest.approx(fit_aggregates(frame).fitted["p99"])


def test_get_metric_data_json_and_console_csv(tmp_path):
    stamps = ["2024-05-01T00:00:00+00:00", "2024-05-01T00:01:00+00:00", "2024-05-01T00:02:00+00:00"]
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"MetricDataResults": [{"Id": "m1", "Label": "Invocations", "Timestamps": stamps,
                                                       "Values": [3.0, 0.0, 5.0], "StatusCode": "Complete"}]}))
    assert count_trace(read_export(path, "EXPORT"), "EXPORT").total == 8
    csv = tmp_path / "console.csv"
    csv.write_text("Time,ModelLatency\n" + "".join(f"{t},{v}\n" for t, v in zip(stamps, [1e4, 2e4, 3e4],
                                                                                  strict=True)))
    ms, why = latency_ms(read_export(csv, "MEASUREMENTS"), None, "MEASUREMENTS")
    assert list(ms["Average"]) == [10.0, 20.0, 30.0] and "microseconds" in why


def test_trace_import_round_trip(tmp_path):
    counts = {0: 12, 1: 7, 2: 0, 5: 30, 6: 1}  # minutes 3 and 4 have no datapoint (idle)
    start = pd.Timestamp("2024-05-01T08:00:00Z")
    points = [{"Timestamp": (start + pd.Timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"), "Sum": float(c),
               "Unit": "None"} for m, c in counts.items()]
    path = tmp_path / "Invocations.json"
    path.write_text(json.dumps({"Label": "Invocations", "Datapoints": points[::-1]}))
    trace = count_trace(read_export(path, "EXPORT"), "EXPORT")
    assert trace.filled == 2 and trace.total == 50 and trace.peak_rps == pytest.approx(0.5)
    out = tmp_path / "trace.csv"
    out.write_text(trace.to_csv())
    loaded = load_trace(out, TraceTraffic(trace="trace.csv"))
    assert loaded.is_counts and loaded.interval_s == 60
    assert list(loaded.counts) == [12, 7, 0, 0, 0, 30, 1]
    assert loaded.interval_starts_s.tolist() == [60.0 * m for m in range(7)]


def test_yaml_edit_keeps_comments_and_refuses_aliases():
    updates = {"service_time": {"dist": "gamma", "mean_ms": 20.5, "cv": 0.5}, "container_start_s": 1.5}
    out = set_model_fields(WORKLOAD, 0, updates)
    assert "# a guess before measuring" in out and "# the model we measured" in out
    data = yaml.safe_load(out)
    assert data["models"][0]["service_time"] == updates["service_time"] and data["models"][0]["load_s"] == 1
    assert out.replace("dist: gamma\n      mean_ms: 20.5\n      cv: 0.5", "").count("\n") == (
        WORKLOAD.replace("dist: exponential\n      mean_ms: 50", "").count("\n") + 1)  # one line added
    aliased = "st: &st {dist: constant, value_ms: 2}\nmodels:\n  - name: m\n    service_time: *st\n"
    assert set_model_fields(aliased, 0, updates) is None


def test_real_azure_function_durations_fit(data_file):
    frame = pd.read_csv(data_file("traces", AZURE))
    one = frame[frame["func"] == AZURE_FUNC]["duration"].to_numpy() * 1000
    fit = fit_samples(one)
    assert fit.n == 32 and fit.dist.dist in ("gamma", "lognormal") and fit.p_value > 0.05
    assert fit.fitted["mean"] == pytest.approx(one.mean(), rel=0.01)
    mixed = fit_samples(frame["duration"].to_numpy() * 1000)  # many functions pooled: no family fits
    assert mixed.p_value < 0.01


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fitness.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.fixture()
def workload(tmp_path) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD)
    return path


def _requests_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(9)
    latency = LAWS["lognormal"].sample_s(rng, 800) * 1000
    cold = np.arange(800) % 100 == 0
    latency[cold] += 4000.0
    path = tmp_path / "requests.csv"
    pd.DataFrame({"latency_ms": latency.round(3), "cold": cold}).to_csv(path, index=False)
    return path


def test_cold_start_file_sets_the_models_cold_start(tmp_path, workload):
    setup_us = np.array([[4.0e6, 6.0e6], [5.0e6, 5.0e6], [7.0e6, 3.0e6]])  # ModelSetupTime of 6 cold starts
    points = [{"Timestamp": f"2024-05-01T00:0{i}:00Z", "SampleCount": 2.0, "Sum": float(row.sum()),
               "Average": float(row.mean()), "Unit": "Microseconds"} for i, row in enumerate(setup_us)]
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({"Label": "ModelSetupTime", "Datapoints": points}))
    result = calibrate(workload, "scorer", Inputs((_requests_csv(tmp_path),), cold_starts=setup), tmp_path / "o.yaml")
    model = parse_workload(yaml.safe_load(result.text), str(tmp_path / "o.yaml")).models[0]
    bandwidth = load_catalog("aws/us-east-1").network.model_download_mb_per_s.value
    assert model.cold_start_s(bandwidth) == pytest.approx(setup_us.mean() / 1e6, rel=1e-5)
    assert result.cold.quantity == "cold start" and "ModelSetupTime" not in result.cold.line()


def test_aliased_workload_is_rewritten_and_says_comments_were_lost(tmp_path):
    path = tmp_path / "anchored.yaml"
    path.write_text("# lost comment\nmodels:\n  - {name: a, service_time: &st {dist: constant, value_ms: 2}}\n"
                    "  - {name: m, service_time: *st}\ntraffic: {pattern: poisson, rate_rps: 1}\n")
    result = calibrate(path, "m", Inputs((_requests_csv(tmp_path),), cold_column="cold"), tmp_path / "o.yaml")
    assert not result.comments_kept and "# lost comment" not in result.text
    assert "the comments of anchored.yaml are not in it" in result.text


def test_cli_calibrate_writes_a_new_workload_that_simulates(tmp_path, workload):
    measurements = _requests_csv(tmp_path)
    before = workload.read_bytes(), measurements.read_bytes()
    out = run("calibrate", str(measurements), "--workload", str(workload), "--model", "scorer")
    assert out.returncode == 0, out.stderr
    assert (workload.read_bytes(), measurements.read_bytes()) == before
    written = tmp_path / "w.calibrated.yaml"
    assert "KS D=" in out.stdout and "# a guess before measuring" in written.read_text()
    wl = load_workload(written)
    model = wl.models[0]
    assert model.service_time.dist == "lognormal"
    assert model.service_time.p50_ms == pytest.approx(20, rel=0.1)
    # 8 rows flagged cold, 4 s slower: the model's cold start is now mean(cold) - mean(warm)
    frame = pd.read_csv(measurements)
    delay_s = (frame[frame.cold]["latency_ms"].mean() - frame[~frame.cold]["latency_ms"].mean()) / 1000
    bandwidth = load_catalog(wl.catalog).network.model_download_mb_per_s.value
    assert model.cold_start_s(bandwidth) == pytest.approx(delay_s, rel=1e-5)
    run_ = simulate(wl, "serverless")
    assert run_.summary.requests.served > 0
    again = run("calibrate", str(measurements), "--workload", str(workload), "--model", "scorer")
    assert again.returncode == 2 and "--force" in again.stderr


def test_cli_calibrate_from_the_example_exports(tmp_path):
    out_path = tmp_path / "fd.yaml"
    # Statistics and ExtendedStatistics come from two get-metric-statistics calls: both files are merged
    out = run("calibrate", str(MEASURED / "ModelLatency.json"), str(MEASURED / "ModelLatency-percentiles.json"),
              "--workload", str(ROOT / "examples" / "fraud-detection.yaml"), "--model", "fraud-xgb",
              "--overhead", str(MEASURED / "OverheadLatency.json"), "--out", str(out_path))
    assert out.returncode == 0, out.stderr
    assert "lognormal through the per-minute p50, p90, p99, n=17,897" in out.stdout
    assert "endpoint_hop_ms" in out.stdout and "overhead not written" in out.stdout
    st = load_workload(out_path).models[0].service_time
    assert st.p50_ms == pytest.approx(14, rel=0.05)  # examples/measurements/generate.py: median 14 ms


def test_cli_import_trace(tmp_path):
    out_path = tmp_path / "trace.csv"
    out = run("import-trace", str(MEASURED / "Invocations.json"), "--out", str(out_path))
    assert out.returncode == 0, out.stderr
    assert "180 periods of 60 s (15 without a datapoint" in out.stdout
    points = json.loads((MEASURED / "Invocations.json").read_text())["Datapoints"]
    loaded = load_trace(out_path, TraceTraffic(trace="trace.csv"))
    assert loaded.n_requests == sum(int(p["Sum"]) for p in points)


BAD = {
    "missing file": (["nope.csv"], "does not exist"),
    "no latency column": (["cols.csv"], "did you mean --column latncy"),
    "unknown column": (["requests.csv", "--column", "latency"], "Did you mean 'latency_ms'?"),
    "non-numeric": (["text.csv"], "got 'fast' in data row 2"),
    "unknown model": (["requests.csv", "--model", "scorr"], "Did you mean 'scorer'?"),
    "empty data": (["empty.csv"], "at least one data row"),
    "overwrite input": (["requests.csv", "--out", "w.yaml", "--force"], "never overwritten"),
    "wrong metric": (["inv.json"], "import it with `fitness import-trace`"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_cli_bad_input_exits_2_and_changes_nothing(case, tmp_path, workload):
    _requests_csv(tmp_path)
    (tmp_path / "cols.csv").write_text("latncy\n12\n")
    (tmp_path / "text.csv").write_text("latency_ms\n12\nfast\n")
    (tmp_path / "empty.csv").write_text("latency_ms\n")
    (tmp_path / "inv.json").write_text(json.dumps({"Label": "Invocations", "Datapoints": [
        {"Timestamp": "2024-05-01T00:00:00Z", "Sum": 3.0, "Unit": "None"}]}))
    args, expected = BAD[case]
    files = {p: p.read_bytes() for p in tmp_path.iterdir()}
    argv = ["calibrate", str(tmp_path / args[0]), "--workload", str(workload)]
    argv += [] if "--model" in args else ["--model", "scorer"]
    argv += [str(tmp_path / a) if a == "w.yaml" else a for a in args[1:]]
    out = run(*argv)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and expected in out.stderr
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == files  # nothing written, nothing changed


def _spread() -> None:
    """Print the figures of the module docstring (seeds 0..99)."""
    def show(name: str, errors: dict[str, list[float]]) -> None:
        print(name, ", ".join(f"{k} {np.mean(v):+.4f} / {np.std(v, ddof=1):.4f} / {np.max(np.abs(v)):.4f}"
                              for k, v in errors.items()))

    for family, law in LAWS.items():
        errors, right = {}, 0
        for seed in range(100):
            x = _samples(law, seed)
            for key, value in fit_samples(x, family).dist.model_dump(exclude={"dist"}).items():
                errors.setdefault(key, []).append(value / getattr(law, key) - 1)
            right += fit_samples(x).dist.dist == family
        show(f"{family} ({right}/100 picked)", errors)
    truth = summary_ms(LAWS["lognormal"])
    cv = math.sqrt(LAWS["lognormal"].scv)
    for percentiles in (True, False):
        errors = {"mean": [], "p99": [], "cv": []}
        for seed in range(100):
            fit = fit_aggregates(_minutes(seed, percentiles))
            errors["mean"].append(fit.fitted["mean"] / truth["mean"] - 1)
            errors["p99"].append(fit.fitted["p99"] / truth["p99"] - 1)
            errors["cv"].append(math.sqrt(fit.dist.scv) / cv - 1)
        show("aggregates " + ("with p50/p99" if percentiles else "Average+SampleCount"), errors)


if __name__ == "__main__":
    _spread()
