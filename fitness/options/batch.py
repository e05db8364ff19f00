"""The `batch` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/batch.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import math

import numpy as np

from fitness.engine.sizing import Runner
from fitness.export.aws import ExportPlan, TransformSet
from fitness.export.hosting import hosted
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.components.sizing import max_workers
from sim.options.batch import BatchConfig, cheapest_batch_type, job_triggers
from sim.scenario import Scenario

DOCS = """\
`sim/options/batch.py` (no SimPy: jobs are independent). Delivers offline only; one model per request.

- **Jobs.** Records accumulate until a job triggers: every `schedule` (default 24 h) or when
  `trigger_records` are waiting. The job takes every waiting record, starts its `instance_count`
  instances (start-up = `batch.job_startup_s` + the model's container start, download and load, or
  `startup_s`), packs the records in arrival order into mini-batches of up to `max_payload_mb`
  (MultiRecord) or one record each (SingleRecord), and runs the mini-batches FIFO on instance_count x
  `max_concurrent_transforms` workers. A record's result is written when its mini-batch ends; its
  latency is arrival to that moment. Records still waiting at the horizon go to a final drain job there.
  One job stream per model.
- **Timeouts.** A mini-batch whose work exceeds the invocation timeout (default
  `invocations_timeout_s_default`, 600 s) is retried `invocations_max_retries` (3) times and fails every
  time (work is deterministic), holding its worker (1 + retries) x timeout; its records fail.
- **Defaults.** Instance type: the cheapest type in `batch.instance_types` that fits the model;
  `max_concurrent_transforms`: the workers that fit; `max_payload_mb`: the catalog default (6), raised to
  hold one record, lowered until a mini-batch's expected work is at most half the invocation timeout.
  A record of unknown size (`payload_kb` 0) counts as 1 KB for packing.
- **Limits.** `max_payload_mb` at most `batch.max_payload_mb_max` (100); one record must fit in it;
  `instance_count` at most `instance_count_max`; invocation timeout at most `invocations_timeout_s_max`.
