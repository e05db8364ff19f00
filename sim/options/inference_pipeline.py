"""`inference-pipeline`: a serial application of 2..15 containers run in sequence on every instance.

Each step (a model, or a business-logic step: a container too) is its own container with
`workers_per_container` FIFO workers, the CPU steps sharing the instance's vCPUs; a request goes through
the steps of one instance in order with an in-host hop (`co_hosting.pipeline_hop_ms`) between consecutive
steps (`TandemPool`), so its latency is the sum over steps of queue + service, plus the hops, and
throughput is bound by the slowest step (or by the shared vCPUs).
Routing across instances is least outstanding requests; the count is pinned or target-tracked on
invocations per instance. Billed per instance-second.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from sim.catalog import Catalog, InstanceType
from sim.components.credits import CreditBook
from sim.components.sizing import payload_reasons, usable_memory_mb
from sim.components.tandem import BurstableTandemPool, TandemPool
from sim.components.timeout import time_out
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import FleetConfig, fleet_result, run_fleet
from sim.results import ConfigRecord, RequestLog, SimResult
from sim.scenario import Scenario

WHAT = "inference pipelines"


class PipelineConfig(FleetConfig):
    """Knobs of an inference pipeline. `instance_type` defaults to the cheapest type holding every
    container's workers (a vCPU, or a GPU for GPU steps, per worker); the count to target tracking."""

    workers_per_container: int = Field(default=1, ge=1)
    """FIFO workers of every step's container on each instance."""


def _steps(scenario: Scenario) -> tuple[tuple[int, ...], list[str]]:
    """The steps (model indices) of the scenario's serial application, or why there is none to run."""
    co, app = scenario.catalog.co_hosting, scenario.application
    lo, hi = int(co.pipeline_min_containers.value), int(co.pipeline_max_containers.value)
    if app is None or app.pattern != "serial":
        return (), [f"an inference pipeline needs a serial application of {lo} to {hi} steps"]
    n = len(app.steps)
    if n < lo:
        return app.steps, [f"an inference pipeline of {n} step{'s' if n != 1 else ''} is below the "
                           f"{lo}-container minimum of {WHAT}"]
    if n > hi:
        return app.steps, [f"{n} steps exceed the {hi}-container limit of {WHAT}"]
    return app.steps, []


def hardware_reasons(it: InstanceType, steps: list[ModelSpec], workers: int, catalog: Catalog) -> list[str]:
    """Why every step's `workers` workers cannot run on `it`: a GPU per GPU worker, each worker holding its
    own model copy (host memory for CPU steps, a GPU's for GPU steps). CPU steps share the instance's vCPUs
    (`TandemPool`), so they need at least one, not one each."""
    cpu = [m for m in steps if m.accelerator == "cpu"]
    gpu = [m for m in steps if m.accelerator == "gpu"]
    out = []
    if it.accelerator == "inferentia":
        return [f"{it.name} is an Inferentia type; the pipeline's containers need CPUs or GPUs"]
    host_mb = workers * sum(m.memory_mb for m in cpu)
    if host_mb > usable_memory_mb(it, catalog):
        out.append(f"the CPU containers' workers need {host_mb:,.0f} MB and {it.name} leaves "
                   f"{usable_memory_mb(it, catalog):,.0f} MB for models")
    if gpu and workers * len(gpu) > it.gpu_count:
        out.append(f"{len(gpu)} GPU containers x {workers} workers need {workers * len(gpu)} GPUs and "
                   f"{it.name} has {it.gpu_count}")
    per_gpu_mb = it.gpu_memory_gib * 1024  # each worker holds its model on a GPU of its own
    out += [f"model {m.name} needs {m.memory_mb:,.0f} MB of GPU memory and a GPU of {it.name} has "
            f"{per_gpu_mb:,.0f} MB" for m in gpu if it.gpu_count and m.memory_mb > per_gpu_mb]
    return out


