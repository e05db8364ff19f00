"""How long a sensitivity run is (issue 15): cut where the requests are, and never cut for a deadline.

A run at a traffic multiple holds at most `MAX_REQUESTS` requests. The cut used to be a share of the hours:
for a trace whose day lands in half an hour (`examples/nightly-landing.yaml`), x10 kept 1.2 h and 2.4 M
requests, eight times the cap, and cut the records' deadline window off the day.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fitness.engine import headroom, sensitivity
from fitness.engine.recommend import recommend
from fitness.engine.run import run_option
from fitness.engine.sensitivity import MAX_REQUESTS, at_traffic
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload
from sim.options import load_all

MODEL = {"name": "m", "size_mb": 40, "memory_mb": 500, "container_start_s": 5, "load_s": 2,
         "payload_kb": 1, "response_kb": 0.1, "service_time": {"dist": "lognormal", "p50_ms": 20, "p99_ms": 60}}


def _landing_trace(tmp_path, per_minute: int = 20_000):
    """A day of per-minute counts: nothing until 01:00, `per_minute` a minute until 01:30, nothing after."""
    counts = np.zeros(1440, dtype=int)
    counts[60:90] = per_minute
    lines = ["minute_start_s,count"] + [f"{60 * i},{c}" for i, c in enumerate(counts)]
    (tmp_path / "landing.csv").write_text("\n".join(lines) + "\n")
    return "landing.csv"


def _workload(tmp_path, slo: dict):
    return parse_workload({"name": "landing", "seed": 3, "models": [MODEL],
                           "traffic": {"pattern": "trace", "trace": _landing_trace(tmp_path)}, "slo": slo},
                          source=str(tmp_path / "landing.yaml"))


def test_a_front_loaded_trace_is_cut_where_its_requests_are(tmp_path):
    """600,000 records in half an hour of a day: at x10 the run keeps about MAX_REQUESTS requests (the old
    share-of-the-hours cut kept 1.2 h, 2.4 M), and they start where the trace's requests start."""
    wl = _workload(tmp_path, {"p99_ms": 500})
    today = build(wl)
    at = at_traffic(wl, 10.0, today.n, today.horizon_s)
    scaled = build(at)
    assert 0.97 * MAX_REQUESTS <= scaled.n <= 1.03 * MAX_REQUESTS
    assert 3600.0 < at.horizon < 3600.0 + 3 * 60.0
    assert scaled.arrivals_s.min() >= 3600.0


def test_a_stationary_pattern_is_cut_to_the_same_share_of_its_hours():
    """Poisson at 200 req/s for an hour, x10: 7.2 M requests expected, cut to 300,000 (1/24 of the hour)."""
    wl = parse_workload({"name": "flat", "seed": 1, "horizon": "1h", "models": [MODEL],
                         "traffic": {"pattern": "poisson", "rate_rps": 200}, "slo": {"p99_ms": 500}})
    at = at_traffic(wl, 10.0, 720_000, 3600.0)
    assert at.horizon == pytest.approx(3600.0 * MAX_REQUESTS / 7_200_000)
    assert at_traffic(wl, 0.1, 720_000, 3600.0).horizon == 3600.0


def test_results_judged_by_a_deadline_are_never_cut(tmp_path):
    """Offline: the whole day up to MAX_OFFLINE_REQUESTS (x2 = 1.2 M), and beyond it no run at all (x10)."""
    wl = _workload(tmp_path, {"delivery": "offline", "deadline_h": 6})
    day = 86_400.0
    assert at_traffic(wl, 2.0, 600_000, day).horizon == day
    assert at_traffic(wl, 10.0, 600_000, day) is None