- **Billing.** Per job: instance_count x (last mini-batch end - trigger) x price, start-up included;
  nothing between jobs (batch transform attaches no billed ML storage volume). S3: the records in and the
  results out, kept `object_store.retention_days`, and per job one input and one output object, each PUT
  and read once. Every record is marked cold (it waited for its job's instances).
- **Reported.** `jobs`: per job its trigger, ready and end times, records, mini-batches, duration, cost.
- **Checked by** `tests/test_batch.py` (a two-job schedule worked by hand to the cent).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def _batch_count(wl: Workload, sc: Scenario, raw: dict) -> int:
    """Instances that end each model's largest job within the deadline after its start-up, the job's work
    spread over every worker (max_concurrent_transforms per instance)."""
    cfg, cat, need = BatchConfig(**raw), sc.catalog, 1
    if wl.slo.deadline_h is None:
        return need
    for i, m in enumerate(sc.models):
        idx = sc.for_model(i)
        it = cat.instance(cfg.instance_type) if cfg.instance_type else cheapest_batch_type(m, cat)
        if not idx.size or it is None:
            continue
        workers = cfg.max_concurrent_transforms or max(1, max_workers(it, m, cat))
        startup = cfg.startup_s if cfg.startup_s is not None else \
            cat.batch.job_startup_s.value + m.cold_start_s(cat.network.model_download_mb_per_s.value)
        work = sc.service_s[idx]
        jobs = job_triggers(sc.arrivals_s[idx], sc.horizon_s, cfg.schedule_s, cfg.trigger_records)
        largest = max((float(work[a:b].sum()) for _, a, b in jobs), default=0.0)
        room = wl.slo.deadline_h * 3600.0 - startup
        if room > 0:
            need = max(need, math.ceil(largest / (workers * room)))
    return need


SCHEDULES_S = (86400.0, 43200.0, 21600.0, 14400.0, 10800.0, 7200.0, 3600.0, 1800.0, 900.0, 300.0)
"""Job intervals a search tries when the workload sets no trigger: a day down to five minutes, longest
first (fewer jobs, fewer start-ups; a trigger with no record waiting costs nothing)."""


def _startup_s(sc: Scenario, raw: dict) -> float:
    """The longest start-up of a job: the workload's, or the catalog's job start-up plus the cold start."""
    cat = sc.catalog
    if raw.get("startup_s") is not None:
        return float(raw["startup_s"])
    bw = cat.network.model_download_mb_per_s.value
    return cat.batch.job_startup_s.value + max((m.cold_start_s(bw) for m in sc.models), default=0.0)


def _triggers(wl: Workload, sc: Scenario, raw: dict) -> list[dict]:
    """The job triggers to try, in order: the workload's own (a schedule or a record count), else the
    default nightly schedule when no deadline says otherwise; with a deadline, every interval of
    `SCHEDULES_S` that leaves the deadline room for a job's start-up, then a record count: the most records
    arriving within half that room (a job then starts at most about half the room after its first record)."""
    if raw.get("schedule") is not None or raw.get("trigger_records") is not None or wl.slo.deadline_h is None:
        return [{}]
    room = wl.slo.deadline_h * 3600.0 - _startup_s(sc, raw)
    out: list[dict] = [{"schedule": s} for s in SCHEDULES_S if s < room]
    if sc.n and room > 0:
        span = room / 2
        most = int(np.max(np.searchsorted(sc.arrivals_s, sc.arrivals_s + span) - np.arange(sc.n)))
        out.append({"trigger_records": max(1, most)})
    return out or [{}]


def search_batch(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """batch: the job trigger and the instance count. Triggers as `_triggers` lists them (the workload's,
    else schedules from nightly down, then a record count, against the deadline); for each, the count from
    one below the one whose largest job ends within the deadline after start-up, up while the slowest
    result misses the deadline and more instances still bring it closer, up to the catalog's instance
    limit. The first trigger with a count that meets the deadline ends the search."""
    for trigger in _triggers(wl, sc, raw):
        if _count_search(r, wl, sc, {**raw, **trigger}) or not r.left:
            return


def _count_search(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> bool:
    """The count search of one trigger (see `search_batch`); True when a count met the constraints."""
    most = int(sc.catalog.batch.instance_count_max.value)
    c, before = max(1, min(most, _batch_count(wl, sc, raw) - 1)), math.inf
    while c <= most:
        out = r.run({**raw, "instance_count": c})
        if out is None:
            return False
        if out[0].feasible:
            return True
        if not r.left or out[1] is None:
            return False
        slowest = out[1].summary.latency_ms.max
        if not slowest < before:
            return False
        c, before = c + 1, slowest
    return False


# --- export -----------------------------------------------------------------------------------------


def build_batch(plan: ExportPlan) -> list[TransformSet]:
    """batch: one transform job per model and run, with the simulated resources and mini-batching."""
    cfg, sets = plan.cfg, []
    retries = int(plan.catalog.batch.invocations_max_retries.value)
    src = plan.token("TransformInputS3Uri", "S3 prefix (no trailing slash) of the records to score, one folder per "
                     "model", "s3://my-bucket/batch-input", r"^s3://.+[^/]$")
    dst = plan.token("TransformOutputS3Uri", "S3 prefix (no trailing slash) for the batch results",
                     "s3://my-bucket/batch-output", r"^s3://.+[^/]$")
    for m in hosted(plan, "instance_type"):
        knobs = plan.config.model(m.name)
        job = {"MaxConcurrentTransforms": int(knobs["max_concurrent_transforms"]),
               "MaxPayloadInMB": int(knobs["max_payload_mb"]), "BatchStrategy": cfg.batch_strategy,
               "ModelClientConfig": {"InvocationsTimeoutInSeconds": round(knobs["invocations_timeout_s"]),
                                     "InvocationsMaxRetries": retries},
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                  "S3Uri": f"{src}/{m.name}"}}, "SplitType": "Line"},
               "TransformOutput": {"S3OutputPath": f"{dst}/{m.name}", "AssembleWith": "Line"},
               "TransformResources": {"InstanceType": knobs["instance_type"],
                                      "InstanceCount": int(cfg.instance_count)}}
        sets.append(TransformSet(m.name, {"PrimaryContainer": plan.container(m)}, job))
    when = (f"every {cfg.schedule_s / 3600:g} h" if cfg.schedule_s is not None
            else f"whenever {cfg.trigger_records} records are waiting")
    plan.notes.add(f"The simulation ran a transform job {when}: SageMaker has no schedule of its own, so start "
                   "CreateTransformJob from EventBridge Scheduler, Step Functions or your pipeline (a new "
                   "TransformJobName each run). CloudFormation has no transform-job resource; the template "
                   "creates the model only.")
    plan.notes.add("Records are split and reassembled by line (SplitType and AssembleWith Line: CSV or JSON Lines), "
                   "as the simulation packed whole records into mini-batches; add TransformInput.ContentType if "
                   "your container needs it.")
    return sets


UNIT = register(OptionUnit(
    "batch", "batch transform",
    pins=("instance_count",), search=search_batch, export=build_batch, rubric="batch", docs=DOCS))
"""The `batch` unit, registered once."""
