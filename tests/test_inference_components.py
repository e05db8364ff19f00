"""`inference-components`: per-model copies reserving resources on shared instances (issue 19).

Held to closed forms where they exist (one copy of c workers per model is an M/M/c per model, whatever the other
models on the same instances do), to the real-time endpoint request for request (one model, one copy), to the
placement and scaling rules worked by hand, to a multi-model endpoint in two hand-worked cases (one it wins, one
it loses), and to the invariants every option keeps.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fitness.engine.caveats import no_capacity_warnings
from fitness.engine.windows import right_size
from fitness.report.adr import _sizing
from fitness.workload.scenario import build
from fitness.workload.spec import load_workload, parse_workload
from sim.catalog import load_catalog
from sim.components.autoscaler import invocations_counter, launch, period_counter
from sim.components.copies import Copies, CopyPool
from sim.components.placement import Placement
from sim.distributions import Constant, Exponential
from sim.engine import Engine
from sim.errors import InputError
from sim.faults import InstanceFailure
from sim.model import ModelSpec
from sim.options.inference_components import OPTION, InferenceComponentsConfig, fail_instance, run
from sim.options.multi_model import MultiModelConfig
from sim.options.multi_model import simulate as multi_model
from sim.options.realtime import RealtimeConfig
from sim.options.realtime import simulate as realtime
from sim.results import FAILED, SERVED, RequestLog
from sim.scenario import build_scenario, stream
from tests.invariants import check_common, explained
from tests.queueing import erlang_c

CAT = load_catalog()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def poisson(models: list[ModelSpec], rates: list[float], horizon_s: float, seed: int):
    """Independent Poisson streams, one per model, merged in time order, up to `horizon_s`."""
    arr, idx = [], []
    for i, (m, lam) in enumerate(zip(models, rates, strict=True)):
        n = int(lam * horizon_s * 1.2) + 10
        t = np.cumsum(stream(seed, f"arrivals/{m.name}").exponential(1 / lam, n))
        t = t[t < horizon_s]
        arr.append(t)
        idx.append(np.full(t.size, i, np.int32))
    arr, idx = np.concatenate(arr), np.concatenate(idx)
    order = np.argsort(arr, kind="stable")
    return build_scenario(models, arr[order], idx[order], horizon_s, CAT, seed)


def model(name: str, service, memory_mb: float = 500.0, **kw) -> ModelSpec:
    return ModelSpec(name=name, service_time=service, memory_mb=memory_mb, **kw)


# --- closed forms and the real-time endpoint ------------------------------------------------------------


def test_one_model_one_copy_is_the_realtime_endpoint_request_for_request():
    """One model, one copy reserving the whole ml.c5.xlarge (4 cores: 4 workers), one pinned instance: the same
    instance pool as a pinned real-time endpoint of 4 workers, so every start and finish is the same, and the bill
    (one instance for the horizon) too."""
    sc = poisson([model("m", Exponential(mean_ms=100))], [30.0], 3600.0, 5)
    ic, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", instance_count=1, copies=1,
                                                 cpu_cores_per_copy=4, memory_mb_per_copy=2000))
    rt = realtime(sc, RealtimeConfig(instance_type="ml.c5.xlarge", instance_count=1, workers_per_instance=4))
    assert np.array_equal(ic.log.start_s, rt.log.start_s, equal_nan=True)
    assert np.array_equal(ic.log.finish_s, rt.log.finish_s, equal_nan=True)
    assert ic.cost_usd == pytest.approx(rt.cost_usd)


def test_copies_of_one_worker_route_as_instances_of_one_worker():
    """k pinned copies of one worker each are routed to the least outstanding, as k pinned one-worker instances of
    a real-time endpoint are: request for request the same."""
    sc = poisson([model("m", Exponential(mean_ms=100))], [25.0], 1800.0, 7)
    ic, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.2xlarge", instance_count=1, copies=3))
    rt = realtime(sc, RealtimeConfig(instance_type="ml.c5.2xlarge", instance_count=3, workers_per_instance=1))
    assert np.array_equal(ic.log.finish_s, rt.log.finish_s, equal_nan=True)


@pytest.mark.statistical
def test_a_pinned_copy_per_model_is_an_mmc_per_model():
    """Two models share one ml.c5.2xlarge, each one pinned copy of 4 cores (4 workers), Poisson 30/s and 16/s,
    exponential 100 ms: each model's mean wait and P(wait) are its own M/M/4's (Erlang C), unaffected by the
    other's copies. Tolerances: 4 x the spread of seeds 0..9 (mean wait rel. sd 0.026 and 0.029, P(wait) sd
    0.0028 and 0.0014; /tmp-free script in the issue note)."""
    m = [model("a", Exponential(mean_ms=100)), model("b", Exponential(mean_ms=100))]
    sc = poisson(m, [30.0, 16.0], 6700.0, 11)
    res, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.2xlarge", instance_count=1, copies=1,
                                                  cpu_cores_per_copy=4, memory_mb_per_copy=1000))
    log = res.log
    for i, lam, rel, pw_tol in ((0, 30.0, 4 * 0.026, 4 * 0.0028), (1, 16.0, 4 * 0.029, 4 * 0.0014)):
        keep = (log.model_idx == i) & (log.arrival_s >= 0.05 * sc.horizon_s)
        waits = log.start_s[keep] - log.arrival_s[keep]
        pw, wq = erlang_c(lam, 10.0, 4)
        assert waits.mean() == pytest.approx(wq, rel=rel)
        assert (waits > 0).mean() == pytest.approx(pw, abs=pw_tol)


# --- placement, worked by hand --------------------------------------------------------------------------


def test_spread_and_binpack_place_as_worked_by_hand():
    """Two 4-core instances, copies of 1 core: spread alternates (the instance with the most room), binpack fills
    the first (ties: the first launched); the two take 8 copies, and the ninth finds no room and no instance left to
    add (max 2)."""
    spread = Placement((4, 8000, 0), 2, 2, lambda: 300.0, 1200.0, "spread")
    spread.start(2)
    assert [spread.place(0.0, (1, 100, 0))[0] for _ in range(4)] == [0, 1, 0, 1]
    pack = Placement((4, 8000, 0), 2, 2, lambda: 300.0, 1200.0, "binpack")
    pack.start(2)
    assert [pack.place(0.0, (1, 100, 0))[0] for _ in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert pack.place(0.0, (1, 100, 0)) is None


def test_a_new_instance_serves_after_its_launch_and_an_empty_one_is_released_after_the_cooldown():
    """Managed scaling, min 1: a copy with no room at t = 10 launches an instance serving at 310; when its only copy
    goes at t = 1000, it is released at 1000 + 1200 s (the scale-in cooldown), and billed 10 .. 2200."""
    p = Placement((2, 4000, 0), 1, 5, lambda: 300.0, 1200.0)
    p.start(1)
    assert p.place(0.0, (2, 100, 0), deployed=True) == (0, 0.0)
    host, ready = p.place(10.0, (2, 100, 0))
    assert (host, ready) == (1, 310.0)
    p.free(host, (2, 100, 0), 1000.0)
    assert p.intervals(5000.0) == [(0.0, 5000.0), (10.0, 2200.0)]


def test_an_empty_instance_taken_again_before_its_release_is_kept():
    """An instance that empties at 100 and gets a copy at 500 (before its release at 1300) stays."""
    p = Placement((2, 4000, 0), 0, 3, lambda: 300.0, 1200.0)
    p.start(1)
    p.place(0.0, (1, 100, 0), deployed=True)
    p.free(0, (1, 100, 0), 100.0)
    assert p.place(500.0, (1, 100, 0)) == (0, 500.0)
    assert p.intervals(4000.0) == [(0.0, 4000.0)]


def test_never_below_the_minimum_instances():
    """min 1: the last empty instance is never released."""
    p = Placement((2, 4000, 0), 1, 3, lambda: 300.0, 1200.0)
    p.start(1)
    assert p.intervals(10_000.0) == [(0.0, 10_000.0)]


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.floats(0.25, 4.0), st.floats(128, 6000), st.integers(0, 1)),
                    min_size=1, max_size=40),
       strategy=st.sampled_from(["spread", "binpack"]))
def test_reservations_never_exceed_an_instance(ops, strategy):
    """Whatever copies come and go, what an instance has reserved never exceeds what it offers, and freeing every
    copy leaves nothing reserved."""
    cap = (4.0, 7000.0, 1.0)
    p = Placement(cap, 0, 4, lambda: 300.0, 1200.0, strategy)
    held = []
    for t, (add, cores, mem, gpu) in enumerate(ops):
        if add or not held:
            spot = p.place(float(t), (cores, mem, gpu))
            if spot is not None:
                held.append((spot[0], (cores, mem, gpu)))
        else:
            i, need = held.pop(0)
            p.free(i, need, float(t))
        for i in range(len(p.hosts)):
            assert all(u <= c + 1e-6 for u, c in zip(p.used(i), cap, strict=True))
    for i, need in held:
        p.free(i, need, 1e6)
    assert all(max(p.used(i)) < 1e-6 for i in range(len(p.hosts)))


# --- scaling, scale to zero, failures -------------------------------------------------------------------


def bursts() -> tuple:
    """One model busy for 20 minutes, silent for two hours, then busy for 20 minutes again."""
    m = model("m", Constant(value_ms=50), container_start_s=30.0)
    sc = poisson([m], [5.0], 9600.0, 3)
    keep = (sc.arrivals_s < 1200) | (sc.arrivals_s >= 8400)
    return build_scenario([m], sc.arrivals_s[keep], sc.model_idx[keep], 9600.0, CAT, 3)


def test_a_model_scaled_to_zero_copies_fails_requests_until_a_copy_is_back():
    """min_copies 0, min_instances 0: the silent hours scale the copy to zero and release the instance; the first
    requests of the second burst find no copy and fail at once (no-capacity failures); the next metric period
    asks for a copy, which waits for a new instance (launch) and its own start, then serves."""
    sc = bursts()
    res, pools, place = run(sc, InferenceComponentsConfig(instance_type="ml.c5.large", min_copies=0,
                                                          min_instances=0))
    assert explained(res)
    log, f = res.log, res.figures.details
    second = log.arrival_s >= 8400
    failed = second & (log.status == FAILED)
    assert f["no_capacity_failures"] == int(failed.sum()) > 0
    assert np.all(log.finish_s[failed] == log.arrival_s[failed])  # refused at once
    first_ok = log.arrival_s[second & (log.status == SERVED)].min()
    period, launch = CAT.autoscaling.metric_period_s.value, CAT.realtime.instance_launch_s.value
    # the failures start the next period's copy request, then an instance launch and the copy's 30 s start
    assert first_ok >= 8400 + launch + 30.0
    assert first_ok <= 8400 + 2 * period + launch + 30.0 + 1.0
    # the instance was released during the silence: billed well under the 9600 s horizon
    assert res.figures.instance_seconds < 0.7 * 9600.0
    check_common(res, sc)
    # the report says how many failed and why, as the percentiles of the served requests do not
    rec = SimpleNamespace(options=[SimpleNamespace(option=OPTION)], runs={OPTION: res})
    (warning,) = no_capacity_warnings(rec)
    assert f"{int(failed.sum()):,} requests found no copy" in warning and "min_copies" in warning


def test_with_a_copy_kept_nothing_fails_and_the_instance_is_paid_throughout():
    """The same bursts with min_copies 1 (the default): no request fails, the instance is billed all along, and
    the report has no no-capacity warning."""
    sc = bursts()
    res, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.large"))
    assert res.figures.details["no_capacity_failures"] == 0
    assert np.all(res.log.status == SERVED)
    assert res.figures.instance_seconds == pytest.approx(9600.0)
    assert no_capacity_warnings(SimpleNamespace(options=[SimpleNamespace(option=OPTION)], runs={OPTION: res})) == []


def test_an_instance_failure_takes_its_copies_and_they_are_placed_again():
    """Two pinned instances, two copies of each model spread over them: a failure at t = 600 takes one copy of each
    model (the requests they held are lost); the two copies are asked for again at once, on a replacement instance
    (a pinned count is kept), serving after its launch and their start."""
    m = [model("a", Exponential(mean_ms=200), container_start_s=20.0),
         model("b", Exponential(mean_ms=200), container_start_s=20.0)]
    sc = poisson(m, [3.0, 3.0], 1800.0, 6).with_faults(InstanceFailure(600.0, None))
    res, pools, place = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", instance_count=2,
                                                          copies=2))
    (fault,) = res.figures.details["faults"]
    assert fault["lost_requests"] == int((res.log.status == FAILED).sum()) > 0
    assert len(place.hosts) == 3 and place.hosts[fault["instance"]].failed
    assert fault["replacement_serving_s"] == pytest.approx(600.0 + CAT.realtime.instance_launch_s.value + 20.0)
    check_common(res, sc)


def one_pool(capacity, lo: int, hi: int, load_s: float, horizon_s: float = 3600.0):
    """A model (5 req/s, 50 ms) as a `CopyPool` of 1-core copies on a placement of `lo`..`hi` instances of
    `capacity`, on an engine; the copies start in `load_s`, instances launch in 300 s."""
    sc = poisson([model("m", Constant(value_ms=50))], [5.0], horizon_s, 12)
    log, env = RequestLog.empty(sc.arrivals_s, sc.model_idx), Engine()
    place = Placement(capacity, lo, hi, lambda: 300.0, 1200.0)
    place.start(lo)
    pool = CopyPool(log, np.arange(sc.arrivals_s.size), sc.service_s, 1, place, (1.0, 500.0, 0.0), lambda: load_s)
    env.attach(Copies([pool]))
    return sc, env, place, pool


def test_a_copy_starting_on_an_instance_that_fails_is_lost_with_it():
    """One pinned instance of 2 cores: a copy serving, a second asked for at 0 that starts for 100 s; the
    instance fails at 50. Both copies are lost (the starting one never serves: it joins and leaves at 100) and
    both asked for again on the replacement instance (launched at 50, serving at 350, the copies at 450); no
    copy stays pending."""
    sc, env, place, pool = one_pool((2.0, 4000.0, 0.0), 1, 1, 100.0)
    pool.deploy(1)
    env.process(launch(env, pool, lambda: pool.delay(env.now)))
    record = {"at_s": 50.0, "model": None, "instance": None, "lost_requests": 0, "replacement_serving_s": None}
    env.process(fail_instance(env, [pool], place, 50.0, sc.horizon_s, record))
    env.run_until(sc.horizon_s)
    assert record["instance"] == 0 and record["replacement_serving_s"] == pytest.approx(450.0)
    assert pool.joined_s[1] == pool.left_s[1] == pytest.approx(100.0)  # the starting copy: lost, served nothing
    assert [pool.host_of[i] for i in pool.routable] == [1, 1] and pool.pending == 0
    assert not np.any((pool.log.start_s >= 50.0) & (pool.log.start_s < 450.0))  # no copy serves in between


def test_a_copy_with_no_room_is_withdrawn_and_asked_again():
    """At most one instance of 1 core, its copy serving: a second copy finds no room and no instance to add, so
    it is withdrawn (not pending for ever, which would stop the policy asking again); once the first copy
    retires, the next ask places it."""
    sc, env, place, pool = one_pool((1.0, 4000.0, 0.0), 1, 1, 10.0)
    pool.deploy(1)
    env.process(launch(env, pool, lambda: pool.delay(env.now)))
    env.run_until(5.0)
    assert pool.unplaced == 1 and pool.pending == 0 and pool.in_service == 1
    pool.retire(5.0)
    env.process(launch(env, pool, lambda: pool.delay(env.now)))
    env.run_until(100.0)
    assert pool.unplaced == 1 and pool.pending == 0 and pool.in_service == 1 and pool.joined_s[-1] == 15.0


def test_the_report_shows_the_capacity_paid_and_reserved_by_no_copy():
    """Two 1-core copies pinned on one ml.c5.xlarge (4 cores): the copies reserve half the cores paid for, so the
    option's sizing section says 50% reserved, 50% paid and reserved by no copy, and the most copies at once."""
    sc = poisson([model("m", Exponential(mean_ms=50))], [10.0], 1800.0, 5)
    res, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", instance_count=1, copies=2))
    assert res.figures.details["reserved_share"] == pytest.approx(0.5)
    rec = SimpleNamespace(runs={OPTION: res}, sizing={OPTION: {"tried": [], "chosen": {"copies": 2}}})
    text = " ".join(b.text for b in _sizing(rec) if hasattr(b, "text"))
    assert "Its copies reserved 50% of the capacity paid for" in text and "so 50% was paid and reserved by no" in text
    assert "Most copies at once: m 2." in text


