"""Right-sizing and headroom held to queueing theory on small Poisson workloads (20-30 min of traffic).

Exponential 100 ms service, so the closed forms are exact for a pooled queue: M/M/k sojourn time for
real-time endpoints (Erlang C), Erlang B for serverless throttling. The simulator routes to the instance
with the fewest outstanding requests instead of pooling one queue, hence "within one instance".

Headroom of one M/M/1 worker (mu = 100/s, lambda = 20/s, p99 <= 100 ms): the p99 sojourn is
ln(100) / (mu - m lambda), so the SLO holds up to m* = (mu - ln(100) / 0.1) / lambda = 2.697. Bisection
stops at hi / lo <= 1.1 and returns lo, so an exact simulator gives m* / 1.1 < headroom <= m*. The
simulated boundary itself (headroom with tol 0.004, seeds 0..9, `python -m tests.test_rightsizing`) has
mean 2.685 and relative run-to-run sd 0.016; the band is widened by 4 sd on both sides.
"""

from __future__ import annotations

import math

import pytest

from fitness.engine.constraints import constraint_reasons
from fitness.engine.headroom import headroom
from fitness.engine.run import simulate
from fitness.engine.windows import right_size
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload
from sim.options.serverless import speed
from tests.queueing import erlang_b, erlang_c

MU = 10.0  # exponential 100 ms service
HEADROOM_REL_SD = 0.016


def workload(rate: float = 100.0, p99_ms: float = 550.0, horizon: str = "20m", seed: int = 1, **kw):
    """One CPU model with exponential 100 ms service and Poisson traffic, in `environment: dev` so that the
    search is held to the closed forms alone (the production floor and failure drill are
    `tests/test_guardrails.py`'s)."""
    data = {"name": "t", "horizon": horizon, "seed": seed, "environment": "dev",
            "models": [{"name": "m", "memory_mb": 100, "service_time": {"dist": "exponential", "mean_ms": 100}}],
            "traffic": {"pattern": "poisson", "rate_rps": rate},
            "slo": {"p99_ms": p99_ms, "max_error_rate": 0.001}}
    return parse_workload({**data, **kw})


def mmk_sojourn_tail(lam: float, mu: float, k: int, t: float) -> float:
    """P(T > t) for M/M/k FIFO: (1 - C) e^-mu t + C P(Exp(theta) + Exp(mu) > t), theta = k mu - lambda."""
    if lam >= k * mu:
        return 1.0
    c, _ = erlang_c(lam, mu, k)
    th = k * mu - lam
    both = (mu * math.exp(-th * t) - th * math.exp(-mu * t)) / (mu - th) if abs(mu - th) > 1e-9 \
        else (1 + mu * t) * math.exp(-mu * t)
    return (1 - c) * math.exp(-mu * t) + c * both


def servers_for_p99(lam: float, mu: float, t: float) -> int:
    """Fewest M/M/k servers whose p99 sojourn is within t."""
    k = 1
    while mmk_sojourn_tail(lam, mu, k, t) > 0.01:
        k += 1
    return k


def test_realtime_cheapest_meeting_slo_and_every_cheaper_trial_failed():
    """lambda 100/s, p99 <= 500 ms, instance type free: 10 vCPUs of work keep ml.t2.medium far above its CPU
    baseline (screened, not simulated), so ml.c5.large (2 workers, the next cheapest per worker)."""
    wl = workload(p99_ms=500.0)
    sz = right_size(wl, build(wl), "realtime")
    assert not sz.pinned and sz.chosen is not None
    best = next(t for t in sz.tried if t.config == sz.chosen)
    assert best.feasible and best.p99_ms <= 500.0
    assert sz.run.summary.latency_ms.p99 == best.p99_ms  # the chosen trial's run, not a re-run
    assert sz.chosen["instance_type"] == "ml.c5.large"
    assert all(not t.feasible for t in sz.tried if t.monthly_usd is None or t.monthly_usd < best.monthly_usd)
    # theory starts next to the answer: per type cheaper than it, the count below; then it and one size up
    ran = [t for t in sz.tried if t.monthly_usd is not None]
    assert len(ran) <= 6 and all(t.monthly_usd <= best.monthly_usd for t in ran if not t.feasible)
    it, n = sz.chosen["instance_type"], sz.chosen["instance_count"]
    below = [t for t in sz.tried if t.config == {"instance_type": it, "instance_count": n - 1}]
    assert below and not below[0].feasible and "p99 latency" in below[0].reasons[0]


