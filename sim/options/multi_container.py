"""`multi-container`: up to 15 containers on every instance of one endpoint, direct or serial invocation.

Every container is loaded on every instance all the time (no cold start); the requests in service on an
instance share its vCPUs by processor sharing (`SharingPool`), whichever container they run in. Modes:
- `direct`: the caller names the container. One model per request (single or multi-tenant traffic), or
  an application orchestrated by the caller: one call per stage, each paying a network hop
  (`co_hosting.endpoint_hop_ms`), branches of a scatter-gather called at once, then the aggregator;
- `serial`: the endpoint chains the containers in order on the instance (the application's steps, or
  every model), an in-host hop (`co_hosting.pipeline_hop_ms`) between consecutive containers.
Routing across instances is least outstanding requests; the count is pinned or target-tracked on
invocations per instance. CPU only. Billed per instance-second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.catalog import Catalog, InstanceType
from sim.components.sharing import sharing_pool
from sim.components.sizing import payload_reasons, usable_memory_mb
from sim.components.timeout import time_out
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import FleetConfig, fleet_result, run_fleet
from sim.results import ConfigRecord, RequestLog, SimResult
from sim.scenario import Scenario

WHAT = "multi-container endpoints"


class MultiContainerConfig(FleetConfig):
    """Knobs of a multi-container endpoint. Unset knobs are sized from the workload.

    `mode` defaults to serial for a serial application and to direct otherwise; `instance_type` to the
    cheapest CPU type that holds every container with a vCPU per parallel branch.
    """

    mode: Literal["direct", "serial"] | None = None
    """`direct`: the caller invokes one container per call; `serial`: the endpoint chains them; unset: serial for a
    serial application, else direct."""


@dataclass(frozen=True)
class Layout:
    """What runs where: container model indices, stages of work columns, hop before each stage (s)."""

    mode: str
    containers: tuple[int, ...]
    stages: tuple[tuple[int, ...], ...]
    hops_s: tuple[float, ...]

    @property
    def width(self) -> int:
        """Most jobs one request runs at once (parallel branches)."""
        return max(len(s) for s in self.stages)

    def work_s(self, scenario: Scenario) -> np.ndarray:
        """Per request (rows) the work (s) of each container (columns) it visits."""
        if self.mode == "direct" and _routed(scenario):
            return scenario.service_s[:, None]
        return np.column_stack([scenario.step_service_s(i) for i in self.containers])


def _routed(scenario: Scenario) -> bool:
    """True when each request runs the one model it names (no application, or dynamic selection)."""
    app = scenario.application
    return app is None or app.routed


def layout(scenario: Scenario, mode: str | None) -> tuple[Layout, list[str]]:
    """The layout for the scenario's application (or one model per request) and `mode`, with reasons."""
    co, app = scenario.catalog.co_hosting, scenario.application
    pipe_s, net_s = co.pipeline_hop_ms.value / 1000.0, co.endpoint_hop_ms.value / 1000.0
    models = tuple(range(len(scenario.models)))
    if _routed(scenario):
        mode = mode or "direct"
        if mode == "direct":
            return Layout(mode, models, ((0,),), (0.0,)), []
        return Layout(mode, models, tuple((i,) for i in models), (0.0,) + (pipe_s,) * (len(models) - 1)), []
    mode = mode or ("direct" if app.parallel else "serial")
    col = {m: j for j, m in enumerate(app.models_used)}
    stages = tuple(tuple(col[m] for m in stage) for stage in app.stages)
    if mode == "direct":  # the caller makes one call per stage
        return Layout(mode, app.models_used, stages, (net_s,) * len(stages)), []
    reasons = [] if not app.parallel else [
        f"serial invocation runs containers one after another and cannot fan out to the branches of a "
        f"{app.pattern} application (use mode direct)"]
    return Layout(mode, app.models_used, stages, (0.0,) + (pipe_s,) * (len(stages) - 1)), reasons


