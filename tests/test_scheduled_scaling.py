"""Scheduled scaling (issue 16): min and max changed at times of day, as Application Auto Scaling does it.

Hand-worked: one request a second of 10 ms for two days, far below the tracking target, so target tracking
alone would keep one instance. Scheduled actions: 08:00 min 4, 12:00 min 2 max 2, 18:00 min 1 max 10.
At 00:00 the bounds a day of actions leaves are in force (min 1, max 10): one instance. At 08:00 three
more are asked for (billed from then) and serve 300 s later; at 12:00 the new max retires the two newest at
once; at 18:00 min falls to 1 and the tick at 18:00 (the low alarm has breached all day) retires the last
extra one. Each day bills 3 x 4 h + 1 x 6 h = 64,800 extra instance-seconds over the one that runs all
along: 2 x 86,400 + 2 x 64,800 = 302,400 instance-seconds in all.
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
from tests.test_export import assert_valid, calls, deploy, workload
from tests.test_export_limits import lint

SCHEDULE = [{"at": "08:00", "min": 4}, {"at": "12:00", "min": 2, "max": 2}, {"at": "18:00", "min": 1, "max": 10}]
POLICY = {"min": 1, "max": 10, "target_invocations_per_instance": 1000, "scheduled": SCHEDULE}
DAY = 86_400.0


def _run(policy: dict):
    arr = np.arange(0.0, 2 * DAY, 1.0)
    model = ModelSpec(name="m", service_time=Constant(value_ms=10), memory_mb=200)
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), 2 * DAY, load_catalog(), 0)
    opt = load_all()["realtime"]
    cfg = opt.config_model(instance_type="ml.c5.large", workers_per_instance=1, launch_s=300, autoscaling=policy)
    return opt.simulate(sc, cfg)


def _level(res, t: float) -> float:
    cap = res.capacity
    return float(cap.values[np.searchsorted(cap.times_s, t, side="right") - 1])


def test_scheduled_actions_set_the_fleet_by_the_time_of_day():
    res = _run(POLICY)
    assert res.feasible, res.reasons
    for day in (0.0, DAY):
        assert _level(res, day + 8 * 3600 - 1) == 1
        assert _level(res, day + 8 * 3600 + 299) == 1 and _level(res, day + 8 * 3600 + 300) == 4
        assert _level(res, day + 12 * 3600 - 1) == 4 and _level(res, day + 12 * 3600) == 2
        assert _level(res, day + 18 * 3600 - 1) == 2 and _level(res, day + 18 * 3600) == 1
    assert res.figures.instance_seconds == pytest.approx(2 * DAY + 2 * 64_800, abs=1.0)
    assert res.config.model("m")["scheduled"] == "08:00 min 4; 12:00 min 2 max 2; 18:00 min 1 max 10"


def test_without_the_schedule_the_fleet_stays_at_one():
    """The same traffic and policy without the actions: one instance all along (the test above can fail)."""
    res = _run({k: v for k, v in POLICY.items() if k != "scheduled"})
    assert res.figures.instance_seconds == pytest.approx(2 * DAY, abs=1.0)


@pytest.mark.parametrize(("schedule", "words"), [
    ([{"at": "08:00"}], "sets min, max or both"),
    ([{"at": "8:00", "min": 2}], "at"),
    ([{"at": "09:00", "min": 5}, {"at": "10:00", "max": 3}], "leaves min 5 and max 3"),
    ([{"at": "09:00", "min": 2}, {"at": "09:00", "min": 3}], "same time of day"),
])
def test_impossible_schedules_are_refused_by_field(schedule, words):
    data = workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": {**POLICY, "scheduled": schedule}}})
    with pytest.raises(UserError, match=words):
        parse_workload(data)


def test_the_export_schedules_the_same_actions(tmp_path):
    """PutScheduledAction per action (a daily cron in UTC), valid against botocore; the CloudFormation
    scalable target carries them as ScheduledActions, cfn-lint clean."""
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": POLICY}}), "realtime")
    actions = calls(d, "PutScheduledAction")
    assert [a["Schedule"] for a in actions] == ["cron(0 8 * * ? *)", "cron(0 12 * * ? *)", "cron(0 18 * * ? *)"]
    assert [a["ScalableTargetAction"] for a in actions] == [
        {"MinCapacity": 4}, {"MinCapacity": 2, "MaxCapacity": 2}, {"MinCapacity": 1, "MaxCapacity": 10}]
    for a in actions:
        assert_valid("application-autoscaling", "PutScheduledAction", a)
        assert a["Timezone"] == "Etc/UTC"
    target = next(r for r in d.cloudformation.templates[0]["Resources"].values()
                  if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget")
    assert [a["Schedule"] for a in target["Properties"]["ScheduledActions"]] == [a["Schedule"] for a in actions]
    assert lint(tmp_path, d) == {"cloudformation.json": []}
