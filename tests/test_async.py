"""Asynchronous inference: shared queue against Erlang C, scale to zero, large payloads (issue 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from fitness.engine.recommend import recommend
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.metrics import queue_wait_s, request_counts, summary
from sim.model import ModelSpec
from sim.options.async_inference import AsyncConfig, simulate
from sim.scenario import build_scenario
from sim.summary import Requests
from tests.queueing import EXP_100MS, erlang_c, poisson_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.statistical
@pytest.mark.parametrize(("instances", "workers"), [(1, 4), (2, 2)])
def test_pinned_async_without_io_matches_erlang_c(instances, workers):
    """lambda 30/s, exponential 100 ms, 4 workers in all: one shared FIFO queue is M/M/4 however the
    workers are spread over instances. Tolerances as the realtime M/M/4 point of test_statistical
    (4 x the measured run-to-run sd: 0.028 relative on Wq, 0.0040 on P(wait)), the same queue."""
    sc = poisson_scenario(30.0, EXP_100MS, 200_000, 11)
    cfg = AsyncConfig(instance_type="ml.c5.xlarge", instance_count=instances, workers_per_instance=workers,
                      s3_latency_ms=0)
    waits = queue_wait_s(simulate(sc, cfg).log, since_s=0.05 * sc.horizon_s)
    pw, wq = erlang_c(30.0, 10.0, 4)
    assert waits.mean() == pytest.approx(wq, rel=4 * 0.028)
    assert (waits > 0).mean() == pytest.approx(pw, abs=4 * 0.0040)


def _sparse_scenario():
    """Three bursts of 20 requests, hours apart, of 1 s constant work, over a day."""
    arr = np.concatenate([t + np.arange(20) * 0.5 for t in (1000.0, 30000.0, 60000.0)])
    model = ModelSpec(name="m", service_time=Constant(value_ms=1000), memory_mb=100)
    return build_scenario([model], arr, np.zeros(arr.size, np.int32), 86400.0, load_catalog(), 0)


def test_scale_to_zero_bills_only_instance_time():
    """Worked by hand for the burst at 1000 s (the others repeat it 29,000 and 59,000 s later):
    - The tick at 1020 s sees work and no capacity (HasBacklogWithoutCapacity), so it asks for an
      instance. That instance serves from 1320 s (300 s launch) and the burst is done by 1325 s.
    - Backlog per instance (the one launching) stays 20 > 5. After the 3 breaching ticks 1080, 1140 and
      1200 s, the policy asks for ceil(20 / 5) = 4, capped at max 2: more than the 1 the scale-from-zero
      asked for, so this larger scale-out proceeds inside the cooldown (`ScaleOutCooldown`). The second
      instance is asked for at 1200 s and serves from 1500 s.
    - The backlog is 0 from the tick at 1380 s. After 15 low datapoints, at 2220 s, both retire (min 0).
    - Billed from each request: (2220 - 1020) + (2220 - 1200) = 2220 s a burst, 6660 s a day, not 86,400.
    """
    sc = _sparse_scenario()
    cfg = AsyncConfig(instance_type="ml.c5.xlarge", workers_per_instance=4, s3_latency_ms=0, initial_count=0,
                      autoscaling={"min": 0, "max": 2, "target_backlog_per_instance": 5})
    res = simulate(sc, cfg)
    price = load_catalog().instance("ml.c5.xlarge").price_per_hour.value
    assert res.cost_usd["instances"] == pytest.approx(res.figures.instance_seconds * price / 3600, abs=1e-12)
    # idle between bursts: no instance at all, so far less than a day is billed
    assert res.capacity.times_s[:4].tolist() == [0, 1320, 1500, 2220]
    assert res.capacity.values[:4].tolist() == [0, 1, 2, 0]
    assert res.capacity.at(np.array([500.0, 20000.0, 50000.0, 80000.0])).tolist() == [0, 0, 0, 0]
    assert res.figures.instance_seconds == 3 * 2220
    # each burst waits for an instance: the alarm's minute plus the launch delay (300 s in the catalog)
    first = res.log.start_s[[0, 20, 40]] - res.log.arrival_s[[0, 20, 40]]
    assert np.all(first >= 300) and np.all(first <= 300 + 60)
    assert request_counts(res.log) == Requests(offered=60, served=60, throttled=0, failed=0)


def test_timeout_fails_long_work_and_nothing_is_lost():
    model = ModelSpec(name="m", service_time=Constant(value_ms=2_000_000), memory_mb=100)
    arr = np.arange(10) * 100.0
    sc = build_scenario([model], arr, np.zeros(10, np.int32), 3600.0, load_catalog(), 0)
    res = simulate(sc, AsyncConfig(instance_type="ml.c5.xlarge", instance_count=1, timeout_s=900))
    counts = request_counts(res.log)
    assert counts.failed == 10 and counts.offered == counts.served + counts.failed
    assert np.all(res.log.finish_s - res.log.start_s == pytest.approx(900))


def test_timeout_over_the_limit_is_infeasible():
    res = simulate(_sparse_scenario(), AsyncConfig(timeout_s=7200))
    assert not res.feasible and "3600 s limit" in res.reasons[0]


def _imaging(delivery: str, payload_mb: float = 300):
    data = yaml.safe_load((ROOT / "examples" / "medical-imaging.yaml").read_text())
    data["slo"]["delivery"] = delivery
    data["models"][0]["payload_kb"] = payload_mb * 1024
    return parse_workload(data, str(ROOT / "examples" / "medical-imaging.yaml"))


def test_large_payloads_leave_only_async_and_batch():
    """80 MB studies and minutes of processing. Real-time (6 MB, 60 s) and serverless (4 MB, 60 s) are
    ruled out with the limits named. Async and batch (mini-batches up to 100 MB) serve an offline caller."""
    rec = recommend(_imaging("offline", payload_mb=80))
    by = {o.option: o for o in rec.options}
    assert "payload 80 MB exceeds the 6 MB limit of real-time endpoints (model ct-segmentation)" in \
        by["realtime"].reasons
    assert any("60 s limit of real-time endpoints" in r for r in by["realtime"].reasons)
    assert "payload 80 MB exceeds the 4 MB limit of serverless endpoints (model ct-segmentation)" in \
        by["serverless"].reasons
    feasible = {o.option for o in rec.options if o.feasible}
    assert {"async", "batch"} <= feasible and not feasible & {"realtime", "serverless"}, \
        {o.option: o.reasons for o in rec.options}


def test_300_mb_records_exceed_batch_transform_too():
    """A 300 MB record cannot go in a batch transform mini-batch (MaxPayloadInMB at most 100)."""
    rec = recommend(_imaging("offline"))
    by = {o.option: o for o in rec.options}
    assert any("100 MB" in r for r in by["batch"].reasons) and by["async"].feasible


def test_async_delivery_rules_out_batch_and_recommends_async():
    rec = recommend(_imaging("async"))
    by = {o.option: o for o in rec.options}
    assert rec.recommended == "async"
    assert "cannot deliver per-request results" in by["batch"].reasons[0]
    s = by["async"]
    assert s.requests.failed == 0 and s.backlog.max >= 1
    assert s.cost_usd.breakdown["instances"] > 0


def test_sync_delivery_rules_out_async():
    rec = recommend(_imaging("sync"))
    assert "cannot deliver a synchronous answer" in {o.option: o for o in rec.options}["async"].reasons[0]
    assert rec.recommended is None


def test_summary_reports_backlog():
    s = summary(simulate(_sparse_scenario(), AsyncConfig(instance_type="ml.c5.xlarge", instance_count=1)))
    assert s.backlog.max >= 1 and 0 < s.backlog.mean <= s.backlog.max