def step_traffic():
    """2 requests/s for 30 minutes, then 30/s for 30 minutes: one model, exponential 100 ms."""
    m = model("m", Exponential(mean_ms=100), container_start_s=10.0)
    low, high = poisson([m], [2.0], 1800.0, 8), poisson([m], [30.0], 1800.0, 9)
    arr = np.r_[low.arrivals_s, high.arrivals_s + 1800.0]
    return build_scenario([m], arr, np.zeros(arr.size, np.int32), 3600.0, CAT, 8)


def test_copies_tracked_on_concurrency_scale_out_sooner_than_on_invocations():
    """On a traffic step, the high-resolution concurrency metric (a datapoint every 10 s, three to alarm) asks for
    copies within the first minute; invocations per copy (1-minute datapoints, three to alarm) not before three
    minutes have passed."""
    sc = step_traffic()
    joined = {}
    for name, cfg in (("invocations", InferenceComponentsConfig(instance_type="ml.c5.2xlarge")),
                      ("concurrency", InferenceComponentsConfig(instance_type="ml.c5.2xlarge",
                                                                target_concurrent_per_copy=1))):
        res, (pool,), _ = run(sc, cfg)
        assert explained(res)
        check_common(res, sc)
        asked = [t for t in pool.launched_s if t > 1800.0]
        joined[name] = min(asked) - 1800.0
    period = CAT.autoscaling.metric_period_s.value
    assert joined["concurrency"] <= period
    assert joined["invocations"] >= CAT.autoscaling.scale_out_datapoints.value * period - period


