"""`serverless`: serverless inference endpoints, one per model.

Containers on demand (`OnDemandContainers`), cold start = container start + download + load, keep-alive
expiry, max concurrency with throttling, provisioned concurrency, vCPU share proportional to memory.
Billed per GB-second of processing plus data processed; provisioned concurrency per GB-second held.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalog import Catalog
from sim.components.containers import OnDemandContainers
from sim.components.flow import Served, merge_capacity, merge_costs, run_endpoints
from sim.components.sizing import payload_reasons, processing_reasons
from sim.cost import billed_seconds, data_cost_usd, gb_second_cost_usd
from sim.engine import Engine
from sim.errors import InputError
from sim.faults import unsupported
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import EARLY_WINDOW_S
from sim.results import SERVED, ConfigRecord, Figures, RequestLog, SimResult, Timeline
from sim.scenario import Scenario, stream


class ServerlessConfig(BaseModel):
    """Knobs of a serverless endpoint; memory defaults to the smallest size that fits at full speed.

    `initial_warm`: on-demand containers already warm at t = 0. Unset, the endpoint starts as in steady
    state (`steady_warm`); 0 starts it cold, as a fresh deployment (or the Lambda experiments) does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    memory_mb: int | None = Field(default=None, gt=0)
    """Memory per container, MB, a size the catalog allows; unset: the smallest holding the model with a full vCPU."""
    max_concurrency: int = Field(default=20, ge=1)
    """Most requests in service at once per endpoint; beyond it requests are throttled (no queue)."""
    provisioned_concurrency: int = Field(default=0, ge=0)
    """Containers kept warm for the whole run and billed all the time; at most `max_concurrency`."""
    keep_alive_s: float | None = Field(default=None, gt=0)
    """Seconds an idle on-demand container stays warm before it expires; unset: the catalog's keep-alive."""
    initial_warm: int | None = Field(default=None, ge=0)
    """On-demand containers warm at t = 0; unset: as many as steady state keeps warm; 0: a cold deployment."""

    @model_validator(mode="after")
    def _provisioned_le_max(self) -> ServerlessConfig:
        if self.provisioned_concurrency > self.max_concurrency:
            raise ValueError("provisioned_concurrency must be <= max_concurrency")
        return self


def default_memory_mb(model: ModelSpec, catalog: Catalog) -> int:
    """Smallest allowed memory size holding the model and giving a full vCPU (catalog assumption)."""
    s = catalog.serverless
    need = max(model.memory_mb, s.memory_mb_per_vcpu.value, s.memory_mb_min.value)
    step = s.memory_mb_step.value
    return int(min(s.memory_mb_max.value, math.ceil(need / step) * step))


WARM_Z = 3.0
"""Standard deviations above the mean number in service that `steady_warm` keeps warm (Poisson)."""



def steady_warm(arrivals: np.ndarray, service: np.ndarray, cap: int) -> int:
    """Containers warm in steady state: mean in service E = rate x mean service over the first 10
    minutes, plus WARM_Z x sqrt(E) for the Poisson spread (about its 99.9th percentile), at most `cap`."""
    if arrivals.size == 0:
        return 0
    early = int(np.searchsorted(arrivals, EARLY_WINDOW_S))
    busy = early / EARLY_WINDOW_S * float(np.mean(service[:max(early, 1)]))
    return int(min(cap, math.ceil(busy + WARM_Z * math.sqrt(busy))))


def speed(memory_mb: float, catalog: Catalog) -> float:
    """Fraction of a vCPU a container gets: min(1, memory_mb / memory_mb_per_vcpu)."""
    return min(1.0, memory_mb / catalog.serverless.memory_mb_per_vcpu.value)


def quota_reasons(models: tuple[ModelSpec, ...] | list[ModelSpec], catalog: Catalog) -> list[str]:
    """The serverless quotas these models break, one endpoint each: endpoints per Region, and the time a new
    container has to download its model and answer /ping (its cold start)."""
    s, bw = catalog.serverless, catalog.network.model_download_mb_per_s.value
    out = []
    if len(models) > s.endpoints_per_region.value:
        out.append(f"{len(models)} serverless endpoints exceed the quota of {s.endpoints_per_region.value:.0f} "
                   "serverless endpoints per Region")
    out += [f"model {m.name}'s container takes {m.cold_start_s(bw):,.0f} s to start, download and load, and a "
            f"serverless container must answer /ping within {s.startup_limit_s.value:.0f} s"
            for m in models if m.cold_start_s(bw) > s.startup_limit_s.value]
    return out


