"""An impossible workload names its root cause and the smallest change that would make an option feasible
(issue 15, item 4)."""

from __future__ import annotations

import numpy as np

from fitness.engine.recommend import recommend
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload

BASE = {"name": "t", "horizon": "10m", "seed": 3, "replications": 1, "sensitivity": False,
        "models": [{"name": "m", "memory_mb": 500, "service_time": {"dist": "exponential", "mean_ms": 20}}],
        "traffic": {"pattern": "poisson", "rate_rps": 5}}


def test_an_slo_below_the_models_own_service_time_is_named_as_the_root_cause():
    """An exponential of mean 20 ms has a p99 of 20 x ln(100) = 92 ms (86-93 ms on a sample of 3,000): a
    1 ms p99 SLO can be met by no hosting option, and the report says so with the model's own p99, then
    the tightest SLO a tried configuration met everything else at."""
    wl = parse_workload({**BASE, "slo": {"p99_ms": 1}})
    rec = recommend(wl)
    sc = build(wl)
    own = np.percentile(sc.service_s, 99) * 1000
    assert rec.recommended is None and 80 < own < 100
    first = rec.root_causes[0]
    assert first.startswith("The p99 SLO of 1 ms is below model m's own p99 service time") and f"{own:.1f} ms" in first
    assert any(c.startswith("The latency SLO binds:") for c in rec.root_causes)
    assert rec.to_dict()["root_causes"] == rec.root_causes


def test_a_budget_below_every_bill_names_the_smallest_budget_that_would_do():
    """A 2 USD budget under a 300 ms SLO: serverless at 5 req/s x 20 ms meets everything else for about
    9 USD a month (5 x 0.02 s x 2,628,000 s x 1 GB x 0.00002 = 5.26 USD of compute plus cold starts and
    data), the cheapest trial refused only for its cost: that is the minimum budget named."""
    rec = recommend(parse_workload({**BASE, "slo": {"p99_ms": 300}, "budget": {"monthly_usd": 2}}))
    assert rec.recommended is None
    budget = [c for c in rec.root_causes if c.startswith("The budget binds:")]
    cheapest = min(t["monthly_usd"] for sz in rec.sizing.values() for t in sz["tried"]
                   if t["reasons"] and all("exceeds the budget of" in r for r in t["reasons"]))
    assert len(budget) == 1 and f"at {cheapest:,.2f} USD/month" in budget[0] and 5.26 < cheapest < 15


def test_a_feasible_workload_has_no_root_causes():
    assert recommend(parse_workload({**BASE, "slo": {"p99_ms": 300}})).root_causes == []
