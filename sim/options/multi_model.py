"""`multi-model`: a multi-model endpoint (MME): every model behind one endpoint on shared instances.

Instances load models lazily on first use and keep them in a memory cache and a disk cache, both LRU
(`sim.components.cache`); requests go to an instance that has their model loaded
(`sim.components.mme_pool`). A miss waits for the download (or disk read) + load of its model, in the
background of that model only; that wait is the MME's cold-start spike. Memory is counted once per
instance, shared by every worker. Instance count pinned or target tracking on invocations per instance
(the endpoint's total, as SageMaker's metric is), as `realtime`. Billed per instance-second.

GPU models go through Triton: if any model is `accelerator: gpu`, every model runs on a GPU instance and
the memory budget is the GPU memory less the Triton server's overhead (catalog).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.catalog import Catalog, InstanceType
from sim.components.autoscaler import LaunchDelay
from sim.components.cache import Footprints
from sim.components.gpu import gpu_budget_mb
from sim.components.mme_pool import ModelAwarePool
from sim.components.sizing import payload_reasons, processing_reasons
from sim.components.timeout import time_out
from sim.engine import Engine
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import FleetConfig, data_usd, drawn_launch, fault_details, instance_bill, provision
from sim.results import ConfigRecord, Figures, RequestLog, SimConfig, SimResult
from sim.scenario import Scenario, stream
from sim.summary import Cache

OPTION = "multi-model"


class MultiModelConfig(FleetConfig):
    """Knobs of a multi-model endpoint. Unset knobs are sized from the workload (see `_plan`).

    `model_memory_budget_mb` is the memory for loaded models per instance (default: instance memory less
    the serving overhead, or GPU memory less Triton's); `disk_budget_mb` the model artifact cache per
    instance (default: the catalog's `multi_model.disk_gb`). `workers_per_instance` defaults to the vCPUs
    (the GPUs on a Triton GPU endpoint: one request at a time per GPU; batching is the `triton` option's).
    Neither `instance_count` nor `autoscaling`: target tracking sized as `realtime` sizes it.
    """

    workers_per_instance: int | None = Field(default=None, ge=1)
    """Requests served at once per instance; unset: the vCPUs (the GPUs on a Triton GPU endpoint)."""
    model_memory_budget_mb: float | None = Field(default=None, gt=0)
    """Memory for loaded models per instance, MB; unset: instance (or GPU) memory less the serving overhead."""
    disk_budget_mb: float | None = Field(default=None, gt=0)
    """Disk cache of model artifacts per instance, MB; unset: the catalog's `multi_model.disk_gb`."""


def memory_for_models_mb(it: InstanceType, gpu: bool, catalog: Catalog) -> float:
    """Memory an instance leaves for loaded models: RAM less the serving overhead, or (GPU, through
    Triton) every GPU's memory less the runtime's overhead on it (`gpu_budget_mb`); MB."""
    if gpu:
        return gpu_budget_mb(it, catalog)
    return it.memory_mb - catalog.realtime.memory_overhead_mb.value


def _instance_type(cfg: MultiModelConfig, largest_mb: float, gpu: bool, catalog: Catalog) -> InstanceType | None:
    """The user's type, or the cheapest CPU (GPU) type whose model memory holds the largest model."""
    if cfg.instance_type:
        return catalog.instance(cfg.instance_type, f"options.{OPTION}.instance_type")
    fits = catalog.cheapest(lambda it: it.accelerator == ("gpu" if gpu else "cpu")
                            and memory_for_models_mb(it, gpu, catalog) >= largest_mb)
    return fits[0] if fits else None


def container_reasons(models: tuple[ModelSpec, ...]) -> list[str]:
    """Why the models cannot share one multi-model endpoint: it runs one container for all of them, and
    they name different serving containers (models that name none share one)."""
    groups: dict[str, list[str]] = {}
    for m in models:
        groups.setdefault(m.container or "unnamed", []).append(m.name)
    if len(groups) < 2:
        return []
    listed = "; ".join(f"{c}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}" for c, names in groups.items())
    return [f"a multi-model endpoint serves all its models from one container, and these models need "
            f"{len(groups)} ({listed})"]


def _plan(scenario: Scenario, cfg: MultiModelConfig) -> tuple[dict, list[str]]:
    """Hardware, budgets and workers, as the flat config dict, and the reasons the option cannot serve."""
    cat, models = scenario.catalog, scenario.models
    reasons = payload_reasons(models, cat.realtime.payload_limit_mb.value, "multi-model endpoints")
    reasons += processing_reasons(models, cat.realtime.timeout_s.value, "multi-model endpoints")
    reasons += container_reasons(models)
    fp = Footprints.of(models, cat)
    gpu = any(m.accelerator == "gpu" for m in models)
    it = _instance_type(cfg, max(fp.memory_mb), gpu, cat)
    if it is None:
        kind = "GPU (Triton)" if gpu else "CPU"
        return {}, reasons + [f"no {kind} instance type in catalog {cat.name} leaves {max(fp.memory_mb):,.0f} MB "
                              f"for the largest model"]
    if gpu and not it.has_gpu:
        reasons.append(f"GPU models on a multi-model endpoint need a GPU instance (Triton) and {it.name} has none")
    usable = memory_for_models_mb(it, gpu, cat)
    budget = cfg.model_memory_budget_mb or usable
    if budget > usable:
        reasons.append(f"model_memory_budget_mb {budget:,.0f} exceeds the {usable:,.0f} MB that {it.name} leaves "
                       "for models")
    disk = cfg.disk_budget_mb or cat.multi_model.disk_gb.value * 1024
    for m, mem, size in zip(models, fp.memory_mb, fp.size_mb, strict=True):
        if mem > budget:
            reasons.append(f"model {m.name} needs {mem:,.0f} MB and the multi-model memory budget of {it.name} is "
                           f"{budget:,.0f} MB: it can never be loaded")
        if size > disk:
            reasons.append(f"model {m.name}'s {size:,.0f} MB artifact exceeds the {disk:,.0f} MB model disk cache")
    workers = cfg.workers_per_instance or ((it.gpu_count if gpu else it.vcpu) or 1)
    config = {"models": len(models), "instance_type": it.name, "workers_per_instance": workers,
              "model_memory_budget_mb": budget, "disk_budget_mb": disk, "gpu_triton": gpu,
              "models_in_memory": int(budget // max(float(np.mean(fp.memory_mb)), 1e-9))}
    return config, reasons


def _launch_s(scenario: Scenario) -> LaunchDelay:
    """Instance provisioning + the serving container's start (drawn per launch when it varies); models load
    lazily afterwards."""
    base, models = scenario.catalog.realtime.instance_launch_s.value, list(scenario.models)
    return drawn_launch(base + max(m.container_start_mean_s for m in models), models,
                        stream(scenario.seed, "launch/multi-model"), base, [0.0] * len(models))


def run(scenario: Scenario, cfg: MultiModelConfig, track: bool = False) -> tuple[SimResult, ModelAwarePool | None]:
    """Simulate the endpoint; also returns its pool (None when infeasible) for inspection by tests."""
    cat, h = scenario.catalog, scenario.horizon_s
    config, reasons = _plan(scenario, cfg)
    if reasons:
        return SimResult.infeasible(OPTION, reasons, h, ConfigRecord(**config).freeze()), None
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    pool = ModelAwarePool(log, None, scenario.service_s, config["workers_per_instance"],
                          Footprints.of(scenario.models, cat), config["model_memory_budget_mb"],
                          config["disk_budget_mb"], track=track)
    env = Engine()
    mean_s = float(np.mean(scenario.service_s)) if scenario.n else 1.0  # the traffic mix's mean work
    provision(env, pool, cfg, config["workers_per_instance"] / max(mean_s, 1e-9), _launch_s(scenario),
              scenario.arrivals_s, scenario.horizon_s, cat, config, scenario.faults)
    env.attach(pool)
    env.run_until(h)
    time_out(log, cat.realtime.timeout_s.value)
    return _result(scenario, log, pool, cat.instance(config["instance_type"]), ConfigRecord(**config).freeze()), pool


@register(OPTION, MultiModelConfig, ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: MultiModelConfig) -> SimResult:
    """Multi-model endpoint: models share instances, loaded lazily into LRU memory and disk caches."""
    return run(scenario, cfg)[0]


def _result(scenario: Scenario, log: RequestLog, pool: ModelAwarePool, it: InstanceType,
            config: SimConfig) -> SimResult:
    """Capacity timeline, instance cost, cache counters (summed over instances) and utilisation."""
    h = scenario.horizon_s
    seconds, cap = pool.instance_seconds(h), pool.capacity(h)
    c = pool.counters()
    lookups = c["hits"] + c["misses"]
    cache = Cache(c["hits"], c["misses"], c["evictions"], c["hits"] / lookups if lookups else 0.0)
    busy = float(np.sum(scenario.service_s[log.start_s < h]))
    worker_s = seconds * pool.workers
    details = {**{k: c[k] for k in ("delayed_hits", "disk_hits", "downloads", "disk_evictions")},
               "peak_memory_mb": max((x.peak_mb for x in pool.caches), default=0.0), **fault_details(pool)}
    figures = Figures(utilization=busy / worker_s if worker_s else 0.0, instance_seconds=seconds, details=details)
    # the volume holds the disk cache of model artifacts (MME provisions a larger one than a single model's)
    disk_gb = None if it.instance_store else config.option["disk_budget_mb"] / 1024
    cost = {**instance_bill(seconds, it, scenario.catalog, disk_gb), "data": data_usd(scenario, log)}
    return SimResult(OPTION, True, (), h, config, log, cap, cost, cache=cache, figures=figures)