@settings(max_examples=15, deadline=None)
@given(rates=st.lists(st.floats(0.5, 20.0), min_size=1, max_size=3), seed=st.integers(0, 10_000),
       min_copies=st.integers(0, 2), pinned=st.booleans())
def test_invariants(rates, seed, min_copies, pinned):
    """offered = served + throttled + failed, nothing before it arrives, costs and capacity never negative,
    reservations within each instance, for autoscaled and pinned copies."""
    models = [model(f"m{i}", Exponential(mean_ms=80), container_start_s=5.0) for i in range(len(rates))]
    sc = poisson(models, rates, 1200.0, seed)
    cfg = InferenceComponentsConfig(instance_type="ml.c5.xlarge", instance_count=2, copies=2) if pinned else \
        InferenceComponentsConfig(instance_type="ml.c5.xlarge", min_copies=min_copies, min_instances=min(1, min_copies))
    res, _, place = run(sc, cfg)
    if not explained(res):
        return
    check_common(res, sc)
    for i in range(len(place.hosts)):
        assert all(u <= c + 1e-6 for u, c in zip(place.used(i), place.capacity, strict=True))
    assert 0.0 <= res.figures.details["reserved_share"] <= 1.0 + 1e-9


# --- against a multi-model endpoint, worked by hand -----------------------------------------------------


