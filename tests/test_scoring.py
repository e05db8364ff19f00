"""Latency scored against the SLO (issue 15, item 1): a p99 comfortably inside the objective scores full
marks whoever is fastest, and the score falls as the p99 nears and breaks it (rubric `latency`: full marks
up to half the SLO, 0.5 at the SLO)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fitness.engine.functions import Context, evaluate
from fitness.engine.functions.latency import slo_score
from fitness.workload.spec import parse_workload
from sim.summary import Latency

WL = {"name": "s", "horizon": "10m", "models": [{"name": "m", "service_time": {"dist": "exponential",
                                                                              "mean_ms": 20}}],
      "traffic": {"pattern": "poisson", "rate_rps": 5}, "slo": {"p99_ms": 200}}


@pytest.mark.parametrize(("share", "score"), [(0.1, 1.0), (0.5, 1.0), (0.75, 0.75), (1.0, 0.5), (2.0, 0.25)])
def test_the_score_of_a_p99_at_a_share_of_its_slo(share, score):
    """Hand values: 1 up to 0.5 of the SLO; 1 - 0.5 x (0.75 - 0.5) / 0.5 = 0.75; 0.5 at the SLO; 0.5 / 2 beyond."""
    assert slo_score(share, 0.5, 0.5) == pytest.approx(score)


def _summaries(p99s: dict[str, float]):
    """Feasible summaries of a real run, their p99 replaced (the rest of the summary is not scored here)."""
    from fitness.engine.run import simulate

    base = simulate(parse_workload(WL), "realtime").summary
    return [replace(base, option=o, latency_ms=Latency(p / 4, p / 4, p / 2, p, p)) for o, p in p99s.items()]


def test_two_options_well_inside_the_slo_score_alike_and_one_near_it_less():
    """Under a 200 ms SLO, 20 ms and 90 ms are both inside half of it: both score 1, where the old relative
    score gave the slower 20/90 = 0.22. At 180 ms (90% of the SLO) the score is 1 - 0.5 x 0.4 / 0.5 = 0.6; the
    sentence states the basis."""
    wl = parse_workload(WL)
    feasible = _summaries({"realtime": 20.0, "serverless": 90.0, "triton": 180.0})
    (fa, wa), (fb, wb), (fc, _) = evaluate(feasible, Context(wl))
    assert fa["latency"] == fb["latency"] == 1.0
    assert fc["latency"] == pytest.approx(0.6)
    assert "scored against the SLO: its p99 is 45% of the objective that binds, full marks up to 50%" in wb["latency"]


def test_without_a_p99_slo_latency_stays_relative_to_the_fastest():
    wl = parse_workload({k: v for k, v in WL.items() if k != "slo"})
    feasible = _summaries({"realtime": 20.0, "serverless": 80.0})
    (fa, _), (fb, wb) = evaluate(feasible, Context(wl))
    assert fa["latency"] == 1.0 and fb["latency"] == pytest.approx(0.25)
    assert "scored against the fastest, realtime" in wb["latency"]


def _ranked(options: dict, rate: float = 5.0):
    from fitness.engine.ranking import rank
    from fitness.engine.run import run_option
    from fitness.workload.scenario import build

    wl = parse_workload({**WL, "traffic": {"pattern": "poisson", "rate_rps": rate}, "options": options})
    sc = build(wl)
    return wl, rank(wl, sc, [run_option(wl, sc, o) for o in options])


def test_an_exact_cost_tie_is_reported_as_a_close_call_with_what_decides_it():
    """Real-time and a one-container multi-container endpoint on the same 2 x ml.c5.large bill the same to the
    cent: the cost margin is 0, inside the 5% threshold, so the report calls it close and names the function
    the lead rests on (the one with the largest weighted share of the score difference)."""
    from fitness.engine.closeness import close_call

    fleet = {"instance_type": "ml.c5.large", "instance_count": 2}
    wl, rec = _ranked({"realtime": fleet, "multi-container": fleet})
    c = close_call(wl.weights.model_dump(), rec)
    assert c["cost_margin_usd"] == pytest.approx(0.0, abs=1e-9) and c["close"]
    a, b = (rec.option(c["leader"]), rec.option(c["runner_up"]))
    lead = {k: w * (a.fitness[k] - b.fitness[k]) for k, w in wl.weights.model_dump().items()}
    assert c["rests_on"] == max(lead, key=lead.get) and lead[c["rests_on"]] > 0
    assert "a close call" in c["statement"] and f"rests on {c['rests_on']}" in c["statement"]


def test_a_fleet_seven_times_the_price_is_a_clear_lead():
    from fitness.engine.closeness import close_call

    wl, rec = _ranked({"serverless": {}, "realtime": {"instance_type": "ml.c5.large", "instance_count": 2}})
    c = close_call(wl.weights.model_dump(), rec)
    assert (c["leader"], c["runner_up"]) == ("serverless", "realtime") and not c["close"]
    assert c["cost_margin_share"] > 1 and c["rests_on"] == "cost" and "a clear lead" in c["statement"]


def test_paired_differences_under_common_random_numbers_are_tighter_than_the_scores_own_intervals():
    """Every option sees the same arrivals per seed, so seed noise moves both scores together: the paired
    difference's interval is narrower than the two score intervals added (what overlapping-interval ties
    compare), and the JSON keeps the per-seed scores behind it."""
    from fitness.engine.recommend import recommend

    rec = recommend(parse_workload({**WL, "replications": 4, "sensitivity": False}))
    c = rec.close_call
    a, b = rec.option(c["leader"]), rec.option(c["runner_up"])
    p = c["paired"]
    assert p["seeds"] == 4 and len(a.ci.scores) == len(b.ci.scores) == 4
    assert p["mean"] == pytest.approx(a.ci.score.mean - b.ci.score.mean, rel=1e-9)
    assert p["half_width"] < a.ci.score.half_width + b.ci.score.half_width
    assert rec.to_dict()["close_call"]["statement"].endswith(f"ahead in {p['leader_ahead']} of 4.")