def _memory_sizes(catalog: Catalog) -> range:
    """The memory sizes (MB) the serverless API accepts: the catalog's minimum to maximum in its steps."""
    s = catalog.serverless
    return range(int(s.memory_mb_min.value), int(s.memory_mb_max.value) + 1, int(s.memory_mb_step.value))


def _memory_allowed(memory_mb: int | None, catalog: Catalog) -> bool:
    """Whether a configured memory size is one the serverless API accepts (unset: the default, always)."""
    return memory_mb is None or memory_mb in _memory_sizes(catalog)


def check_config(cfg: ServerlessConfig, catalog: Catalog, names: list[str]) -> None:
    """InputError for a memory size or maximum concurrency the CreateEndpointConfig call would refuse."""
    s = catalog.serverless
    if not _memory_allowed(cfg.memory_mb, catalog):
        sizes = _memory_sizes(catalog)
        raise InputError("memory_mb", f"one of the serverless memory sizes {', '.join(map(str, sizes))} MB",
                         cfg.memory_mb, hint=f"the nearest is {min(sizes, key=lambda m: abs(m - cfg.memory_mb))}")
    if cfg.max_concurrency > s.max_concurrency_max.value:
        raise InputError("max_concurrency", f"at most {s.max_concurrency_max.value:.0f} per serverless endpoint",
                         cfg.max_concurrency)


def _reasons(models: tuple[ModelSpec, ...], cfg: ServerlessConfig, catalog: Catalog) -> list[str]:
    """Why serverless cannot serve these models with this config (empty when it can)."""
    s = catalog.serverless
    out = payload_reasons(models, s.payload_limit_mb.value, "serverless endpoints")
    out += processing_reasons(models, s.timeout_s.value, "serverless endpoints")
    for m in models:
        mem = cfg.memory_mb or default_memory_mb(m, catalog)
        if m.accelerator == "gpu":
            out.append(f"model {m.name} needs a GPU and serverless inference has none")
        if m.memory_mb > mem:
            out.append(f"model {m.name} needs {m.memory_mb:.0f} MB and serverless memory is {mem} MB "
                       f"(at most {s.memory_mb_max.value:.0f} MB)")
    if not _memory_allowed(cfg.memory_mb, catalog):
        out.append(f"serverless memory_mb {cfg.memory_mb} is not one of {s.memory_mb_min.value:.0f}.."
                   f"{s.memory_mb_max.value:.0f} in steps of {s.memory_mb_step.value:.0f}")
    if cfg.max_concurrency > s.max_concurrency_max.value:
        out.append(f"max_concurrency {cfg.max_concurrency} exceeds the limit of {s.max_concurrency_max.value:.0f}")
    out += quota_reasons(models, catalog)
    total = cfg.max_concurrency * len(models)
    if total > s.account_concurrency.value:
        out.append(f"{len(models)} endpoints x max_concurrency {cfg.max_concurrency} = {total} exceeds the "
                   f"account's {s.account_concurrency.value:.0f} serverless concurrency per Region")
    return out


@register("serverless", ServerlessConfig, patterns=frozenset({"serial", "scatter-gather", "aggregate"}),
          check=check_config, ignores=frozenset({"realtime.instance_launch_s"}))
def simulate(scenario: Scenario, cfg: ServerlessConfig) -> SimResult:
    """Serverless inference: on-demand containers, cold starts, keep-alive and throttling."""
    unsupported(scenario.faults, "serverless", "the platform's containers, not instances the endpoint holds")
    cat, s = scenario.catalog, scenario.catalog.serverless
    reasons = _reasons(scenario.models, cfg, cat)
    ka = cfg.keep_alive_s if cfg.keep_alive_s is not None else s.keep_alive_s.value
    config = ConfigRecord(max_concurrency=cfg.max_concurrency, provisioned_concurrency=cfg.provisioned_concurrency,
                          keep_alive_s=ka, endpoints=len(scenario.models))
    if reasons:
        return SimResult.infeasible("serverless", reasons, scenario.horizon_s, config.freeze())

    def serve(i: int, arrivals: np.ndarray, service: np.ndarray) -> Served:
        return serve_endpoint(scenario.models[i], arrivals, service, cfg, ka, cat, scenario.horizon_s, scenario.seed)

    log, parts = run_endpoints(scenario, serve, cat.co_hosting.endpoint_hop_ms.value / 1000.0)
    for part in parts:
        config.set(part.model, **part.config)
    if scenario.application is not None and not scenario.application.routed:
        config.set(hosting=f"{len(parts)} separate serverless endpoints, a network hop per call")
    used = {k: sum(p.extra[k] for p in parts) for k in ("busy_seconds", "alive_seconds", "containers_created",
                                                        "paid_seconds", "billed_seconds")}
    busy, alive, paid = used["busy_seconds"], used["alive_seconds"], used["paid_seconds"]
    # only provisioned concurrency is paid while idle; on-demand containers bill their work alone
    figures = Figures(utilization=min(1.0, busy / alive) if alive else 0.0,
                      paid_utilization=min(1.0, busy / paid) if paid else 1.0, details=used)
    return SimResult("serverless", True, (), scenario.horizon_s, config.freeze(), log, merge_capacity(parts),
                     merge_costs(parts), figures=figures)


