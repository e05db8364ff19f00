"""Inference pipelines: serial latency, the slowest step as the bottleneck, limits and invariants.

Constant service times make the tandem recursion exact (each step hands requests on in arrival order),
so the figures below are worked by hand, not estimated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.application import Application
from sim.catalog import load_catalog
from sim.components.tandem import TandemPool
from sim.distributions import Constant, Exponential
from sim.metrics import latency_s, request_counts
from sim.model import ModelSpec
from sim.options.inference_pipeline import PipelineConfig, simulate
from sim.results import SERVED, RequestLog
from sim.scenario import build_scenario, stream
from tests.invariants import check_common, explained

CAT = load_catalog()
HOP_S = CAT.co_hosting.pipeline_hop_ms.value / 1000.0


def _constant(name, ms, **kw):
    return ModelSpec(name=name, service_time=Constant(value_ms=ms), memory_mb=200, **kw)


STEPS = [_constant("pre", 5, kind="logic"), _constant("m", 100), _constant("post", 10, kind="logic")]
SERIAL = Application("serial", steps=(0, 1, 2))
PINNED = PipelineConfig(instance_type="ml.c5.xlarge", instance_count=1)


def _scenario(arrivals, models=STEPS, app=SERIAL, horizon=None):
    arr = np.asarray(arrivals, float)
    return build_scenario(models, arr, np.zeros(arr.size, np.int32), horizon or float(arr[-1]) + 1, CAT, 0,
                          application=app)


def test_serial_latency_is_the_sum_of_steps_plus_hops():
    """One request a second: 5 + 100 + 10 ms and two in-host hops (none before the first step)."""
    res = simulate(_scenario(np.arange(1000.0)), PINNED)
    assert res.feasible, res.reasons
    assert latency_s(res.log) == pytest.approx(np.full(1000, 0.115 + 2 * HOP_S), abs=1e-9)
    assert res.config.option["hop_ms"] == CAT.co_hosting.pipeline_hop_ms.value
    assert res.cost_usd["instances"] == pytest.approx(1000.0 * 0.204 / 3600, abs=1e-12)  # horizon: last arrival + 1 s


@pytest.mark.parametrize("workers", [1, 2])
def test_throughput_is_bound_by_the_slowest_step(workers):
    """15 requests/s per worker against a 100 ms step (10/s per worker): the queue builds at that step only,
    and requests leave every 0.1 / workers s. Arrivals every 1/15 s for 100 s: the last of 1500 requests
    leaves at 1500 x 0.1 / workers + 5 ms + 10 ms + hops, having waited 1500 x (0.1 - 1/15) / workers s."""
    n, rate = 1500, 15.0 * workers
    arr = np.arange(n) / rate
    cfg = PipelineConfig(instance_type="ml.c5.2xlarge", instance_count=1, workers_per_container=workers)
    res = simulate(_scenario(arr), cfg)
    fin = np.sort(res.log.finish_s)
    assert np.diff(fin[workers * 10:][::workers]) == pytest.approx(0.1, abs=1e-9)  # 10 / s per worker
    assert (n - 1) / (fin[-1] - fin[0]) == pytest.approx(10.0 * workers, rel=0.01)
    steps = {s["step"]: s for s in res.figures.details["steps"]}
    assert steps["pre"]["max_wait_ms"] == 0 and steps["post"]["max_wait_ms"] == 0
    slowest_wait = (n - workers) / workers * 0.1 - (n - workers) / rate
    assert steps["m"]["max_wait_ms"] == pytest.approx(1000 * slowest_wait, rel=1e-6)
    assert latency_s(res.log)[-1] == pytest.approx(slowest_wait + 0.115 + 2 * HOP_S, rel=1e-6)


def test_least_outstanding_routing_spreads_requests():
    arr = np.zeros(4)
    log = RequestLog.empty(arr, np.zeros(4, np.int32))
    pool = TandemPool(log, np.arange(4), np.array([[0.1, 0.2]] * 4), 1, hop_s=0.0)
    pool.join(0.0)
    pool.join(0.0)
    pool.advance(math.inf)
    # two instances, one worker per step: requests 0 and 2 go to one, 1 and 3 to the other; the second of
    # each pair starts step 1 at 0.1 and step 2 when the first leaves it, at 0.3
    assert sorted(log.finish_s.tolist()) == pytest.approx([0.3, 0.3, 0.5, 0.5])


def test_limits_are_named():
    one = simulate(_scenario(np.arange(5.0), app=Application("serial", steps=(1,))), PINNED)
    assert not one.feasible and "an inference pipeline of 1 step is below the 2-container minimum" in one.reasons[0]
    many = [_constant(f"s{i}", 1) for i in range(16)]
    res = simulate(_scenario(np.arange(5.0), models=many, app=Application("serial", steps=tuple(range(16)))),
                   PipelineConfig())
    assert not res.feasible and "16 steps exceed the 15-container limit of inference pipelines" in res.reasons
    fifteen = simulate(_scenario(np.arange(5.0), models=many[:15], app=Application("serial", steps=tuple(range(15)))),
                       PipelineConfig(instance_count=1))
    # the containers share the vCPUs: 15 x 200 MB of model copies is all the type must hold
    assert fifteen.feasible and fifteen.config.option["instance_type"] == "ml.t3.medium"  # the cheapest type
    plain = build_scenario(STEPS, np.arange(5.0), np.zeros(5, np.int32), 5.0, CAT, 0)
    assert simulate(plain, PipelineConfig()).reasons == ("an inference pipeline needs a serial application of 2 to "
                                                         "15 steps",)
    fan = simulate(_scenario(np.arange(5.0), app=Application("scatter-gather", branches=(0, 1))), PipelineConfig())
    assert not fan.feasible
    crowded = simulate(_scenario(np.arange(5.0)), PINNED.model_copy(update={"workers_per_container": 2}))
    assert crowded.feasible, crowded.reasons  # 6 CPU workers on 4 vCPUs share them


@pytest.mark.parametrize("vcpus, rate", [(2, 2 / 0.3), (4, 10.0)])
def test_cpu_steps_share_the_instance_vcpus(vcpus, rate):
    """Three CPU steps of 100 ms, one worker each. Offered 20 req/s, far above capacity. On 4 vCPUs every
    step has a CPU of its own and the 100 ms step bounds throughput at 10/s. On 2 vCPUs the three busy
    containers share two CPUs: each job runs at 2/3 speed (150 ms), so requests leave every 0.15 s, the
    processor-sharing capacity 2 vCPUs / 0.3 s of CPU work per request = 6.67/s. A request arriving
    alone still runs at full speed: 300 ms plus two hops."""
    n = 2000
    arr = np.arange(n) / 20.0
    log = RequestLog.empty(arr, np.zeros(n, np.int32))
    pool = TandemPool(log, None, np.full((n, 3), 0.1), 1, HOP_S, vcpus, (True, True, True))
    pool.join(0.0)
    pool.advance(math.inf)
    fin = np.sort(log.finish_s)
    assert np.diff(fin[-100:]) == pytest.approx(np.full(99, 1 / rate), abs=1e-9)
    lone = RequestLog.empty(np.array([0.0, 10.0]), np.zeros(2, np.int32))
    alone = TandemPool(lone, None, np.full((2, 3), 0.1), 1, HOP_S, vcpus, (True, True, True))
    alone.join(0.0)
    alone.advance(math.inf)
    assert latency_s(lone) == pytest.approx([0.3 + 2 * HOP_S] * 2, abs=1e-12)


def test_gpu_steps_do_not_take_vcpus():
    """A GPU step holds no vCPU: two CPU steps on a 2-vCPU instance never contend, whatever the GPU step does."""
    n = 500
    arr = np.arange(n) / 20.0
    shared, own = (RequestLog.empty(arr, np.zeros(n, np.int32)) for _ in range(2))
    for log, cpu in ((shared, (True, False, True)), (own, ())):
        pool = TandemPool(log, None, np.full((n, 3), 0.04), 1, HOP_S, 2, cpu)
        pool.join(0.0)
        pool.advance(math.inf)
    assert shared.finish_s.tolist() == own.finish_s.tolist()


def test_autoscaled_pipeline_scales_on_the_slowest_step():
    """Default sizing: instances for the 100 ms step at 60% utilisation (6 req/s each): 29 req/s needs 5."""
    arr = np.arange(0, 1800, 1 / 29)
    res = simulate(_scenario(arr, horizon=1800.0), PipelineConfig(instance_type="ml.c5.xlarge"))
    assert res.config.option["initial_count"] == 5  # ceil(29 / (0.6 x 1 / 0.1))
    assert res.config.option["autoscaling"].startswith("1..10 ")  # twice the peak minute
    counts = request_counts(res.log)
    assert counts.served == counts.offered
    assert res.cost_usd["instances"] == pytest.approx(res.figures.instance_seconds * 0.204 / 3600, rel=1e-12)


@st.composite
def pipelines(draw):
    """2..5 steps (constant or exponential), Poisson arrivals up to 400 requests."""
    k = draw(st.integers(2, 5))
    svc = st.one_of(st.builds(lambda v: Constant(value_ms=v), st.floats(1, 1000)),
                    st.builds(lambda v: Exponential(mean_ms=v), st.floats(1, 1000)))
    models = [ModelSpec(name=f"s{i}", service_time=draw(svc), memory_mb=draw(st.floats(0, 800))) for i in range(k)]
    rate, horizon, seed = draw(st.floats(0.05, 30)), draw(st.floats(10, 600)), draw(st.integers(0, 2**31))
    n = min(400, max(1, int(rate * horizon)))
    arr = np.sort(stream(seed, "arrivals").uniform(0, horizon, n))
    return build_scenario(models, arr, np.zeros(n, np.int32), horizon, CAT, seed,
                          application=Application("serial", steps=tuple(range(k))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines(), st.integers(1, 3), st.sampled_from([None, 1, 2]))
def test_invariants(sc, workers, count):
    """Nothing finishes before it arrives or faster than its steps and hops; offered = served + throttled +
    failed; cost >= 0."""
    cfg = PipelineConfig(workers_per_container=workers, instance_count=count)
    res = simulate(sc, cfg)
    if not explained(res):
        return
    check_common(res, sc)
    log = res.log
    ok = log.status == SERVED
    path = sum(sc.step_service_s(i) for i in sc.application.steps) + HOP_S * (len(sc.application.steps) - 1)
    assert np.all(log.finish_s[ok] - log.arrival_s[ok] >= path[ok] - 1e-9)
