"""Batch transform: job triggers, start-up, mini-batch packing, FIFO makespan and per-job billing.

Hand-computed case (`test_scheduled_jobs_match_the_hand_figures`): one record every 10 s over 2 h (720
records, t = 0, 10, ..., 7190), a 1 s constant service, 1 MB records, max_payload_mb 3 (so 3 records =
3 s of work per mini-batch), schedule 1 h, 2 x ml.m5.xlarge (USD 0.23/h) x 2 concurrent transforms = 4
workers, start-up 120 s.
- Job 1 triggers at 3600 s and takes the records of t = 0..3600: 361 records -> 120 mini-batches of 3 plus
  one of 1 = 121. From ready = 3720 s, 120 mini-batches of 3 s on 4 workers take 30 rounds = 90 s, the
  last (1 s) runs 90..91. Duration = 120 + 91 = 211 s; cost = 2 x 211 x 0.23 / 3600 = USD 0.0269611.
- Job 2 triggers at 7200 s (= the horizon, so no extra drain job) with t = 3610..7190: 359 records ->
  119 mini-batches of 3 plus one of 2 = 120. 116 mini-batches take 29 rounds = 87 s; the last 4 start at
  87, the 2-record one ends at 89, the others at 90. Duration = 120 + 90 = 210 s; cost = USD 0.0268333.
- Total = 2 x 421 x 0.23 / 3600 = USD 0.0537944. The record of t = 0 starts at 3720 and ends at 3723;
  the record of t = 3600 is alone in the last mini-batch: 3810..3811. Utilization = 720 busy worker-s /
  (4 x 421) billed worker-s.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.catalog import load_catalog
from sim.distributions import Constant, Exponential
from sim.metrics import request_counts, summary
from sim.model import ModelSpec
from sim.options import load_all
from sim.options.batch import BatchConfig, job_triggers, simulate
from sim.results import FAILED, SERVED
from sim.scenario import build_scenario
from sim.summary import Requests

CAT = load_catalog()


def _scenario(arrivals, horizon_s, service_ms=1000.0, payload_kb=1024.0, models=None, model_idx=None):
    arr = np.asarray(arrivals, float)
    models = models or [ModelSpec(name="m", service_time=Constant(value_ms=service_ms), memory_mb=100,
                                  payload_kb=payload_kb)]
    idx = np.zeros(arr.size, np.int32) if model_idx is None else np.asarray(model_idx, np.int32)
    return build_scenario(models, arr, idx, horizon_s, CAT, 0)


HAND = BatchConfig(instance_type="ml.m5.xlarge", instance_count=2, max_concurrent_transforms=2, max_payload_mb=3,
                   schedule="1h", startup_s=120)


def test_scheduled_jobs_match_the_hand_figures():
    sc = _scenario(np.arange(0, 7200, 10.0), 7200.0)
    res = simulate(sc, HAND)
    assert res.feasible, res.reasons
    jobs = res.figures.jobs
    assert [j.trigger_s for j in jobs] == [3600.0, 7200.0]
    assert [j.records for j in jobs] == [361, 359]
    assert [j.mini_batches for j in jobs] == [121, 120]
    assert [j.ready_s for j in jobs] == [3720.0, 7320.0]
    assert [j.duration_s for j in jobs] == pytest.approx([211.0, 210.0], abs=1e-9)
    assert [j.end_s for j in jobs] == pytest.approx([3811.0, 7410.0], abs=1e-9)
    assert [j.cost_usd for j in jobs] == pytest.approx([2 * 211 * 0.23 / 3600, 2 * 210 * 0.23 / 3600], rel=1e-12)
    assert res.cost_usd["instances"] == pytest.approx(2 * 421 * 0.23 / 3600, rel=1e-12)
    assert res.log.start_s[0] == 3720.0 and res.log.finish_s[0] == pytest.approx(3723.0)
    assert res.log.start_s[360] == pytest.approx(3810.0) and res.log.finish_s[360] == pytest.approx(3811.0)
    assert res.figures.utilization == pytest.approx(720 / (4 * 421), rel=1e-12)
    # capacity: 2 instances while a job runs, none in between
    assert res.capacity.at(np.array([100.0, 3700.0, 3811.5, 7000.0])).tolist() == [0, 2, 0, 0]
    out = summary(res)
    assert out.requests == Requests(offered=720, served=720, throttled=0, failed=0)
    # S3: 720 records x 1,024 KB in (no response) kept 30 days at 0.023 USD/GB-month; per job one input object
    # and one output object, each PUT and GOT once: 2 jobs x 2 PUTs x 0.005 / 1000 + 4 GETs x 0.0004 / 1000
    assert out.cost_usd.breakdown == {
        "instances": pytest.approx(2 * 421 * 0.23 / 3600, rel=1e-12),
        "s3_storage": pytest.approx(720 * 1024 / 1024**2 * 0.023 * 30 * 86400 / 2628000, rel=1e-12),
        "s3_requests": pytest.approx(4 * 0.005 / 1000 + 4 * 0.0004 / 1000, rel=1e-12)}


def test_trigger_records_start_jobs_at_the_nth_arrival():
    sc = _scenario(np.arange(100.0), 100.0)
    res = simulate(sc, HAND.model_copy(update={"schedule": None, "trigger_records": 30}))
    jobs = res.figures.jobs
    # the 30th, 60th and 90th records arrive at 29, 59 and 89 s; the last 10 are drained at the horizon
    assert [j.trigger_s for j in jobs] == [29.0, 59.0, 89.0, 100.0]
    assert [j.records for j in jobs] == [30, 30, 30, 10]
    assert np.all(res.log.start_s[:30] >= 29.0 + 120.0) and np.all(res.log.start_s[30:60] >= 59.0 + 120.0)


def test_records_after_the_last_scheduled_job_are_drained_at_the_horizon():
    sc = _scenario(np.arange(0, 5400, 10.0), 5400.0)
    res = simulate(sc, HAND)
    jobs = res.figures.jobs
    assert [j.trigger_s for j in jobs] == [3600.0, 5400.0]
    assert jobs[1].records == 179  # t = 3610 .. 5390
    counts = request_counts(res.log)
    assert counts.offered == counts.served == 540
    late = sc.arrivals_s > 3600
    assert np.all(res.log.start_s[late] >= 5400.0 + 120.0)


def test_empty_schedule_ticks_launch_nothing():
    assert job_triggers(np.array([7000.0]), 4 * 3600.0, 3600.0, None) == [(7200.0, 0, 1)]
    assert job_triggers(np.array([]), 7200.0, 3600.0, None) == []


def test_multirecord_packing_needs_fewer_mini_batches_than_single_record():
    sc = _scenario(np.arange(0, 3600, 1.0), 3600.0, service_ms=10, payload_kb=100)
    multi = simulate(sc, HAND)
    single = simulate(sc, HAND.model_copy(update={"batch_strategy": "SingleRecord"}))
    n_multi = sum(j.mini_batches for j in multi.figures.jobs)
    n_single = sum(j.mini_batches for j in single.figures.jobs)
    assert n_single == 3600
    assert n_multi == 3600 // 30  # floor(3 x 1024 / 100) = 30 records per mini-batch
    assert n_multi < n_single


def test_payload_over_100_mb_is_infeasible_naming_the_limit():
    sc = _scenario(np.arange(10.0), 10.0, payload_kb=101 * 1024)
    res = simulate(sc, BatchConfig(max_payload_mb=100))
    assert not res.feasible
    assert any("100 MB limit" in r for r in res.reasons), res.reasons
    too_big = simulate(_scenario(np.arange(10.0), 10.0), BatchConfig(max_payload_mb=101))
    assert not too_big.feasible and any("100 MB limit" in r for r in too_big.reasons)


def test_record_larger_than_max_payload_is_infeasible():
    res = simulate(_scenario(np.arange(10.0), 10.0, payload_kb=8 * 1024), BatchConfig(max_payload_mb=6))
    assert not res.feasible and any("does not fit in max_payload_mb 6" in r for r in res.reasons)


def test_model_that_does_not_fit_the_instance_is_infeasible():
    big = ModelSpec(name="big", service_time=Constant(value_ms=10), memory_mb=200_000)
    res = simulate(_scenario(np.arange(10.0), 10.0, models=[big]), BatchConfig(instance_type="ml.m5.xlarge"))
    assert not res.feasible and any("big" in r and "MB" in r for r in res.reasons)


def test_default_instance_is_the_cheapest_batch_type_not_t2():
    res = simulate(_scenario(np.arange(10.0), 10.0), BatchConfig())
    assert res.config.model("m")["instance_type"] == "ml.c6i.large"  # t2.medium and c5.large are not transform types
    assert not simulate(_scenario(np.arange(10.0), 10.0), BatchConfig(instance_type="ml.t2.medium")).feasible


def test_default_payload_is_lowered_so_mini_batches_fit_the_timeout():
    # 1 KB records of 100 ms: 6 MB = 6144 records = 614 s > 600 s; 2 MB = 2048 records = 205 s <= 300 s
    res = simulate(_scenario(np.arange(100.0), 100.0, service_ms=100, payload_kb=1), BatchConfig())
    assert res.feasible and res.config.model("m")["max_payload_mb"] == 2
    assert res.config.model("m")["records_per_mini_batch"] == 2048


def test_mini_batch_over_the_invocation_timeout_fails_after_retries():
    # The model's mean (1 s) is well under the 10 s timeout, but the second record takes 12 s: it times out,
    # is retried 3 times (catalog default) and holds the only worker 4 x 10 s = 40 s, from 4 to 44 s.
    sc = dataclasses.replace(_scenario([0.0, 1.0, 2.0], 3.0, payload_kb=1), service_s=np.array([1.0, 12.0, 1.0]))
    cfg = BatchConfig(instance_type="ml.m5.xlarge", batch_strategy="SingleRecord", startup_s=0,
                      invocations_timeout_s=10, max_concurrent_transforms=1, schedule=3)
    res = simulate(sc, cfg)
    assert res.log.status.tolist() == [SERVED, FAILED, SERVED]
    assert res.log.finish_s.tolist() == pytest.approx([4.0, 44.0, 45.0])
    assert res.figures.jobs[0].duration_s == pytest.approx(42.0)


def test_registered_for_offline_delivery_only():
    assert load_all()["batch"].delivers == frozenset({"offline"})


def test_schedule_and_trigger_records_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        BatchConfig(schedule="1h", trigger_records=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 200), horizon=st.floats(10, 5000), n_models=st.integers(1, 3), seed=st.integers(0, 10**6),
       count=st.integers(1, 3), conc=st.integers(1, 4), single=st.booleans(), use_trigger=st.booleans(),
       trigger=st.integers(1, 50), schedule_frac=st.floats(0.05, 1.5), payload_kb=st.floats(0, 2048),
       mean_ms=st.floats(1, 500))
def test_invariants_on_random_small_scenarios(n, horizon, n_models, seed, count, conc, single, use_trigger, trigger,
                                              schedule_frac, payload_kb, mean_ms):
    rng = np.random.default_rng(seed)
    arr = np.sort(rng.uniform(0, horizon, n))
    models = [ModelSpec(name=f"m{i}", service_time=Exponential(mean_ms=mean_ms), memory_mb=100,
                        payload_kb=payload_kb, container_start_s=float(i)) for i in range(n_models)]
    sc = _scenario(arr, horizon, models=models, model_idx=rng.integers(0, n_models, n))
    cfg = BatchConfig(instance_type="ml.m5.xlarge", instance_count=count, max_concurrent_transforms=conc,
                      max_payload_mb=3, batch_strategy="SingleRecord" if single else "MultiRecord",
                      trigger_records=trigger if use_trigger else None,
                      schedule=None if use_trigger else schedule_frac * horizon, invocations_timeout_s=3600)
    res = simulate(sc, cfg)
    if not res.feasible:  # only a payload over max_payload_mb or a too-slow mini-batch may refuse
        assert all("max_payload_mb" in r or "invocation timeout" in r for r in res.reasons), res.reasons
        return
    log, counts = res.log, request_counts(res.log)
    assert counts.offered == n == counts.served + counts.failed and counts.throttled == 0
    assert sum(j.records for j in res.figures.jobs) == n
    assert np.all(log.start_s >= log.arrival_s) and np.all(log.finish_s >= log.start_s)
    assert set(np.unique(log.status).tolist()) <= {SERVED, FAILED}
    assert res.cost_usd["instances"] >= 0 and 0 <= res.figures.utilization <= 1 + 1e-9
    for i, m in enumerate(models):
        jobs = [j for j in res.figures.jobs if j.model == m.name]
        rows = np.flatnonzero(sc.model_idx == i)
        startup = CAT.batch.job_startup_s.value + m.container_start_s
        assert all(j.ready_s == pytest.approx(j.trigger_s + startup) for j in jobs)
        # every record runs inside one of its model's jobs, after that job is ready
        for r in rows:
            assert any(j.ready_s - 1e-9 <= log.start_s[r] and log.finish_s[r] <= j.end_s + 1e-9
                       and j.trigger_s >= log.arrival_s[r] for j in jobs)
