"""Step scaling (issue 16): alarms on invocations per instance and their step adjustments, worked by hand.

A request every 0.1 s (600 a minute) for 30 min, then one a second for 30 min; 10 ms each; one instance at
the start, launch 120 s. Scale-out alarm: above 110 invocations per instance per minute for 3 minutes,
+1 instance for a breach under 200, +3 from 200; cooldown 300 s. Scale-in alarm: below 50 for 2 minutes,
-1; cooldown 120 s.
- 03:00: 600 on 1 instance, breach 490: +3 (joining at 05:00), cooldown to 08:00 from a base of 1.
- 05:00-07:00: 4 instances, 150 each, breach 40 says +1, but inside the cooldown 1 + 1 is below the 4 asked.
- 08:00: cooldown over: 4 + 1 = 5 (joins 10:00), cooldown to 13:00; 13:00: 120 each, +1 = 6 (joins 15:00);
  from 15:00, 100 each: no alarm.
- From 30:00, 60 a minute: below 50 per instance from the 31:00 tick; at 32:00 (two low minutes) -1, then
  -1 every 120 s of scale-in cooldown: 5 at 32:00, 4 at 34:00, 3 at 36:00, 2 at 38:00, 1 at 40:00 (min).
Billed from each launch request to its retirement (newest first): 3600 + 2220 + 2100 + 1980 (the three
asked at 03:00) + 1560 (08:00) + 1140 (13:00) = 12,600 instance-seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from fitness.errors import UserError
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options import load_all
from sim.scenario import build_scenario
from tests.test_export import assert_deployable, calls, deploy, workload
from tests.test_export_limits import lint

STEP = {"scale_out": {"threshold": 110, "datapoints": 3, "cooldown_s": 300,
                      "steps": [{"lower": 0, "upper": 200, "change": 1}, {"lower": 200, "change": 3}]},
        "scale_in": {"threshold": 50, "datapoints": 2, "cooldown_s": 120, "steps": [{"upper": 0, "change": -1}]}}
POLICY = {"min": 1, "max": 10, "step": STEP}


def _run():
    arr = np.r_[np.arange(0, 18000) * 0.1, 1800.0 + np.arange(1800.0)]
    model = ModelSpec(name="m", service_time=Constant(value_ms=10), memory_mb=200)
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), 3600.0, load_catalog(), 0)
    opt = load_all()["realtime"]
    cfg = opt.config_model(instance_type="ml.c5.large", workers_per_instance=1, launch_s=120, initial_count=1,
                           autoscaling=POLICY)
    return opt.simulate(sc, cfg)


def test_steps_and_cooldowns_set_the_fleet_as_worked_by_hand():
    res = _run()
    assert res.feasible, res.reasons
    cap = res.capacity
    level = {t: float(cap.values[np.searchsorted(cap.times_s, t, side="right") - 1]) for t in (
        299, 300, 599, 600, 899, 900, 1919, 1920, 2040, 2160, 2280, 2400, 3599)}
    assert level == {299: 1, 300: 4, 599: 4, 600: 5, 899: 5, 900: 6, 1919: 6, 1920: 5, 2040: 4, 2160: 3,
                     2280: 2, 2400: 1, 3599: 1}
    assert res.figures.instance_seconds == pytest.approx(12_600, abs=1.0)
    assert res.config.model("m")["autoscaling"] == "1..10 step scaling"


@pytest.mark.parametrize(("step", "words"), [
    ({"scale_out": {"threshold": 10, "steps": [{"lower": 5, "change": 1}]}}, "from lower 0"),
    ({"scale_out": {"threshold": 10, "steps": [{"lower": 0, "upper": 5, "change": 1},
                                               {"lower": 6, "change": 2}]}}, "previous step's upper"),
    ({"scale_in": {"threshold": 10, "steps": [{"upper": 0, "change": 1}]}}, "down"),
    ({"scale_out": {"threshold": 10, "steps": [{"lower": 0, "change": 1}]},
      "scale_in": {"threshold": 20, "steps": [{"upper": 0, "change": -1}]}}, "below the scale_out threshold"),
    ({}, "scale_out, scale_in or both"),
])
def test_malformed_steps_are_refused_by_field(step, words):
    data = workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": {"min": 1, "max": 4, "step": step}}})
    with pytest.raises(UserError, match=words):
        parse_workload(data)


def test_a_target_and_steps_together_are_refused():
    data = workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": {
        "min": 1, "max": 4, "target_invocations_per_instance": 100, "step": STEP}}})
    with pytest.raises(UserError, match="one of them"):
        parse_workload(data)


def test_the_export_writes_both_step_policies_and_their_alarms(tmp_path):
    """Two StepScaling policies and two InvocationsPerInstance alarms (Sum per minute, the thresholds and
    datapoints simulated; idle minutes count towards scaling in), valid against botocore, cfn-lint clean;
    no target-tracking policy."""
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": POLICY}}), "realtime")
    assert_deployable(d)
    policies = calls(d, "PutScalingPolicy")
    assert [p["PolicyType"] for p in policies] == ["StepScaling", "StepScaling"]
    out = policies[0]["StepScalingPolicyConfiguration"]
    assert out["StepAdjustments"] == [
        {"ScalingAdjustment": 1, "MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 200},
        {"ScalingAdjustment": 3, "MetricIntervalLowerBound": 200}]
    assert out["Cooldown"] == 300 and out["AdjustmentType"] == "ChangeInCapacity"
    alarms = calls(d, "PutMetricAlarm")
    assert [(a["Threshold"], a["EvaluationPeriods"], a["ComparisonOperator"], a["TreatMissingData"])
            for a in alarms] == [(110, 3, "GreaterThanThreshold", "notBreaching"),
                                 (50, 2, "LessThanThreshold", "breaching")]
    assert all(a["MetricName"] == "InvocationsPerInstance" and a["Statistic"] == "Sum" for a in alarms)
    assert lint(tmp_path, d) == {"cloudformation.json": []}