def test_realtime_count_matches_erlang_c_within_one_instance():
    """One worker per instance: the count is the number of servers, vs M/M/k at lambda 100, p99 550 ms."""
    wl = workload(options={"realtime": {"instance_type": "ml.c5.large", "workers_per_instance": 1}})
    sz = right_size(wl, build(wl), "realtime")
    k = servers_for_p99(100.0, MU, 0.55)
    assert k == 12
    assert abs(sz.chosen["instance_count"] - k) <= 1
    assert all(not t.feasible for t in sz.tried if t.config.get("instance_count", 99) < sz.chosen["instance_count"])


def test_serverless_smallest_concurrency_within_error_rate():
    """No cold start; 1024 MB is the cheapest size (below one vCPU every size costs the same per request
    and 1024 is the only one), so each request holds a slot 100 ms / vCPU share; Erlang B sets the limit.
    100 req/s needs about 27, above the default of 20 the search never goes below."""
    wl = workload(rate=100.0, p99_ms=5000.0, models=[{"name": "m", "memory_mb": 100, "service_time": {
        "dist": "exponential", "mean_ms": 100}}], slo={"p99_ms": 5000.0, "max_error_rate": 0.01})
    sc = build(wl)
    sz = right_size(wl, sc, "serverless")
    req = sz.run.summary.requests
    assert req.throttled <= 0.01 * req.offered
    c = sz.chosen["max_concurrency"]
    mb = sz.chosen["memory_mb"]
    ok = [t.config["max_concurrency"] for t in sz.tried if t.feasible and t.config["memory_mb"] == mb]
    assert c == min(ok)
    assert any(not t.feasible and t.config["max_concurrency"] == c - 1 and "error rate" in t.reasons[0]
               for t in sz.tried)
    hold = 0.1 / speed(sz.chosen["memory_mb"], sc.catalog)
    need = next(n for n in range(1, 200) if erlang_b(100.0 * hold, n) <= 0.01)
    assert abs(c - need) <= 1 and c > 20


def test_serverless_concurrency_never_below_the_free_default():
    """Light traffic needs 2 or 3 slots; concurrency is not billed, so the search keeps the default 20."""
    wl = workload(rate=2.0, models=[{"name": "m", "memory_mb": 100, "service_time": {
        "dist": "exponential", "mean_ms": 100}}])
    sz = right_size(wl, build(wl), "serverless")
    assert sz.chosen["max_concurrency"] == 20


def test_pinned_option_is_simulated_once_as_given():
    """A count pins a real-time endpoint: one trial, the config as written."""
    cfg = {"instance_type": "ml.c5.large", "instance_count": 2}
    wl = workload(rate=20.0, options={"realtime": cfg})
    sz = right_size(wl, build(wl), "realtime")
    assert sz.pinned and len(sz.tried) == 1 and sz.chosen == cfg and sz.tried[0].config == cfg


def test_serverless_pinned_only_when_memory_and_concurrency_are_both_set():
    """Memory alone does not pin serverless: concurrency is searched at that memory."""
    wl = workload(rate=5.0, options={"serverless": {"memory_mb": 2048}})
    sz = right_size(wl, build(wl), "serverless")
    assert not sz.pinned and all(t.config["memory_mb"] == 2048 for t in sz.tried)


def test_nothing_meets_the_slo_chosen_is_none_and_reasons_say_why():
    """Constant 100 ms work against a 50 ms p99: no count helps, so one trial shows it."""
    wl = workload(rate=5.0, p99_ms=50.0, models=[{"name": "m", "memory_mb": 100, "service_time": {
        "dist": "constant", "value_ms": 100}}])
    sz = right_size(wl, build(wl), "realtime")
    assert sz.chosen is None and sz.run is not None and len(sz.tried) == 1
    assert sz.tried[0].reasons[0].startswith("p99 latency") and "exceeds the SLO of 50 ms" in sz.tried[0].reasons[0]


