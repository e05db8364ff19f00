"""The bill read three ways: on demand (what AWS charges), with a Savings Plan (a what-if), and with the
operations cost a team pays to run the option (total cost of ownership). Pure functions of one option's
summary and run; USD per 730-hour month unless a name says otherwise.

Operations hours come from `catalogs/rubrics/operations.yaml`: a fixed part plus hours per thing operated,
counted from the simulated configuration (`operated`). A Savings Plan commits a spend per hour for a term;
usage up to it is billed at the discount, the rest on demand, and the commitment is paid whether used or
not (`committed_instances_usd`).
"""

from __future__ import annotations

import numpy as np

import catalogs
from sim.cost import monthly_usd
from sim.results import SimResult
from sim.summary import Summary

COMMITTED_METERS = ("instances",)
"""The bill's lines a SageMaker Savings Plan covers: ML instance usage (real-time, async, batch transform);
storage, data, S3 and serverless are billed on demand (catalog `commitments` notes)."""

SHARED_IMAGE_OPTIONS = ("multi-model", "triton")
"""Options that serve every model from one container image (the multi-model server, Triton)."""


def operated(s: Summary, wl) -> dict[str, int]:
    """What a team operates to run option `s` for workload `wl`, counted from the simulated configuration:
    endpoints (0 for batch, which runs job streams), container images (one per model entry; one for an option
    that serves every model from one image), scaling policies (one per autoscaled fleet), hops a request
    makes beyond its first call, job schedulers, and endpoints with provisioned concurrency."""
    knobs = s.config.option
    streams = int(knobs.get("job_streams") or 0)
    endpoints = 0 if streams else int(knobs.get("endpoints") or 1)
    entries = wl.models if wl is not None else ()
    images = 1 if s.option in SHARED_IMAGE_OPTIONS else max(1, len({m.container or m.name for m in entries}))
    policies = sum(1 for v in [knobs.get("autoscaling"), *(m.get("autoscaling") for m in s.config.models.values())]
                   if v)
    provisioned = endpoints if knobs.get("provisioned_concurrency") else 0
    return {"endpoint": endpoints, "container": images, "scaling_policy": policies,
            "hop": hops(s, wl), "scheduler": streams, "provisioned_concurrency": provisioned}


def hops(s: Summary, wl) -> int:
    """Network calls a request makes beyond its first, for an application run as separate endpoints (the
    option records `hosting`); 0 on one endpoint or for one model per request."""
    app = getattr(wl, "application", None)
    if app is None or app.pattern == "dynamic-selection" or "hosting" not in s.config.option:
        return 0
    return max(0, len(app.steps) + len(app.branches) + (1 if app.aggregator else 0) - 1)


def operations_hours(counts: dict[str, int]) -> float:
    """Engineer-hours per month: the rubric's fixed hours + sum of count x hours per item."""
    r = catalogs.rubric("operations")
    return float(r["fixed_hours_per_month"]) + sum(n * float(r["items"][k]["hours_per_month"])
                                                   for k, n in counts.items())


def operations_usd(s: Summary, wl) -> float | None:
    """Monthly operations cost: operations_hours x `pricing.engineer_usd_per_hour`; None when the workload
    gives no engineer cost."""
    rate = wl.pricing.engineer_usd_per_hour
    return operations_hours(operated(s, wl)) * rate if rate is not None else None


def commitment_level(counts: np.ndarray, durations_s: np.ndarray, discount: float) -> float:
    """The commitment, in instances, that minimises the bill of usage `counts` held for `durations_s`: the
    `discount`-quantile of the time-weighted counts. One more committed instance costs (1 - discount) x price
    for the whole horizon and saves the full price while usage exceeds the commitment, so the optimum is where
    usage exceeds it a fraction (1 - discount) of the time."""
    keep = durations_s > 0
    c, d = counts[keep], durations_s[keep]
    if c.size == 0:
        return 0.0
    order = np.argsort(c, kind="stable")
    c, cum = c[order], np.cumsum(d[order]) / d.sum()
    return float(c[np.searchsorted(cum, discount, side="left")]) if discount > 0 else 0.0


def committed_instances_usd(run: SimResult, instances_usd: float, instance_seconds: float, discount: float) -> float:
    """Instance usage under a Savings Plan, USD over the run: with price p = instances_usd / instance_seconds
    per instance-second and commitment c instances (`commitment_level` of the capacity timeline), the plan
    costs (1 - discount) x c x horizon x p, and what usage exceeds it, instance_seconds - integral of
    min(count, c) dt, is billed on demand at p."""
    cap, h = run.capacity, run.horizon_s
    if cap is None or instance_seconds <= 0 or h <= 0:
        return instances_usd
    t = np.clip(np.r_[cap.times_s, h], 0.0, h)
    d = np.diff(t)
    c = commitment_level(cap.values, d, discount)
    covered = float(np.sum(np.minimum(cap.values, c) * d))
    p = instances_usd / instance_seconds
    return (1 - discount) * c * h * p + max(0.0, instance_seconds - covered) * p


def committed_monthly_usd(s: Summary, run: SimResult, catalog, term: str) -> float:
    """The option's monthly bill with a Savings Plan of `term` ("1y"/"3y") on its instance usage, the other
    meters on demand."""
    seconds = run.figures.instance_seconds
    b, h = s.cost_usd.breakdown, run.horizon_s
    total = sum(v for k, v in b.items() if k not in COMMITTED_METERS)
    if "instances" in b:
        disc = catalog.commitments.discount(term).value
        total += committed_instances_usd(run, b["instances"], seconds or 0.0, disc)
    return monthly_usd(total, h)