def test_a_multiple_that_cannot_be_simulated_says_so_and_gives_the_headroom(monkeypatch):
    """A small offline workload with the offline cap lowered below its x10 run: x0.5 and x2 are re-sized over
    the whole horizon; x10 is reported as not simulated, with its size, the cap and today's headroom, whose
    search stops at the same cap."""
    monkeypatch.setattr(sensitivity, "MAX_OFFLINE_REQUESTS", 20_000)
    monkeypatch.setattr(headroom, "MAX_OFFLINE_REQUESTS", 20_000)
    rec = recommend(parse_workload({
        "name": "small-offline", "seed": 2, "replications": 1, "horizon": "1h", "models": [MODEL],
        "traffic": {"pattern": "poisson", "rate_rps": 2}, "slo": {"delivery": "offline", "deadline_h": 1}}))
    traffic = {s["multiple"]: s for s in rec.sensitivity if s["kind"] == "traffic"}
    for m in (0.5, 2.0):
        assert traffic[m]["simulated"] and traffic[m]["horizon_s"] == rec.horizon_s
    x10 = traffic[10.0]
    assert not x10["simulated"] and x10["recommended"] is None and not x10["changes_decision"]
    assert "not simulated" in x10["statement"] and "20,000" in x10["statement"]
    assert f"{rec.scenario_requests * 10:,}" in x10["statement"]
    h = rec.best.headroom  # its runs are not cut either: the search stops where a run would hold 20,000
    assert h.tested_to == pytest.approx(20_000 / rec.scenario_requests)
    assert h.multiple is not None and f"meets the SLO {h.phrase()} (headroom)" in x10["statement"]


# ---- facts an option never reads ---------------------------------------------------------------------------

STEP = parse_workload({
    "name": "step", "horizon": "2h", "seed": 5,
    "models": [{"name": "m", "size_mb": 200, "memory_mb": 500, "container_start_s": 4, "load_s": 2,
                "service_time": {"dist": "exponential", "mean_ms": 80}}],
    "traffic": {"pattern": "diurnal", "trough_rps": 1, "peak_rps": 30, "peak_at_s": "1h", "period_s": "2h"},
    "slo": {"p99_ms": 1500, "delivery": "offline", "deadline_h": 6}})
"""Traffic from 1 to 30 req/s and back in two hours: fleets scale out and in (launches), serverless creates
containers (cold starts) that expire; offline, so every option can deliver."""


def _fingerprint(run) -> tuple:
    r = run.result
    if not r.feasible:
        return ("infeasible", tuple(r.reasons))
    log = r.log
    return (log.start_s.tobytes(), log.finish_s.tobytes(), log.status.tobytes(), tuple(sorted(r.cost_usd.items())))


@pytest.mark.parametrize("option", sorted(load_all()))
def test_an_option_never_reads_the_facts_it_says_it_ignores(option):
    """Halved and doubled, a fact in `OptionDef.ignores` leaves the option's run request for request and its
    bill as they were; the same what-if on a fact it reads changes realtime's and serverless's runs here,
    so the workload exercises them."""
    sc = build(STEP)
    base = _fingerprint(run_option(STEP, sc, option))
    for fact in load_all()[option].ignores:
        section, name = fact.split(".")
        for factor in sensitivity.ASSUMPTION_FACTORS:
            changed = dataclasses.replace(sc, catalog=sensitivity.with_fact(sc.catalog, section, name, factor))
            assert _fingerprint(run_option(STEP, changed, option)) == base, (fact, factor)
    if option in ("realtime", "serverless"):
        read = "realtime.instance_launch_s" if option == "realtime" else "serverless.keep_alive_s"
        assert read not in load_all()[option].ignores
        changed = dataclasses.replace(sc, catalog=sensitivity.with_fact(sc.catalog, *read.split("."), 2.0))
        assert _fingerprint(run_option(STEP, changed, option)) != base


def test_assumptions_neither_leader_reads_are_stated_not_simulated():
    """With realtime and multi-container in the lead, the serverless keep-alive is not simulated and its two
    statements say why; the facts either reads are re-ranked, once per factor."""
    small = STEP.model_copy(update={"horizon": 600.0, "replications": 1})
    rec = recommend(small)
    lead = {o.option: o for o in rec.ranked}
    fake = dataclasses.replace(rec, options=(dataclasses.replace(lead["realtime"], rank=1),
                                             dataclasses.replace(lead["multi-container"], rank=2)),
                               recommended="realtime")
    calls = []

    def evaluate_with(catalog):
        calls.append(catalog)
        return fake

    out = sensitivity.assumption_sensitivity(fake, build(small).catalog, evaluate_with)
    skipped = [s for s in out if not s["simulated"]]
    assert [s["change"] for s in skipped] == ["serverless.keep_alive_s x0.5", "serverless.keep_alive_s x2"]
    assert len(calls) == 4 and len(out) == 6
    for s in skipped:
        assert s["statement"].endswith("neither reads it (not simulated).") and not s["changes_decision"]
