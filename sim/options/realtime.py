"""`realtime`: provisioned endpoints on dedicated instances, one endpoint per model.

Each endpoint is an `InstancePool` (workers x instances, FIFO per instance, least-outstanding routing)
with a pinned count or target-tracking autoscaling on invocations per instance.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalog import Catalog, InstanceType
from sim.components.autoscaler import TargetTracking, invocations_counter, target_tracking
from sim.components.flow import Served, merge_capacity, merge_costs, run_endpoints
from sim.components.pool import InstancePool
from sim.components.sizing import (
    cheapest_fitting,
    hardware_reasons,
    max_workers,
    payload_reasons,
    peak_rate_rps,
    processing_reasons,
)
from sim.cost import instance_cost_usd
from sim.engine import Engine
from sim.model import ModelSpec
from sim.options import register
from sim.results import RequestLog, SimResult, Timeline
from sim.scenario import Scenario


class Autoscaling(BaseModel):
    """Target tracking on InvocationsPerInstance (per minute); cooldowns default to the catalog's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: int = Field(default=1, ge=1)
    max: int = Field(ge=1)
    target_invocations_per_instance: float = Field(gt=0)
    scale_in_cooldown_s: float | None = Field(default=None, ge=0)
    scale_out_cooldown_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.max < self.min:
            raise ValueError("autoscaling max must be >= min")
        return self


class RealtimeConfig(BaseModel):
    """Knobs of a real-time endpoint. Unset knobs are sized from the workload (see `resolve`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str | None = None
    instance_count: int | None = Field(default=None, ge=1)
    workers_per_instance: int | None = Field(default=None, ge=1)
    autoscaling: Autoscaling | None = None
    initial_count: int | None = Field(default=None, ge=1)
    launch_s: float | None = Field(default=None, ge=0)
    target_utilization: float = Field(default=0.6, gt=0, le=1)

    @model_validator(mode="after")
    def _pinned_or_scaled(self) -> RealtimeConfig:
        if self.instance_count is not None and self.autoscaling is not None:
            raise ValueError("give instance_count (pinned, no autoscaling) or autoscaling, not both")
        return self


def _policy(cfg: RealtimeConfig, it: InstanceType, model: ModelSpec, workers: int, arrivals: np.ndarray,
            horizon_s: float, catalog: Catalog) -> tuple[TargetTracking, int]:
    """Autoscaling policy and initial count: the user's, or sized so instances run at target_utilization."""
    a, f = cfg.autoscaling, catalog.autoscaling
    per_inst_rps = cfg.target_utilization * workers / max(model.service_time.expected_ms / 1000.0, 1e-9)
    if a is None:
        need = peak_rate_rps(arrivals, horizon_s) / per_inst_rps
        a = Autoscaling(min=1, max=max(2, math.ceil(2 * need)),
                        target_invocations_per_instance=per_inst_rps * f.metric_period_s.value)
    target_rps = a.target_invocations_per_instance / f.metric_period_s.value
    early = np.searchsorted(arrivals, min(600.0, horizon_s)) / min(600.0, horizon_s)
    initial = cfg.initial_count or min(a.max, max(a.min, math.ceil(early / target_rps)))
    pol = TargetTracking(
        a.min, a.max, a.target_invocations_per_instance, f.metric_period_s.value,
        int(f.scale_out_datapoints.value), int(f.scale_in_datapoints.value), f.scale_in_threshold_ratio.value,
        a.scale_out_cooldown_s if a.scale_out_cooldown_s is not None else f.scale_out_cooldown_s.value,
        a.scale_in_cooldown_s if a.scale_in_cooldown_s is not None else f.scale_in_cooldown_s.value,
        cfg.launch_s if cfg.launch_s is not None else launch_delay_s(model, catalog))
    return pol, initial


def launch_delay_s(model: ModelSpec, catalog: Catalog) -> float:
    """Scale-out decision to serving: instance provisioning (catalog) + the model's cold start."""
    return catalog.realtime.instance_launch_s.value + model.cold_start_s(catalog.network.model_download_mb_per_s.value)


def _hardware(model: ModelSpec, cfg: RealtimeConfig, catalog: Catalog) -> tuple[InstanceType | None, int, list]:
    """Instance type and workers for one model's endpoint, or the reasons it cannot run."""
    it = catalog.instance(cfg.instance_type, "options.realtime.instance_type") if cfg.instance_type \
        else cheapest_fitting(model, catalog)
    if it is None:
        return None, 0, [f"no instance type in catalog {catalog.name} fits model {model.name}"]
    reasons = hardware_reasons(it, model, cfg.workers_per_instance, catalog)
    return it, cfg.workers_per_instance or max_workers(it, model, catalog), reasons


