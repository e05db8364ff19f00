"""The bill read three ways: a Savings Plan what-if and operations cost (TCO), worked by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fitness.engine.pricing import pricing
from fitness.engine.recommend import evaluate_once
from fitness.engine.tco import commitment_level, committed_instances_usd, operated, operations_hours
from fitness.report.adr import render_markdown
from fitness.workload.spec import parse_workload
from sim.results import Figures, SimResult, Timeline


def _run(times_h: list[float], counts: list[float], horizon_h: float) -> SimResult:
    cap = Timeline(np.array(times_h) * 3600.0, np.array(counts, float))
    return SimResult("realtime", True, (), horizon_h * 3600.0, None, None, cap, {},
                     figures=Figures(instance_seconds=0.0))


def test_the_commitment_is_the_discount_quantile_of_the_instance_count():
    """1 instance for 12 h then 3 for 12 h, price p per instance-hour (48 instance-hours, 48p on demand):
    - discount 0.25: the 0.25-quantile is 1. Committing 1 costs 0.75 x 1 x 24 p = 18p and leaves 48 - 24 = 24
      instance-hours on demand: 42p. Committing 2 would cost 0.75 x 48p + 12p = 48p, 3: 0.75 x 72p = 54p.
    - discount 0.6: the quantile is 3: 0.4 x 72p = 28.8p (committing 1: 0.4 x 24p + 24p = 33.6p)."""
    run = _run([0, 12], [1, 3], 24)  # at 0.5 USD per instance-hour
    d = np.array([12.0, 12.0])
    assert commitment_level(np.array([1.0, 3.0]), d, 0.25) == 1
    assert commitment_level(np.array([1.0, 3.0]), d, 0.6) == 3
    seconds = 48 * 3600.0
    assert committed_instances_usd(run, 48 * 0.5, seconds, 0.25) == pytest.approx(42 * 0.5)
    assert committed_instances_usd(run, 48 * 0.5, seconds, 0.6) == pytest.approx(28.8 * 0.5)
    assert committed_instances_usd(run, 48 * 0.5, seconds, 0.0) == pytest.approx(48 * 0.5)


def test_a_fleet_idle_most_of_the_day_commits_nothing():
    """A batch-like stream: 4 instances for 2 h of 24, none otherwise. At a 0.43 discount the 0.43-quantile of
    the count is 0: no commitment, the bill stays on demand (8 instance-hours x p)."""
    run = _run([0, 2], [4, 0], 24)
    assert committed_instances_usd(run, 8 * 0.2, 8 * 3600.0, 0.43) == pytest.approx(8 * 0.2)


def _tenants(**over) -> dict:
    base = {"name": "tco", "environment": "dev", "horizon": "2h", "seed": 3, "replications": 1,
            "sensitivity": False,
            "models": [{"name": "tenant", "count": 12, "memory_mb": 300, "size_mb": 50, "payload_kb": 2,
                        "response_kb": 1, "service_time": {"dist": "constant", "value_ms": 50}}],
            "traffic": {"pattern": "constant", "rate_rps": 0.6, "popularity": {"zipf": 0}},
            "slo": {"p99_ms": 20000},
            "options": {"serverless": {"memory_mb": 1024, "max_concurrency": 5},
                        "multi-model": {"instance_type": "ml.c5.large", "instance_count": 1}}}
    base.update(over)
    return base


def test_operations_hours_grow_with_what_a_team_runs():
    """12 tenants of one model entry (one image): serverless runs 12 endpoints, 2 + 12 x 2 + 1 x 1 = 27 hours a
    month; the multi-model endpoint one endpoint and one image, 2 + 2 + 1 = 5 hours."""
    wl = parse_workload(_tenants())
    rec = evaluate_once(wl, only=("serverless", "multi-model"))
    by = {o.option: o for o in rec.options}
    assert operated(by["serverless"], wl) == {"endpoint": 12, "container": 1, "scaling_policy": 0, "hop": 0,
                                              "scheduler": 0, "provisioned_concurrency": 0}
    assert operations_hours(operated(by["serverless"], wl)) == 27
    assert operations_hours(operated(by["multi-model"], wl)) == 5


def test_operations_cost_changes_the_choice_and_the_report_says_what_the_bill_alone_picks():
    """On the bill, 12 serverless endpoints at 0.6 req/s of 50 ms (2.82 USD a month, cold starts and data
    included) beat one ml.c5.large (74.46 USD a month of instance time, 78.73 with its 30 GB volume and
    data). At 150 USD an engineer-hour, serverless's 27 hours are 4,050 USD and the multi-model endpoint's
    5 hours 750 USD: the total cost of ownership picks the multi-model endpoint, and the report says the AWS
    bill alone would pick serverless."""
    wl = parse_workload(_tenants(pricing={"engineer_usd_per_hour": 150}))
    rec = evaluate_once(wl, only=("serverless", "multi-model"))
    assert rec.recommended == "multi-model"
    views = pricing(wl, rec, wl_catalog(wl))
    assert views["options"]["serverless"]["operations_monthly_usd"] == pytest.approx(27 * 150)
    assert views["options"]["multi-model"]["operations_monthly_usd"] == pytest.approx(5 * 150)
    assert views["options"]["multi-model"]["meters_monthly_usd"]["instances"] == pytest.approx(0.102 * 730)
    (bill_only,) = views["what_if"]
    assert bill_only["recommended"] == "serverless" and bill_only["changes_decision"]
    bare = parse_workload(_tenants())
    assert evaluate_once(bare, only=("serverless", "multi-model")).recommended == "serverless"


def test_a_savings_plan_changes_the_choice_and_the_cost_section_says_so():
    """One model at 6 req/s of 200 ms, ranked on cost alone: serverless at 2 GB bills 6 x 0.2 s x 2 GB x 0.00002
    x 2,628,000 s = 126.14 USD a month of compute; 2 pinned ml.c5.large bill 148.92 USD of instances + 2.24 of
    storage (2 x 8 GB x 0.14). On demand serverless wins. A 3-year plan (0.43 off) commits both instances in
    full: 148.92 x 0.57 = 84.88 USD, so the committed bill (about 87.4 with storage and data) picks realtime;
    serverless is not covered by the plan and stays at 126.14."""
    wl = parse_workload({
        "name": "plan", "horizon": "2h", "seed": 5, "replications": 1, "sensitivity": False,
        "pricing": {"commitment": "3y"},
        "models": [{"name": "m", "memory_mb": 500, "payload_kb": 1, "response_kb": 1,
                    "service_time": {"dist": "constant", "value_ms": 200}}],
        "traffic": {"pattern": "constant", "rate_rps": 6},
        "weights": {"cost": 1, "latency": 0, "throughput": 0, "complexity": 0, "traffic_fit": 0},
        "options": {"serverless": {"memory_mb": 2048, "max_concurrency": 20},
                    "realtime": {"instance_type": "ml.c5.large", "instance_count": 2}}})
    rec = evaluate_once(wl, only=("serverless", "realtime"))
    assert rec.recommended == "serverless"
    views = pricing(wl, rec, wl_catalog(wl))
    rt, sl = views["options"]["realtime"], views["options"]["serverless"]
    assert rt["meters_monthly_usd"]["instances"] == pytest.approx(148.92)
    assert rt["committed_monthly_usd"] - (rt["on_demand_monthly_usd"] - rt["meters_monthly_usd"]["instances"]) \
        == pytest.approx(148.92 * 0.57)
    assert sl["meters_monthly_usd"]["compute"] == pytest.approx(126.14, abs=0.01)
    assert sl["committed_monthly_usd"] == pytest.approx(sl["on_demand_monthly_usd"])  # not covered: on demand
    (what,) = views["what_if"]
    assert what["recommended"] == "realtime" and what["changes_decision"]
    text = render_markdown(replace(rec, pricing=views))
    assert "3y SageMaker Savings Plan" in text
    assert "**Changes the decision:** " + what["statement"] in text
    assert "| committed |" in text


def wl_catalog(wl):
    """The workload's catalog."""
    from sim.catalog import load_catalog
    return load_catalog(wl.catalog)
