"""Cost arithmetic to the cent, worked by hand from the catalog (DESIGN §4)."""

from __future__ import annotations

import numpy as np
import pytest

from fitness.engine.run import simulate
from fitness.workload.spec import parse_workload
from sim.cost import billed_seconds, monthly_usd


def _workload(**over) -> dict:
    base = {"name": "cost", "horizon": "6h", "seed": 1,
            "models": [{"name": "m", "memory_mb": 500, "payload_kb": 2, "response_kb": 1,
                        "service_time": {"dist": "constant", "value_ms": 1000}}],
            "traffic": {"pattern": "constant", "rate_rps": 0.5}}
    base.update(over)
    return base


def test_pinned_realtime_cost_to_the_cent():
    """2 x ml.c5.xlarge (0.204 USD/h) for 6 h = 2.448 USD of instances; their ML storage, 8 GB each (the
    catalog's default volume) at 0.14 USD/GB-month: 2 x 21,600 s x 8 x 0.14 / 2,628,000 s = 0.018411 USD; and the
    data processed in and out: 10,800 requests x (2 + 1) KB / 1024^2 x 0.016 USD/GB = 0.000494 USD. Total
    2.466905 USD; a 730 h month (x 730 / 6) = 297.84 + 2.24 + 0.06 = 300.14 USD."""
    wl = parse_workload(_workload(options={"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 2}}))
    cost = simulate(wl, "realtime").summary.cost_usd
    assert cost.breakdown["instances"] == pytest.approx(2 * 0.204 * 6, abs=1e-9)
    assert cost.breakdown["storage"] == pytest.approx(2 * 21600 * 8 * 0.14 / 2628000, abs=1e-12)
    assert cost.breakdown["data"] == pytest.approx(10800 * 3 / 1024**2 * 0.016, abs=1e-12)
    assert list(cost.breakdown) == ["instances", "storage", "data"]
    assert round(cost.total, 2) == 2.47
    assert round(cost.monthly, 2) == 300.14
    assert cost.per_million == pytest.approx(cost.total * 1e6 / (0.5 * 6 * 3600))
    # 10,800 requests x 1 s of work on 2 instances x 4 workers x 21,600 s
    assert simulate(wl, "realtime").summary.utilization == pytest.approx(10800 / (8 * 21600))


def test_serverless_cost_to_the_cent():
    """0.5 req/s of 1 s at 2048 MB for 24 h: 43,200 s x 2 GB x 0.00002 = 1.728 USD compute,
    43,200 x 3 KB / 1024^2 x 0.016 = 0.00198 USD data; with one provisioned container,
    86,400 s x 2 GB x 0.0000041667 = 0.72001 USD more, and every request (one every 2 s, 1 s each) finds the
    provisioned container idle, so its 43,200 s are billed at the provisioned inference rate (0.00002 here):
    on-demand compute 0, provisioned compute 1.728 USD."""
    wl = parse_workload(_workload(horizon="24h", options={"serverless": {"memory_mb": 2048}}))
    cost = simulate(wl, "serverless").summary.cost_usd
    assert cost.breakdown["compute"] == pytest.approx(1.728, abs=1e-9)
    assert cost.breakdown["data"] == pytest.approx(43200 * 3 / 1024**2 * 0.016, abs=1e-12)
    assert round(cost.total, 2) == 1.73
    wl = parse_workload(_workload(horizon="24h", options={"serverless": {"memory_mb": 2048,
                                                                        "provisioned_concurrency": 1}}))
    cost = simulate(wl, "serverless").summary.cost_usd
    assert cost.breakdown["provisioned_concurrency"] == pytest.approx(86400 * 2 * 0.0000041667, abs=1e-9)
    assert cost.breakdown["compute"] == 0.0
    assert cost.breakdown["provisioned_compute"] == pytest.approx(43200 * 2 * 0.00002, abs=1e-9)
    assert round(cost.total, 2) == round(1.728 + 0.00198 + 0.72001, 2) == 2.45


@pytest.mark.parametrize("option, cfg", [
    ("multi-model", {"instance_type": "ml.c5.xlarge", "instance_count": 2}),
    ("multi-container", {"instance_type": "ml.c5.xlarge", "instance_count": 2}),
    ("async", {"instance_type": "ml.c5.xlarge", "instance_count": 2}),
])
def test_every_endpoint_on_instances_bills_the_data_it_processes(option, cfg):
    """The same 10,800 requests of 3 KB in and out: 0.000494 USD of data on every endpoint on instances, as on
    serverless (`realtime.data_price_per_gb`, 0.016 USD/GB)."""
    slo = {"delivery": "async"} if option == "async" else {}
    wl = parse_workload(_workload(options={option: cfg}, slo=slo))
    cost = simulate(wl, option).summary.cost_usd
    assert cost.breakdown["data"] == pytest.approx(10800 * 3 / 1024**2 * 0.016, abs=1e-12)
    assert cost.breakdown["instances"] == pytest.approx(2 * 0.204 * 6, abs=1e-9)
    # the ML storage volume: the multi-model disk cache (multi_model.disk_gb, 30 GB), else the default 8 GB
    gb = 30 if option == "multi-model" else 8
    assert cost.breakdown["storage"] == pytest.approx(2 * 21600 * gb * 0.14 / 2628000, abs=1e-12)


def test_async_bills_s3_for_payloads_and_results():
    """Async: each of the 10,800 payloads (2 KB) is PUT by the caller and read by the endpoint, each result
    (1 KB) PUT by the endpoint and read by the caller: 21,600 PUTs x 0.005 / 1000 = 0.108 USD and 21,600 GETs
    x 0.0004 / 1000 = 0.00864 USD; 32,400 KB kept 30 days (object_store.retention_days) at 0.023 USD/GB-month:
    32,400 / 1024^2 x 0.023 x 30 x 86,400 / 2,628,000 = 0.000701 USD."""
    wl = parse_workload(_workload(options={"async": {"instance_type": "ml.c5.xlarge", "instance_count": 2}},
                                  slo={"delivery": "async"}))
    cost = simulate(wl, "async").summary.cost_usd
    assert cost.breakdown["s3_requests"] == pytest.approx(0.108 + 0.00864, abs=1e-12)
    assert cost.breakdown["s3_storage"] == pytest.approx(32400 / 1024**2 * 0.023 * 30 * 86400 / 2628000, abs=1e-12)
    assert round(cost.breakdown["s3_storage"], 6) == 0.000701


def test_batch_bills_s3_for_records_in_and_out_but_no_volume():
    """Batch: jobs every 6 h over 24 h = 4 jobs (batch transform attaches no billed ML storage volume); each job
    one input object PUT and GOT, one output object PUT and GOT: 8 PUTs x 0.005 / 1000 + 8 GETs x 0.0004 / 1000
    = 0.0000432 USD; 43,200 records x (2 + 1) KB kept 30 days: 129,600 / 1024^2 x 0.023 x 30 x 86,400 /
    2,628,000 = 0.002804 USD."""
    wl = parse_workload(_workload(horizon="24h", slo={"delivery": "offline"},
                                  options={"batch": {"schedule": "6h", "instance_type": "ml.c5.xlarge"}}))
    s = simulate(wl, "batch").summary
    cost = s.cost_usd
    assert len(s.jobs) == 4 and "storage" not in cost.breakdown
    assert cost.breakdown["s3_requests"] == pytest.approx(8 * 0.005 / 1000 + 8 * 0.0004 / 1000, abs=1e-15)
    assert round(cost.breakdown["s3_storage"], 6) == 0.002804


def test_billing_rounds_each_duration_up_to_the_granularity():
    """1 ms granularity: 1.0004 s bills 1.001 s; an exact 0.25 s stays 0.25 s."""
    assert billed_seconds(np.array([1.0004, 0.25]), 1.0) == pytest.approx(1.251)


def test_monthly_projection_is_730_hours():
    assert monthly_usd(1.0, 3600.0) == pytest.approx(730.0)