def test_it_beats_a_multi_model_endpoint_when_a_slow_model_would_block_a_fast_one():
    """One ml.c5.xlarge (4 vCPUs) for a slow model (500 ms, 3.6 requests/s: 1.8 workers busy) and a fast one
    (10 ms, 5/s). Behind a multi-model endpoint both share the 4 workers in one FIFO: Erlang C for 1.85 erlangs on
    4 servers gives P(wait) about 0.11, and a waiting fast request waits for a slow one to finish (hundreds of
    ms), so its p99 is far above its 10 ms. As inference components the slow model gets 3 cores of copies and
    the fast one 1: the fast model waits only behind its own 10 ms requests (M/D/1 at rho 0.05: its p99 stays
    within two service times), at the same one instance."""
    slow, fast = model("slow", Exponential(mean_ms=500)), model("fast", Constant(value_ms=10))
    sc = poisson([slow, fast], [3.6, 5.0], 7200.0, 21)
    mme = multi_model(sc, MultiModelConfig(instance_type="ml.c5.xlarge", instance_count=1))
    ic, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", instance_count=1,
                                                 copies={"slow": 3, "fast": 1}))
    pw, _ = erlang_c(1.85, 1.0, 4)  # 1.85 erlangs offered to 4 workers
    assert pw > 0.05  # far more than the 1% a p99 may spend waiting

    def fast_p99_ms(res) -> float:
        keep = (res.log.model_idx == 1) & (res.log.status == SERVED) & (res.log.arrival_s > 300)
        return float(np.percentile(res.log.finish_s[keep] - res.log.arrival_s[keep], 99) * 1000)
    assert fast_p99_ms(ic) <= 20.0 + 1e-6
    assert fast_p99_ms(mme) > 100.0
    assert ic.cost_usd["instances"] == pytest.approx(mme.cost_usd["instances"])


