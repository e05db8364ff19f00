"""Target tracking on CPU utilisation (issue 16), worked by hand.

One worker per instance, 1 s of service, a request every 1.25 s: each minute the worker is busy 48 s, 80%
of the period. A 50% target breaches from the first minute: after the third (180 s) the fleet asks for
ceil(1 x 80 / 50) = 2 instances, the second serving 120 s later. A 90% target never breaches: one
instance throughout. The busy time is read from the request log (`sim.components.busy.BusyMeter`).
"""

from __future__ import annotations

import numpy as np
import pytest

from fitness.engine.run import simulate as simulate_option
from fitness.errors import UserError
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog
from sim.components.busy import BusyMeter
from sim.components.pool import InstancePool
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options import load_all
from sim.results import RequestLog
from sim.scenario import build_scenario
from tests.test_export import assert_deployable, calls, deploy, workload
from tests.test_export_limits import lint


def _run(target: float):
    arr = np.arange(0.0, 1800.0, 1.25)
    model = ModelSpec(name="m", service_time=Constant(value_ms=1000), memory_mb=200)
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), 1800.0, load_catalog(), 0)
    opt = load_all()["realtime"]
    return opt.simulate(sc, opt.config_model(instance_type="ml.c5.large", workers_per_instance=1, launch_s=120,
                                             initial_count=1, autoscaling={"min": 1, "max": 4,
                                                                           "target_cpu_utilization": target}))


def test_the_busy_meter_reads_the_worked_share_of_each_period():
    """Requests of 1 s arriving at 0.25 + 1.25 k s: 48 start and end in each minute (48 s busy). Across
    [59.5, 60.5) the one of 59.0 s works 0.5 s and the one of 60.25 s 0.25 s: 0.75 s. The meter is read
    period after period, as the autoscaler reads it."""
    arr = np.arange(0.0, 600.0, 1.25) + 0.25
    log = RequestLog.empty(arr, np.zeros(arr.size, np.int32))
    pool = InstancePool(log, None, np.ones(arr.size), 1, elastic=False)
    pool.join(0.0)
    pool.advance(600.0)
    meter = BusyMeter(pool)
    assert [meter(60.0 * i, 60.0 * (i + 1)) for i in range(3)] == pytest.approx([48.0, 48.0, 48.0])
    assert BusyMeter(pool)(59.5, 60.5) == pytest.approx(0.75)


def test_cpu_tracking_scales_out_after_three_busy_minutes():
    res = _run(50.0)
    cap = res.capacity
    assert float(cap.times_s[np.argmax(cap.values > 1)]) == 180.0 + 120.0
    assert cap.values.max() == 2
    assert res.config.model("m")["autoscaling"] == "1..4 target 50% CPU"
    assert _run(90.0).capacity.values.max() == 1


def test_cpu_tracking_is_refused_where_a_request_does_not_hold_one_worker():
    wl = parse_workload(workload({"multi-container": {"instance_type": "ml.c5.large", "autoscaling": {
        "min": 1, "max": 2, "target_cpu_utilization": 60}}}))
    with pytest.raises(UserError, match="target_cpu_utilization"):
        simulate_option(wl, "multi-container")


def test_the_export_tracks_cpu_utilization_in_aws_units(tmp_path):
    """CPUUtilization sums the cores: 60% of 2 workers (a core each) is a target of 120."""
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.c5.large", "workers_per_instance": 2,
                                         "autoscaling": {"min": 1, "max": 4, "target_cpu_utilization": 60}}}),
                  "realtime")
    assert_deployable(d)
    tt = calls(d, "PutScalingPolicy")[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tt["CustomizedMetricSpecification"]["MetricName"] == "CPUUtilization"
    assert tt["TargetValue"] == 120
    assert lint(tmp_path, d) == {"cloudformation.json": []}