def cold_starts(m: ModelSpec, cat: Catalog, seed: int) -> float | Callable[[int], np.ndarray]:
    """Cold start of each new container of `m`'s endpoint (s): the constant `cold_start_s`, or draws from the
    stream `cold/<model>` when the container start varies (the same draws for every configuration)."""
    bw = cat.network.model_download_mb_per_s.value
    if m.container_start is None:
        return m.cold_start_s(bw)
    rng = stream(seed, f"cold/{m.name}")
    return lambda n: m.cold_starts_s(rng, n, bw)


def serve_endpoint(m: ModelSpec, arrivals: np.ndarray, service: np.ndarray, cfg: ServerlessConfig, ka: float,
                   cat: Catalog, horizon_s: float, seed: int = 0) -> Served:
    """One model's serverless endpoint: containers on demand for these arrivals, and its bill (`seed` draws
    the containers' starts when they vary)."""
    s = cat.serverless
    mem = cfg.memory_mb or default_memory_mb(m, cat)
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    env, work = Engine(), service / speed(mem, cat)
    room = cfg.max_concurrency - cfg.provisioned_concurrency
    warm = min(room, cfg.initial_warm if cfg.initial_warm is not None else steady_warm(arrivals, work, room))
    fleet = env.attach(OnDemandContainers(log, None, work, cold_starts(m, cat, seed), cfg.max_concurrency, ka,
                                          cfg.provisioned_concurrency, s.timeout_s.value, warm=warm))
    del work  # the containers hold their own compact copy; a week of it is ~100 MB
    env.run_until(horizon_s)
    served = int(np.sum(log.status == SERVED))
    busy = billed_seconds(np.frombuffer(fleet.billed_s), s.billing_granularity_ms.value)
    on_prov = billed_seconds(np.frombuffer(fleet.provisioned_billed_s), s.billing_granularity_ms.value)
    cost = {"compute": gb_second_cost_usd(busy, mem, s.price_per_gb_second.value),
            "data": data_cost_usd(served * (m.payload_kb + m.response_kb), s.data_price_per_gb.value)}
    if cfg.provisioned_concurrency:
        # provisioned memory is billed whether used or not, and the requests it serves for their compute
        cost["provisioned_concurrency"] = gb_second_cost_usd(horizon_s * cfg.provisioned_concurrency, mem,
                                                             s.provisioned_price_per_gb_second.value)
        cost["provisioned_compute"] = gb_second_cost_usd(on_prov, mem,
                                                         s.provisioned_inference_price_per_gb_second.value)
    born, dead = fleet.lifetimes(horizon_s)
    ended = dead[dead < horizon_s]
    cap = Timeline.from_deltas(np.r_[born, ended], np.r_[np.ones(born.size), -np.ones(ended.size)],
                               start=float(cfg.provisioned_concurrency))
    alive = float(np.sum(dead - born)) + horizon_s * cfg.provisioned_concurrency
    on_demand_s = float(np.sum(fleet.billed_s))
    return Served(log, cost, cap, {"memory_mb": mem, "initial_warm": warm},
                  {"busy_seconds": on_demand_s + float(np.sum(fleet.provisioned_billed_s)),
                   "alive_seconds": alive,
                   "paid_seconds": on_demand_s + horizon_s * cfg.provisioned_concurrency,
                   "containers_created": len(fleet.created_s),
                   # request durations rounded up to the billing granularity: on demand, then on provisioned
                   "billed_seconds": busy + on_prov}, m.name)
