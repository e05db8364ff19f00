"""Fewer simulations for the same answer (issue 18): screening that skips only runs whose outcome is known,
work spread on the cores without changing a figure, and runs capped at a size that still resolves them.

Each test holds a shortcut to what it replaces: the screened trial, simulated anyway, gives the same trial;
the work run all at once gives the replications run one seed at a time; a capped headroom still matches
the M/M/1 closed form.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing as mp

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fitness.engine import ahead as ahead_mod
from fitness.engine import headroom as headroom_mod
from fitness.engine import parallel
from fitness.engine import recommend as recommend_mod
from fitness.engine.queueing import QUANTILE_POINTS, Demand
from fitness.engine.run import run_option
from fitness.engine.sized import sized
from fitness.engine.windows import right_size
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload

TWIN = "would run as"


def _mme(models: int, memory_mb: float, rate: float = 100.0):
    """`models` CPU models of `memory_mb` each behind one multi-model endpoint, Poisson traffic, 10 minutes."""
    return parse_workload({
        "name": "mme", "horizon": "10m", "seed": 3,
        "models": [{"name": f"m{i}", "memory_mb": memory_mb, "size_mb": memory_mb / 4,
                    "service_time": {"dist": "exponential", "mean_ms": 50}} for i in range(models)],
        "traffic": {"pattern": "poisson", "rate_rps": rate},
        "slo": {"p99_ms": 400, "max_error_rate": 0.001}})


def _trials(wl):
    return right_size(wl, build(wl), "multi-model").tried


def test_a_multi_model_type_that_differs_only_in_unused_memory_is_screened_and_would_give_the_same_trial():
    """One 600 MB model fits every CPU type's model memory: ml.m5.large (8 GiB) serves it as ml.c5.large
    (4 GiB) does, so it is listed as a twin; simulated anyway, it gives the same p99 and errors."""
    wl = _mme(1, 600.0)
    tried = _trials(wl)
    twins = [t for t in tried if any(TWIN in r for r in t.reasons)]
    assert twins, [t.reasons for t in tried]
    twin = twins[0]
    cheaper = twin.reasons[0].split(TWIN)[1].split()[0]
    sc = build(wl)
    runs = [run_option(wl.model_copy(update={"options": {"multi-model": {**twin.config, "instance_type": it}}}),
                       sc, "multi-model") for it in (twin.config["instance_type"], cheaper)]
    a, b = (r.summary for r in runs)
    assert a.latency_ms.p99 == b.latency_ms.p99 and a.requests == b.requests


def test_multi_model_types_with_more_memory_are_simulated_when_the_models_do_not_all_fit():
    """Forty 500 MB models (20 GB) do not fit in any 2-vCPU type's memory: memory changes evictions, so no
    type is screened as a twin of another for it."""
    tried = _trials(_mme(40, 500.0))
    assert not [t for t in tried if any(TWIN in r for r in t.reasons)]


def test_replications_run_all_at_once_give_the_figures_of_one_seed_after_another(monkeypatch):
    """Every (seed, option) pair spread on the cores at once, or one seed after another: the same intervals."""
    wl = parse_workload({
        "name": "r", "horizon": "10m", "seed": 5, "replications": 3, "sensitivity": False,
        "models": [{"name": "m", "memory_mb": 300, "service_time": {"dist": "lognormal", "p50_ms": 20,
                                                                      "p99_ms": 80}}],
        "traffic": {"pattern": "poisson", "rate_rps": 15},
        "slo": {"p99_ms": 300, "max_error_rate": 0.001}})
    together = recommend_mod.recommend(wl)
    monkeypatch.setattr(ahead_mod, "PREFETCH_REQUESTS", 0)
    apart = recommend_mod.recommend(wl)
    assert together.recommended == apart.recommended
    key = [(o.option, o.ci.score, o.ci.monthly_usd, o.ci.p99_ms) for o in together.options if o.ci is not None]
    assert key == [(o.option, o.ci.score, o.ci.monthly_usd, o.ci.p99_ms) for o in apart.options if o.ci is not None]
    assert len(key) >= 2


def test_the_batches_give_the_recommendation_of_the_stages_run_one_by_one(monkeypatch):
    """Right-sizing with the traffic what-ifs, then replications, headroom, assumptions and the crossover
    bisection as one batch (`fitness.engine.ahead`), or each stage on its own as before: the same
    recommendation, figure for figure.
    The second run has nothing simulated ahead, so every piece takes the path `recommend` falls back to when
    the replications reorder the leaders."""
    wl = parse_workload({
        "name": "b", "horizon": "10m", "seed": 3, "replications": 3,
        "models": [{"name": "m", "memory_mb": 300, "service_time": {"dist": "lognormal", "p50_ms": 20,
                                                                      "p99_ms": 80}}],
        "traffic": {"pattern": "poisson", "rate_rps": 15},
        "slo": {"p99_ms": 300, "max_error_rate": 0.001}})
    seen = []
    monkeypatch.setattr(recommend_mod, "ahead", lambda *a, **k: seen.append(ahead_mod.ahead(*a, **k)) or seen[-1])
    batched = recommend_mod.recommend(wl)
    assert [list(e.crossings) for e in seen] == [[(10.0, "serverless", "realtime")]]  # bisected in the batch
    first, chosen, _ = sized(wl)
    nothing = ahead_mod.Early({}, {}, (), ahead_mod._today(chosen, first))
    monkeypatch.setattr(recommend_mod, "ahead", lambda *a, **k: nothing)
    monkeypatch.setattr(recommend_mod, "sized_with_traffic", lambda wl, progress=None: (sized(wl), {}))
    staged = recommend_mod.recommend(wl)
    assert batched.sensitivity and any(s["kind"] == "assumption" and s["simulated"] for s in batched.sensitivity)
    assert batched.best.headroom is not None
    assert json.dumps(batched.to_dict(), sort_keys=True, default=str) == \
        json.dumps(staged.to_dict(), sort_keys=True, default=str)


@pytest.mark.parametrize("rate, window, horizon", [(40.0, 3600.0, 6 * 3600.0), (640.0, 3600.0, 6 * 3600.0),
                                                   (5000.0, 3600.0, 1800.0), (1.0, 3600.0, 900.0)])
def test_a_headroom_run_holds_at_most_max_requests_and_keeps_its_lead_share(rate, window, horizon):
    lead, win = headroom_mod.span_at(rate, window, horizon)
    assert rate * (lead + win) <= headroom_mod.MAX_REQUESTS * (1 + 1e-9)
    assert lead + win <= horizon + 1e-9
    if rate * min(horizon, window + headroom_mod.EARLY_WINDOW_S) > headroom_mod.MAX_REQUESTS:
        assert lead / (lead + win) == pytest.approx(headroom_mod.EARLY_WINDOW_S / (headroom_mod.EARLY_WINDOW_S
                                                                                     + window))
    elif horizon <= window + headroom_mod.EARLY_WINDOW_S:
        assert (lead, win) == (0.0, horizon)
    else:
        assert (lead, win) == (headroom_mod.EARLY_WINDOW_S, window)


@pytest.mark.statistical
def test_a_capped_headroom_still_matches_the_mm1_closed_form(monkeypatch):
    """M/M/1, 10 ms exponential work, p99 <= 100 ms: the SLO holds up to m* = (100 - ln(100)/0.1) / 20 x 20
    req/s. With runs capped at 30,000 requests (a third of each run's hour and lead), the multiple found stays
    within the bisection tolerance and 4 run-to-run sd of p99 at 30,000 requests (0.03 relative, measured as
    in tests/test_rightsizing.py: seeds 0..9, sd 0.016 at the full hour)."""
    monkeypatch.setattr(headroom_mod, "MAX_REQUESTS", 30_000)
    wl = parse_workload({
        "name": "mm1", "horizon": "3h", "seed": 2, "environment": "dev",
        "models": [{"name": "m", "memory_mb": 100, "service_time": {"dist": "exponential", "mean_ms": 10}}],
        "traffic": {"pattern": "poisson", "rate_rps": 20.0}, "slo": {"p99_ms": 100.0, "max_error_rate": 0.001}})
    config = {"instance_type": "ml.c5.large", "instance_count": 1, "workers_per_instance": 1}
    m_star = (100.0 - math.log(100.0) / 0.1) / 20.0
    h = headroom_mod.headroom(wl, "realtime", config)
    assert m_star / 1.1 * (1 - 4 * 0.03) < h <= m_star * (1 + 4 * 0.03)


def test_no_workers_are_forked_inside_a_worker_or_a_daemonic_process(monkeypatch):
    assert parallel.workers_for(1) == 1
    monkeypatch.setattr(parallel, "_IN_WORKER", True)
    assert parallel.workers_for(8) == 1
    monkeypatch.setattr(parallel, "_IN_WORKER", False)
    monkeypatch.setattr(mp.current_process(), "daemon", True, raising=False)
    assert parallel.workers_for(8) == 1


def _nested(x: int) -> list:
    return parallel.fork_map(lambda y: (y, parallel._IN_WORKER), [x, x + 1])


def test_work_given_to_a_forked_worker_runs_there_serially(monkeypatch):
    monkeypatch.setattr(parallel, "workers_for", lambda n: min(n, 2) if not parallel._IN_WORKER else 1)
    out = parallel.fork_map(_nested, [0, 10])
    assert out == [[(0, True), (1, True)], [(10, True), (11, True)]]


@pytest.mark.parametrize("limit", [1.0, 1.04, 1.9, 2.0, 3.7, 9.5, 15.99, 16.0, 40.0])
def test_the_headroom_search_brackets_any_limit_within_its_tolerance(limit):
    """Two multiples at a time: the multiple returned passed, and a multiple 1 + tol above it would not
    (or it is the maximum); every multiple asked is within [1, max]."""
    asked = []

    def ok_all(ms):
        asked.extend(ms)
        return [m <= limit for m in ms]

    h = headroom_mod.search(ok_all, 16.0, 0.1)
    assert h <= limit and (h == 16.0 or limit < h * 1.1)
    assert all(1.0 <= m <= 16.0 for m in asked) and len(asked) <= 14


def test_the_headroom_search_says_none_when_today_fails():
    assert headroom_mod.search(lambda ms: [False] * len(ms), 16.0, 0.1) is None


def test_the_report_says_how_many_candidates_were_simulated_and_how_many_screened():
    from types import SimpleNamespace

    from fitness.report import adr

    tried = [{"instance_type": "ml.t2.medium", "instance_count": 2, "feasible": False, "monthly_usd": None,
              "p99_ms": None, "reasons": ["burstable (screened, not simulated)"], "screened": True},
             {"instance_type": "ml.c5.large", "instance_count": 2, "feasible": True, "monthly_usd": 180.0,
              "p99_ms": 40.0, "reasons": [], "screened": False}]
    rec = SimpleNamespace(sizing={"realtime": {"pinned": False, "tried": tried,
                                               "chosen": {"instance_type": "ml.c5.large", "instance_count": 2}}},
                          runs={})
    text = " ".join(getattr(b, "text", "") for b in adr._sizing(rec))
    assert "1 candidate simulated, 1 screened without a run" in text
    table = next(b for b in adr._sizing(rec) if hasattr(b, "rows"))
    assert "screened" not in table.headers


def test_each_piece_run_ahead_is_the_piece_run_on_its_own():
    """Every piece of the second batch is what its stage simulates: the leader's headroom, each seed's run of
    each feasible option, and each assumption run with its own catalog (which changes some run)."""
    wl = parse_workload({
        "name": "p", "horizon": "10m", "seed": 4, "replications": 2,
        "models": [{"name": "m", "memory_mb": 300, "size_mb": 2000, "service_time": {"dist": "lognormal",
                                                                                      "p50_ms": 20, "p99_ms": 80}}],
        "traffic": {"pattern": "poisson", "rate_rps": 2},
        "slo": {"p99_ms": 3000, "max_error_rate": 0.001}})
    rec, chosen, _ = sized(wl)
    seeds = ahead_mod.Seeds(chosen, rec)
    early = ahead_mod.ahead(chosen, rec, seeds)
    assert early.headroom == {rec.best.option: ahead_mod.headroom_of(chosen, rec, rec.best.option)}
    feasible = [o.option for o in rec.options if o.feasible]
    assert [s for s, _ in early.seeds[wl.seed + 1]] == [seeds.run(wl.seed + 1, o)[0] for o in feasible]
    today, sc = early.today
    base = {o: ahead_mod.light_run(today, sc, o).summary for o in feasible}
    changed = 0
    for catalog, oid, run in early.assumptions:
        alone = ahead_mod.light_run(today, dataclasses.replace(sc, catalog=catalog), oid).summary
        assert run.summary == alone
        changed += alone != base[oid]
    assert early.assumptions and changed


def _tenants(budget_usd: float | None):
    """Three small CPU models, each on its own real-time endpoint in production (2 instances at least), a
    Poisson stream over 10 minutes, and a monthly budget below what 2 instances per endpoint cost."""
    return parse_workload({
        "name": "tenants", "horizon": "1h", "seed": 5,
        "models": [{"name": f"t{i}", "memory_mb": 500, "size_mb": 100,
                    "service_time": {"dist": "exponential", "mean_ms": 40}} for i in range(3)],
        "traffic": {"pattern": "poisson", "rate_rps": 6},
        "slo": {"p99_ms": 500, "max_error_rate": 0.001},
        "budget": {"monthly_usd": budget_usd}})


def test_autoscaling_and_defaults_whose_instances_alone_break_the_budget_are_screened_and_would_break_it():
    """After the cheapest pinned count met the SLO over budget, autoscaling between 2 and 2 is that count,
    and any policy (or the option's defaults) with a minimum of 2 pays at least 2 x every endpoint's price x
    730 h: listed as screened; simulated anyway, each costs what the pinned count did or at least that bound,
    over the budget, and the outcome is the one the full search gives."""
    wl = _tenants(50.0)
    sc = build(wl)
    sizing = right_size(wl, sc, "realtime")
    simulated = [t for t in sizing.tried if not t.screened]
    screened = [t for t in sizing.tried if t.screened]
    assert [t.config.get("instance_count") for t in simulated] == [2], [t.config for t in sizing.tried]
    assert any("runs the 2 pinned instances" in t.reasons[0] for t in screened)
    bounds = [t for t in screened if "instance time alone" in t.reasons[0]]
    assert any("defaults" in t.reasons[0] for t in bounds) and len(bounds) >= 2
    pinned = simulated[0]
    for t in screened:
        run = run_option(wl.model_copy(update={"options": {"realtime": t.config}}), sc, "realtime")
        bound = float(t.reasons[0].split(" cost ")[1].split(" USD")[0].replace(",", "")) if t in bounds else None
        assert run.summary.cost_usd.monthly > wl.budget.monthly_usd
        if bound is None:  # min = max = the pinned count: the same run
            assert run.summary.cost_usd.monthly == pinned.monthly_usd
            assert run.summary.latency_ms.p99 == pinned.p99_ms
        else:
            assert run.summary.cost_usd.monthly >= bound
    assert sizing.chosen is None and sizing.run.summary.cost_usd.monthly == pinned.monthly_usd


def test_without_a_budget_nothing_is_screened_for_it():
    """The budget bound needs a budget: without one, the same workload simulates its autoscaling."""
    tried = right_size(_tenants(None), build(_tenants(None)), "realtime").tried
    assert not any("instance time alone" in r for t in tried for r in t.reasons)


def test_a_fleet_the_user_starts_below_its_minimum_is_bounded_from_where_it_starts():
    """With `initial_count: 1` an autoscaled fleet of minimum 2 starts on one instance: autoscaling between 2
    and 2 is no longer the pinned pair, and the budget bound counts one instance (which still breaks it here)."""
    wl = _tenants(50.0)
    wl = wl.model_copy(update={"options": {"realtime": {"initial_count": 1}}})
    tried = right_size(wl, build(wl), "realtime").tried
    assert not any("pinned instances already simulated" in r for t in tried for r in t.reasons)
    bounds = [t.reasons[0] for t in tried if t.screened and "instance time alone" in t.reasons[0]]
    assert bounds and all(b.startswith(("at least 1 instance per endpoint costs",
                                        "the option's defaults: at least 1 instance")) for b in bounds), bounds


@settings(max_examples=50, deadline=None)
@given(work=st.lists(st.floats(0.0, 1e3, allow_nan=False), min_size=1, max_size=3000))
@example(work=[1.5595079383237354e-221])  # a mean whose square underflows to 0 once divided by it
def test_the_demands_service_quantiles_are_numpys_of_the_unsorted_work(work):
    """`Demand.of` takes its 500 service-time quantiles on a sorted copy (faster than numpy's selection of 500
    ranks): exactly the values of `np.quantile` on the work as given, and the work left as it was; any work,
    however small, gives a finite variability."""
    arr = np.array(work)
    before = arr.copy()
    d = Demand.of(np.linspace(0.0, 10.0, arr.size), arr, 10.0, 1.0)
    probs = (np.arange(QUANTILE_POINTS) + 0.5) / QUANTILE_POINTS
    assert np.array_equal(d.service_q, np.quantile(before, probs)) and np.array_equal(arr, before)
    assert np.isfinite(d.variability)