def test_it_loses_to_a_multi_model_endpoint_on_a_long_tail_of_rarely_used_models():
    """Twenty small models (100 MB each), 0.1 requests/s each, 20 ms: a multi-model endpoint holds all twenty in
    one ml.c5.xlarge's memory (2,000 MB of its 7,168 MB) and serves them on 4 workers, one instance. Inference
    components keep a copy of every model, each reserving a core (one request at a time): twenty cores, so five
    4-core instances, five times the instance bill for the same traffic."""
    models = [model(f"m{i:02d}", Constant(value_ms=20), memory_mb=100) for i in range(20)]
    sc = poisson(models, [0.1] * 20, 3600.0, 4)
    mme = multi_model(sc, MultiModelConfig(instance_type="ml.c5.xlarge", instance_count=1))
    ic, _, place = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", copies=1))
    assert len(place.hosts) == math.ceil(20 * 1 / 4) == 5
    price = CAT.instance("ml.c5.xlarge").price_per_hour.value
    assert ic.cost_usd["instances"] == pytest.approx(5 * price) == pytest.approx(5 * mme.cost_usd["instances"])
    assert np.all(ic.log.status == SERVED) and np.all(mme.log.status == SERVED)


# --- bad input ------------------------------------------------------------------------------------------


def test_an_unknown_model_in_a_per_model_knob_names_the_nearest():
    """`copies: {fast: 1, slwo: 2}`: an InputError on the field, naming the workload's models and the nearest."""
    sc = poisson([model("slow", Constant(value_ms=10)), model("fast", Constant(value_ms=10))], [1.0, 1.0], 60.0, 1)
    with pytest.raises(InputError) as e:
        run(sc, InferenceComponentsConfig(copies={"fast": 1, "slwo": 2}))
    assert "copies" in e.value.describe() and "slow" in e.value.describe()


