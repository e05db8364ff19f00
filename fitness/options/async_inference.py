"""The `async` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/async_inference.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import math

from fitness.engine.fleets import FLEET_PINS, fleet_search, per_model_plans, pinned_config, without
from fitness.engine.queueing import Plan
from fitness.engine.sizing import Runner
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.export.hosting import hosted
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.options.async_inference import AsyncConfig, io_s
from sim.scenario import Scenario

DOCS = """\
`sim/options/async_inference.py`, data plane `SharedQueue` (`sim/components/queue.py`). Delivers async
and offline only; one model per request (no serial or parallel patterns).

- **Mechanics.** One endpoint per model. All workers of all its instances pull from one FIFO queue that
  never drops; the head request goes to whichever worker frees first, including workers of instances
  that join later. Each request holds its worker for the S3 read of its payload, the processing and the
  S3 write of its response: 2 x `object_store.request_latency_ms` + payload_kb / 1024 /
  `read_mb_per_s` + response_kb / 1024 / `write_mb_per_s` (each overridable in the config).
- **Scaling.** Pinned `instance_count`, or target tracking on the backlog per instance (requests arrived
  and not finished, read at the end of each period) with the same alarm arithmetic as above. `min: 0`
  scales to zero after the scale-in datapoints; from zero, a period that ends with work and no instance
  launches one (the HasBacklogWithoutCapacity step policy AWS requires for scale-out from zero).
  Defaults: min 0, target backlog 5 per instance, max = twice the peak minute's need at
  `target_utilization` (0.7); initial count = what the first 10 minutes need.
- **Limits.** Payload `async_inference.payload_limit_mb` (1 GB). `timeout_s` (default
  `timeout_default_s`, 900 s; at most `timeout_max_s`, 3600 s): work beyond it fails and holds its
  worker for the timeout.
- **Billing.** Instance-seconds x price, only while instances run (scale to zero pays nothing idle), and
  the ML storage volume of each (`realtime.storage_price_per_gb_month`); the data processed in and out
  (`realtime.data_price_per_gb` per GB of payload and response); S3: each payload PUT by the caller and
  read by the endpoint, each result PUT and read by the caller (`object_store.put_price_per_1000`,
  `get_price_per_1000`), all kept `object_store.retention_days` (`storage_price_per_gb_month`).
- **Reported.** `backlog` (requests waiting or in process over time).
- **Catalog facts.** `async_inference.*` (except `inline_body_limit_bytes`, unused), `object_store.*`,
  `autoscaling.*`, `realtime.instance_launch_s`, `realtime.memory_overhead_mb`, `network.*`.
- **Checked by** `tests/test_async.py` (Erlang C for the shared queue, scale to zero worked by hand).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def search_async(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """async: as realtime, each request's work including its S3 read and write; then backlog scaling
    from zero (min 0, max the count, the option's default backlog target) if idle stretches could save."""
    cfg, cat = AsyncConfig(**raw), sc.catalog
    # queued async requests wait in the endpoint's queue, not on a caller's timeout: only the deadline bounds them
    plans = per_model_plans(r, raw, lambda m: io_s(m, cfg, cat), wait_limit_s=math.inf)

    def scaled(p: Plan, top: int) -> dict:
        """Backlog scaling from zero up to `top` instances, the option's default target."""
        return {**without(raw, "instance_count"), **p.knobs, "autoscaling": {"min": 0, "max": int(top)}}

    fleet_search(r, plans, pinned_config(raw), scaled, min_count=0)


# --- export -----------------------------------------------------------------------------------------


def build_async(plan: ExportPlan) -> list[EndpointSet]:
    """async: one endpoint per model; requests per instance, S3 output, backlog scaling (from zero)."""
    sets = []
    out = plan.token("AsyncOutputS3Uri", "S3 prefix (no trailing slash) where asynchronous results are written",
                     "s3://my-bucket/async-results", r"^s3://.+[^/]$")
    for m in hosted(plan, "initial_count"):
        knobs = plan.config.model(m.name)
        workers, initial = int(knobs["workers_per_instance"]), int(knobs["initial_count"])
        if initial < 1:
            plan.notes.add("The simulation started the asynchronous endpoint with 0 instances; the API creates it with "
                           "at least 1 (InitialInstanceCount), and the scaling policy scales it in to 0 once idle.")
        acfg = {"OutputConfig": {"S3OutputPath": f"{out}/{m.name}"},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": workers}}
        sets.append(EndpointSet(m.name, {"PrimaryContainer": plan.container(m, workers)},
                                plan.variant(knobs["instance_type"], max(1, initial), routing=None),
                                acfg, plan.backlog_scaling(m.name)))
    if any(s.scaling is not None and s.scaling.from_zero for s in sets):
        period = plan.catalog.autoscaling.metric_period_s.value
        plan.notes.add(f"Scale out from zero: target tracking on the backlog cannot act with no instance, so a "
                       f"step policy adds one when the HasBacklogWithoutCapacity alarm sees work waiting in one "
                       f"{period:g}-s period, as the simulation did.")
    timeout = plan.config.option.get("timeout_s")
    if timeout is not None:
        plan.notes.add(f"Requests were allowed {timeout:g} s of processing (timeout_s): pass "
                       f"InvocationTimeoutSeconds={round(timeout)} on each InvokeEndpointAsync call (a per-request "
                       "setting, not part of the endpoint).")
    plan.notes.add("Optional: OutputConfig.NotificationConfig (SNS topics on success and error) and S3FailurePath "
                   "were not simulated and are left out.")
    return sets


UNIT = register(OptionUnit(
    "async", "asynchronous inference",
    pins=FLEET_PINS, search=search_async, export=build_async, rubric="async", docs=DOCS))
"""The `async` unit, registered once."""
