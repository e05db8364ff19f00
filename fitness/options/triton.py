"""The `triton` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/triton.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fitness.engine.fleets import FLEET_PINS, autoscale, pinned_config, tracked_config
from fitness.engine.queueing import Demand, Plan, allowance, count_needed, sizing_window_s
from fitness.engine.sizing import Runner
from fitness.escape import one_line, path_part
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.export.hosting import used
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.components.batch_plan import BatchPlan
from sim.components.gpu import cheapest_gpu_fitting
from sim.model import ModelSpec
from sim.scenario import Scenario

DOCS = """\
`sim/options/triton.py`, data plane `TritonPool` (`sim/components/batcher.py`, `sim/components/gpu.py`,
compiled in `sim/components/triton_kernel.py`; `sim/components/batch_single.py` serves the common case of one
model on no more execution slots than GPUs, where no two batches share a GPU, about 3x faster and with the
same results). Delivers sync, async and
offline; hosts serial, scatter-gather and aggregate as ensembles on one instance.

- **Dynamic batching** (Triton's batcher semantics). Requests for a model wait in one FIFO queue per
  instance. When one of the model's execution slots (`instances_per_model` x GPUs) is free, the batcher
  sends `max_batch_size` requests if that many wait, else the largest preferred batch size that can be
  formed, else everything queued once the oldest request has waited `max_queue_delay_ms`.
- **Batch latency.** A batch of n takes the model's `batch_latency` (fixed_ms + per_item_ms x n) if
  given; else the catalog's default curve on the batch's own samples: fixed = `triton.batch_fixed_fraction`
  (0.8, an assumption) x their mean, per item = the rest, so a batch of one takes exactly its request's
  service time.
- **GPU sharing.** Batches running at once on an instance share its GPUs by processor sharing (full
  speed while batches <= GPUs, GPUs / n beyond). Concurrency lets a short batch overtake a long one but
  never raises throughput above the GPUs' own; the overlap real GPUs find between one execution's copies
  and another's kernels is left out (errs slow).
- **GPU memory.** Every model stays resident: memory_mb x `instances_per_model` on every GPU must fit
  the GPU memory less `triton.gpu_memory_overhead_mb`; no eviction, so a set that does not fit is
  infeasible with the figures.
- **Ensembles.** A request finishing one stage enters the next stage's batchers on the same instance at
  once (no network hop); parallel branches enter together and the next stage waits for the slowest.
  Business-logic steps are CPU delays (their own service time, no batching, no GPU, no contention).
- **Defaults.** Instance type: the cheapest GPU type whose GPU memory holds every model. Autoscaling on
  requests per instance, with the capacity of full batches. Launch delay: `instance_launch_s` + container
  start + every model's download and load one after another.
- **Limits.** As real-time endpoints (6 MB, 60 s).
- **Billing.** Instance-seconds x price and the ML storage volume of each instance
  (`realtime.storage_price_per_gb_month`; none on NVMe types), plus the data processed in and out
  (`realtime.data_price_per_gb`). Reported: batch sizes per model, mean batch size, GPU utilisation.
- **Checked by** `tests/test_triton.py` (saturated throughput = max batch / batch time, the c-server bound
  unbatched, light-load latency = one request + the delay, batch size 1 equal to the real-time queue
  request for request, GPU memory invariants, the one-model fast path equal to the general host).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


BATCH_SIZES = (1, 4, 8, 16)
"""max_batch_size values searched (Model Analyzer's doubling sweep, trimmed)."""


QUEUE_DELAYS_MS = (1.0, 5.0, 10.0)
"""max_queue_delay_ms values searched; a max batch of 1 never waits, so it takes the first only."""


def _triton_grid(r: Runner, raw: dict) -> dict[tuple[int, int], Plan]:
    """Plans by (batch size index, delay index) on the user's or the cheapest GPU type holding every model,
    each starting at the count whose full batches keep the GPUs stable; {} when Triton has no GPU to run on."""
    wl, sc = r.wl, r.scenario
    cat, app = sc.catalog, sc.application
    used = list(app.models_used) if app is not None and not app.routed else list(range(len(sc.models)))
    it = cat.instance(raw["instance_type"]) if raw.get("instance_type") else \
        cheapest_gpu_fitting([sc.models[i] for i in used], int(raw.get("instances_per_model", 1)), cat)
    if it is None or not it.gpu_count or not sc.n:
        return {}
    share = np.bincount(sc.model_idx, minlength=len(sc.models)) / sc.n if app is None or app.routed else \
        np.ones(len(sc.models))
    base = Demand.of(sc.arrivals_s, sc.service_s, sc.horizon_s, sizing_window_s(wl, sc))
    least = max(raw.get("preferred_batch_sizes") or [1])
    sizes = [raw["max_batch_size"]] if "max_batch_size" in raw else [b for b in BATCH_SIZES[::-1] if b >= least]
    grid = {}
    for bi, b in enumerate(sizes):
        work = 0.0  # GPU-seconds per request with full batches of b
        for i in (i for i in used if sc.models[i].kind == "model"):
            m, bl = sc.models[i], sc.models[i].batch_latency
            bp = BatchPlan(max_batch=b, fixed_s=bl.fixed_ms / 1000 if bl else None,
                           per_item_s=bl.per_item_ms / 1000 if bl else 0.0,
                           fixed_fraction=cat.triton.batch_fixed_fraction.value)
            work += share[i] * bp.expected_work_s(b, m.service_time.expected_ms / 1000) / b
        d = replace(base, mean_s=work)
        stable = count_needed(d, it.gpu_count, [], allowance(wl))[0]
        delays = [raw["max_queue_delay_ms"]] if "max_queue_delay_ms" in raw else QUEUE_DELAYS_MS[:1 if b == 1 else None]
        for di, q in enumerate(delays):
            grid[bi, di] = Plan({"instance_type": it.name, "max_batch_size": b, "max_queue_delay_ms": q},
                                ((d, it.gpu_count, 0.0),), it.price_per_hour.value, stable)
    return grid


def search_triton(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """triton: max_batch_size x max_queue_delay_ms (unless set) x count, as Model Analyzer's quick search.

    The count starts where full batches of the largest size keep the GPUs stable. At each count, from the
    best settings so far (first: the largest batch and the shortest delay: a full batch uses the GPU best,
    a short delay waits least when batches do not fill), move to a neighbouring setting on the grid
    (next batch size or next delay) while that lowers the p99; when no neighbour meets the SLO, one more
    instance. Then target tracking as realtime.
    """
    grid = _triton_grid(r, raw)
    if not grid:
        return
    pinned, at = pinned_config(raw), (0, 0)
    c = max(grid[at].start, r.floor)
    while r.left:
        out = r.run(pinned(grid[at], c))
        moved = out is not None and not out[0].feasible
        while moved and r.left:
            moved = False
            for nb in ((at[0], at[1] + 1), (at[0] + 1, at[1]), (at[0], at[1] - 1), (at[0] - 1, at[1])):
                if nb in grid and grid[nb].start <= c:
                    step = r.run(pinned(grid[nb], c))
                    if step is not None and (step[0].feasible or (step[0].p99_ms or math.inf) < out[0].p99_ms):
                        at, out, moved = nb, step, not step[0].feasible
                        break
        if out is None or not r.left and not out[0].feasible:
            return
        if out[0].feasible:
            autoscale(r, grid[at], c, tracked_config(r, raw), max(1, r.floor))
            return
        c += 1


# --- export -----------------------------------------------------------------------------------------


def triton_config(model: ModelSpec, cfg) -> str:
    """The config.pbtxt settings of one model that the simulation's dynamic batcher used."""
    preferred = (f"  preferred_batch_size: [ {', '.join(str(b) for b in sorted(set(cfg.preferred_batch_sizes)))} ]\n"
                 if cfg.preferred_batch_sizes else "")
    folder = path_part(model.name)  # Triton serves a model under its repository folder's name
    return (f"# {one_line(model.name)}: merge into {folder}/config.pbtxt in the Triton model repository\n"
            f"max_batch_size: {cfg.max_batch_size}\n"
            f"dynamic_batching {{\n{preferred}"
            f"  max_queue_delay_microseconds: {round(cfg.max_queue_delay_ms * 1000)}\n}}\n"
            f"instance_group [\n  {{\n    count: {cfg.instances_per_model}\n    kind: KIND_GPU\n  }}\n]\n")


def build_triton(plan: ExportPlan) -> list[EndpointSet]:
    """triton: one GPU endpoint; dynamic batching lives in each model's config.pbtxt (written as files)."""
    c, cfg, app = plan.config.option, plan.cfg, plan.wl.application
    hosted = used(plan)
    env: dict[str, str] = {}
    if app is not None and app.pattern != "dynamic-selection":
        env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] = plan.name(plan.wl.name, "ensemble")
        plan.notes.add(f"The {app.pattern} application runs as a Triton ensemble named "
                       f"{env['SAGEMAKER_TRITON_DEFAULT_MODEL_NAME']}: write its config.pbtxt (platform ensemble) "
                       "wiring your models' tensors; the simulation ran it on the instance that took the request.")
    elif len(hosted) == 1:
        env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] = path_part(hosted[0].name)  # the repository folder's name
    else:
        plan.notes.add(f"Not exported exactly: the simulation loaded all {len(hosted)} models on every instance with "
                       "each request naming one, but SageMaker's Triton container in single-model mode serves one "
                       "model or one ensemble. Put a router model (Python backend) in front as the default model, "
                       "or use the multi-model option on GPU.")
    container = {"Image": plan.image(hosted[0], "Triton"),
                 "ModelDataUrl": plan.model_data("triton-model-repository.tar.gz")}
    if env:
        container["Environment"] = env
    for m in hosted:
        if m.kind == "logic":
            plan.notes.add(f"{m.name} is a business-logic step: a Python-backend model in the repository, no batching.")
        else:
            plan.files[f"triton/{path_part(m.name)}/config.pbtxt"] = triton_config(m, cfg)
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, {"PrimaryContainer": container}, variant, scaling=plan.fleet_scaling())]


UNIT = register(OptionUnit(
    "triton", "NVIDIA Triton on GPU instances",
    pins=FLEET_PINS, search=search_triton, export=build_triton, rubric="triton", docs=DOCS, production_instances=2))
"""The `triton` unit, registered once."""
