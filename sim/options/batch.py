"""`batch`: batch transform jobs on a schedule or a record-count trigger, one job stream per model.

Records accumulate until a job triggers (every `schedule`, or when `trigger_records` are waiting). The
job takes every waiting record, provisions `instance_count` instances (start-up = provisioning from the
catalog + the model's container start, download and load), packs the records in arrival order into
mini-batches of up to MaxPayloadInMB (MultiRecord) or one record each (SingleRecord), and runs the
mini-batches FIFO on instance_count x max_concurrent_transforms workers. A record's result is written
when its mini-batch finishes. Records still waiting at the horizon are drained by a final job there, so
nothing is lost. Each job is billed per second for its instances, from its trigger to its last
mini-batch; between jobs nothing runs and nothing is paid.

A mini-batch is one invocation: if its work exceeds the invocation timeout it fails, is retried
(InvocationsMaxRetries, default 3) and fails again, so its worker is held for (1 + retries) x timeout
and its records are FAILED. Work is deterministic per mini-batch, so retries never succeed here.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalog import Catalog, InstanceType
from sim.components.sizing import hardware_reasons, max_workers
from sim.cost import instance_cost_usd
from sim.faults import unsupported
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import kept_kb, s3_bill
from sim.results import FAILED, ConfigRecord, Figures, RequestLog, SimConfig, SimResult, Timeline
from sim.scenario import Scenario
from sim.summary import Job
from sim.traffic import Duration

DEFAULT_SCHEDULE_S = 86400.0
"""Interval between scheduled jobs when neither `schedule` nor `trigger_records` is given: nightly."""

UNKNOWN_RECORD_KB = 1.0
"""Size assumed for packing a record whose model gives `payload_kb: 0` (unknown size).

Packing is by size only (MaxPayloadInMB); a zero size would put a whole job in one mini-batch on one
worker, so an unknown record counts as 1 KB: 6144 records per 6 MB mini-batch.
"""

MAX_RECORDS_PER_MINI_BATCH = 10**9
"""Ceiling on records per mini-batch, so absurdly small payloads give a finite (and infeasible) count."""


class BatchConfig(BaseModel):
    """Knobs of a batch transform job stream; unset knobs come from the catalog or the workload.

    `max_payload_mb` is MaxPayloadInMB (whole MB, as in the API); unset, it is right-sized from the catalog
    default (6): raised to fit one record, lowered to keep mini-batches within half the invocation timeout
    (see `default_payload_mb`).

    `schedule` (seconds or "1h", "24h") and `trigger_records` are alternatives: a job every interval, or a
    job as soon as that many records are waiting. With neither, jobs run every 24 h.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    instance_type: str | None = None
    """Instance type (one batch transform offers); unset: the cheapest such type that fits the model."""
    instance_count: int = Field(default=1, ge=1)
    """Instances of every job (InstanceCount)."""
    max_concurrent_transforms: int | None = Field(default=None, ge=1)
    """Mini-batches run at once per instance; unset: one per vCPU (per GPU for GPU models) that memory allows."""
    max_payload_mb: int | None = Field(default=None, ge=1)
    """Largest mini-batch, whole MB (MaxPayloadInMB); unset: the catalog default, fitted to record and timeout."""
    batch_strategy: Literal["SingleRecord", "MultiRecord"] = "MultiRecord"
    """`MultiRecord` packs records into mini-batches up to `max_payload_mb`; `SingleRecord` sends one each."""
    schedule: Duration | None = None
    """Interval between jobs, seconds or a string like '24h'; unset: 24 h unless `trigger_records` is given."""
    trigger_records: int | None = Field(default=None, ge=1)
    """Start a job as soon as this many records wait, instead of on a schedule; unset: on a schedule."""
    startup_s: float | None = Field(default=None, ge=0)
    """Seconds from a job's trigger to its first mini-batch; unset: catalog job start-up plus the cold start."""
    invocations_timeout_s: float | None = Field(default=None, gt=0)
    """Most seconds one mini-batch may take before it fails (after retries); unset: the catalog's default."""

    @model_validator(mode="after")
    def _one_trigger(self) -> BatchConfig:
        if self.schedule is not None and self.trigger_records is not None:
            raise ValueError("give schedule (a job every interval) or trigger_records (a job per N records), "
                             "not both")
        return self

    @property
    def schedule_s(self) -> float | None:
        """Interval between jobs in seconds, or None when jobs trigger on a record count."""
        if self.trigger_records is not None:
            return None
        return self.schedule if self.schedule is not None else DEFAULT_SCHEDULE_S


