"""Instance failures (`sim.faults.InstanceFailure`): one instance fails at `at_s`, loses what it held and is
replaced after the launch delay; worked by hand on deterministic traffic, then on every data plane, then as
a property over random workloads.

Most cases share one steady workload: a request every 0.1 s (k = 0..299, arrival 0.1 k, horizon 30 s), each
0.15 s of constant work, on 2 instances that serve one request at a time, launch delay pinned to 5 s.
Least-outstanding routing alternates: request k goes to instance k mod 2 (when k arrives, k - 2 finished at
0.1 k - 0.05 and k - 1 is still in service), is served on arrival and answered at 0.1 k + 0.15.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.application import Application
from sim.catalog import load_catalog
from sim.components.pool import InstancePool
from sim.distributions import Constant, Exponential
from sim.engine import Engine
from sim.errors import InputError
from sim.faults import InstanceFailure
from sim.model import ModelSpec
from sim.options import load_all
from sim.options._fleet import FleetConfig, provision
from sim.options.realtime import RealtimeConfig, simulate
from sim.results import FAILED, SERVED, RequestLog
from sim.scenario import build_scenario, stream
from tests.invariants import check_common

CAT = load_catalog()
LAUNCH_S = 5.0
PAIR = RealtimeConfig(instance_type="ml.c5.large", instance_count=2, workers_per_instance=1, launch_s=LAUNCH_S)


def _constant(name, ms, **kw):
    return ModelSpec(name=name, service_time=Constant(value_ms=ms), memory_mb=100, **kw)


def _steady(models=None, app=None, n=300, every_s=0.1, horizon_s=30.0):
    arr = np.arange(n) * every_s if every_s != 0.1 else np.arange(n) / 10
    return build_scenario(models or [_constant("m", 150)], arr, np.zeros(n, np.int32), horizon_s, CAT, 0,
                          application=app)


def test_hand_worked_failure_on_a_pinned_realtime_endpoint():
    """The steady workload, failure at 10.05. Then request 99 (instance 1) has just finished (9.9 + 0.15) and
    request 100 (instance 0) is in service since 10.0: instance 0 holds the most, so it fails and request 100
    alone is lost, answered with an error at 10.05 (start 10.0 kept). Requests 0..99 are untouched.

    From 10.1 the survivor takes every request alone, one every 0.1 s against 0.15 s of work: request k
    (101 <= k <= 150) starts when k - 1 ends and ends at 10.1 + 0.15 (k - 100), a latency of 0.05 k - 4.9 s
    (0.15 s for k = 101, 2.6 s for k = 150), growing 0.05 s per request. The replacement is asked for at
    10.05 and serves at 10.05 + 5 = 15.05; the requests after it are routed to whichever of the two holds
    fewer, and both queues are empty long before the horizon.

    Billed: the failed instance 0 -> 10.05, the survivor 0 -> 30, the replacement 10.05 -> 30: 10.05 + 30 +
    19.95 = 60 instance-seconds, what the two instances cost without the failure.
    """
    sc = _steady()
    base, res = simulate(sc, PAIR), simulate(sc.with_faults(InstanceFailure(10.05)), PAIR)
    log = res.log
    assert np.flatnonzero(log.status == FAILED).tolist() == [100]
    assert (log.start_s[100], log.finish_s[100]) == (10.0, 10.05)
    assert np.array_equal(log.finish_s[:100], base.log.finish_s[:100])
    latency = log.finish_s - log.arrival_s
    k = np.arange(101, 151)
    assert latency[k] == pytest.approx(0.05 * k - 4.9, abs=1e-9)
    assert latency[-50:] == pytest.approx(np.full(50, 0.15), abs=1e-9)
    assert res.figures.details["faults"] == [{"at_s": 10.05, "model": "m", "instance": 0, "lost_requests": 1,
                                              "replacement_serving_s": 15.05}]
    assert res.capacity.at(np.array([10.0, 10.1, 15.0, 15.1])).tolist() == [2, 1, 1, 2]
    assert res.figures.instance_seconds == pytest.approx(60.0, abs=1e-9)


def test_billing_of_the_failed_instance_the_survivor_and_the_replacement():
    """The same run with the pool driven from the library: per instance, the intervals of the docstring above."""
    sc = _steady()
    log = RequestLog.empty(sc.arrivals_s, sc.model_idx)
    env = Engine()
    pool = env.attach(InstancePool(log, None, sc.service_s, 1, elastic=False))
    provision(env, pool, FleetConfig(instance_count=2), 0.0, LAUNCH_S, sc.arrivals_s, 30.0, CAT, {},
              (InstanceFailure(10.05),))
    env.run_until(30.0)
    assert pool.billed_intervals(30.0) == [(0.0, 10.05), (0.0, 30.0), (10.05, 30.0)]
    assert pool.joined_s == [0.0, 0.0, 15.05]
    assert pool.routable == [1, 2] and pool.lost == {0: 1}


def test_a_lone_instance_fails_with_a_queue_and_arrivals_wait_for_the_replacement():
    """One instance, a request every 0.1 s, 0.15 s each: overloaded, request k starts at 0.15 k. Failure at 1.0:
    requests 0..5 are done (5 ended at 0.9), 6 is in service since 0.9, 7, 8 and 9 queue (they would start at
    1.05, 1.2, 1.35): 4 lost, 6 keeping its start, 7..9 never started (NaN). Request 10 arrives at 1.0 with no
    instance in service: it and every later one wait for the replacement, which serves at 6.0, so request k
    >= 10 starts at 6.0 + 0.15 (k - 10). Billed: 1.0 for the failed instance, 9.0 for the replacement."""
    sc = _steady(n=100, horizon_s=10.0)
    cfg = RealtimeConfig(instance_type="ml.c5.large", instance_count=1, workers_per_instance=1, launch_s=LAUNCH_S)
    res = simulate(sc.with_faults(InstanceFailure(1.0)), cfg)
    log = res.log
    assert np.flatnonzero(log.status == FAILED).tolist() == [6, 7, 8, 9]
    assert log.finish_s[6:10].tolist() == [1.0] * 4
    assert log.start_s[6] == pytest.approx(0.9, abs=1e-12) and np.isnan(log.start_s[7:10]).all()
    k = np.arange(10, 100)
    assert log.start_s[k] == pytest.approx(6.0 + 0.15 * (k - 10), abs=1e-9)
    assert res.figures.details["faults"][0]["replacement_serving_s"] == 6.0
    assert res.figures.instance_seconds == pytest.approx(10.0, abs=1e-12)
    check_common(res, sc)


GPU_M = ModelSpec(name="m", service_time=Constant(value_ms=150), memory_mb=1000, accelerator="gpu")
TWO_STEPS = [_constant("p", 50), _constant("q", 100)]
GPU_STEPS = [GPU_M.model_copy(update={"name": "p", "service_time": Constant(value_ms=50)}),
             GPU_M.model_copy(update={"name": "q", "service_time": Constant(value_ms=100)})]
SERIAL = Application("serial", steps=(0, 1))
PLANES = {  # option, config, models, application: each serves the steady workload one request at a time
    "multi-model": ("multi-model", {"instance_type": "ml.c5.large", "workers_per_instance": 1}, None, None),
    "multi-container direct": ("multi-container", {"instance_type": "ml.c5.large"}, None, None),
    "multi-container serial": ("multi-container", {"instance_type": "ml.c5.large", "mode": "serial"}, TWO_STEPS,
                               SERIAL),
    "inference-pipeline": ("inference-pipeline", {"instance_type": "ml.c5.xlarge"}, TWO_STEPS, SERIAL),
    "triton": ("triton", {"instance_type": "ml.g4dn.xlarge", "max_batch_size": 1, "max_queue_delay_ms": 0}, [GPU_M],
               None),
    "triton ensemble": ("triton", {"instance_type": "ml.g4dn.xlarge", "max_batch_size": 1, "max_queue_delay_ms": 0},
                        GPU_STEPS, SERIAL),
}


@pytest.mark.parametrize("case", list(PLANES))
def test_the_same_failure_on_every_data_plane(case):
    """The hand-worked case on each data plane: at 10.05 request 100 is in service on instance 0 (request 99,
    on instance 1, is done or, behind an in-host hop, as busy: the tie goes to the first joined), so instance 0
    fails and request 100 alone is lost; the replacement serves at 15.05 and every other request is served."""
    option, raw, models, app = PLANES[case]
    opt = load_all()[option]
    cfg = opt.config_model(instance_count=2, launch_s=LAUNCH_S, **raw)
    sc = _steady(models, app).with_faults(InstanceFailure(10.05))
    res = opt.simulate(sc, cfg)
    assert res.feasible, res.reasons
    check_common(res, sc)
    log = res.log
    assert np.flatnonzero(log.status == FAILED).tolist() == [100]
    assert (log.start_s[100], log.finish_s[100]) == (10.0, 10.05)
    assert (log.status == SERVED).sum() == sc.n - 1
    assert res.figures.details["faults"] == [{"at_s": 10.05, "model": None, "instance": 0, "lost_requests": 1,
                                              "replacement_serving_s": 10.05 + LAUNCH_S}]
    assert res.capacity.at(np.array([10.0, 10.1, 15.0, 15.1])).tolist() == [2, 1, 1, 2]
    assert res.figures.instance_seconds == pytest.approx(60.0, abs=1e-9)


def test_a_failure_with_nothing_in_flight_loses_nothing():
    """A request a second, 0.15 s each: at 10.5 nothing is in flight. Both instances hold 0, so the first
    joined (instance 0, which took every request: it was idle at each arrival) fails with nothing; instance 1
    takes the rest at once, so every request is answered 0.15 s after it arrives, as without the failure."""
    sc = _steady(n=30, every_s=1.0)
    base, res = simulate(sc, PAIR), simulate(sc.with_faults(InstanceFailure(10.5)), PAIR)
    for name in ("start_s", "finish_s", "status"):
        assert np.array_equal(getattr(res.log, name), getattr(base.log, name))
    assert res.log.finish_s - res.log.arrival_s == pytest.approx(np.full(30, 0.15), abs=1e-12)
    assert res.figures.details["faults"] == [{"at_s": 10.5, "model": "m", "instance": 0, "lost_requests": 0,
                                              "replacement_serving_s": 15.5}]


def _poisson(models, rate, horizon, seed, app=None):
    rng = stream(seed, "fault-golden")
    arr = np.cumsum(rng.exponential(1 / rate, int(rate * horizon * 1.3) + 10))
    arr = arr[arr < horizon]
    idx = rng.integers(0, len(models), arr.size).astype(np.int32) if app is None else np.zeros(arr.size, np.int32)
    return build_scenario(models, arr, idx, horizon, CAT, seed, application=app)


CPU = [ModelSpec(name="a", service_time=Exponential(mean_ms=80), memory_mb=300, size_mb=200),
       ModelSpec(name="b", service_time=Exponential(mean_ms=120), memory_mb=500, size_mb=300)]
GPU = ModelSpec(name="g", service_time=Exponential(mean_ms=30), memory_mb=1000, accelerator="gpu")
STEPS = [ModelSpec(name="p", service_time=Exponential(mean_ms=20), memory_mb=100),
         ModelSpec(name="q", service_time=Exponential(mean_ms=60), memory_mb=100)]
GOLDEN = {  # name: (option, config, scenario, sha256 of the log and billed seconds before faults existed)
    "realtime-1": ("realtime", {"instance_type": "ml.c5.xlarge", "instance_count": 1},
                   lambda: _poisson(CPU[:1], 20, 600, 1), "c70f7ad15eb58060"),
    "realtime-3": ("realtime", {"instance_type": "ml.c5.large", "instance_count": 3, "workers_per_instance": 1},
                   lambda: _poisson(CPU, 15, 600, 2), "0638a90e5306240a"),
    "realtime-auto": ("realtime", {"instance_type": "ml.c5.large", "autoscaling": {
        "min": 1, "max": 6, "target_invocations_per_instance": 300}}, lambda: _poisson(CPU[:1], 25, 1800, 3),
        "0877fbcd9a644a6a"),
    "multi-model": ("multi-model", {"instance_type": "ml.c5.large", "instance_count": 2},
                    lambda: _poisson(CPU, 15, 600, 4), "8d0696f41d0b7a00"),
    "multi-container": ("multi-container", {"instance_type": "ml.c5.large", "instance_count": 2},
                        lambda: _poisson(CPU, 15, 600, 5), "a753fa4e0ec47872"),
    "multi-container-serial": ("multi-container", {"instance_type": "ml.c5.xlarge", "instance_count": 2},
                               lambda: _poisson(STEPS, 15, 600, 6, SERIAL), "a525d2dee7e6a418"),
    "inference-pipeline": ("inference-pipeline", {"instance_type": "ml.c5.xlarge", "instance_count": 2},
                           lambda: _poisson(STEPS, 15, 600, 7, SERIAL), "20db92cee0fda339"),
    "triton": ("triton", {"instance_type": "ml.g4dn.xlarge", "instance_count": 2},
               lambda: _poisson([GPU], 40, 600, 8), "f74ee6cecb5e3285"),
    "triton-ensemble": ("triton", {"instance_type": "ml.g4dn.xlarge", "instance_count": 2},
                        lambda: _poisson([GPU, GPU.model_copy(update={"name": "h"})], 20, 600, 11, SERIAL),
                        "08895116658edf29"),
    "async": ("async", {"instance_type": "ml.c5.large", "instance_count": 1}, lambda: _poisson(CPU[:1], 5, 600, 9),
              "62330ead70ac8b18"),
    "serverless": ("serverless", {"memory_mb": 2048, "max_concurrency": 5}, lambda: _poisson(CPU[:1], 5, 600, 10),
                   "23b4cd4a15e45c3d"),
}


def _digest(res) -> str:
    h = hashlib.sha256()
    for a in (res.log.start_s, res.log.finish_s, res.log.status, res.log.cold):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(res.figures.instance_seconds).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", list(GOLDEN))
def test_a_run_without_faults_is_request_for_request_what_it_was(name):
    """Digests of the log (start, finish, status, cold) and billed seconds, taken on the commit before faults
    existed (23d58e0); an empty `with_faults()` changes nothing either, and no fault record appears."""
    option, raw, make, digest = GOLDEN[name]
    opt = load_all()[option]
    sc = make()
    res = opt.simulate(sc.with_faults(), opt.config_model(**raw))
    assert _digest(res) == digest
    assert "faults" not in res.figures.details


@pytest.mark.parametrize("option", ["serverless", "async", "batch"])
def test_options_without_instances_to_fail_say_so(option):
    opt = load_all()[option]
    with pytest.raises(InputError, match="no instance failures"):
        opt.simulate(_steady().with_faults(InstanceFailure(1.0)), opt.config_model())


def test_faults_are_validated_carried_by_cut_and_hit_the_named_endpoint():
    """Two models, one endpoint each: a fault naming b fails b's endpoint only; one naming no model fails the
    first model's (a). `cut` keeps the faults in its window, shifted to its start."""
    with pytest.raises(InputError, match="at_s"):
        InstanceFailure(-1.0)
    sc = build_scenario([_constant("a", 150), _constant("b", 150)], np.arange(600) / 20,
                        (np.arange(600) % 2).astype(np.int32), 30.0, CAT, 0)
    with pytest.raises(InputError, match="faults.model"):
        sc.with_faults(InstanceFailure(1.0, "c"))
    faulted = sc.with_faults(InstanceFailure(10.05, "b"), InstanceFailure(20.0))
    assert [f.at_s for f in faulted.cut(15.0, 10.0).faults] == [5.0]
    base, res = simulate(sc, PAIR), simulate(faulted, PAIR)
    a_early = np.flatnonzero((sc.model_idx == 0) & (base.log.finish_s <= 20.0))  # a's, answered by its failure
    b_lost = np.flatnonzero((res.log.status == FAILED) & (res.log.finish_s == 10.05))
    assert np.array_equal(res.log.finish_s[a_early], base.log.finish_s[a_early])
    assert [(r["at_s"], r["model"], r["lost_requests"]) for r in res.figures.details["faults"]] == [
        (10.05, "b", 1), (20.0, "a", 1)]
    assert sc.model_idx[b_lost].tolist() == [1]