def test_a_copy_larger_than_the_instance_is_infeasible_with_the_reason():
    """A copy of 8 cores on a 4-vCPU type cannot be placed."""
    sc = poisson([model("m", Constant(value_ms=10))], [1.0], 60.0, 1)
    res, _, _ = run(sc, InferenceComponentsConfig(instance_type="ml.c5.xlarge", cpu_cores_per_copy=8))
    assert not res.feasible and "more than ml.c5.xlarge offers" in res.reasons[0]


@settings(max_examples=50, deadline=None)
@given(gaps=st.lists(st.floats(0.001, 30.0), min_size=0, max_size=200), period=st.sampled_from([10.0, 60.0]),
       k=st.integers(1, 40), shift=st.floats(0.0, 5.0))
def test_the_period_counter_counts_as_searching_does(gaps, period, k, shift):
    """The per-period lookup of the copies' policies gives the searched count for whole periods and any other
    window alike."""
    arr = np.cumsum(np.array(gaps, float))
    fast, slow = period_counter(arr, period, 600.0), invocations_counter(arr)
    t1 = k * period
    assert fast(t1 - period, t1) == slow(t1 - period, t1)
    assert fast(t1 - period + shift, t1 + shift) == slow(t1 - period + shift, t1 + shift)


@pytest.mark.parametrize(("knob", "field", "said"), [
    ({"cpu_cores_per_copy": 0.1}, "cpu_cores_per_copy'", "at least 0.25 cores"),
    ({"cpu_cores_per_copy": {"m": 0.1}}, "cpu_cores_per_copy.m'", "at least 0.25 cores"),
    ({"memory_mb_per_copy": {"m": 64}}, "memory_mb_per_copy.m'", "at least 128 MB"),
    ({"cpu_cores_per_copy": {"mm": 2}}, "cpu_cores_per_copy.mm'", "Did you mean 'm'?"),
    ({"copies": {"n": 2}}, "copies.n'", "a model of the workload (m)"),
    ({"cpu_cores_per_copy": -1}, "cpu_cores_per_copy'", "greater than 0 (got -1)"),
    ({"target_invocations_per_copy": -1}, "target_invocations_per_copy'", "greater than 0 (got -1)"),
    ({"copies": -2}, "copies'", "greater than or equal to 0 (got -2)"),
])
def test_validate_refuses_a_copy_the_api_refuses_or_a_model_the_workload_lacks(tmp_path, knob, field, said):
    """A copy CreateInferenceComponent refuses (below 0.25 cores or 128 MB, for every model or one), a per-model
    mapping naming no model of the workload, or a negative value: `fitness validate` exits 2 with one paragraph
    naming the file, the field (the model's key for a mapping) and what is expected, no traceback, and not the
    other member of the knob's union (a number is not told to be a mapping)."""
    wl = {"name": "ic", "horizon": "10m", "traffic": {"pattern": "poisson", "rate_rps": 1},
          "models": [{"name": "m", "memory_mb": 100, "service_time": {"dist": "constant", "value_ms": 5}}],
          "options": {"inference-components": knob}}
    path = tmp_path / "ic.yaml"
    path.write_text(yaml.safe_dump(wl))
    out = subprocess.run([sys.executable, "-m", "fitness.cli", "validate", str(path)], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 2, out.stdout
    assert "ic.yaml" in out.stderr and f"options.inference-components.{field}" in out.stderr and said in out.stderr
    assert "Traceback" not in out.stderr and "dictionary" not in out.stderr and len(out.stderr.splitlines()) == 1


def test_the_search_keeps_the_copies_or_the_instances_the_user_set():
    """Right-sizing with only `copies` (or only `instance_count`) set searches the rest and never changes the
    user's knob: every trial simulated has it as written."""
    base = {"name": "k", "horizon": "20m", "seed": 2, "traffic": {"pattern": "poisson", "rate_rps": 20},
            "models": [{"name": "a", "memory_mb": 300, "service_time": {"dist": "exponential", "mean_ms": 50}},
                       {"name": "b", "memory_mb": 300, "service_time": {"dist": "exponential", "mean_ms": 50}}],
            "slo": {"p99_ms": 500}}
    for knob, value in (("copies", 3), ("instance_count", 4)):
        wl = parse_workload({**base, "options": {"inference-components": {knob: value}}})
        sz = right_size(wl, build(wl), "inference-components")
        simulated = [t for t in sz.tried if not t.screened and "max_copies" not in t.config]
        assert simulated and all(t.config[knob] == value for t in simulated), [t.config for t in sz.tried]


def test_the_search_fills_the_paid_instances_with_copies():
    """One steady model (Poisson 150/s, exponential 20 ms: 3 erlangs) on ml.c5.large (2 vCPUs): every pinned
    candidate simulated reserves as many cores as its instances have (the instances are paid whatever the copies
    reserve, so their room is filled, with 1-core or 2-core copies), and a failing candidate is followed by one
    with one more instance."""
    wl = parse_workload({"name": "s", "horizon": "20m", "seed": 4,
                         "traffic": {"pattern": "poisson", "rate_rps": 150},
                         "models": [{"name": "m", "memory_mb": 300,
                                     "service_time": {"dist": "exponential", "mean_ms": 20}}],
                         "slo": {"p99_ms": 120}, "options": {"inference-components": {"instance_type": "ml.c5.large"}}})
    sz = right_size(wl, build(wl), "inference-components")
    pinned = [t for t in sz.tried if not t.screened and "instance_count" in t.config]
    assert pinned and all(t.config["copies"] * t.config.get("cpu_cores_per_copy", 1) == 2 * t.config["instance_count"]
                          for t in pinned)
    for cores in (1, 2):
        counts = [t.config["instance_count"] for t in pinned if t.config.get("cpu_cores_per_copy", 1) == cores]
        assert counts == list(range(counts[0], counts[0] + len(counts)))


def test_the_search_tries_larger_copies_and_keeps_them_when_they_pass_at_the_same_bill():
    """The same model at p99 <= 135 ms: on 3 x ml.c5.large, six 1-core copies fail the failure drill (the 4 left
    each hold their own queue) while three 2-core copies pass at the same bill (each copy is an M/M/2: a request
    waits for either of two cores); the search tries both at each count and recommends the 2-core copies. A
    workload that sets `cpu_cores_per_copy` is never given another size."""
    raw = {"name": "s", "horizon": "20m", "seed": 4, "traffic": {"pattern": "poisson", "rate_rps": 150},
           "models": [{"name": "m", "memory_mb": 300, "service_time": {"dist": "exponential", "mean_ms": 20}}],
           "slo": {"p99_ms": 135}, "options": {"inference-components": {"instance_type": "ml.c5.large"}}}
    wl = parse_workload(raw)
    sz = right_size(wl, build(wl), "inference-components")
    at3 = {t.config.get("cpu_cores_per_copy", 1): t for t in sz.tried
           if not t.screened and t.config.get("instance_count") == 3}
    assert not at3[1].feasible and at3[2].feasible and at3[1].monthly_usd == pytest.approx(at3[2].monthly_usd)
    assert sz.chosen["cpu_cores_per_copy"] == 2 and sz.chosen["copies"] == 3
    raw["options"]["inference-components"]["cpu_cores_per_copy"] = 1
    wl = parse_workload(raw)
    sz = right_size(wl, build(wl), "inference-components")
    assert all(t.config["cpu_cores_per_copy"] == 1 for t in sz.tried)


def test_copy_scaling_that_cannot_bill_less_is_screened():
    """fraud-scoring-400 (steady 400/s, 5.49 vCPUs of work): the 8 one-core copies on 4 x ml.c5.large that pass
    run at 69%, above the 60% the sized copy target tracks, so even the quietest minute needs all 8 (9.2 copies'
    worth): copy scaling could never release an instance and is listed, not simulated. fraud-detection (40/s on
    2 x ml.c5.large, 4 copies): the fewest copies (2 of its one model) already take the 2 production instances."""
    for name, why in (("fraud-scoring-400", "quietest minute"), ("fraud-detection", "fewest copies")):
        wl = load_workload(EXAMPLES / f"{name}.yaml").model_copy(update={"horizon": 600.0})
        sz = right_size(wl, build(wl), "inference-components")
        scaled = [t for t in sz.tried if "max_copies" in t.config]
        assert scaled and all(t.screened and why in t.reasons[0] for t in scaled), [t.reasons for t in sz.tried]