def _limits(scenario: Scenario, lay: Layout) -> list[str]:
    """Container count, GPU, payload and processing-time limits."""
    cat, used = scenario.catalog, [scenario.models[i] for i in lay.containers]
    most = int(cat.co_hosting.multi_container_max.value)
    reasons = [f"{len(used)} containers exceed the {most}-container limit of {WHAT}"] if len(used) > most else []
    reasons += [f"{WHAT} have no GPU (model {m.name} needs one)" for m in used if m.accelerator == "gpu"]
    reasons += payload_reasons(tuple(used), cat.realtime.payload_limit_mb.value, WHAT)
    limit = cat.realtime.timeout_s.value
    if lay.mode == "direct" and _routed(scenario):
        slow = [m for m in used if m.service_time.expected_ms / 1000.0 > limit]
        reasons += [f"processing of model {m.name} takes {m.service_time.expected_ms / 1000:,.0f} s on average "
                    f"and exceeds the {limit:g} s limit of {WHAT}" for m in slow]
    else:
        path_s = sum(max(used[c].service_time.expected_ms for c in stage) for stage in lay.stages) / 1000.0
        if path_s > limit:
            reasons.append(f"a request takes {path_s:,.0f} s of processing on average and exceeds the "
                           f"{limit:g} s limit of {WHAT}")
    return reasons


def instance_for(models: list[ModelSpec], name: str | None, vcpus: int, catalog: Catalog,
                 field: str = "options.multi-container.instance_type") -> tuple[InstanceType | None, list[str]]:
    """The pinned CPU instance type, or the cheapest with `vcpus` vCPUs holding every container's memory."""
    need = sum(m.memory_mb for m in models)
    if name is None:
        fits = catalog.cheapest(lambda t: t.accelerator == "cpu" and t.vcpu >= vcpus
                                and usable_memory_mb(t, catalog) >= need)
        if not fits:
            return None, [f"no CPU instance type in catalog {catalog.name} holds the {len(models)} containers "
                          f"({need:,.0f} MB together)"]
        return fits[0], []
    it = catalog.instance(name, field)
    if it.accelerator != "cpu":
        kind = {"gpu": "a GPU", "inferentia": "an Inferentia"}.get(it.accelerator, it.accelerator)
        return it, [f"{WHAT} run on CPU instance types and {it.name} is {kind} type"]
    if need > usable_memory_mb(it, catalog):
        return it, [f"the {len(models)} containers need {need:,.0f} MB together and {it.name} leaves "
                    f"{usable_memory_mb(it, catalog):,.0f} MB for models"]
    return it, []


@register("multi-container", MultiContainerConfig, delivers=frozenset({"sync", "async", "offline"}),
          patterns=frozenset({"serial", "scatter-gather", "aggregate"}), ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: MultiContainerConfig) -> SimResult:
    """Multi-container endpoint: up to 15 containers always loaded on shared instances (CPU)."""
    lay, reasons = layout(scenario, cfg.mode)
    reasons += _limits(scenario, lay)
    used = [scenario.models[i] for i in lay.containers]
    it, hw = instance_for(used, cfg.instance_type, lay.width, scenario.catalog)
    reasons += hw
    config = {"mode": lay.mode, "containers": len(used), "instance_type": it.name if it else None,
              "vcpu": it.vcpu if it else None, "hops_ms": [h * 1000.0 for h in lay.hops_s]}
    if reasons:
        return SimResult.infeasible("multi-container", reasons, scenario.horizon_s, ConfigRecord(**config).freeze())
    work = lay.work_s(scenario)
    per_request_s = float(sum(work[:, c].mean() for stage in lay.stages for c in stage)) if scenario.n else 0.0
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    pool = sharing_pool(log, None, work, lay.stages, it.vcpu, lay.hops_s)
    run_fleet(scenario, pool, cfg, it.vcpu / max(per_request_s, 1e-9), used, config)
    time_out(log, scenario.catalog.realtime.timeout_s.value)
    return fleet_result("multi-container", scenario, log, pool, it, config, pool.work_s, it.vcpu)
