"""Target tracking on the high-resolution concurrency metric (issue 16), worked by hand.

ConcurrentRequestsPerModel emits a datapoint every 10 s (catalog `autoscaling.high_resolution_period_s`),
so a policy on it scales out after 3 breaching 10-second datapoints (an assumption in the catalog) instead
of 3 breaching minutes, and scales in as slowly as the standard alarms (15 minutes = 90 datapoints).

Traffic: a request every 2 s for 10 minutes, then 4 a second; 1 s of service on one worker; one
instance at the start, launch 120 s. From 600 s the instance's queue grows by 3 requests a second.
- Concurrency target 2: the ticks at 610, 620 and 630 s see about 30, 60 and 90 held requests: after
  the third, at 630 s, the fleet asks for its max (10), serving at 750 s.
- Invocations target 60 a minute (the same 1 request a second per instance): the minutes ending at 660,
  720 and 780 s breach (240 a minute): the fleet asks at 780 s and serves at 900 s, 150 s later.
"""

from __future__ import annotations

import numpy as np

from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options import load_all
from sim.options._fleet import tracking
from sim.options._scaling import Autoscaling
from sim.scenario import build_scenario
from tests.test_export import assert_deployable, calls, deploy, workload
from tests.test_export_limits import lint

CAT = load_catalog()


def _first_scale_out_s(policy: dict) -> float:
    arr = np.r_[np.arange(0.0, 600.0, 2.0), 600.0 + np.arange(0.0, 1200.0, 0.25)]
    model = ModelSpec(name="m", service_time=Constant(value_ms=1000), memory_mb=200)
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), 1800.0, CAT, 0)
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model(instance_type="ml.c5.large", workers_per_instance=1, launch_s=120,
                                            initial_count=1, autoscaling=policy))
    cap = res.capacity
    return float(cap.times_s[np.argmax(cap.values > 1)])


def test_the_concurrency_metric_scales_out_two_and_a_half_minutes_sooner():
    fast = _first_scale_out_s({"min": 1, "max": 10, "target_concurrent_requests": 2})
    slow = _first_scale_out_s({"min": 1, "max": 10, "target_invocations_per_instance": 60})
    assert fast == 630.0 + 120.0
    assert slow == 780.0 + 120.0


def test_the_policy_reads_the_ten_second_period_and_keeps_scale_in_at_fifteen_minutes():
    pol = tracking(load_all()["realtime"].config_model(), Autoscaling(min=1, max=4, target_concurrent_requests=2),
                   2.0, 120.0, CAT, high_resolution=True)
    assert (pol.period_s, pol.out_datapoints, pol.in_datapoints) == (10.0, 3, 90)


def test_the_export_tracks_the_high_resolution_metric(tmp_path):
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.c5.large", "autoscaling": {
        "min": 1, "max": 4, "target_concurrent_requests": 2}}}), "realtime")
    assert_deployable(d)
    tt = calls(d, "PutScalingPolicy")[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tt["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"}
    assert tt["TargetValue"] == 2
    assert lint(tmp_path, d) == {"cloudformation.json": []}
