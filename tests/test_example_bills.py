"""The monthly bill of every bundled example, at the configuration `fitness recommend` chose for it, held to
the hand arithmetic in each test's docstring, to the cent.

Each test pins the recommended option's configuration (`recommend --format json`, `sizing.<option>.chosen`),
simulates the example's whole horizon under its own seed (the run the report quotes), checks every meter of
`cost_usd.breakdown` against the quantities the run reports (instance-seconds, billed seconds, requests and
their kilobytes) at the catalog's prices written out here, and the monthly total to the cent. No meter may be
missing or extra. The seeded quantities are pinned too, so a change in the simulation shows as one.

Prices (catalogs/aws/us-east-1.yaml): ml.c5.large 0.102, ml.c5.xlarge 0.204, ml.c6i.large 0.102,
ml.m5.xlarge 0.23, ml.m5.2xlarge 0.46 USD/h; ML storage 0.14 USD per GB-month on each instance's volume
(8 GB unless the type carries instance storage; multi-model endpoints 30 GB of disk); data processed in and
out 0.016 USD/GB; serverless 0.00002 USD per GB-second; S3 0.023 USD per GB-month, each object kept 30 days,
0.005 USD per 1,000 PUT and 0.0004 USD per 1,000 GET. A month is 730 h: monthly = total x 2,628,000 /
horizon_s. GB = KB / 1024^2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fitness.engine.run import OptionRun, simulate
from fitness.workload.spec import load_workload

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MONTH_S = 730 * 3600
DATA, ML_STORAGE, SERVERLESS = 0.016, 0.14, 0.00002
S3_GB_MONTH, PUT, GET, KEPT_DAYS = 0.023, 0.005 / 1000, 0.0004 / 1000, 30


def pinned(name: str, option: str, config: dict) -> OptionRun:
    """The example simulated over its whole horizon with `option` pinned to `config` (over its own knobs)."""
    wl = load_workload(EXAMPLES / f"{name}.yaml")
    knobs = {**wl.options, option: {**wl.options.get(option, {}), **config}}
    return simulate(wl.model_copy(update={"options": knobs}), option)


def gb(kb: float) -> float:
    """Kilobytes in GB (1024^2 KB)."""
    return kb / 1024**2


def instances(seconds: float, price_per_hour: float, volume_gb: float = 8.0) -> dict[str, float]:
    """Instance time and the ML storage volume it carries, USD."""
    return {"instances": seconds * price_per_hour / 3600, "storage": seconds * volume_gb * ML_STORAGE / MONTH_S}


def s3(kb_kept: float, puts: int, gets: int) -> dict[str, float]:
    """S3 storage of `kb_kept` for 30 days and its requests, USD."""
    return {"s3_storage": gb(kb_kept) * S3_GB_MONTH * KEPT_DAYS * 86400 / MONTH_S,
            "s3_requests": puts * PUT + gets * GET}


def assert_bill(run: OptionRun, meters: dict[str, float], monthly_usd: float) -> None:
    """Every meter as computed by hand (rel 1e-9), no other meter, and the month to the cent."""
    bill = run.summary.cost_usd
    assert set(bill.breakdown) == set(meters)
    for name, usd in meters.items():
        assert bill.breakdown[name] == pytest.approx(usd, rel=1e-9), name
    assert bill.total == pytest.approx(sum(meters.values()), rel=1e-12)
    month = sum(meters.values()) * MONTH_S / run.result.horizon_s
    assert bill.monthly == pytest.approx(month, rel=1e-12)
    assert round(bill.monthly, 2) == monthly_usd


def assert_serverless(run: OptionRun, served: int, billed_s: float, memory_gb: int, kb_per_request: float,
                      monthly_usd: float) -> None:
    """A serverless bill: the seeded requests and billed seconds, compute at memory_gb x 0.00002 per second,
    data at kb_per_request a request, and the month to the cent."""
    req, billed = run.summary.requests, run.result.figures.details["billed_seconds"]
    assert req.served == served and billed == pytest.approx(billed_s, abs=1e-6)
    assert_bill(run, {"compute": billed * memory_gb * SERVERLESS, "data": gb(req.served * kb_per_request) * DATA},
                monthly_usd)


def test_churn_scoring_batch_once_a_day():
    """churn-scoring, batch on 2 x ml.m5.xlarge, one job a day: 1,001,869 records.
    - instances: 13,805.42 instance-seconds (325.4 s start-up each, then the job) x 0.23 / 3600 = 0.8820 USD
      (batch transform carries no ML storage meter);
    - S3: 1,001,869 records in at 1 KB and out at 0.1 KB = 1.0510 GB x 0.023 x 30 x 86,400 / 2,628,000
      = 0.0238 USD; one object in and one out, written and read: 2 x 0.005 / 1000 + 2 x 0.0004 / 1000
      = 0.0000108 USD.
    The day 0.9059 USD, the month 0.9059 x 730 / 24 = 27.55 USD."""
    run = pinned("churn-scoring", "batch", {"schedule": "24h", "instance_type": "ml.m5.xlarge", "instance_count": 2,
                                            "max_concurrent_transforms": 4, "batch_strategy": "MultiRecord"})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.offered == req.served == 1_001_869 and secs == pytest.approx(13_805.42, abs=0.01)
    assert_bill(run, {"instances": secs * 0.23 / 3600, **s3(req.offered * 1.0 + req.served * 0.1, 2, 2)}, 27.55)


def test_design_reference_serverless():
    """design-reference, serverless at 2048 MB: 864,192 requests in 6 h.
    - compute: 15,725.892 billed seconds (each request rounded up to the millisecond) x 2 GB x 0.00002
      = 0.6290 USD;
    - data: 864,192 x (2 + 1) KB = 2.4725 GB x 0.016 = 0.0396 USD.
    The 6 h 0.6686 USD, the month 0.6686 x 730 / 6 = 81.35 USD."""
    run = pinned("design-reference", "serverless", {"memory_mb": 2048, "max_concurrency": 50,
                                         "provisioned_concurrency": 0, "keep_alive_s": 600})
    assert_serverless(run, served=864_192, billed_s=15_725.892, memory_gb=2, kb_per_request=3, monthly_usd=81.35)


def test_flagship_week_serverless():
    """flagship-week, serverless at 2048 MB over 7 days: 12,098,087 requests.
    - compute: 264,313.188 billed seconds x 2 GB x 0.00002 = 10.5725 USD;
    - data: 12,098,087 x (4 + 2) KB = 69.2258 GB x 0.016 = 1.1076 USD.
    The week 11.6801 USD, the month 11.6801 x 2,628,000 / 604,800 = 50.75 USD."""
    run = pinned("flagship-week", "serverless", {"memory_mb": 2048, "max_concurrency": 20,
                                         "provisioned_concurrency": 0})
    assert_serverless(run, served=12_098_087, billed_s=264_313.188, memory_gb=2, kb_per_request=6, monthly_usd=50.75)


def test_fraud_detection_serverless():
    """fraud-detection (the README's example), serverless at 1024 MB: 864,192 requests in 6 h.
    - compute: 20,924.352 billed seconds x 1 GB x 0.00002 = 0.4185 USD;
    - data: 864,192 x (2 + 1) KB = 2.4725 GB x 0.016 = 0.0396 USD.
    The 6 h 0.4580 USD, the month 0.4580 x 730 / 6 = 55.73 USD."""
    run = pinned("fraud-detection", "serverless", {"memory_mb": 1024, "max_concurrency": 20,
                                         "provisioned_concurrency": 0})
    assert_serverless(run, served=864_192, billed_s=20_924.352, memory_gb=1, kb_per_request=3, monthly_usd=55.73)


def test_fraud_scoring_400_realtime():
    """fraud-scoring-400, real-time on 4 x ml.c5.large for 1 h: 1,440,248 requests.
    - instances: 4 x 3600 = 14,400 instance-seconds x 0.102 / 3600 = 0.4080 USD;
    - storage: 14,400 s x 8 GB x 0.14 / 2,628,000 = 0.0061 USD;
    - data: 1,440,248 x (2 + 1) KB = 4.1206 GB x 0.016 = 0.0659 USD.
    The hour 0.4801 USD, the month 0.4801 x 730 = 350.45 USD."""
    run = pinned("fraud-scoring-400", "realtime", {"instance_type": "ml.c5.large", "instance_count": 4})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 1_440_248 and secs == 14_400
    assert_bill(run, {**instances(secs, 0.102), "data": gb(req.served * 3) * DATA}, 350.45)


def test_fruit_router_serverless():
    """fruit-router, two serverless endpoints at 1024 MB: 57,521 requests in 6 h.
    - compute: 4,355.104 billed seconds x 1 GB x 0.00002 = 0.0871 USD;
    - data: 57,521 x (150 + 1) KB = 8.2833 GB x 0.016 = 0.1325 USD.
    The 6 h 0.2196 USD, the month 0.2196 x 730 / 6 = 26.72 USD."""
    run = pinned("fruit-router", "serverless", {"memory_mb": 1024, "max_concurrency": 20,
                                         "provisioned_concurrency": 0})
    assert_serverless(run, served=57_521, billed_s=4_355.104, memory_gb=1, kb_per_request=151, monthly_usd=26.72)


def test_image_voting_multi_container():
    """image-voting, a multi-container endpoint on 2 x ml.c5.xlarge for 6 h: 215,553 requests.
    - instances: 2 x 21,600 = 43,200 instance-seconds x 0.204 / 3600 = 2.4480 USD;
    - storage: 43,200 s x 8 GB x 0.14 / 2,628,000 = 0.0184 USD;
    - data: the endpoint takes the 200 KB image in and gives the vote's 1 KB out: 215,553 x 201 KB
      = 41.3190 GB x 0.016 = 0.6611 USD.
    The 6 h 3.1275 USD, the month 3.1275 x 730 / 6 = 380.51 USD."""
    run = pinned("image-voting", "multi-container", {"instance_type": "ml.c5.xlarge", "instance_count": 2})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 215_553 and secs == 43_200
    assert_bill(run, {**instances(secs, 0.204), "data": gb(req.served * 201) * DATA}, 380.51)


def test_llm_code_assistant_multi_container():
    """llm-code-assistant, one container on 6 x ml.c5.large over the trace's 3,435.948 s: 8,819 requests.
    - instances: 6 x 3,435.948 = 20,615.688 instance-seconds x 0.102 / 3600 = 0.5841 USD;
    - storage: 20,615.688 s x 8 GB x 0.14 / 2,628,000 = 0.0088 USD;
    - data: 8,819 x (16 + 4) KB = 0.1682 GB x 0.016 = 0.0027 USD.
    The trace 0.5956 USD, the month 0.5956 x 2,628,000 / 3,435.948 = 455.54 USD."""
    run = pinned("llm-code-assistant", "multi-container", {"instance_type": "ml.c5.large", "instance_count": 6})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 8_819 and secs == pytest.approx(6 * run.result.horizon_s, rel=1e-12)
    assert run.result.horizon_s == pytest.approx(3_435.948, abs=1e-3)
    assert_bill(run, {**instances(secs, 0.102), "data": gb(req.served * 20) * DATA}, 455.54)


def test_medical_imaging_async():
    """medical-imaging, asynchronous on ml.m5.2xlarge scaling 0..4 on the backlog: 590 studies in 24 h.
    - instances: 103,968.68 instance-seconds (launches, work and the scale-in wait) x 0.46 / 3600 = 13.2849 USD;
    - storage: 103,968.68 s x 8 GB x 0.14 / 2,628,000 = 0.0443 USD;
    - data: 590 x (300 MB study + 20 MB mask) = 184.375 GB x 0.016 = 2.9500 USD;
    - S3: the same 184.375 GB kept 30 days, x 0.023 x 30 x 86,400 / 2,628,000 = 4.1825 USD; each request
      puts and gets its payload and its result: 1,180 x 0.005 / 1000 + 1,180 x 0.0004 / 1000 = 0.0064 USD.
    The day 20.4681 USD, the month 20.4681 x 730 / 24 = 622.57 USD."""
    run = pinned("medical-imaging", "async", {"instance_type": "ml.m5.2xlarge", "workers_per_instance": 2,
                                              "autoscaling": {"min": 0, "max": 4, "target_backlog_per_instance": 2},
                                              "timeout_s": 900})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.offered == req.served == 590 and secs == pytest.approx(103_968.68, abs=0.01)
    kb = req.served * (307_200 + 20_480)
    assert_bill(run, {**instances(secs, 0.46), "data": gb(kb) * DATA, **s3(kb, 2 * 590, 2 * 590)}, 622.57)


def test_multi_tenant_saas_multi_model():
    """multi-tenant-saas, a multi-model endpoint on 2 x ml.c5.large for 2 h: 216,469 requests to 1,000 models.
    - instances: 2 x 7,200 = 14,400 instance-seconds x 0.102 / 3600 = 0.4080 USD;
    - storage: the 30 GB model disk of each instance, 14,400 s x 30 GB x 0.14 / 2,628,000 = 0.0230 USD;
    - data: 216,469 x (4 + 1) KB = 1.0322 GB x 0.016 = 0.0165 USD.
    The 2 h 0.4475 USD, the month 0.4475 x 365 = 163.35 USD."""
    run = pinned("multi-tenant-saas", "multi-model", {"instance_type": "ml.c5.large", "instance_count": 2})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 216_469 and secs == 14_400
    assert_bill(run, {**instances(secs, 0.102, volume_gb=30), "data": gb(req.served * 5) * DATA}, 163.35)


SHARED_KB = {"fraud-check": 2 + 1, "recommend": 2 + 4, "embed-query": 1 + 3, "rerank": 8 + 2}
"""shared-endpoint: payload + response of each model, KB."""


def served_kb(run: OptionRun) -> float:
    """KB in and out of the requests each model served (shared-endpoint's models differ)."""
    log, names = run.result.log, list(SHARED_KB)
    return float(sum(((log.model_idx == i) & (log.status == 0)).sum() * SHARED_KB[n] for i, n in enumerate(names)))


def test_shared_endpoint_multi_container_three_instances():
    """shared-endpoint, recommended multi-container on 3 x ml.m5.large (0.115 USD/h) for 1 h: 359,289 requests,
    143,950 fraud checks (3 KB each way in all), 107,914 recommendations (6 KB), 104,550 embeddings (4 KB) and
    2,875 re-ranks (10 KB).
    - instances: 10,800 s x 0.115 / 3600 = 0.3450 USD; storage: 10,800 s x 8 GB x 0.14 / 2,628,000 = 0.0046 USD;
    - data: 431,850 + 647,484 + 418,200 + 28,750 = 1,526,284 KB = 1.4556 GB x 0.016 = 0.0233 USD.
    The hour 0.3729 USD, the month x 730 = 272.21 USD."""
    run = pinned("shared-endpoint", "multi-container", {"instance_type": "ml.m5.large", "instance_count": 3})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 359_289 and secs == 10_800 and served_kb(run) == 1_526_284
    assert_bill(run, {**instances(secs, 0.115), "data": gb(served_kb(run)) * DATA}, 272.21)


def test_shared_endpoint_inference_components_pay_the_instances_not_the_copies():
    """shared-endpoint as inference components, 2 copies of each model (1 core each) on 4 pinned x ml.c5.large:
    the copies reserve all 8 cores, and the bill is the instances' whatever the copies hold.
    - instances: 14,400 s x 0.102 / 3600 = 0.4080 USD; storage: 14,400 s x 8 GB x 0.14 / 2,628,000 = 0.0061 USD;
    - data: the same 1,526,284 KB as multi-container = 0.0233 USD.
    The hour 0.4374 USD, the month x 730 = 319.32 USD."""
    run = pinned("shared-endpoint", "inference-components", {"instance_type": "ml.c5.large", "instance_count": 4,
                                                              "copies": 2})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.served == 359_289 and secs == 14_400 and served_kb(run) == 1_526_284
    assert run.result.figures.details["reserved_share"] == pytest.approx(1.0)
    assert_bill(run, {**instances(secs, 0.102), "data": gb(served_kb(run)) * DATA}, 319.32)


def test_nightly_landing_batch_every_four_hours():
    """nightly-landing, batch on 2 x ml.c6i.large every 4 h: the 600,000 records of the night in one job.
    - instances: 16,445.31 instance-seconds x 0.102 / 3600 = 0.4660 USD;
    - S3: 600,000 x (1 + 0.1) KB = 0.6294 GB x 0.023 x 30 x 86,400 / 2,628,000 = 0.0143 USD; 2 PUT and
      2 GET = 0.0000108 USD.
    The day 0.4802 USD, the month 0.4802 x 730 / 24 = 14.61 USD."""
    run = pinned("nightly-landing", "batch", {"schedule": 14400.0, "instance_count": 2})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.offered == req.served == 600_000 and secs == pytest.approx(16_445.31, abs=0.01)
    assert_bill(run, {"instances": secs * 0.102 / 3600, **s3(req.offered * 1.0 + req.served * 0.1, 2, 2)}, 14.61)


def test_nlp_pipeline_three_serverless_endpoints():
    """nlp-pipeline, three serverless endpoints at 2048 MB called in turn: 324,771 requests in 6 h.
    - compute: 18,743.322 billed seconds over the three x 2 GB x 0.00002 = 0.7497 USD;
    - data: each endpoint bills its own payload and response, (6 + 3) + (3 + 1) + (1 + 1) = 15 KB a request:
      324,771 x 15 KB = 4.6459 GB x 0.016 = 0.0743 USD.
    The 6 h 0.8241 USD, the month 0.8241 x 730 / 6 = 100.26 USD."""
    run = pinned("nlp-pipeline", "serverless", {"memory_mb": 2048, "max_concurrency": 20,
                                         "provisioned_concurrency": 0})
    assert_serverless(run, served=324_771, billed_s=18_743.322, memory_gb=2, kb_per_request=15, monthly_usd=100.26)


def test_radiology_async_from_zero():
    """radiology-async, asynchronous on ml.g4dn.xlarge scaling 0..8 on the backlog: 53 studies in 24 h.
    - instances: 18,726.13 instance-seconds x 0.736 / 3600 = 3.8285 USD (the g4dn's NVMe instance storage
      carries no ML storage meter);
    - data: 53 x (600 MB study + 10 MB result) = 31.5723 GB x 0.016 = 0.5052 USD;
    - S3: the same 31.5723 GB kept 30 days, x 0.023 x 30 x 86,400 / 2,628,000 = 0.7162 USD; 106 PUT and
      106 GET = 0.000572 USD.
    The day 5.0504 USD, the month 5.0504 x 730 / 24 = 153.62 USD."""
    run = pinned("radiology-async", "async", {"instance_type": "ml.g4dn.xlarge", "autoscaling": {"min": 0, "max": 8}})
    req, secs = run.summary.requests, run.result.figures.instance_seconds
    assert req.offered == req.served == 53 and secs == pytest.approx(18_726.13, abs=0.01)
    kb = req.served * (614_400 + 10_240)
    assert_bill(run, {"instances": secs * 0.736 / 3600, "data": gb(kb) * DATA, **s3(kb, 2 * 53, 2 * 53)}, 153.62)


def test_every_bundled_example_has_its_bill_here():
    """A new example gets a hand-computed bill in this file (sweep grids are not workloads)."""
    names = {p.stem for p in EXAMPLES.glob("*.yaml") if "workloads" not in (yaml.safe_load(p.read_text()) or {})}
    billed = set(re.findall(r'pinned\("([\w-]+)"', Path(__file__).read_text()))
    assert len(names) == 14 and names == billed
