"""The bundled examples written from AWS's own guidance, held to the decision an architect would sign and to
the hand arithmetic in each docstring (catalog prices: ml.c5.large 0.102, ml.c6i.large 0.102, ml.g4dn.xlarge
0.736 USD/h; a month is 730 h)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitness.engine.windows import right_size
from fitness.workload.scenario import build
from fitness.workload.spec import load_workload

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HOURS_PER_MONTH = 730.0


def example(name: str, **update):
    """A bundled example, with fields replaced (a shorter horizon keeps the test fast)."""
    wl = load_workload(EXAMPLES / f"{name}.yaml")
    return wl.model_copy(update=update) if update else wl


def test_steady_400_rps_is_sized_on_fixed_performance_instances_with_one_to_spare():
    """fraud-scoring-400: the lognormal (p50 12 ms, p99 40 ms) has sigma = ln(40/12) / 2.326 = 0.518 and mean
    12 e^(sigma^2/2) = 13.7 ms, so 400 req/s is 5.49 vCPUs of work.
    - ml.t2.medium would run at 5.49 / (3 x 2) = 92% CPU against a 20% baseline: refused unsimulated.
    - 3 x ml.c5.large (6 vCPUs) carry it at 92%, but when one fails the 4 vCPUs left are short of 5.49 for the
      launch delay: the queue grows and the drill fails.
    - 4 x ml.c5.large (8 vCPUs, 6 left after a failure, 92% busy) keep the p99: 4 x 0.102 x 730 = 297.84 USD a
      month of instances, plus the data processed: 400 req/s x 3 KB x 730 h = 3,007.6 GB x 0.016 = 48.12 USD.
      The next size up, 2 x ml.c5.xlarge, costs the same (listed, not simulated: it cannot be cheaper, and
      one 4-vCPU survivor would be short anyway)."""
    wl = example("fraud-scoring-400", horizon=1200.0)
    sz = right_size(wl, build(wl), "realtime")
    assert sz.chosen == {"instance_type": "ml.c5.large", "instance_count": 4}
    s = sz.run.summary
    month = HOURS_PER_MONTH * 3600 / wl.horizon
    assert s.cost_usd.breakdown["instances"] * month == pytest.approx(4 * 0.102 * HOURS_PER_MONTH, rel=1e-9)
    assert s.cost_usd.breakdown["data"] == pytest.approx(s.requests.served * 3 / 1024**2 * 0.016, rel=1e-12)
    assert s.cost_usd.breakdown["data"] * month == pytest.approx(400 * 3 * HOURS_PER_MONTH * 3600 / 1024**2 * 0.016,
                                                                 rel=0.01)  # Poisson count over 20 min: sd 0.2%
    by_config = {(t.config["instance_type"], t.config["instance_count"]): t for t in sz.tried}
    assert "screened, not simulated" in by_config["ml.t2.medium", 3].reasons[0]
    three = by_config["ml.c5.large", 3]
    assert not three.feasible and not three.drill.keeps_slo and three.drill.p99_ms > wl.slo.p99_ms
    assert "cost no less than the 4 x ml.c5.large" in by_config["ml.c5.xlarge", 2].reasons[0]
    assert by_config["ml.c5.large", 4].drill.keeps_slo


def test_the_readme_example_keeps_two_small_burstable_instances_under_their_baseline():
    """fraud-detection: 40 req/s x 13.7 ms = 0.55 vCPU on 2 x ml.t3.medium (4 vCPUs) is 14% CPU, under the
    20% baseline, so the burstable type is allowed and its credits never drain (a T3 starts with none and earns
    them from the first minute): 2 x 0.05 x 730 = 73.00 USD of instances a month, 2 x 8 GB x 0.14 = 2.24 USD of
    ML storage (and 40 req/s x 3 KB x 730 h = 300.8 GB x 0.016 = 4.81 USD of data processed)."""
    wl = example("fraud-detection", horizon=1200.0)
    sz = right_size(wl, build(wl), "realtime")
    assert sz.chosen == {"instance_type": "ml.t3.medium", "instance_count": 2}
    month = HOURS_PER_MONTH * 3600 / wl.horizon
    bill = sz.run.summary.cost_usd.breakdown
    assert bill["instances"] * month == pytest.approx(2 * 0.05 * HOURS_PER_MONTH, rel=1e-9)
    assert bill["storage"] * month == pytest.approx(2 * 8 * 0.14, rel=1e-9)
    assert sz.run.summary.utilization < 0.2


def test_the_radiology_backlog_scales_from_zero_within_the_budget():
    """radiology-async: a pinned fleet sized for the bursts (8 x ml.g4dn.xlarge, 8 x 0.736 x 730 = 4,298.24
    USD of instances) breaks the 1,000 USD budget; backlog scaling from zero is then tried and kept. The 53
    studies of the day need about 53 x (130 s of GPU + 6 s of S3 transfer) = 2 h of work; the fleet is paid 18,726
    instance-seconds (5.2 h: launches and the scale-in wait around each burst), so the month costs
    18,726 / 3600 x 0.736 x 730 / 24 = 116.4 USD of instances, plus the data processed: 53 x (600 + 10) MB
    a day = 31.6 GB x 0.016 x 730 / 24 = 15.4 USD; and the endpoint holds no instance most of the day."""
    wl = example("radiology-async")
    sz = right_size(wl, build(wl), "async")
    first = sz.tried[0]
    assert first.config["instance_count"] == 8 and first.monthly_usd > 8 * 0.736 * HOURS_PER_MONTH
    assert not first.feasible and "exceeds the budget" in first.reasons[0]
    assert sz.chosen == {"instance_type": "ml.g4dn.xlarge", "autoscaling": {"min": 0, "max": 8}}
    res = sz.run.result
    month = HOURS_PER_MONTH / 24
    hand = res.figures.instance_seconds / 3600 * 0.736 * month
    assert sz.run.summary.cost_usd.breakdown["instances"] * month == pytest.approx(hand, rel=1e-9)
    assert sz.run.summary.cost_usd.breakdown["data"] == pytest.approx(53 * (614400 + 10240) / 1024**2 * 0.016)
    assert sz.run.summary.cost_usd.monthly < wl.budget.monthly_usd
    assert sz.run.summary.instances.mean < 0.5 and res.config.to_json()["study-triage.initial_count"] == 0


def test_records_landing_at_one_get_a_trigger_that_meets_the_six_hour_deadline():
    """nightly-landing: 600,000 records land 01:00-01:30. The default midnight job would leave them waiting
    23 h. A job every 4 h (at 04:00) meets the 6 h deadline with 2 x ml.c6i.large: 600,000 x 51.5 ms (the
    lognormal's mean) = 30,870 s of work over 2 instances x 2 concurrent transforms = 7,717 s, plus 325 s of
    start-up each; the 01:30 record waits 2.5 h, and its result is out at about 04:00 + 2.2 h, 4.8 h after
    it landed. Billed 2 x (7,717 + 325) s x 0.102 / 3600 = 0.46 USD a day, 14 USD a month; and S3: the 600,000
    records in (1 KB) and results out (0.1 KB) kept 30 days, 600,000 x 1.1 / 1024^2 x 0.023 x 30 x 86,400 /
    2,628,000 = 0.0143 USD for the day's data (0.43 USD a month), with one object in and one out per job."""
    wl = example("nightly-landing")
    sz = right_size(wl, build(wl), "batch")
    assert sz.chosen == {"schedule": 14400.0, "instance_count": 2}
    s = sz.run.summary
    assert 4.5 < s.latency_ms.max / 3.6e6 < 5.0 < wl.slo.deadline_h
    per_day = 2 * (30870 / 4 + 325.4) * 0.102 / 3600
    assert s.cost_usd.breakdown["instances"] == pytest.approx(per_day, rel=0.03)  # mini-batch rounding: the model
    assert s.cost_usd.breakdown["s3_storage"] == pytest.approx(
        s.requests.offered * 1 / 1024**2 * 0.023 * 30 * 86400 / 2628000
        + s.requests.served * 0.1 / 1024**2 * 0.023 * 30 * 86400 / 2628000, rel=1e-9)
    assert round(s.cost_usd.breakdown["s3_storage"], 4) == 0.0143
    one = next(t for t in sz.tried if t.config["instance_count"] == 1)
    assert "misses the 6 h deadline" in one.reasons[0]


def test_shared_endpoint_a_slow_model_blocks_the_fast_ones_behind_a_multi_model_endpoint_not_as_components():
    """shared-endpoint: 100 requests/s over four models, 0.8/s of them a 1.8 s re-rank (about 1.4 vCPUs busy), the
    rest 8-20 ms; p95 80 ms. Behind a multi-model endpoint every model shares each instance's workers in one FIFO,
    so on 2 x ml.c5.large (4 vCPUs) a fast request that waits, waits behind re-ranks of seconds: the p95 is over a
    second. As inference components each model has copies of its own (Erlang C per model, never below a copy per
    production instance: 2 copies x 4 models of 1 core = 8 cores = 4 x ml.c5.large), and the fast models wait only
    behind their own requests: the p95 holds in steady state, and only the failure drill (half the copies gone
    while an instance is replaced) is refused. The same copies on ml.m5.large or ml.r5.large (the same 2 cores a
    type and the same placement) are listed as screened, not simulated."""
    wl = example("shared-endpoint", horizon=1800.0)
    sc = build(wl)
    mme = right_size(wl, sc, "multi-model")
    first = next(t for t in mme.tried if not t.screened)
    assert first.config == {"instance_type": "ml.c5.large", "instance_count": 2}
    assert "p95 latency" in first.reasons[0] and int(first.reasons[0].split()[2].replace(",", "")) > 1000
    ic = right_size(wl, sc, "inference-components")
    pinned = ic.tried[0]
    assert pinned.config == {"instance_type": "ml.c5.large", "instance_count": 4, "copies": 2}
    assert pinned.reasons and all(r.startswith("while one instance is replaced") for r in pinned.reasons)
    twins = [t for t in ic.tried if t.screened and "would place and run these copies as" in t.reasons[0]]
    assert {t.config["instance_type"] for t in twins} >= {"ml.m5.large", "ml.r5.large"}
    assert ic.run.summary.feasible
