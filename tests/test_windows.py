"""Long scenarios: right-sizing and replications on the busiest day, light runs, work on every core.

The thresholds are lowered so that a two-day scenario of a few thousand requests takes the long-scenario
path in seconds; the flagship week takes it for real (`python -m benchmarks.flagship`).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import fitness
from fitness.engine import digest, parallel, windows
from fitness.engine.recommend import recommend
from fitness.engine.run import run_option
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload

TWO_DAYS = {
    "name": "two-days", "horizon": "2d", "seed": 3, "replications": 2, "sensitivity": False,
    "models": [{"name": "m", "size_mb": 100, "memory_mb": 500, "container_start_s": 2, "load_s": 1,
                "service_time": {"dist": "lognormal", "p50_ms": 20, "p99_ms": 80}}],
    "traffic": {"pattern": "diurnal", "trough_rps": 0.05, "peak_rps": 0.4},
    "slo": {"p99_ms": 400, "max_error_rate": 0.01},
}


@pytest.fixture
def long_path(monkeypatch):
    """Every scenario over 1,000 requests counts as long."""
    monkeypatch.setattr(windows, "WINDOW_MIN_REQUESTS", 1_000)


def _numbers(rec) -> str:
    return json.dumps({"options": rec.options, "sizing": rec.sizing, "window": rec.window}, sort_keys=True,
                      default=str)


def test_busiest_day_is_cut_with_its_lead(long_path):
    sc = build(parse_workload(TWO_DAYS))
    w = windows.window_of(sc)
    assert w is not None and w.scenario.horizon_s == windows.DAY_S + w.lead_s
    inside = sc.arrivals_s[(sc.arrivals_s >= w.start_s - w.lead_s) & (sc.arrivals_s < w.start_s + windows.DAY_S)]
    assert np.allclose(w.scenario.arrivals_s, inside - (w.start_s - w.lead_s))
    counts = [np.sum((sc.arrivals_s >= t) & (sc.arrivals_s < t + windows.DAY_S))
              for t in np.linspace(0, sc.horizon_s - windows.DAY_S, 50)]
    assert w.scenario.n - np.sum(w.scenario.arrivals_s < w.lead_s) >= max(counts)  # no day is busier
    # a replication keeps only its day: no array of the cut may keep the whole horizon's alive
    for f in ("arrivals_s", "model_idx", "service_s"):
        assert not np.shares_memory(getattr(w.scenario, f), getattr(sc, f)), f


def test_short_scenarios_are_simulated_whole():
    assert windows.window_of(build(parse_workload(TWO_DAYS))) is None  # 2 days but far fewer than the threshold
    one_day = {**TWO_DAYS, "horizon": "1d"}
    assert windows.window_of(build(parse_workload(one_day))) is None


def test_long_recommendation_sizes_on_the_day_and_reports_the_whole_horizon(long_path):
    rec = recommend(parse_workload(TWO_DAYS))
    assert rec.window is not None and rec.recommended is not None
    best = next(o for o in rec.options if o.option == rec.recommended)
    assert rec.sizing[rec.recommended]["confirmed"] is True
    assert best.requests.offered == rec.scenario_requests  # the reported run is the whole horizon
    assert best.ci.score.n == 2 and best.ci.seeds == (3, 4)
    assert all(run.log is None for run in rec.runs.values())  # light: digests only
    assert fitness.figures(rec)["latency-cdf"].data  # the charts read the digests


def test_same_numbers_on_one_core_and_on_several(long_path, monkeypatch):
    wl = parse_workload(TWO_DAYS)
    monkeypatch.setattr(parallel, "workers_for", lambda n: min(n, 2))  # forked even on a one-core machine
    several = _numbers(recommend(wl))
    monkeypatch.setattr(parallel, "workers_for", lambda n: 1)
    assert _numbers(recommend(wl)) == several


def test_a_light_run_keeps_what_the_functions_read():
    wl = parse_workload({**TWO_DAYS, "horizon": "2h", "traffic": {"pattern": "poisson", "rate_rps": 5}})
    run = run_option(wl, build(wl), "serverless")
    basis = digest.basis_for(wl.slo)
    full = digest.compute(run.result, basis)
    light = digest.light(run.result, basis)
    assert light.log is None and run.result.log is not None
    kept = digest.of(light, basis)
    assert kept.slo_attainment == full.slo_attainment and kept.burst_loss == full.burst_loss
    assert np.array_equal(kept.cdf_ms, full.cdf_ms)
    other = digest.Basis(1.0, basis.delivery, basis.peak_percentile)  # another SLO: the log is gone
    assert digest.of(light, other) is None and digest.of(run.result, other).slo_attainment < full.slo_attainment


def test_fork_map_keeps_the_order_of_the_items(monkeypatch):
    """Earlier items take longer, so the workers finish them last: the results still come in item order."""
    monkeypatch.setattr(parallel, "workers_for", lambda n: min(n, 2))
    seen = []
    out = parallel.fork_map(lambda x: (time.sleep(0.03 * (6 - x)), x * x)[1], list(range(7)),
                            lambda item, k: seen.append(k))
    assert out == [x * x for x in range(7)] and seen == list(range(1, 8))


def test_fork_map_freezes_what_the_workers_inherit(monkeypatch):
    """Before forking, the parent's objects leave the cyclic collector (`gc.freeze`): the workers then share their
    pages instead of copying them, and no later collection walks them. Serial work freezes nothing."""
    import gc  # here: only this test reads the collector

    gc.unfreeze()
    parallel.fork_map(lambda x: x, [1])  # one item: no worker is forked
    assert gc.get_freeze_count() == 0
    monkeypatch.setattr(parallel, "workers_for", lambda n: min(n, 2))
    assert parallel.fork_map(lambda x: x + 1, [1, 2]) == [2, 3]
    assert gc.get_freeze_count() > 0
    gc.unfreeze()


def _stretch_workload(traffic: dict):
    return parse_workload({
        "name": "w", "horizon": "6h", "seed": 4,
        "models": [{"name": "a", "memory_mb": 100, "service_time": {"dist": "exponential", "mean_ms": 20}},
                   {"name": "b", "memory_mb": 100, "service_time": {"dist": "exponential", "mean_ms": 40}}],
        "traffic": traffic, "slo": {"p99_ms": 300, "max_error_rate": 0.001}})


def test_a_stretch_built_alone_is_shaped_like_a_cut_of_the_whole_scenario():
    """`build_window` of Poisson traffic: a scenario of the stretch's length, its arrivals sorted in it, each
    request with a model and its work; bursty traffic, whose state runs from the start, is the whole draw cut."""
    from fitness.workload.scenario import build_window

    wl = _stretch_workload({"pattern": "poisson", "rate_rps": 30})
    part = build_window(wl, 7200.0, 1800.0)
    assert part.horizon_s == 1800.0 and part.n > 0
    assert np.all(np.diff(part.arrivals_s) >= 0) and part.arrivals_s[0] >= 0 and part.arrivals_s[-1] < 1800.0
    assert part.model_idx.size == part.service_s.size == part.n and set(np.unique(part.model_idx)) == {0, 1}
    assert abs(part.n - 30 * 1800) < 4 * np.sqrt(30 * 1800)
    bursty = _stretch_workload({"pattern": "bursty", "rate_rps": 5, "burst_rate_rps": 60, "mean_burst_s": 20,
                                "mean_gap_s": 120})
    cut, whole = build_window(bursty, 7200.0, 1800.0), build(bursty).cut(7200.0, 1800.0)
    assert np.array_equal(cut.arrivals_s, whole.arrivals_s) and np.array_equal(cut.service_s, whole.service_s)