@dataclass(frozen=True)
class _Plan:
    """How one model's jobs run: hardware, workers, packing, start-up and invocation limits."""

    model: ModelSpec
    it: InstanceType
    workers: int
    per_batch: int
    payload_mb: int
    startup_s: float
    timeout_s: float
    retries: int


def records_per_mini_batch(model: ModelSpec, cfg: BatchConfig, max_payload_mb: float) -> int:
    """Records in one mini-batch: 1 for SingleRecord, else floor(max_payload_mb x 1024 / payload_kb), >= 1."""
    if cfg.batch_strategy == "SingleRecord":
        return 1
    kb = model.payload_kb if model.payload_kb > 0 else UNKNOWN_RECORD_KB
    # Rounded first so 6 MB / 2 KB is 3072 and not 3071 through floating-point noise; capped because a
    # vanishingly small record would give an infinite count.
    return max(1, math.floor(min(round(max_payload_mb * 1024.0 / kb, 9), MAX_RECORDS_PER_MINI_BATCH)))


def default_payload_mb(model: ModelSpec, cfg: BatchConfig, timeout_s: float, catalog: Catalog) -> int:
    """MaxPayloadInMB when the user gives none: the catalog default (6), raised to the whole MB one record
    needs, then lowered (never below that) until a mini-batch's expected work is at most half the
    invocation timeout.

    Right-sizing, not a platform rule: a full 6 MB of small, slow records can outlast the 600 s timeout,
    and the half leaves room for a mini-batch slower than the mean. A record over the 100 MB limit keeps
    its own size, so the limit is reported as the reason.
    """
    need = max(1, math.ceil(round(model.payload_kb / 1024.0, 9)))
    mb = max(int(catalog.batch.max_payload_mb_default.value), need)
    mean_s = model.service_time.expected_ms / 1000.0
    while mb > need and records_per_mini_batch(model, cfg, mb) * mean_s > timeout_s / 2:
        mb -= 1
    return mb


def cheapest_batch_type(model: ModelSpec, catalog: Catalog) -> InstanceType | None:
    """The cheapest batch-transform instance type (catalog `batch.instance_types`) that fits `model`."""
    allowed = set(catalog.batch.instance_types.names)
    for it in catalog.cheapest(lambda t: t.name in allowed and t.has_gpu == (model.accelerator == "gpu")):
        if not hardware_reasons(it, model, None, catalog):
            return it
    return None


def _limit_reasons(cfg: BatchConfig, catalog: Catalog) -> list[str]:
    """Config values over the platform's limits (catalog `batch`)."""
    b, out = catalog.batch, []
    if cfg.max_payload_mb is not None and cfg.max_payload_mb > b.max_payload_mb_max.value:
        out.append(f"max_payload_mb {cfg.max_payload_mb:g} exceeds the {b.max_payload_mb_max.value:g} MB limit "
                   "of batch transform (MaxPayloadInMB)")
    if cfg.instance_count > b.instance_count_max.value:
        out.append(f"instance_count {cfg.instance_count} exceeds the {b.instance_count_max.value:g} instances "
                   "a batch transform job may use")
    if cfg.invocations_timeout_s is not None and cfg.invocations_timeout_s > b.invocations_timeout_s_max.value:
        out.append(f"invocations_timeout_s {cfg.invocations_timeout_s:g} exceeds the "
                   f"{b.invocations_timeout_s_max.value:g} s limit of batch transform invocations")
    return out


def _model_reasons(p: _Plan, catalog: Catalog) -> list[str]:
    """Why this model's records cannot be transformed with this plan (empty when they can)."""
    m, limit, max_payload_mb = p.model, catalog.batch.max_payload_mb_max.value, p.payload_mb
    record_mb = m.payload_kb / 1024.0
    out = hardware_reasons(p.it, m, p.workers, catalog)
    if record_mb > limit:
        out.append(f"payload {record_mb:g} MB of model {m.name} exceeds the {limit:g} MB limit of batch "
                   "transform (MaxPayloadInMB): one record must fit in one request")
    elif record_mb > max_payload_mb:
        out.append(f"a record of model {m.name} ({record_mb:g} MB) does not fit in max_payload_mb "
                   f"{max_payload_mb:g}; raise max_payload_mb (at most {limit:g})")
    mean_s = p.per_batch * m.service_time.expected_ms / 1000.0
    if mean_s > p.timeout_s:
        out.append(f"a mini-batch of {p.per_batch} records of model {m.name} takes {mean_s:,.0f} s on average, "
                   f"over the {p.timeout_s:g} s invocation timeout; lower max_payload_mb, use SingleRecord or "
                   "raise invocations_timeout_s")
    return out


