"""`fitness calibrate` on hostile and ambiguous CloudWatch exports (issue 17): every bad export is a UserError
naming the file and the JSON field; get-metric-data statistics are read from the Id or Label or `--stat`, never
guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fitness.calibration.calibrate import Inputs, calibrate
from fitness.calibration.cloudwatch import read_export
from fitness.calibration.fits import summary_ms
from fitness.calibration.metric_data import named_statistic
from fitness.errors import UserError
from sim.distributions import Lognormal
from tests.test_calibrate import WORKLOAD, run


@pytest.fixture()
def workload(tmp_path) -> Path:
    """The calibration test workload (one model, `scorer`), written to a file."""
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD)
    return path


STAMPS = [f"2024-05-01T00:{m:02d}:00Z" for m in range(6)]
TRUTH = Lognormal(p50_ms=35, p99_ms=100)  # a SageMaker ModelLatency in microseconds below
JITTER = [1.02, 0.98] * 3  # per-minute percentiles wander; the log-mean of these factors is ~1


def _point(minute: int, **stats) -> dict:
    """A get-metric-statistics Datapoint of ModelLatency (microseconds)."""
    extended = {k: v for k, v in stats.items() if k.startswith("p")}
    plain = {k: v for k, v in stats.items() if not k.startswith("p")}
    return {"Timestamp": STAMPS[minute], "Unit": "Microseconds", **plain} | (
        {"ExtendedStatistics": extended} if extended else {})


def _gms(points: list[dict], label="ModelLatency") -> dict:
    return {"Label": label, "Datapoints": points}


def _result(ident: str, values: list, label: str | None = "ModelLatency", stamps=STAMPS) -> dict:
    """A MetricDataResult of get-metric-data."""
    return {"Id": ident, **({"Label": label} if label is not None else {}), "Timestamps": list(stamps),
            "Values": list(values), "StatusCode": "Complete"}


def _us(stat: str) -> list[float]:
    """Per-minute values (microseconds) of a statistic of TRUTH."""
    law = summary_ms(TRUTH)
    return [law[{"Average": "mean"}.get(stat, stat)] * 1000 * j for j in JITTER]


GOOD = [_point(m, SampleCount=300.0, Sum=300 * 40e3, p50=35e3, p99=100e3) for m in range(6)]
BAD_EXPORTS = {
    "Label a number": (_gms(GOOD, label=12), {}, ["Label", "12"]),
    "Label a list": (_gms(GOOD, label=["ModelLatency"]), {}, ["Label"]),
    "Unit a number": (_gms(GOOD[:3] + [GOOD[3] | {"Unit": 5}] + GOOD[4:]), {}, ["Datapoints[3].Unit"]),
    "Unit a list (unhashable)": (_gms(GOOD[:1] + [GOOD[1] | {"Unit": ["Microseconds"]}]), {}, ["Datapoints[1].Unit"]),
    "Units mixed": (_gms(GOOD[:2] + [GOOD[2] | {"Unit": "Seconds"}]), {}, ["Datapoints[2].Unit", "Microseconds"]),
    "Datapoint not an object": (_gms(GOOD[:2] + ["p99=12"]), {}, ["Datapoints[2]", "an object"]),
    "statistic a string": (_gms(GOOD[:1] + [GOOD[1] | {"Sum": "12"}]), {}, ["Datapoints[1].Sum"]),
    "result Label a number": ({"MetricDataResults": [_result("p99", _us("p99"), label=7)]}, {},
                              ["MetricDataResults[0].Label"]),
    "result a string": ({"MetricDataResults": [_result("p50", _us("p50")), "p99"]}, {}, ["MetricDataResults[1]",
                                                                                         "an object"]),
    "result a number": ({"MetricDataResults": [5]}, {}, ["MetricDataResults[0]", "an object"]),
    "Values shorter than Timestamps": ({"MetricDataResults": [_result("p99", _us("p99")[:4])]}, {},
                                       ["MetricDataResults[0].Values", "6 Timestamps"]),
    "Values not a list": ({"MetricDataResults": [_result("p99", _us("p99")) | {"Values": "1,2"}]}, {},
                          ["MetricDataResults[0].Values", "a list"]),
    "Timestamps missing": ({"MetricDataResults": [{"Id": "p99", "Values": [1.0]}]}, {},
                           ["MetricDataResults[0].Timestamps", "missing"]),
    "epoch beyond pandas (statistics)": (_gms(GOOD[:2] + [GOOD[2] | {"Timestamp": 1e20}]), {},
                                         ["Datapoints[2].Timestamp", "2262-04-11"]),
    "epoch beyond pandas (data)": ({"MetricDataResults": [_result("p99", [1e5, 1e5], stamps=[1.7e9, 1e20])]}, {},
                                   ["MetricDataResults[0].Timestamps[1]", "2262-04-11"]),
    "timestamp twice": ({"MetricDataResults": [_result("p99", [1e5, 1e5], stamps=STAMPS[:1] * 2)]}, {},
                        ["MetricDataResults[0].Timestamps[1]", "twice"]),
    "p99 below p50": (_gms(GOOD[:2] + [GOOD[2] | {"ExtendedStatistics": {"p50": 40e3, "p99": 30e3}}]), {},
                      ["p99", "2024-05-01T00:02:00Z", "below p50"]),
    "SampleCount 0 everywhere": (_gms([_point(m, SampleCount=0.0, Sum=0.0) for m in range(3)]), {},
                                 ["SampleCount", "every period"]),
    "SampleCount negative": (_gms(GOOD[:1] + [GOOD[1] | {"SampleCount": -3.0}]), {}, ["SampleCount", "-3"]),
    "latency without a statistic": ({"MetricDataResults": [_result("m1", _us("p99"))]}, {},
                                    ["MetricDataResults[0]", "--stat"]),
    "--stat unknown": ({"MetricDataResults": [_result("m1", _us("p99"))]}, {"stat": "p99x"}, ["--stat", "p99x"]),
    "two metrics in one file": ({"MetricDataResults": [_result("p50", _us("p50")),
                                                       _result("p99", _us("p99"), label="OverheadLatency p99")]},
                                {}, ["MetricDataResults[1].Label", "one metric"]),
    "one statistic twice": ({"MetricDataResults": [_result("p99", _us("p99")),
                                                   _result("m2", _us("p99"), label="ModelLatency p99")]},
                            {}, ["MetricDataResults[1]", "MetricDataResults[0]", "p99"]),
    "no Label: unit unknown": ({"MetricDataResults": [_result("p50", _us("p50"), label=None),
                                                      _result("p99", _us("p99"), label=None)]}, {},
                               ["--unit", "Label", "microseconds"]),
    "Minimum only": ({"MetricDataResults": [_result("min", _us("p50"))]}, {}, ["MEASUREMENTS", "Minimum"]),
}


@pytest.mark.parametrize("case", list(BAD_EXPORTS))
def test_bad_cloudwatch_json_is_a_user_error_naming_the_file_and_field(case, tmp_path, workload):
    data, options, fields = BAD_EXPORTS[case]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError) as caught:
        calibrate(workload, "scorer", Inputs((path,), **options), tmp_path / "o.yaml")
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for field in fields:
        assert field in message, (field, message)


def test_huge_epoch_in_a_cloudwatch_csv_names_the_row(tmp_path, workload):
    path = tmp_path / "export.csv"
    path.write_text("Time,Average,SampleCount\n1714521600,12000,3\n1e20,13000,4\n")
    with pytest.raises(UserError, match=r"export\.csv: MEASUREMENTS: expected Unix seconds .* Data row 2 holds"):
        calibrate(workload, "scorer", Inputs((path,), unit="us"), tmp_path / "o.yaml")


def test_cli_refuses_bad_json_exports_with_exit_2(tmp_path, workload):
    cases = {"unit.json": _gms(GOOD[:1] + [GOOD[1] | {"Unit": ["Microseconds"]}]),
             "epoch.json": {"MetricDataResults": [_result("p99", [1e5], stamps=[1e20])]}}
    for name, data in cases.items():
        (tmp_path / name).write_text(json.dumps(data))
        out = run("calibrate", str(tmp_path / name), "--workload", str(workload), "--model", "scorer",
                  "--out", str(tmp_path / "o.yaml"))
        assert out.returncode == 2 and "Traceback" not in out.stderr and "internal error" not in out.stderr
        assert name in out.stderr and ("Datapoints[1].Unit" in out.stderr or "Timestamps[0]" in out.stderr)
    assert not (tmp_path / "o.yaml").exists()


def test_minutes_without_requests_are_dropped_and_said(tmp_path, workload):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_gms(GOOD + [{"Timestamp": "2024-05-01T00:07:00Z", "SampleCount": 0.0,
                                              "Unit": "Microseconds"}])))
    fit = calibrate(workload, "scorer", Inputs((path,)), tmp_path / "o.yaml").service
    assert fit.n == 6 * 300 and "1 period(s) with SampleCount 0 and no value dropped" in fit.line()


@pytest.mark.parametrize("named_by", ["--stat", "Id"])
def test_get_metric_data_p50_and_p99_fit_the_truth(named_by, tmp_path, workload):
    p50, p99 = tmp_path / "p50.json", tmp_path / "p99.json"
    p50.write_text(json.dumps({"MetricDataResults": [_result("p50", _us("p50"))]}))
    p99.write_text(json.dumps({"MetricDataResults": [_result("m1" if named_by == "--stat" else "p99", _us("p99"))]}))
    stat = "p99" if named_by == "--stat" else None  # --stat fills in for the result naming none; Id p50 wins
    fit = calibrate(workload, "scorer", Inputs((p50, p99), stat=stat), tmp_path / "o.yaml").service
    assert fit.dist.dist == "lognormal" and "p50, p99" in fit.method
    assert fit.fitted["p50"] == pytest.approx(35, rel=0.05) and fit.fitted["p99"] == pytest.approx(100, rel=0.05)


def test_get_metric_data_p99_alone_keeps_the_workload_shape(tmp_path, workload):
    path = tmp_path / "p99.json"
    path.write_text(json.dumps({"MetricDataResults": [_result("m1", _us("p99"))]}))
    fit = calibrate(workload, "scorer", Inputs((path,), stat="p99"), tmp_path / "o.yaml").service
    assert fit.dist.dist == "exponential" and fit.fitted["p99"] == pytest.approx(100, rel=0.05)
    assert "p99 only" in fit.line() and "shape kept" in fit.line()


def test_three_statistics_in_one_get_metric_data_file(tmp_path, workload):
    path = tmp_path / "latency.json"
    results = [_result("p50", _us("p50")), _result("q", _us("p99"), label="ModelLatency P99"),
               _result("avg", _us("Average"))]
    path.write_text(json.dumps({"MetricDataResults": results}))
    export = read_export(path, "MEASUREMENTS", latency=True)
    assert sorted(export.frame.columns) == ["Average", "p50", "p99"] and export.label == "ModelLatency"
    assert export.frame.index.is_monotonic_increasing and len(export.frame) == 6
    fit = calibrate(workload, "scorer", Inputs((path,)), tmp_path / "o.yaml").service
    assert fit.fitted["p50"] == pytest.approx(35, rel=0.05) and fit.fitted["p99"] == pytest.approx(100, rel=0.05)
    assert fit.observed["mean"] == pytest.approx(summary_ms(TRUTH)["mean"], rel=0.05)
    one = read_export(path, "MEASUREMENTS", column="q", latency=True)
    assert list(one.frame.columns) == ["p99"]


def test_statistic_tokens_of_ids_and_labels():
    names = {"p99": "p99", "ModelLatency p99.9": "p99.9", "lat_p99_9": "p99.9", "ModelLatency (Average)": "Average",
             "avg": "Average", "SAMPLECOUNT": "SampleCount", "count": "SampleCount", "m_min": "Minimum",
             "Maximum": "Maximum", "sum": "Sum", "m1": None, "ModelLatency": None, "p50 p99": None, "Invocations": None}
    assert {k: named_statistic(k) for k in names} == names