def test_budget_broken_by_the_cheapest_candidate_ends_the_pinned_search_but_tries_autoscaling():
    """Every later pinned count costs more, so the first over budget is the last pinned one tried; it meets
    the SLO, so autoscaling up to it (which can pay for fewer instances) is tried next, then the option's own
    defaults: against a 1 USD budget one instance's time alone breaks it, so those are listed as screened
    (tests/test_screening.py simulates them anyway), and nothing is chosen."""
    wl = workload(budget={"monthly_usd": 1.0})
    sz = right_size(wl, build(wl), "realtime")
    ran = [t for t in sz.tried if not t.screened]  # ml.t2.medium and ml.t3.medium are screened first, not run
    assert sz.chosen is None and len(ran) == 1 and "instance_count" in ran[0].config
    assert "exceeds the budget of 1.00 USD/month" in ran[0].reasons[-1] and ran[0].meets_slo
    after = sz.tried[sz.tried.index(ran[0]) + 1:]
    assert [t.config.get("autoscaling", {}).get("max") for t in after] == [
        ran[0].config["instance_count"], ran[0].config["instance_count"] + 1, None]
    assert all(t.screened and "in instance time alone, over the budget of 1.00 USD/month" in t.reasons[0]
               for t in after)
    assert "defaults" in after[-1].reasons[0]


def test_option_that_cannot_serve_stops_at_the_first_trial():
    """No knob changes what an option cannot deliver."""
    wl = workload()  # sync delivery: batch cannot deliver it, whatever its count
    sz = right_size(wl, build(wl), "batch")
    assert sz.chosen is None and len(sz.tried) == 1 and "cannot deliver" in sz.tried[0].reasons[0]


def test_batch_count_rises_until_the_deadline_holds():
    """Offline, 1 h schedule, 1.5 h deadline, one worker per instance: a job holds 3600 s x 20 req/s x
    100 ms = 2 h of work, so one instance ends it 2 h after its trigger (late), two in 1 h."""
    wl = workload(rate=20.0, horizon="3h", slo={"delivery": "offline", "deadline_h": 1.5},
                  options={"batch": {"schedule": "1h", "max_concurrent_transforms": 1}})
    sz = right_size(wl, build(wl), "batch")
    assert sz.chosen is not None and sz.chosen["instance_count"] > 1
    assert all(not t.feasible for t in sz.tried if t.config["instance_count"] < sz.chosen["instance_count"])


MM1 = {"instance_type": "ml.c5.large", "instance_count": 1, "workers_per_instance": 1}


def _mm1(seed: int, multiple: float = 1.0):
    """One 10 ms exponential worker, Poisson 20 req/s x `multiple`, p99 <= 100 ms, 30 minutes."""
    return workload(rate=20.0 * multiple, p99_ms=100.0, horizon="30m", seed=seed, models=[{
        "name": "m", "memory_mb": 100, "service_time": {"dist": "exponential", "mean_ms": 10}}],
        options={"realtime": MM1})


def _mm1_headroom(seed: int, tol: float = 0.1) -> float | None:
    return headroom(_mm1(seed), "realtime", MM1, tol=tol)


@pytest.mark.statistical
def test_headroom_of_mm1_matches_closed_form_within_bisection_tolerance():
    """See the module docstring for the band; the multiple returned itself meets the SLO when simulated."""
    m_star = (100.0 - math.log(100.0) / 0.1) / 20.0
    h = _mm1_headroom(seed=2)
    assert m_star / 1.1 * (1 - 4 * HEADROOM_REL_SD) < h <= m_star * (1 + 4 * HEADROOM_REL_SD)
    at = _mm1(2).model_copy(update={"traffic": _mm1(2).traffic.model_copy(update={"rate_multiplier": h})})
    assert not constraint_reasons(at, simulate(at, "realtime").summary)


def test_headroom_is_none_when_the_config_fails_today():
    """One 100 ms worker offered 50 req/s is overloaded at m = 1."""
    wl = workload(rate=50.0)
    assert headroom(wl, "realtime", {"instance_type": "ml.c5.large", "instance_count": 1,
                                     "workers_per_instance": 1}) is None


def test_trial_and_sizing_to_dict_are_flat_rows():
    """Nested knobs become dotted keys, as the report's table expects."""
    wl = workload(rate=20.0, options={"realtime": {"instance_type": "ml.c5.large", "autoscaling": {
        "min": 2, "max": 3, "target_invocations_per_instance": 300}}})
    d = right_size(wl, build(wl), "realtime").to_dict()
    assert d["pinned"] and d["chosen"]["autoscaling.max"] == 3
    assert {"autoscaling.max", "feasible", "monthly_usd", "p99_ms", "reasons"} <= set(d["tried"][0])


if __name__ == "__main__":
    import numpy as np

    runs = np.array([_mm1_headroom(s, tol=0.004) for s in range(10)])
    print(f"SLO boundary over seeds 0..9: mean {runs.mean():.3f}, rel sd {runs.std(ddof=1) / runs.mean():.4f}")