@register("realtime", RealtimeConfig, delivers=frozenset({"sync", "async", "offline"}),
          patterns=frozenset({"serial", "scatter-gather", "aggregate"}))
def simulate(scenario: Scenario, cfg: RealtimeConfig) -> SimResult:
    """Real-time endpoints: dedicated instances per model, queues, routing and autoscaling."""
    cat, models = scenario.catalog, scenario.models
    reasons = payload_reasons(models, cat.realtime.payload_limit_mb.value, "real-time endpoints")
    reasons += processing_reasons(models, cat.realtime.timeout_s.value, "real-time endpoints")
    plans = [(m, *_hardware(m, cfg, cat)) for m in models]
    reasons += [r for plan in plans for r in plan[3]]
    config = {"endpoints": len(models), **{f"{m.name}.instance_type": it.name for m, it, *_ in plans if it},
              **{f"{m.name}.workers_per_instance": w for m, _, w, _ in plans}}
    if reasons:
        return SimResult.infeasible("realtime", reasons, scenario.horizon_s, config)

    def serve(i: int, arrivals: np.ndarray, service: np.ndarray) -> Served:
        model, it, workers, _ = plans[i]
        return serve_endpoint(model, it, workers, arrivals, service, cfg, cat, scenario.horizon_s)

    log, parts = run_endpoints(scenario, serve, cat.co_hosting.endpoint_hop_ms.value / 1000.0)
    for part in parts:
        config.update(part.config)
    if scenario.application is not None and not scenario.application.routed:
        config["hosting"] = f"{len(parts)} separate real-time endpoints, a network hop per call"
    return endpoints_result("realtime", scenario, log, parts, config)


def serve_endpoint(model: ModelSpec, it: InstanceType, workers: int, arrivals: np.ndarray, service: np.ndarray,
                   cfg: RealtimeConfig, cat: Catalog, horizon_s: float) -> Served:
    """One model's endpoint: an instance pool, pinned or autoscaled, serving these arrivals."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    env = Engine()
    pool = env.attach(InstancePool(log, np.arange(arrivals.size), service, workers, cat.realtime.timeout_s.value,
                                   elastic=cfg.instance_count is None))
    config = {}
    if cfg.instance_count is not None:
        count = cfg.instance_count
    else:
        pol, count = _policy(cfg, it, model, workers, arrivals, horizon_s, cat)
        env.process(target_tracking(env, pool, invocations_counter(arrivals), pol))
        config[f"{model.name}.autoscaling"] = (f"{pol.min_instances}..{pol.max_instances} "
                                               f"target {pol.target:.0f}/instance/min")
    for _ in range(count):
        pool.join(0.0)
    config[f"{model.name}.initial_count"] = count
    env.run_until(horizon_s)
    return pool_served(log, pool, it, service, horizon_s, config)


def pool_served(log: RequestLog, pool, it: InstanceType, service: np.ndarray, horizon_s: float,
                config: dict) -> Served:
    """Cost, capacity and busy time of a simulated pool (any pool with billed_intervals, joined_s, left_s)."""
    seconds = worker_s = cost = 0.0
    for t0, t1 in pool.billed_intervals(horizon_s):
        seconds += t1 - t0
        worker_s += (t1 - t0) * pool.workers
        cost += instance_cost_usd(t1 - t0, it.price_per_hour.value)
    left = [t for t in pool.left_s if t < horizon_s]
    cap = Timeline.from_deltas(np.array(pool.joined_s + left, float),
                               np.array([1.0] * len(pool.joined_s) + [-1.0] * len(left)))
    busy = float(np.sum(service[log.start_s < horizon_s]))
    return Served(log, {"instances": cost}, cap, config,
                  {"instance_seconds": seconds, "worker_seconds": worker_s, "busy_seconds": busy})


def endpoints_result(option: str, scenario: Scenario, log: RequestLog, parts: list[Served],
                     config: dict) -> SimResult:
    """One result from several endpoints: costs and capacity summed, utilisation over all of them."""
    extra = {k: sum(p.extra.get(k, 0.0) for p in parts) for k in ("instance_seconds", "worker_seconds",
                                                                  "busy_seconds")}
    extra["utilization"] = extra["busy_seconds"] / extra["worker_seconds"] if extra["worker_seconds"] else 0.0
    return SimResult(option, True, (), scenario.horizon_s, config, log, merge_capacity(parts),
                     merge_costs(parts), extra=extra)
