"""`async`: asynchronous inference: an internal queue that never drops, S3 in and out, scale to zero.

Workers of every instance pull from one FIFO queue (`SharedQueue`); each request holds its worker for
the S3 read of its payload, the processing, and the S3 write of its result. A pinned count, or
target tracking on the backlog per instance with `min: 0` scaling to zero after idle and out from zero
through HasBacklogWithoutCapacity. Billed for instance time only while instances run.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from sim.catalog import Catalog
from sim.components.autoscaler import TargetTracking, start_bounds, target_tracking
from sim.components.queue import SharedQueue
from sim.components.sizing import cheapest_fitting, hardware_reasons, max_workers, payload_reasons, peak_rate_rps
from sim.engine import Engine
from sim.faults import unsupported
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import (
    FleetConfig,
    ScalingBounds,
    data_usd,
    early_rate_rps,
    instance_bill,
    kept_kb,
    launch_delays,
    s3_bill,
    tracking,
)
from sim.results import SERVED, ConfigRecord, Figures, RequestLog, SimConfig, SimResult, Timeline
from sim.scenario import Scenario, stream


class BacklogScaling(ScalingBounds):
    """Target tracking on ApproximateBacklogSizePerInstance; min 0 allows scaling to zero."""

    FLOOR: ClassVar[int] = 0
    min: int = Field(default=0, ge=0)
    """Fewest instances; 0 scales to zero when idle and out from zero when requests wait."""
    max: int = Field(ge=1)
    """Most instances; at least `min`."""
    target_backlog_per_instance: float = Field(default=5.0, gt=0)
    """Requests queued or in process per instance that the policy tracks."""


class AsyncConfig(FleetConfig):
    """Knobs of an asynchronous endpoint; the object-store figures default to the catalog's."""

    # The fleet knobs are FleetConfig's; these differ here in what they default to or allow (backlog
    # autoscaling that scales to zero, sizing for one worker per model), so each keeps its own wording.
    instance_type: str | None = None
    """Instance type from the catalog (e.g. ml.m5.xlarge); unset: the cheapest type one worker of the model fits."""
    instance_count: int | None = Field(default=None, ge=1)
    """Instances, pinned for the whole run (no autoscaling); unset: backlog autoscaling."""
    autoscaling: BacklogScaling | None = None
    """Target tracking on the backlog per instance; unset: min 0, max for twice the peak minute's need."""
    initial_count: int | None = Field(default=None, ge=0)
    """Instances at t = 0 when autoscaling; unset: what the first 10 minutes need at `target_utilization`."""
    min_instances: int = Field(default=0, ge=0)
    """Fewest instances of the sized backlog policy (unused when `instance_count` or `autoscaling` is given);
    0 scales to zero between bursts (the queue keeps the requests)."""
    launch_s: float | None = Field(default=None, ge=0)
    """Seconds from a scale-out decision to serving; unset: the catalog's provisioning time plus the cold start."""
    target_utilization: float = Field(default=0.7, gt=0, le=1)
    """Fraction of an instance's capacity used to size the default `max` and the initial count."""
    workers_per_instance: int | None = Field(default=None, ge=1)
    """Requests processed at once per instance; unset: one per vCPU (per GPU for GPU models) that memory allows."""
    timeout_s: float | None = Field(default=None, gt=0)
    """Most seconds a request may take before it fails, up to the catalog's limit; unset: the catalog's default."""
    s3_read_mb_per_s: float | None = Field(default=None, gt=0)
    """Read throughput for request payloads, MB/s; unset: the catalog's object-store figure."""
    s3_write_mb_per_s: float | None = Field(default=None, gt=0)
    """Write throughput for responses, MB/s; unset: the catalog's object-store figure."""
    s3_latency_ms: float | None = Field(default=None, ge=0)
    """Latency of one S3 request, ms, paid for the read and for the write; unset: the catalog's figure."""


def io_s(model: ModelSpec, cfg: AsyncConfig, catalog: Catalog) -> float:
    """S3 time per request: 2 x latency + payload / read throughput + response / write throughput (s)."""
    store = catalog.object_store
    lat = (cfg.s3_latency_ms if cfg.s3_latency_ms is not None else store.request_latency_ms.value) / 1000.0
    read = cfg.s3_read_mb_per_s or store.read_mb_per_s.value
    write = cfg.s3_write_mb_per_s or store.write_mb_per_s.value
    return 2 * lat + model.payload_kb / 1024.0 / read + model.response_kb / 1024.0 / write


def _policy(cfg: AsyncConfig, model: ModelSpec, workers: int, arrivals: np.ndarray, horizon_s: float,
            catalog: Catalog, seed: int) -> tuple[TargetTracking, int]:
    """The backlog policy and initial count: the user's, or min 0 and a max for twice the peak minute.

    Without an `initial_count`, the endpoint starts with what the first 10 minutes need at
    `target_utilization` (a steady workload is simulated in its steady state, not from a cold start).
    """
    work_s = model.service_time.expected_ms / 1000.0 + io_s(model, cfg, catalog)
    per_inst_rps = cfg.target_utilization * workers / max(work_s, 1e-9)
    a = cfg.autoscaling
    if a is None:
        need = math.ceil(2 * peak_rate_rps(arrivals, horizon_s) / per_inst_rps)
        a = BacklogScaling(min=cfg.min_instances, max=max(1, cfg.min_instances, need))
    initial = cfg.initial_count if cfg.initial_count is not None else \
        math.ceil(early_rate_rps(arrivals, horizon_s) / per_inst_rps)
    delays = launch_delays([model], catalog, stream(seed, f"launch/{model.name}"))
    pol = tracking(cfg, a, a.target_backlog_per_instance, delays, catalog)
    lo, hi = start_bounds(pol.min_instances, pol.max_instances, pol.schedule)  # scheduled since 00:00
    return pol, min(hi, max(lo, initial))


