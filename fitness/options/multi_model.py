"""The `multi-model` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/multi_model.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

from fitness.engine.fleets import FLEET_PINS, fleet_search, pinned_config, tracked_config, types_for
from fitness.engine.queueing import Demand, plan, sizing_window_s
from fitness.engine.sizing import Runner
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.components.cache import Footprints
from sim.options.multi_model import memory_for_models_mb
from sim.scenario import Scenario

DOCS = """\
`sim/options/multi_model.py`, data plane `ModelAwarePool` (`sim/components/mme_pool.py`, compiled in
`sim/components/mme_kernel.py`) with a model cache per instance. Delivers sync, async and offline; one model
per request.

- **Cache tiers.** Each instance has a memory tier (loaded models, `memory_mb` each, one copy shared by
  all workers) and a disk tier (artifacts, `size_mb` each), both LRU. A request for a model in memory is
  a hit. A miss evicts least-recently-used models until the new one fits, then loads it from disk
  (`size_mb` / `multi_model.disk_read_mb_per_s` + `load_s`) if its artifact is still there, else
  downloads it (`size_mb` / `network.model_download_mb_per_s` + `load_s`), which may evict artifacts
  from disk. A model without `memory_mb` counts at its artifact size.
- **Lazy loading.** The missing request waits for its load and then joins its instance's FIFO queue; a
  load holds no worker and never delays the instance's other models. Requests for a model that is still
  loading wait for that same load (counted as hits, and as `delayed_hits`). Both are marked cold. Loads
  on one instance run in parallel, each at the full download rate.
- **Routing.** To an instance holding the model (loaded or loading), the least outstanding among them;
  if none holds it, the least-outstanding instance (ties: least memory in use) loads it. When every
  holder is saturated and another instance has a free worker, the request goes there and the model gets
  a second copy.
- **GPU.** If any model is `accelerator: gpu`, every model runs through Triton on a GPU type: the memory
  budget is GPU memory less `triton.gpu_memory_overhead_mb`, one request at a time per GPU (batching is
  the `triton` option's).
- **Defaults.** Instance type: the cheapest CPU (GPU) type whose model memory holds the largest model;
  memory budget: instance memory less `realtime.memory_overhead_mb`; disk: `multi_model.disk_gb`;
  workers: the vCPUs (the GPUs). Autoscaling on the endpoint's total invocations per instance. Launch
  delay: `instance_launch_s` + the container start only (models load lazily afterwards).
- **Limits.** As real-time endpoints (6 MB, 60 s); a model larger than the memory budget or the disk
  makes the option infeasible. One multi-model endpoint serves every model from one container: models
  naming different `container`s (frameworks) make it infeasible (multi-container endpoints and pipelines
  take a container per model).
- **Billing.** Instance-seconds x price: one endpoint for all models; the ML storage volume of each
  instance, the disk cache (`multi_model.disk_gb`, or `disk_budget_mb`) at `realtime.storage_price_per_gb_month`;
  plus the data processed in and out (`realtime.data_price_per_gb`). Never sized onto a burstable type: CPU
  credits are not simulated here.
- **Reported.** `cache`: hits, misses, evictions, hit ratio (summed over instances); disk hits,
  downloads, peak memory.
- **Checked by** `tests/test_multi_model.py` (Che's approximation, the source article's 10-model cost
  example, loads and routing worked by hand, invariants).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def search_multi_model(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """multi-model: instance type (CPU, or GPU through Triton, whose model memory holds the largest model
    and the user's budget) x count, one endpoint for every request, misses left to the simulation; then
    target tracking as realtime."""
    cat, models = sc.catalog, list(sc.models)
    gpu = any(m.accelerator == "gpu" for m in models)
    need = max(max(Footprints.of(models, cat).memory_mb), raw.get("model_memory_budget_mb") or 0.0)
    fits = types_for([m.model_copy(update={"accelerator": "gpu" if gpu else "cpu"}) for m in models[:1]], cat,
                     lambda t: memory_for_models_mb(t, gpu, cat) >= need, raw.get("instance_type"))
    d = Demand.of(sc.arrivals_s, sc.service_s, sc.horizon_s, sizing_window_s(wl, sc))
    plans = [plan(wl, {"instance_type": t.name},
                  [(d, raw.get("workers_per_instance") or (t.gpu_count if gpu else t.vcpu) or 1, 0.0)],
                  t.price_per_hour.value) for t in fits if t is not None]
    fleet_search(r, plans, pinned_config(raw), tracked_config(r, raw))


# --- export -----------------------------------------------------------------------------------------


def build_multi_model(plan: ExportPlan) -> list[EndpointSet]:
    """multi-model: one endpoint, every artifact under one S3 prefix, loaded on first use."""
    c = plan.config.option
    gpu = bool(c.get("gpu_triton"))
    container = {"Image": plan.image(plan.models[0], "Triton" if gpu else "multi-model"), "Mode": "MultiModel",
                 "ModelDataUrl": plan.model_data("")}
    plan.artifacts.extend(f"{container['ModelDataUrl']}{m.name}.tar.gz" for m in plan.models)
    if not gpu:
        container["Environment"] = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(c["workers_per_instance"])}
        plan.notes.workers()
    plan.notes.add(f"Invoke with TargetModel='<model name>.tar.gz' ({c['models']} models under ModelDataS3Prefix). "
                   f"The simulation gave each instance {c['model_memory_budget_mb']:,.0f} MB for loaded models and a "
                   f"{c['disk_budget_mb']:,.0f} MB disk cache, both LRU: SageMaker manages them, nothing to configure.")
    variant = plan.variant(c["instance_type"], c["initial_count"], routing=None)
    return [EndpointSet(plan.option, {"PrimaryContainer": container}, variant, scaling=plan.fleet_scaling())]


UNIT = register(OptionUnit(
    "multi-model", "multi-model endpoint (MME)",
    pins=FLEET_PINS, search=search_multi_model, export=build_multi_model, rubric="multi-model",
    docs=DOCS, production_instances=2))
"""The `multi-model` unit, registered once."""
