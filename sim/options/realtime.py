"""`realtime`: provisioned endpoints on dedicated instances, one endpoint per model.

Each endpoint is an `InstancePool` (workers x instances, FIFO per instance, least-outstanding or random
routing) with a pinned count or target-tracking autoscaling on invocations per instance.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from sim.catalog import Catalog, InstanceType
from sim.components.autoscaler import LaunchDelay
from sim.components.credits import CreditBook, credit_ticks
from sim.components.flow import Served, merge_capacity, merge_costs, run_endpoints
from sim.components.pool import BurstablePool, InstancePool
from sim.components.sizing import (
    cheapest_fitting,
    hardware_reasons,
    max_workers,
    payload_reasons,
    processing_reasons,
)
from sim.components.timeout import time_out
from sim.cost import data_cost_usd
from sim.engine import Engine
from sim.faults import InstanceFailure, for_endpoint
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import (
    FleetConfig,
    fault_details,
    instance_bill,
    launch_delay_s,
    launch_delays,
    provision,
)
from sim.results import SERVED, ConfigRecord, Figures, RequestLog, SimConfig, SimResult
from sim.scenario import Scenario, stream


class RealtimeConfig(FleetConfig):
    """Knobs of a real-time endpoint. Unset knobs are sized from the workload."""

    workers_per_instance: int | None = Field(default=None, ge=1)
    """Requests served at once per instance; unset: one per vCPU (per GPU for GPU models) that memory allows."""
    routing: Literal["least_outstanding", "random"] = "least_outstanding"
    """How the endpoint spreads requests over its instances (the variant's RoutingConfig): the instance with the
    fewest requests in flight (LEAST_OUTSTANDING_REQUESTS, which the export sets), or one chosen at random
    (RANDOM, SageMaker's default when no RoutingConfig is given)."""


def endpoint_type(model: ModelSpec, cfg: RealtimeConfig, catalog: Catalog) -> InstanceType | None:
    """The instance type of one model's endpoint: the configured one, else the cheapest the model fits (None
    when none does)."""
    return catalog.instance(cfg.instance_type, "options.realtime.instance_type") if cfg.instance_type \
        else cheapest_fitting(model, catalog)


def _hardware(model: ModelSpec, cfg: RealtimeConfig, catalog: Catalog) -> tuple[InstanceType | None, int, list]:
    """Instance type and workers for one model's endpoint, or the reasons it cannot run."""
    it = endpoint_type(model, cfg, catalog)
    if it is None:
        return None, 0, [f"no instance type in catalog {catalog.name} fits model {model.name}"]
    reasons = hardware_reasons(it, model, cfg.workers_per_instance, catalog)
    return it, cfg.workers_per_instance or max_workers(it, model, catalog), reasons


@register("realtime", RealtimeConfig, delivers=frozenset({"sync", "async", "offline"}),
          patterns=frozenset({"serial", "scatter-gather", "aggregate"}), credits=True,
          ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: RealtimeConfig) -> SimResult:
    """Real-time endpoints: dedicated instances per model, queues, routing and autoscaling."""
    cat, models = scenario.catalog, scenario.models
    reasons = payload_reasons(models, cat.realtime.payload_limit_mb.value, "real-time endpoints")
    reasons += processing_reasons(models, cat.realtime.timeout_s.value, "real-time endpoints")
    plans = [(m, *_hardware(m, cfg, cat)) for m in models]
    reasons += [r for plan in plans for r in plan[3]]
    config = ConfigRecord(endpoints=len(models), routing=cfg.routing)
    for m, it, _, _ in plans:
        if it:
            config.set(m.name, instance_type=it.name)
    for m, _, w, _ in plans:
        config.set(m.name, workers_per_instance=w)
    if reasons:
        return SimResult.infeasible("realtime", reasons, scenario.horizon_s, config.freeze())

    def serve(i: int, arrivals: np.ndarray, service: np.ndarray) -> Served:
        model, it, workers, _ = plans[i]
        # a stream per endpoint: every option and configuration sees the same draws for the same model
        route_u = stream(scenario.seed, f"routing/{model.name}").random(arrivals.size) \
            if cfg.routing == "random" else None
        delays = launch_delays([model], cat, stream(scenario.seed, f"launch/{model.name}"))
        return serve_endpoint(model, it, workers, arrivals, service, cfg, cat, scenario.horizon_s,
                              for_endpoint(scenario.faults, model.name, i == 0), route_u, delays)

    log, parts = run_endpoints(scenario, serve, cat.co_hosting.endpoint_hop_ms.value / 1000.0)
    for part in parts:
        config.set(part.model, **part.config)
    if scenario.application is not None and not scenario.application.routed:
        config.set(hosting=f"{len(parts)} separate real-time endpoints, a network hop per call")
    return endpoints_result("realtime", scenario, log, parts, config.freeze())


def serve_endpoint(model: ModelSpec, it: InstanceType, workers: int, arrivals: np.ndarray, service: np.ndarray,
                   cfg: RealtimeConfig, cat: Catalog, horizon_s: float,
                   faults: tuple[InstanceFailure, ...] = (), route_u: np.ndarray | None = None,
                   delays: LaunchDelay | None = None) -> Served:
    """One model's endpoint: an instance pool, pinned or autoscaled, serving these arrivals, failing as
    `faults` say; routed at random by `route_u` (a uniform per arrival), else to the least outstanding.
    Instances launch after `delays` (default: the constant `launch_delay_s`)."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    env = Engine()
    elastic = cfg.instance_count is None
    if it.burstable is None:
        pool = env.attach(InstancePool(log, None, service, workers, elastic, route_u))
    else:  # a T type: CPU credits, settled every metric period
        pool = env.attach(BurstablePool(log, None, service, workers, CreditBook(it, workers, horizon_s), elastic,
                                        route_u))
        env.process(credit_ticks(env, pool, cat.autoscaling.metric_period_s.value))
    config: dict = {}
    capacity = workers / max(model.service_time.expected_ms / 1000.0, 1e-9)
    delays = launch_delay_s([model], cat) if delays is None else delays
    provision(env, pool, cfg, capacity, delays, arrivals, horizon_s, cat, config, faults, model.name)
    env.run_until(horizon_s)
    if isinstance(pool, BurstablePool):  # the run stops before a tick at the horizon: settle the last one
        pool.credit_tick(horizon_s)
    time_out(log, cat.realtime.timeout_s.value)
    return pool_served(log, pool, it, service, horizon_s, config, model.name, cat,
                       data_cost_usd(int(np.sum(log.status == SERVED)) * (model.payload_kb + model.response_kb),
                                     cat.realtime.data_price_per_gb.value))


def pool_served(log: RequestLog, pool, it: InstanceType, service: np.ndarray, horizon_s: float,
                config: dict, model: str, cat: Catalog, data_usd: float = 0.0) -> Served:
    """Cost, capacity and busy time of `model`'s simulated pool (any pool with billed_intervals, joined_s,
    left_s), and what its faults did."""
    seconds = pool.instance_seconds(horizon_s)
    busy = float(np.sum(service[log.start_s < horizon_s]))
    extra = {"instance_seconds": seconds, "worker_seconds": seconds * pool.workers, "busy_seconds": busy,
             **fault_details(pool)}
    if isinstance(getattr(pool, "credits", None), CreditBook):  # a burstable type: what its credits did
        extra.update(pool.credits.figures())
    cost = {**instance_bill(seconds, it, cat), "data": data_usd}
    return Served(log, cost, pool.capacity(horizon_s), config, extra, model)


def endpoints_result(option: str, scenario: Scenario, log: RequestLog, parts: list[Served],
                     config: SimConfig) -> SimResult:
    """One result from several endpoints: costs and capacity summed, utilisation over all of them, the faults
    of every endpoint."""
    used = {k: sum(p.extra.get(k, 0.0) for p in parts) for k in ("instance_seconds", "worker_seconds",
                                                                 "busy_seconds")}
    utilization = used["busy_seconds"] / used["worker_seconds"] if used["worker_seconds"] else 0.0
    faults = sorted((r for p in parts for r in p.extra.get("faults", ())), key=lambda r: r["at_s"])
    if faults:
        used["faults"] = faults
    figures = Figures(utilization=utilization, instance_seconds=used["instance_seconds"],
                      details={**used, **credit_details(parts)})
    return SimResult(option, True, (), scenario.horizon_s, config, log, merge_capacity(parts),
                     merge_costs(parts), figures=figures)


CREDIT_FIGURES = ("cpu_credit_balance_min", "throttled_s", "credits_exhausted_s")
"""What a burstable endpoint reports of its CPU credits (`CreditBook.figures`)."""


def credit_details(parts: list[Served]) -> dict:
    """Per endpoint on a burstable type, `<model>.<figure>` for each of `CREDIT_FIGURES`, and over all of them
    the lowest balance, the throttled instance-seconds summed and the first time credits ran out; {} when no
    endpoint runs on a burstable type."""
    burst = [p for p in parts if "throttled_s" in p.extra]
    if not burst:
        return {}
    out: dict = {f"{p.model}.{k}": p.extra[k] for p in burst for k in CREDIT_FIGURES}
    ran_out = [p.extra["credits_exhausted_s"] for p in burst if p.extra["credits_exhausted_s"] is not None]
    out.update(cpu_credit_balance_min=min(p.extra["cpu_credit_balance_min"] for p in burst),
               throttled_s=sum(p.extra["throttled_s"] for p in burst),
               credits_exhausted_s=min(ran_out) if ran_out else None)
    return out