def _reasons(scenario: Scenario, cfg: AsyncConfig) -> tuple[list, list[str]]:
    """Hardware per model and the reasons the option cannot serve."""
    cat = scenario.catalog
    facts = cat.async_inference
    reasons = payload_reasons(scenario.models, facts.payload_limit_mb.value, "asynchronous inference")
    if cfg.timeout_s is not None and cfg.timeout_s > facts.timeout_max_s.value:
        reasons.append(f"timeout_s {cfg.timeout_s:g} exceeds the {facts.timeout_max_s.value:g} s limit of "
                       "asynchronous inference")
    plans = []
    for m in scenario.models:
        it = (cat.instance(cfg.instance_type, "options.async.instance_type") if cfg.instance_type
              else cheapest_fitting(m, cat))
        if it is None:
            reasons.append(f"no instance type in catalog {cat.name} fits model {m.name}")
            continue
        reasons += hardware_reasons(it, m, cfg.workers_per_instance, cat)
        plans.append((m, it, cfg.workers_per_instance or max_workers(it, m, cat)))
    return plans, reasons


@register("async", AsyncConfig, delivers=frozenset({"async", "offline"}),
          ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: AsyncConfig) -> SimResult:
    """Asynchronous inference: queued requests, S3 payloads, backlog autoscaling and scale to zero."""
    unsupported(scenario.faults, "async", "its queue lives outside the instances; see SharedQueue.fail")
    cat = scenario.catalog
    plans, reasons = _reasons(scenario, cfg)
    timeout = cfg.timeout_s or cat.async_inference.timeout_default_s.value
    config = ConfigRecord(endpoints=len(scenario.models), timeout_s=timeout)
    for m, it, _ in plans:
        config.set(m.name, instance_type=it.name)
    for m, _, w in plans:
        config.set(m.name, workers_per_instance=w)
    if reasons:
        return SimResult.infeasible("async", reasons, scenario.horizon_s, config.freeze())
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    env, queues = Engine(), []
    for i, (m, it, workers) in enumerate(plans):
        idx = scenario.for_model(i)
        q = SharedQueue(log, idx, scenario.service_s[idx] + io_s(m, cfg, cat), workers, timeout)
        count = cfg.instance_count
        if count is None:
            pol, count = _policy(cfg, m, workers, log.arrival_s[idx], scenario.horizon_s, cat, scenario.seed)
            env.process(target_tracking(env, q, lambda t0, t1, q=q: q.backlog(t1), pol))
            config.set(m.name, autoscaling=f"{pol.min_instances}..{pol.max_instances} target backlog "
                                           f"{pol.target:g}/instance")
        for _ in range(count):
            q.join(0.0)
        config.set(m.name, initial_count=count, io_s=io_s(m, cfg, cat))
        queues.append((q, it))
        env.attach(q)
    env.run_until(scenario.horizon_s)
    return _result(scenario, log, queues, config.freeze())


def _result(scenario: Scenario, log: RequestLog, queues: list, config: SimConfig) -> SimResult:
    """Instances and backlog over time, instance cost, utilisation."""
    h = scenario.horizon_s
    per_queue = [(q.instance_seconds(h), q, it) for q, it in queues]
    seconds = sum(sec for sec, _, _ in per_queue)
    worker_s = sum(sec * q.workers for sec, q, _ in per_queue)
    cost: dict[str, float] = {}
    for sec, _, it in per_queue:
        for k, v in instance_bill(sec, it, scenario.catalog).items():
            cost[k] = cost.get(k, 0.0) + v
    cap = Timeline.total([q.capacity(h) for q, _ in queues])
    done = np.isfinite(log.finish_s)
    backlog = Timeline.from_deltas(np.r_[log.arrival_s, log.finish_s[done]],
                                   np.r_[np.ones(log.n), -np.ones(int(done.sum()))])
    busy = float(np.nansum(log.finish_s - log.start_s))
    figures = Figures(utilization=busy / worker_s if worker_s else 0.0, instance_seconds=seconds, backlog=backlog)
    cost.update(data=data_usd(scenario, log), **payload_s3(scenario, log))
    return SimResult("async", True, (), h, config, log, cap, cost, figures=figures)


def payload_s3(scenario: Scenario, log: RequestLog) -> dict[str, float]:
    """S3 behind asynchronous inference (`s3_bill`): every offered request's payload is PUT by the caller and
    read (GET) by the endpoint; every served request's result is PUT by the endpoint and read by the caller."""
    n_served = int(np.sum(log.status == SERVED))
    return s3_bill(kept_kb(scenario, log), log.n + n_served, log.n + n_served, scenario.catalog)
