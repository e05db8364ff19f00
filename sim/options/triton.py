"""`triton`: NVIDIA Triton Inference Server on SageMaker GPU instances.

One endpoint of GPU instances; every instance loads every model the workload uses (they must all fit in
GPU memory, see `sim.components.gpu`) and runs Triton's dynamic batcher per model, concurrent model
execution on shared GPUs, and the application's pattern as an ensemble on the instance that took the
request (`sim.components.batcher`). Instances are pinned or scaled by target tracking on invocations per
instance, as real-time endpoints are; limits (payload, timeout) are those of real-time endpoints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field, model_validator

from sim.catalog import Catalog, InstanceType
from sim.components.batch_plan import BatchPlan, Ensemble
from sim.components.batcher import TritonPool
from sim.components.gpu import cheapest_gpu_fitting, gpu_budget_mb, gpu_demand_mb, gpu_memory_reasons
from sim.components.seq import floats, ints
from sim.components.sizing import payload_reasons, processing_reasons
from sim.components.timeout import time_out
from sim.distributions import Constant
from sim.engine import Engine
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import (
    FleetConfig,
    data_usd,
    drawn_launch,
    fault_details,
    instance_bill,
    provision,
    schedule_faults,
)
from sim.results import ConfigRecord, Figures, RequestLog, SimConfig, SimResult
from sim.scenario import Scenario, stream


class TritonConfig(FleetConfig):
    """Knobs of a Triton endpoint. Unset instance type and count are sized from the workload."""

    max_batch_size: int = Field(default=8, ge=1)
    """Largest batch the dynamic batcher forms for a model; 1: no batching."""
    max_queue_delay_ms: float = Field(default=5.0, ge=0)
    """Most ms the oldest waiting request is held for a fuller batch."""
    preferred_batch_sizes: tuple[int, ...] = ()
    """Batch sizes sent without waiting out the delay, the largest that can be formed (1..max_batch_size)."""
    instances_per_model: int = Field(default=1, ge=1)
    """Copies of each model per GPU (instance_group count), each holding its GPU memory and running one batch."""

    @model_validator(mode="after")
    def _consistent(self) -> TritonConfig:
        if any(not 1 <= p <= self.max_batch_size for p in self.preferred_batch_sizes):
            raise ValueError("preferred_batch_sizes must lie between 1 and max_batch_size")
        return self


def _paths(scenario: Scenario) -> tuple[list[int], list, Sequence[int] | None]:
    """Models hosted, the request paths (stages of model indices) and each request's path index (None when
    there is one path: no per-request array to hold)."""
    app = scenario.application
    if app is None or app.routed:  # each request names one model
        used = list(range(len(scenario.models)))  # Triton loads every model of its repository
        paths = [((i,),) for i in range(len(scenario.models))]
        return used, paths, ints(scenario.model_idx) if len(paths) > 1 else None
    return list(app.models_used), [app.stages], None


def _plans(scenario: Scenario, cfg: TritonConfig, used: list[int], gpus: int) -> list[BatchPlan | None]:
    """Per model: its batcher and batch curve, or a logic step; None for models no request uses."""
    frac = scenario.catalog.triton.batch_fixed_fraction.value
    out: list[BatchPlan | None] = [None] * len(scenario.models)
    for i in used:
        m = scenario.models[i]
        curve = m.batch_latency
        out[i] = BatchPlan(
            slots=cfg.instances_per_model * gpus, max_batch=cfg.max_batch_size,
            delay_s=cfg.max_queue_delay_ms / 1000.0, preferred=tuple(sorted(set(cfg.preferred_batch_sizes))),
            fixed_s=curve.fixed_ms / 1000.0 if curve else None,
            per_item_s=curve.per_item_ms / 1000.0 if curve else 0.0,
            fixed_fraction=frac, logic=m.kind == "logic",
            mean_s=0.0 if isinstance(m.service_time, Constant) else m.service_time.expected_ms / 1000.0)
    return out


def _work(scenario: Scenario, plans: list[BatchPlan | None]) -> list:
    """Per model: every request's service sample there (None for a model with an explicit curve and no
    variation to keep, `BatchPlan.mean_s` 0)."""
    app = scenario.application
    shared = floats(scenario.service_s) if app is None or app.routed else None
    out = []
    for i, p in enumerate(plans):
        needed = p is not None and (p.logic or p.fixed_s is None or p.mean_s > 0)
        out.append((shared if shared is not None else floats(scenario.step_service_s(i))) if needed else None)
    return out


def capacity_rps(scenario: Scenario, plans: list[BatchPlan | None], paths: list, path_of: Sequence[int] | None,
                 gpus: int) -> float:
    """Requests/s one instance sustains with full batches: gpus / expected GPU-seconds per request."""
    some = path_of is not None and len(path_of) > 0
    counts = np.bincount(np.asarray(path_of, np.int64), minlength=len(paths)) if some else np.ones(len(paths))
    share = counts / max(counts.sum(), 1)
    per_request = 0.0
    for path, p_share in zip(paths, share, strict=True):
        for i in (i for stage in path for i in stage):
            plan = plans[i]
            if plan is not None and not plan.logic:
                mean_s = scenario.models[i].service_time.expected_ms / 1000.0
                per_request += p_share * plan.expected_work_s(plan.max_batch, mean_s) / plan.max_batch
    return gpus / per_request if per_request > 0 else math.inf


def launch_delay_s(models: list[ModelSpec], catalog: Catalog) -> float:
    """Scale-out decision to serving: provisioning + the container's start + every model's download and load
    (unlike `_fleet.launch_delay_s`, one Triton server loads its models one after another)."""
    bw = catalog.network.model_download_mb_per_s.value
    start = max((m.container_start_mean_s for m in models), default=0.0)
    return catalog.realtime.instance_launch_s.value + start + sum(m.download_s(bw) + m.load_s for m in models)


def _hardware(scenario: Scenario, cfg: TritonConfig, hosted: list[ModelSpec]) -> tuple[InstanceType | None, list]:
    """The GPU instance type and the reasons the models cannot run on it."""
    cat = scenario.catalog
    if cfg.instance_type:
        it = cat.instance(cfg.instance_type, "options.triton.instance_type")
        return it, gpu_memory_reasons(it, hosted, cfg.instances_per_model, cat)
    it = cheapest_gpu_fitting(hosted, cfg.instances_per_model, cat)
    if it is not None:
        return it, []
    gpus = cat.cheapest(lambda t: t.gpu_count > 0)
    if not gpus:
        return None, [f"catalog {cat.name} has no GPU instance type for Triton"]
    best = max(gpus, key=lambda t: (gpu_budget_mb(t, cat), -t.price_per_hour.value))
    return None, [f"no GPU instance type in catalog {cat.name} holds the models' "
                  f"{gpu_demand_mb(hosted, cfg.instances_per_model, best.gpu_count):,.0f} MB of GPU memory "
                  f"(the largest, {best.name}, leaves {gpu_budget_mb(best, cat):,.0f} MB)"]


@register("triton", TritonConfig, patterns=frozenset({"serial", "scatter-gather", "aggregate"}),
          ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: TritonConfig) -> SimResult:
    """Triton on GPU instances: dynamic batching, concurrent models sharing GPUs, ensembles on one instance."""
    cat = scenario.catalog
    used, paths, path_of = _paths(scenario)
    hosted = [scenario.models[i] for i in used]
    reasons = payload_reasons(tuple(hosted), cat.realtime.payload_limit_mb.value, "real-time endpoints (Triton)")
    reasons += processing_reasons(tuple(hosted), cat.realtime.timeout_s.value, "real-time endpoints (Triton)")
    it, hw = _hardware(scenario, cfg, hosted)
    reasons += hw
    config = {"instance_type": it.name if it else None, "models": len(hosted),
              "max_batch_size": cfg.max_batch_size, "max_queue_delay_ms": cfg.max_queue_delay_ms,
              "instances_per_model": cfg.instances_per_model}
    if it is not None and it.gpu_count:
        config.update(gpu_memory_mb=gpu_budget_mb(it, cat),
                      gpu_memory_used_mb=gpu_demand_mb(hosted, cfg.instances_per_model, it.gpu_count))
    if reasons:
        return SimResult.infeasible("triton", reasons, scenario.horizon_s, ConfigRecord(**config).freeze())
    plans = _plans(scenario, cfg, used, it.gpu_count)
    if cfg.preferred_batch_sizes:
        config["preferred_batch_sizes"] = list(plans[used[0]].preferred)
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    ens = Ensemble(plans, paths, path_of, _work(scenario, plans), it.gpu_count)
    pool, env = TritonPool(log, ens), Engine()
    count, cap = cfg.instance_count, capacity_rps(scenario, plans, paths, path_of, it.gpu_count)
    if count is None and math.isinf(cap):  # only logic steps: no GPU work to scale on
        count = cfg.initial_count or (cfg.autoscaling.min if cfg.autoscaling else 1)
    bw = cat.network.model_download_mb_per_s.value
    launch_s = drawn_launch(launch_delay_s(hosted, cat), hosted, stream(scenario.seed, "launch/triton"),
                            cat.realtime.instance_launch_s.value + sum(m.download_s(bw) + m.load_s for m in hosted),
                            [0.0] * len(hosted))
    if count is None:
        count = provision(env, pool, cfg, cap, launch_s, log.arrival_s, scenario.horizon_s, cat, config,
                          scenario.faults)
    else:
        for _ in range(count):
            pool.join(0.0)
        schedule_faults(env, pool, scenario.faults, cfg.launch_s if cfg.launch_s is not None else launch_s,
                        scenario.horizon_s)
    config["initial_count"] = count
    env.attach(pool)
    env.run_until(scenario.horizon_s)
    time_out(log, cat.realtime.timeout_s.value)
    return _result(scenario, log, pool, it, ConfigRecord(**config).freeze())


def _result(scenario: Scenario, log: RequestLog, pool: TritonPool, it: InstanceType, config: SimConfig) -> SimResult:
    """Capacity timeline, instance cost, GPU utilisation and the batch sizes that ran."""
    h = scenario.horizon_s
    seconds, cap = pool.instance_seconds(h), pool.capacity(h)
    sizes = {scenario.models[i].name: dict(sorted(hist.items())) for i, hist in enumerate(pool.batch_sizes())
             if hist}
    batches = sum(c for hist in sizes.values() for c in hist.values())
    items = sum(s * c for hist in sizes.values() for s, c in hist.items())
    gpu_s = seconds * it.gpu_count
    figures = Figures(utilization=min(1.0, pool.gpu_busy_s() / gpu_s) if gpu_s else 0.0, instance_seconds=seconds,
                      details={"batch_sizes": sizes, "mean_batch_size": items / batches if batches else 0.0,
                               **fault_details(pool)})
    cost = {**instance_bill(seconds, it, scenario.catalog), "data": data_usd(scenario, log)}
    return SimResult("triton", True, (), h, config, log, cap, cost, figures=figures)