def _plan(model: ModelSpec, cfg: BatchConfig, catalog: Catalog) -> tuple[_Plan | None, list[str]]:
    """The plan for one model's job stream, or the reasons it cannot have one."""
    b = catalog.batch
    if cfg.instance_type is not None:
        it = catalog.instance(cfg.instance_type, "options.batch.instance_type")
        if it.name not in b.instance_types.names:
            return None, [f"{it.name} is not an instance type batch transform offers"]
    else:
        it = cheapest_batch_type(model, catalog)
        if it is None:
            return None, [f"no batch transform instance type in catalog {catalog.name} fits model {model.name}"]
    startup = cfg.startup_s if cfg.startup_s is not None else \
        b.job_startup_s.value + model.cold_start_s(catalog.network.model_download_mb_per_s.value)
    timeout = cfg.invocations_timeout_s if cfg.invocations_timeout_s is not None \
        else b.invocations_timeout_s_default.value
    payload_mb = cfg.max_payload_mb if cfg.max_payload_mb is not None \
        else default_payload_mb(model, cfg, timeout, catalog)
    workers = cfg.max_concurrent_transforms or max_workers(it, model, catalog)
    plan = _Plan(model, it, workers, records_per_mini_batch(model, cfg, payload_mb), payload_mb, startup, timeout,
                 int(b.invocations_max_retries))
    return plan, _model_reasons(plan, catalog)


def job_triggers(arrivals_s: np.ndarray, horizon_s: float, schedule_s: float | None,
                 trigger_records: int | None) -> list[tuple[float, int, int]]:
    """Jobs as (trigger time, first record, end record) over sorted arrivals; records [first, end) each.

    On a schedule, jobs trigger at k x schedule_s (k = 1, 2, ... up to the horizon) and take every record
    arrived by then; a trigger with nothing waiting launches nothing. On a count, a job triggers at the
    arrival of every trigger_records-th waiting record. Whatever is left then goes to a drain job at the
    horizon (or at the last arrival, if a trace runs past the horizon).
    """
    n = int(arrivals_s.size)
    if trigger_records is not None:
        full = n // trigger_records
        jobs = [(float(arrivals_s[(k + 1) * trigger_records - 1]), k * trigger_records, (k + 1) * trigger_records)
                for k in range(full)]
    else:
        # k x schedule rather than a running sum, so the 30th nightly job is not off by rounding.
        ticks = schedule_s * np.arange(1, math.floor(horizon_s / schedule_s + 1e-9) + 1)
        cuts = np.r_[0, np.searchsorted(arrivals_s, ticks, side="right")]
        jobs = [(float(t), int(a), int(b)) for t, a, b in zip(ticks, cuts[:-1], cuts[1:], strict=True) if b > a]
    done = jobs[-1][2] if jobs else 0
    if done < n:
        jobs.append((max(horizon_s, float(arrivals_s[-1])), done, n))
    return jobs


def fifo_starts(work_s: np.ndarray, ready_s: float, workers: int) -> np.ndarray:
    """Start times of work items all queued at `ready_s`, served FIFO by `workers` identical workers.

    Kiefer-Wolfowitz recursion with a heap of worker free times: each item takes the earliest free worker.
    """
    n = int(work_s.size)
    if n <= workers:
        return np.full(n, ready_s)
    starts = np.empty(n)
    free = [ready_s] * workers
    for i, w in enumerate(work_s.tolist()):
        s = heapq.heappop(free)
        starts[i] = s
        heapq.heappush(free, s + w)
    return starts


@dataclass(frozen=True)
class _JobRun:
    """What one job did: per-record start, finish and failure, and the job's totals."""

    start_s: np.ndarray
    finish_s: np.ndarray
    failed: np.ndarray
    end_s: float
    mini_batches: int
    busy_s: float


def run_job(service_s: np.ndarray, ready_s: float, p: _Plan, instances: int) -> _JobRun:
    """Pack records (arrival order) into mini-batches and run them FIFO from `ready_s` on every worker of
    every instance (instances x max_concurrent_transforms)."""
    n = int(service_s.size)
    first = np.arange(0, n, p.per_batch)
    work = np.add.reduceat(service_s, first)
    over = work > p.timeout_s
    held = np.where(over, (1 + p.retries) * p.timeout_s, work)  # a timed-out invocation holds its worker
    starts = fifo_starts(held, ready_s, instances * p.workers)
    finishes = starts + held
    sizes = np.diff(np.r_[first, n])
    return _JobRun(np.repeat(starts, sizes), np.repeat(finishes, sizes), np.repeat(over, sizes),
                   float(finishes.max()), int(first.size), float(held.sum()))


