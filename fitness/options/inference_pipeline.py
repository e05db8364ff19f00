"""The `inference-pipeline` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/inference_pipeline.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import numpy as np

from fitness.engine.fleets import FLEET_PINS, distinct, fleet_search, pinned_config, tracked_config
from fitness.engine.queueing import Demand, plan, sizing_window_s
from fitness.engine.sizing import Runner
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.export.hosting import containers
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.options.inference_pipeline import PipelineConfig
from sim.options.inference_pipeline import hardware_reasons as pipeline_reasons
from sim.scenario import Scenario

DOCS = """\
`sim/options/inference_pipeline.py`, data plane `TandemPool` (`sim/components/tandem.py`). Delivers sync,
async and offline; hosts the serial pattern only (and needs one).

- **Tandem queues.** Every instance holds one container per step (business-logic steps too), each with
  `workers_per_container` FIFO workers (default 1). A request routed to an instance (least outstanding)
  starts step k at max(its finish at step k - 1 + `co_hosting.pipeline_hop_ms`, the earliest free worker
  of step k): latency is the sum of each step's queue and service plus the hops, and throughput is bound
  by the slowest step. Per-step mean and maximum waits are reported.
- **Approximation.** Requests are taken in arrival order at every step. That is exact with one worker
  per step or constant service; with several workers and variable service a request can overtake
  another at one step and still wait for it at the next, which errs on the slow side.
- **Shared vCPUs.** The containers of a pipeline run side by side on one instance and share its vCPUs.
  While the CPU steps' workers are no more than the vCPUs nothing is shared (exact); beyond that a CPU
  step starting while b other CPU workers of its instance are busy runs at speed min(1, vCPUs / (b + 1))
  for its whole service, which at saturation gives the processor-sharing throughput vCPUs / (sum of the
  CPU steps' service). Sizing then treats the vCPUs as the servers of all the CPU steps' work.
- **Defaults.** Instance type: the cheapest type on which every step's workers fit (memory for each CPU
  worker's model copy, a GPU per GPU worker). Autoscaling on requests per instance,
  sized on the slowest step.
- **Limits.** `co_hosting.pipeline_min_containers`..`pipeline_max_containers` steps (2..15); 6 MB
  payload; the steps' mean processing summed within 60 s.
- **Billing.** Instance-seconds x price and the ML storage volume of each instance
  (`realtime.storage_price_per_gb_month`; none on NVMe types), plus the data processed in and out of the
  endpoint (the first step's payload and the last step's response, `realtime.data_price_per_gb`).
- **Checked by** `tests/test_pipeline.py` (constant service: latency, bottleneck throughput and queue
  growth worked by hand).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def search_pipeline(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """inference-pipeline: instance type holding every container's workers x count, sized on the slowest
    step (throughput is bound there), the other steps and hops taken off the latency budget; on a type whose
    vCPUs the CPU steps' workers outnumber, sized on those vCPUs serving all the CPU steps' work; then
    tracking."""
    app, cat = sc.application, sc.catalog
    if app is None or app.pattern != "serial" or not sc.n:
        return
    steps, w = [sc.models[i] for i in app.steps], PipelineConfig(**raw).workers_per_container
    work = [sc.step_service_s(i) for i in app.steps]
    hops_s = cat.co_hosting.pipeline_hop_ms.value / 1000 * (len(steps) - 1)
    total_s = sum(x.mean() for x in work) + hops_s
    slow = int(np.argmax([x.mean() for x in work]))
    window = sizing_window_s(wl, sc)
    by_step = (Demand.of(sc.arrivals_s, work[slow], sc.horizon_s, window), w, float(total_s - work[slow].mean()))
    cpu = [x for m, x in zip(steps, work, strict=True) if m.accelerator == "cpu"]
    cpu_work = np.sum(cpu, axis=0) if cpu else np.zeros(sc.n)
    shared = Demand.of(sc.arrivals_s, cpu_work, sc.horizon_s, window)
    names = [raw["instance_type"]] if raw.get("instance_type") else [t.name for t in distinct(cat.cheapest())]
    fits = [cat.instance(n) for n in names if not pipeline_reasons(cat.instance(n), steps, w, cat)]
    plans = [plan(wl, {"instance_type": t.name},
                  [(shared, t.vcpu, float(total_s - shared.mean_s)) if w * len(cpu) > t.vcpu else by_step],
                  t.price_per_hour.value) for t in fits]
    fleet_search(r, plans, pinned_config(raw), tracked_config(r, raw))


# --- export -----------------------------------------------------------------------------------------


def build_inference_pipeline(plan: ExportPlan) -> list[EndpointSet]:
    """inference-pipeline: the serial steps as ordered containers on every instance."""
    c, by_name = plan.config.option, {m.name: m for m in plan.models}
    steps = [by_name[n] for n in plan.wl.application.steps]
    model = {"Containers": containers(plan, steps, int(c["workers_per_container"])),
             "InferenceExecutionConfig": {"Mode": "Serial"}}
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, model, variant, scaling=plan.fleet_scaling())]


UNIT = register(OptionUnit(
    "inference-pipeline", "serial inference pipeline",
    pins=FLEET_PINS, search=search_pipeline, export=build_inference_pipeline, rubric="inference-pipeline",
    docs=DOCS, production_instances=2))
"""The `inference-pipeline` unit, registered once."""