def _instance(steps: list[ModelSpec], cfg: PipelineConfig, catalog: Catalog) -> tuple[InstanceType | None, list]:
    """The pinned instance type, or the cheapest on which every container's workers fit."""
    w = cfg.workers_per_container
    if cfg.instance_type is not None:
        it = catalog.instance(cfg.instance_type, "options.inference-pipeline.instance_type")
        return it, hardware_reasons(it, steps, w, catalog)
    fits = catalog.cheapest(lambda t: not hardware_reasons(t, steps, w, catalog))
    if not fits:
        return None, [f"no instance type in catalog {catalog.name} holds the {len(steps)} containers with "
                      f"{w} worker{'s' if w > 1 else ''} each"]
    return fits[0], []


def _limits(steps: list[ModelSpec], catalog: Catalog) -> list[str]:
    """Payload and end-to-end processing limits of the real-time endpoint the pipeline is behind."""
    reasons = payload_reasons(tuple(steps), catalog.realtime.payload_limit_mb.value, WHAT)
    limit, path_s = catalog.realtime.timeout_s.value, sum(m.service_time.expected_ms for m in steps) / 1000.0
    if path_s > limit:
        reasons.append(f"a request takes {path_s:,.0f} s of processing on average and exceeds the {limit:g} s "
                       f"limit of {WHAT}")
    return reasons


@register("inference-pipeline", PipelineConfig, delivers=frozenset({"sync", "async", "offline"}),
          patterns=frozenset({"serial"}), credits=True, ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: PipelineConfig) -> SimResult:
    """Inference pipeline: 2..15 containers in sequence on each instance, bound by the slowest step."""
    cat = scenario.catalog
    steps, reasons = _steps(scenario)
    models = [scenario.models[i] for i in steps]
    it, hw = _instance(models, cfg, cat) if models else (None, [])
    reasons += _limits(models, cat) + hw
    hop_s = cat.co_hosting.pipeline_hop_ms.value / 1000.0
    config = {"steps": len(steps), "instance_type": it.name if it else None,
              "workers_per_container": cfg.workers_per_container, "hop_ms": hop_s * 1000.0}
    if reasons:
        return SimResult.infeasible("inference-pipeline", reasons, scenario.horizon_s, ConfigRecord(**config).freeze())
    service = np.column_stack([scenario.step_service_s(i) for i in steps])
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    cpu_steps = tuple(m.accelerator == "cpu" for m in models)
    if it.burstable is None:
        pool = TandemPool(log, None, service, cfg.workers_per_container, hop_s, it.vcpu, cpu_steps)
    else:  # a T type: every container's workers share the instance's CPU credits
        book = CreditBook(it, len(steps) * cfg.workers_per_container, scenario.horizon_s)
        pool = BurstableTandemPool(log, None, service, cfg.workers_per_container, book, hop_s, it.vcpu, cpu_steps)
    means = service.mean(axis=0) if scenario.n else np.zeros(len(models))
    # the bottleneck: the slowest step, or the vCPUs shared by all CPU steps when they outnumber them
    shared_s = float(means[list(cpu_steps)].sum()) * cfg.workers_per_container / it.vcpu
    slowest_s = max(float(means.max()), shared_s) if scenario.n else 0.0
    run_fleet(scenario, pool, cfg, cfg.workers_per_container / max(slowest_s, 1e-9), models, config)
    time_out(log, cat.realtime.timeout_s.value)
    n = max(scenario.n, 1)
    steps_waited = [{"step": m.name, "mean_wait_ms": 1000.0 * w / n, "max_wait_ms": 1000.0 * top}
                    for m, w, top in zip(models, pool.wait_s, pool.max_wait_s, strict=True)]
    return fleet_result("inference-pipeline", scenario, log, pool, it, config, float(service.sum()),
                        len(steps) * cfg.workers_per_container, {"steps": steps_waited})