def _run_model(scenario: Scenario, i: int, p: _Plan, cfg: BatchConfig,
               log: RequestLog) -> list[tuple[Job, float, float]]:
    """Every job of model `i`: writes its records into `log`, returns per job (the job, busy worker-seconds,
    billed worker-seconds)."""
    idx = scenario.for_model(i)
    svc, jobs = scenario.service_s[idx], []
    price = p.it.price_per_hour.value
    for trigger, a, b in job_triggers(scenario.arrivals_s[idx], scenario.horizon_s, cfg.schedule_s,
                                      cfg.trigger_records):
        run = run_job(svc[a:b], trigger + p.startup_s, p, cfg.instance_count)
        rows = idx[a:b]
        log.start_s[rows], log.finish_s[rows] = run.start_s, run.finish_s
        log.status[rows[run.failed]] = FAILED
        log.cold[rows] = True  # every record waits for its job's instances to start and load the model
        duration = run.end_s - trigger
        job = Job(p.model.name, trigger, trigger + p.startup_s, run.end_s, b - a, run.mini_batches, duration,
                  instance_cost_usd(cfg.instance_count * duration, price))
        jobs.append((job, run.busy_s, cfg.instance_count * p.workers * duration))
    return jobs


def _config(cfg: BatchConfig, plans: list[tuple[ModelSpec, _Plan | None]]) -> SimConfig:
    """The configuration simulated: the jobs' shared knobs, then each model's job stream."""
    out = ConfigRecord(job_streams=len(plans), instance_count=cfg.instance_count, batch_strategy=cfg.batch_strategy)
    if cfg.trigger_records is not None:
        out.set(trigger_records=cfg.trigger_records)
    else:
        out.set(schedule_s=cfg.schedule_s)
    for m, p in plans:
        if p is not None:
            out.set(m.name, instance_type=p.it.name, max_concurrent_transforms=p.workers, max_payload_mb=p.payload_mb,
                    records_per_mini_batch=p.per_batch, startup_s=p.startup_s, invocations_timeout_s=p.timeout_s)
    return out.freeze()


@register("batch", BatchConfig, delivers=frozenset({"offline"}),
          ignores=frozenset({"serverless.keep_alive_s", "realtime.instance_launch_s"}))
def simulate(scenario: Scenario, cfg: BatchConfig) -> SimResult:
    """Batch transform: scheduled or triggered jobs, start-up overhead, mini-batches, billed per job."""
    unsupported(scenario.faults, "batch", "a failed job is retried by its caller, not modelled")
    cat = scenario.catalog
    reasons = _limit_reasons(cfg, cat)
    plans = []
    for m in scenario.models:
        p, why = _plan(m, cfg, cat)
        plans.append((m, p))
        reasons += why
    config = _config(cfg, plans)
    if reasons:
        return SimResult.infeasible("batch", reasons, scenario.horizon_s, config)
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    jobs = [job for i, (_, p) in enumerate(plans) for job in _run_model(scenario, i, p, cfg, log)]
    return _result(scenario, log, jobs, cfg, config)


def _result(scenario: Scenario, log: RequestLog, runs: list[tuple[Job, float, float]], cfg: BatchConfig,
            config: SimConfig) -> SimResult:
    """Capacity (instance_count while each job runs), instance cost, per-job figures and utilization."""
    jobs = tuple(j for j, _, _ in runs)
    times = np.array([t for j in jobs for t in (j.trigger_s, j.end_s)], float)
    deltas = np.tile([cfg.instance_count, -cfg.instance_count], len(jobs)).astype(float)
    cap = Timeline.from_deltas(times, deltas)
    busy = sum(b for _, b, _ in runs)
    billed = sum(b for _, _, b in runs)
    cost = float(sum(j.cost_usd for j in jobs))
    figures = Figures(utilization=busy / billed if billed > 0 else 0.0, jobs=jobs,
                      instance_seconds=float(sum(cfg.instance_count * j.duration_s for j in jobs)))
    return SimResult("batch", True, (), scenario.horizon_s, config, log, cap,
                     {"instances": cost, **records_s3(scenario, log, len(jobs))}, figures=figures)


def records_s3(scenario: Scenario, log: RequestLog, jobs: int) -> dict[str, float]:
    """S3 behind batch transform (`s3_bill`): every record's input is kept, and every served record's output;
    each job reads one input object and writes one output object per model, each put and got once (the
    producer PUTs the input, the job GETs it and PUTs the output, the consumer GETs that)."""
    return s3_bill(kept_kb(scenario, log), 2 * jobs, 2 * jobs, scenario.catalog)
