"""Application patterns hosted as separate endpoints, a network hop per call (issue 4).

Light load makes queueing negligible, so the end-to-end latency is the closed form of the pattern's
work plus one catalog hop per call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fitness.engine.recommend import recommend
from fitness.workload.scenario import build
from fitness.workload.spec import load_workload, parse_workload
from sim.application import Application
from sim.catalog import load_catalog
from sim.distributions import Constant, Exponential
from sim.metrics import latency_s
from sim.model import ModelSpec
from sim.options.realtime import RealtimeConfig, simulate
from sim.scenario import build_scenario, stream

HOP_S = load_catalog().co_hosting.endpoint_hop_ms.value / 1000.0
PINNED = RealtimeConfig(instance_type="ml.c5.xlarge", instance_count=1, workers_per_instance=4)


def _scenario(models, app, rate, n, seed=3):
    arr = np.cumsum(stream(seed, "pattern-arrivals").exponential(1 / rate, n))
    return build_scenario(models, arr, np.zeros(n, np.int32), float(arr[-1]) + 1, load_catalog(), seed,
                          application=app)


def test_serial_latency_is_the_sum_of_steps_plus_hops():
    """Three constant steps of 5, 20 and 3 ms, 1 request/s: exactly 28 ms + 3 hops each."""
    models = [ModelSpec(name=n, service_time=Constant(value_ms=v)) for n, v in (("pre", 5), ("m", 20), ("post", 3))]
    res = simulate(_scenario(models, Application("serial", steps=(0, 1, 2)), 1.0, 2000), PINNED)
    lat = latency_s(res.log)
    assert lat == pytest.approx(np.full(lat.size, 0.028 + 3 * HOP_S), abs=1e-9)
    assert res.config.option["hosting"].startswith("3 separate real-time endpoints")
    assert res.cost_usd["instances"] == pytest.approx(3 * 0.204 * res.horizon_s / 3600)


@pytest.mark.statistical
@pytest.mark.parametrize("k", [2, 3, 5])
def test_scatter_gather_latency_is_the_expected_max_of_the_branches(k):
    """K exponential branches of mean 50 ms at 0.5 request/s: E[max] = 50 ms x (1 + 1/2 + ... + 1/K), plus
    one hop. N = 20,000. Relative error of the mean over seeds 0..9 (measured 2026-11-25): K 2 mean -0.01%,
    sd 0.50%; K 3 -0.06%, sd 0.42%; K 5 -0.15%, sd 0.31%. The tolerance, 2%, is 4 sd of the noisiest K (the
    little queueing at utilisation < 0.7% is inside the noise)."""
    models = [ModelSpec(name=f"b{i}", service_time=Exponential(mean_ms=50)) for i in range(k)]
    res = simulate(_scenario(models, Application("scatter-gather", branches=tuple(range(k))), 0.5, 20_000), PINNED)
    expected = 0.050 * sum(1 / i for i in range(1, k + 1)) + HOP_S
    assert latency_s(res.log).mean() == pytest.approx(expected, rel=0.02)


def test_aggregate_adds_the_aggregator_after_the_slowest_branch():
    models = [ModelSpec(name="a", service_time=Constant(value_ms=10)), ModelSpec(name="b", service_time=Constant(
        value_ms=30)), ModelSpec(name="vote", kind="logic", service_time=Constant(value_ms=2))]
    res = simulate(_scenario(models, Application("aggregate", branches=(0, 1), aggregator=2), 1.0, 500), PINNED)
    assert latency_s(res.log) == pytest.approx(np.full(500, 0.030 + 0.002 + 2 * HOP_S), abs=1e-9)


def test_dynamic_selection_sends_each_route_its_share():
    wl = load_workload(Path(__file__).resolve().parents[1] / "examples" / "fruit-router.yaml")
    sc = build(wl)
    assert sc.application is not None and sc.application.routed
    share = float(np.mean(sc.model_idx == 0))
    n = sc.n
    assert share == pytest.approx(0.7, abs=4 * np.sqrt(0.21 / n))
    rec = recommend(wl)
    assert all(o.feasible or o.reasons for o in rec.options)
    assert rec.recommended is not None


def test_pattern_names_must_be_models():
    base = {"models": [{"name": "m", "service_time": {"dist": "constant", "value_ms": 1}}],
            "traffic": {"pattern": "poisson", "rate_rps": 1}}
    with pytest.raises(Exception) as info:
        parse_workload({**base, "application": {"pattern": "serial", "steps": ["n"]}}, source="w.yaml")
    assert "application.steps[0]" in str(info.value) and "(m)" in str(info.value)


def test_options_that_cannot_host_a_pattern_say_so():
    wl = parse_workload({"horizon": 600, "models": [
        {"name": "a", "service_time": {"dist": "constant", "value_ms": 5}},
        {"name": "b", "service_time": {"dist": "constant", "value_ms": 5}}],
        "traffic": {"pattern": "poisson", "rate_rps": 1}, "application": {"pattern": "serial", "steps": ["a", "b"]},
        "slo": {"delivery": "async"}})
    by = {o.option: o for o in recommend(wl).options}
    assert "cannot host the serial pattern" in by["async"].reasons[0]
    assert by["realtime"].feasible
