"""Target-tracking autoscaling follows the documented alarm mechanics, checked on a traffic step.

Constant arrivals: 10 req/s for 30 min, 100 req/s for 60 min, 10 req/s for 30 min; 100 ms constant
service, 2 workers per instance, target 600 invocations per instance per minute. Worked by hand:
- The metric at tick t covers [t - 60, t). The step at 1800 s breaches at the ticks 1860, 1920 and 1980.
  After those 3 datapoints the policy asks for ceil(1 x 6000 / 600) = 10 instances at 1980 s.
- They serve after the launch delay, 300 s from the catalog (the model has no cold start), so at 2280 s.
- Traffic drops at 5400 s. 10 x 60 < 0.9 x 600 for 15 datapoints gives 1 instance at 6300 s.
"""

from __future__ import annotations

import numpy as np

from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options.realtime import RealtimeConfig, simulate
from sim.scenario import build_scenario


def _step_scenario():
    parts = [np.arange(0, 1800, 0.1), np.arange(1800, 5400, 0.01), np.arange(5400, 7200, 0.1)]
    arr = np.concatenate(parts)
    model = ModelSpec(name="m", service_time=Constant(value_ms=100), memory_mb=100)
    return build_scenario([model], arr, np.zeros(arr.size, np.int32), 7200.0, load_catalog(), 0)


def test_scale_out_after_three_breaching_minutes_and_launch_delay_then_scale_in():
    sc = _step_scenario()
    cfg = RealtimeConfig(instance_type="ml.c5.large", workers_per_instance=2, initial_count=1,
                         autoscaling={"min": 1, "max": 20, "target_invocations_per_instance": 600})
    res = simulate(sc, cfg)
    cap = res.capacity
    assert cap.at(np.array([1000.0, 2279.0, 2281.0, 6299.0, 6301.0])).tolist() == [1, 1, 10, 10, 1]
    # one instance (20 req/s) faces 100 req/s for 480 s: the queue grows by 80 req/s until 2280 s
    waits = res.log.start_s - res.log.arrival_s
    late = (sc.arrivals_s > 2200) & (sc.arrivals_s < 2280)
    assert waits[late].min() > 60  # requests wait behind (2200 - 1800) * 80 / 20 = 1600 s of backlog
    assert res.log.status[late].tolist().count(2) == late.sum()  # ... so they all time out (60 s)
    # billing: 1 instance all along, plus the 9 asked for at 1980 s (billed from then) until they retire
    # at 6300 s, by which time their queues have long drained
    assert res.figures.instance_seconds == 7200 + 9 * (6300 - 1980)


def test_pinned_count_never_changes():
    sc = _step_scenario()
    res = simulate(sc, RealtimeConfig(instance_type="ml.c5.large", instance_count=3))
    assert res.capacity.values.tolist() == [3]
    assert res.figures.instance_seconds == 3 * 7200


def test_a_larger_scale_out_proceeds_during_the_scale_out_cooldown():
    """A ramp in two steps: 10 req/s, 60 req/s from 1800 s, 100 req/s from 2100 s (100 ms, 2 workers, target
    600 invocations per instance per minute; 300 s launch and 300 s cooldown from the catalog). By hand:
    - 60 req/s breaches at 1860, 1920, 1980: the policy asks for ceil(3600 / 600) = 6 at 1980 s; they serve
      at 2280 s, and the cooldown runs to 2280 s.
    - 100 req/s from 2100 s: the ticks 2040, 2100 and 2160 breach again (1 instance serving); at 2160 s the
      policy wants ceil(6000 / 600) = 10, more than the 6 the cooldown's scale-out asked for, so AWS scales
      out at once: 4 more, serving at 2460 s. Blocking it until the cooldown ends (as before) would launch
      them at 2280 s and serve at 2580 s, two minutes late."""
    parts = [np.arange(0, 1800, 0.1), np.arange(1800, 2100, 1 / 60), np.arange(2100, 3600, 0.01)]
    arr = np.concatenate(parts)
    model = ModelSpec(name="m", service_time=Constant(value_ms=100), memory_mb=100)
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), 3600.0, load_catalog(), 0)
    cfg = RealtimeConfig(instance_type="ml.c5.large", workers_per_instance=2, initial_count=1,
                         autoscaling={"min": 1, "max": 20, "target_invocations_per_instance": 600})
    cap = simulate(sc, cfg).capacity
    assert cap.at(np.array([2279.0, 2281.0, 2459.0, 2461.0])).tolist() == [1, 6, 6, 10]