workloads = st.builds(
    lambda rate, mean_ms, horizon, seed: _poisson([ModelSpec(name="m", service_time=Exponential(mean_ms=mean_ms),
                                                             memory_mb=100)], rate, horizon, seed),
    st.floats(0.5, 40), st.floats(5, 400), st.floats(60, 1200), st.integers(0, 2**31))
fleets = st.one_of(
    st.builds(lambda c, w: {"instance_type": "ml.c5.large", "instance_count": c, "workers_per_instance": w},
              st.integers(1, 3), st.integers(1, 2)),
    st.builds(lambda lo, extra, tgt: {"instance_type": "ml.c5.large", "autoscaling": {
        "min": lo, "max": lo + extra, "target_invocations_per_instance": tgt}},
        st.integers(1, 2), st.integers(0, 3), st.floats(20, 2000)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads, fleets, st.floats(0, 1.1), st.floats(0, 600), st.sampled_from(["realtime", "multi-container"]))
def test_invariants_hold_whatever_the_failure_time(sc, raw, when, launch_s, option):
    """Offered = served + throttled + failed, nothing before its arrival, billing >= 0; requests answered by
    the failure are as without it (a timed-out one keeps its error, though the work it left queued is lost); a
    pinned fleet bills what it billed without the failure (the replacement is billed from the moment the
    failed instance stops); the lost are answered at the failure, unless the caller's timeout came first."""
    opt = load_all()[option]
    cfg = opt.config_model(launch_s=launch_s, **{k: v for k, v in raw.items() if k in opt.config_model.model_fields})
    at_s = when * sc.horizon_s
    base, res = opt.simulate(sc, cfg), opt.simulate(sc.with_faults(InstanceFailure(at_s)), cfg)
    check_common(res, sc)
    assert res.figures.instance_seconds >= 0
    early = base.log.finish_s <= at_s  # answered by the failure: served, or timed out (then its work may be lost)
    for name in ("finish_s", "status"):
        assert np.array_equal(getattr(res.log, name)[early], getattr(base.log, name)[early])
    served = early & (base.log.status == SERVED)
    assert np.array_equal(res.log.start_s[served], base.log.start_s[served])
    (rec,) = res.figures.details["faults"]
    at_failure = (res.log.status == FAILED) & (res.log.finish_s == at_s)
    assert not (at_failure & (sc.arrivals_s >= at_s)).any()
    timed_out = (res.log.status == FAILED) & ~at_failure
    assert at_failure.sum() == rec["lost_requests"] or (timed_out.any() and at_failure.sum() <= rec["lost_requests"])
    if rec["instance"] is None:
        assert at_s >= sc.horizon_s and rec["lost_requests"] == 0
        return
    assert rec["replacement_serving_s"] in (None, at_s + launch_s)
    if "instance_count" in raw and at_s < sc.horizon_s:
        assert res.figures.instance_seconds == pytest.approx(base.figures.instance_seconds, rel=1e-12)
