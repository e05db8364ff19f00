"""The right-sizing search of each option (see `fitness.rightsizing` for the method they share).

Each `search_<option>(runner, workload, scenario, raw)` simulates candidate configurations through the
runner, cheapest first, and returns when one meets every constraint or nothing more is worth trying; its
docstring says what it searches. `SEARCHES` maps option ids to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from fitness.headroom import (
    Demand,
    Plan,
    allowance,
    blocked_share,
    busy_share,
    count_needed,
    endpoints,
    limit_for,
    plan,
    sizing_window_s,
    smallest,
    targets,
)
from fitness.rightsizing import (
    Runner,
    autoscale,
    distinct,
    fleet_search,
    pinned_config,
    tracked_config,
    types_for,
    without,
)
from fitness.workload import Workload
from sim.components.sizing import cheapest_fitting, hardware_reasons, max_workers
from sim.options.serverless import ServerlessConfig
from sim.results import SERVED, THROTTLED
from sim.scenario import Scenario

if TYPE_CHECKING:
    from fitness.api import OptionRun


def per_model_plans(r: Runner, raw: dict, extra_s: Callable = lambda m: 0.0) -> list[Plan]:
    """Plans for options with one endpoint per model (realtime, async): each type that fits every model,
    workers per instance as the option sizes them (one per vCPU or GPU that memory allows)."""
    wl, sc = r.wl, r.scenario
    cat, workers = sc.catalog, raw.get("workers_per_instance")
    eps = endpoints(wl, sc, cat.co_hosting.endpoint_hop_ms.value / 1000.0, extra_s)
    models = [sc.models[i] for i, _, _ in eps]
    out = []
    for it in types_for(models, cat, lambda t: all(not hardware_reasons(t, m, workers, cat) for m in models),
                        raw.get("instance_type")):
        types = [it or cheapest_fitting(m, cat) for m in models]
        if any(t is None for t in types):
            continue
        loads = [(d, workers or max(1, max_workers(t, m, cat)), rest)
                 for (_, d, rest), t, m in zip(eps, types, models, strict=True)]
        price = sum(t.price_per_hour.value for t in types)
        out.append(plan(wl, {"instance_type": it.name} if it else {}, loads, price))
    return out


def search_realtime(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """realtime: instance type (every type that fits every model) x pinned count, cheapest first, from one
    below the Erlang C count per endpoint at the metric-period rates; then target tracking (min 1, max the
    count, target the per-instance rate that count carried at the peak) if the traffic leaves room to save."""
    fleet_search(r, per_model_plans(r, raw), pinned_config(raw), tracked_config(r, raw))


def search_async(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """async: as realtime, each request's work including its S3 read and write; then backlog scaling
    from zero (min 0, max the count, the option's default backlog target) if idle stretches could save."""
    from sim.options.async_inference import AsyncConfig, io_s

    cfg, cat = AsyncConfig(**raw), sc.catalog
    plans = per_model_plans(r, raw, lambda m: io_s(m, cfg, cat))

    def scaled(p: Plan, top: int) -> dict:
        """Backlog scaling from zero up to `top` instances, the option's default target."""
        return {**without(raw, "instance_count"), **p.knobs, "autoscaling": {"min": 0, "max": int(top)}}

    fleet_search(r, plans, pinned_config(raw), scaled, min_count=0)


def search_multi_model(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """multi-model: instance type (CPU, or GPU through Triton, whose model memory holds the largest model
    and the user's budget) x count, one endpoint for every request, misses left to the simulation; then
    target tracking as realtime."""
    from sim.components.cache import Footprints
    from sim.options.multi_model import memory_for_models_mb

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


def search_multi_container(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """multi-container: CPU instance type holding every container with a vCPU per parallel branch x count,
    the vCPUs as servers of each request's total work (processor sharing taken as M/M/k); then tracking."""
    from sim.options.multi_container import instance_for, layout

    lay, why = layout(sc, raw.get("mode"))
    used, cat = [sc.models[i] for i in lay.containers], sc.catalog
    if why or not sc.n:
        return
    d = Demand.of(sc.arrivals_s, lay.work_s(sc).sum(axis=1), sc.horizon_s, sizing_window_s(wl, sc))
    names = [raw["instance_type"]] if raw.get("instance_type") else [t.name for t in distinct(cat.cheapest())]
    fits = [cat.instance(n) for n in names if not instance_for(used, n, lay.width, cat)[1]]
    plans = [plan(wl, {"instance_type": t.name}, [(d, t.vcpu, sum(lay.hops_s))], t.price_per_hour.value)
             for t in fits]
    fleet_search(r, plans, pinned_config(raw), tracked_config(r, raw))


def search_pipeline(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """inference-pipeline: instance type holding every container's workers x count, sized on the slowest
    step (throughput is bound there), the other steps and hops taken off the latency budget; then tracking."""
    from sim.options.inference_pipeline import PipelineConfig
    from sim.options.inference_pipeline import hardware_reasons as pipeline_reasons

    app, cat = sc.application, sc.catalog
    if app is None or app.pattern != "serial" or not sc.n:
        return
    steps, w = [sc.models[i] for i in app.steps], PipelineConfig(**raw).workers_per_container
    work = [sc.step_service_s(i) for i in app.steps]
    slow = int(np.argmax([x.mean() for x in work]))
    rest = sum(x.mean() for x in work) - work[slow].mean() + cat.co_hosting.pipeline_hop_ms.value / 1000 * (
        len(steps) - 1)
    d = Demand.of(sc.arrivals_s, work[slow], sc.horizon_s, sizing_window_s(wl, sc))
    names = [raw["instance_type"]] if raw.get("instance_type") else [t.name for t in distinct(cat.cheapest())]
    fits = [cat.instance(n) for n in names if not pipeline_reasons(cat.instance(n), steps, w, cat)]
    plans = [plan(wl, {"instance_type": t.name}, [(d, w, float(rest))], t.price_per_hour.value) for t in fits]
    fleet_search(r, plans, pinned_config(raw), tracked_config(r, raw))


# --- triton: batching grid x count on the cheapest GPU that fits ------------------------------------

BATCH_SIZES = (1, 4, 8, 16)
"""max_batch_size values searched (Model Analyzer's doubling sweep, trimmed)."""

QUEUE_DELAYS_MS = (1.0, 5.0, 10.0)
"""max_queue_delay_ms values searched; a max batch of 1 never waits, so it takes the first only."""


def _triton_grid(r: Runner, raw: dict) -> dict[tuple[int, int], Plan]:
    """Plans by (batch size index, delay index) on the user's or the cheapest GPU type holding every model,
    each starting at the count whose full batches keep the GPUs stable; {} when Triton has no GPU to run on."""
    from sim.components.batcher import BatchPlan
    from sim.components.gpu import cheapest_gpu_fitting

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
    c = grid[at].start
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
            autoscale(r, grid[at], c, tracked_config(r, raw), 1)
            return
        c += 1


# --- serverless: memory x max concurrency x provisioned concurrency --------------------------------


def _cold_breaks(run: OptionRun, wl: Workload) -> bool:
    """True when the warm requests alone meet every latency target and the served ones with cold starts
    do not: only always-warm capacity can help."""
    log = run.result.log
    served = log.status == SERVED
    warm, lat = served & ~log.cold, log.finish_s - log.arrival_s
    if not warm.any() or warm.sum() == served.sum():
        return False
    meets = [(np.quantile(lat[warm], 1 - s) <= t, np.quantile(lat[served], 1 - s) <= t) for s, t in targets(wl)]
    return all(w for w, _ in meets) and not all(a for _, a in meets)


def _cold_throttles(run: OptionRun, cold_s: float) -> int:
    """Requests throttled within `cold_s` (the longest cold start) of a container's creation: refused while
    a slot was held by a start-up (read off the containers-alive timeline, so any pattern works)."""
    cap = run.result.capacity
    born = np.r_[0.0, cap.times_s[1:][np.diff(cap.values) > 0]]
    t = run.result.log.arrival_s[run.result.log.status == THROTTLED]
    return int(np.sum(np.searchsorted(born, t, "right") > np.searchsorted(born, t - cold_s, "right")))


def _memory_sizes(sc: Scenario, raw: dict, work_s: float) -> list[int]:
    """The user's size, or every size holding the largest model in order of compute cost (work / vCPU share
    x memory: flat below one vCPU, rising above), the larger (faster) first at equal cost."""
    from sim.options.serverless import speed

    if raw.get("memory_mb"):
        return [raw["memory_mb"]]
    largest = max(m.memory_mb for m in sc.models)
    sizes = [mb for mb in sc.catalog.serverless.memory_sizes_mb() if mb >= largest]
    return sorted(sizes, key=lambda mb: (work_s / speed(mb, sc.catalog) * mb, -mb))


def _warmer(prov: int, hold: list, wl: Workload, cap: int) -> int:
    """Next provisioned concurrency: one below the fewest always-warm containers that leave at most the
    allowed share of requests arriving with all of them busy (M/G/infinity), then one more each time."""
    if prov:
        return prov + 1
    warm = smallest(lambda p: all(busy_share(d, p, h) <= allowance(wl) for d, h in hold), limit=cap) or cap
    return max(1, warm - 1)


FREE_CONCURRENCY = ServerlessConfig.model_fields["max_concurrency"].default
"""The serverless max_concurrency a search never goes below (the config's default, AWS's default of 20)."""


def _serverless_size(r: Runner, raw: dict, mb: int, hold: list, cap: int, prov: int) -> int | None:
    """Trials at one memory size; None when the search is over, else the provisioned concurrency the next
    size starts from. Throttling mostly during cold starts -> provisioned concurrency; other throttling ->
    the concurrency Erlang B gives once calibrated on the throttling seen; cold starts alone breaking the
    latency targets -> provisioned concurrency; warm requests too slow -> the next size."""
    err, sc = r.wl.slo.max_error_rate, r.scenario
    cold_s = max(m.cold_start_s(sc.catalog.network.model_download_mb_per_s.value) for m in sc.models)
    least = smallest(lambda c: all(blocked_share(d, c, h) <= err for d, h in hold), limit=cap) or cap
    # concurrency costs nothing: never below the platform's default (headroom for free), search above it
    c = raw.get("max_concurrency") or min(cap, max(FREE_CONCURRENCY, least - 1))
    while True:
        out = r.run({**raw, "memory_mb": mb, "max_concurrency": max(c, prov), "provisioned_concurrency": prov})
        if out is None or out[0].feasible or not r.left or out[1] is None:
            return None
        run, req = out[1], out[1].summary["requests"]
        more_c, more_p = "max_concurrency" not in raw and c < cap, "provisioned_concurrency" not in raw and prov < cap
        if req["throttled"] > err * req["offered"]:
            if more_p and _cold_throttles(run, cold_s) > err * req["offered"]:
                prov = _warmer(prov, hold, r.wl, cap)
            elif more_c:
                c = max(c + 1, limit_for(req["throttled"] / req["offered"], max(c, prov), err, cap))
            else:
                return prov
        elif more_p and _cold_breaks(run, r.wl):
            prov = _warmer(prov, hold, r.wl, cap)
        else:
            return prov


def search_serverless(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """serverless: memory_mb x max_concurrency x provisioned_concurrency, each unless the workload sets it.

    Memory sizes that hold the largest model, cheapest compute first (`_memory_sizes`). At each size,
    max_concurrency starts one below the smallest whose Erlang B throttling at the window rates (weighted
    by requests) is within slo.max_error_rate, but never below the config's default (`FREE_CONCURRENCY`):
    concurrency is not billed, so the minimum that passes on one seed would only throw away headroom;
    provisioned_concurrency stays 0 unless cold starts are to blame (`_serverless_size`). Endpoints x
    max_concurrency stay within the account's concurrency.
    """
    from sim.options.serverless import speed

    s = sc.catalog.serverless
    demands = [d for _, d, _ in endpoints(wl, sc, sc.catalog.co_hosting.endpoint_hop_ms.value / 1000.0)]
    cap = max(1, int(min(s.max_concurrency_max.value, s.account_concurrency.value // len(sc.models))))
    prov = raw.get("provisioned_concurrency") or 0
    for mb in _memory_sizes(sc, raw, sum(d.mean_s * d.arrivals_s.size for d in demands)):
        out = _serverless_size(r, raw, mb, [(d, d.mean_s / speed(mb, sc.catalog)) for d in demands], cap, prov)
        if out is None:
            return
        prov = out


# --- batch: instance count until the deadline holds ------------------------------------------------


def _batch_count(wl: Workload, sc: Scenario, raw: dict) -> int:
    """Instances that end each model's largest job within the deadline after its start-up, the job's work
    spread over every worker (max_concurrent_transforms per instance)."""
    from sim.options.batch import BatchConfig, cheapest_batch_type, job_triggers

    cfg, cat, need = BatchConfig(**raw), sc.catalog, 1
    if wl.slo.deadline_h is None:
        return need
    for i, m in enumerate(sc.models):
        idx = sc.for_model(i)
        it = cat.instance(cfg.instance_type) if cfg.instance_type else cheapest_batch_type(m, cat)
        if not idx.size or it is None:
            continue
        workers = cfg.max_concurrent_transforms or max(1, max_workers(it, m, cat))
        startup = cfg.startup_s if cfg.startup_s is not None else \
            cat.batch.job_startup_s.value + m.cold_start_s(cat.network.model_download_mb_per_s.value)
        work = sc.service_s[idx]
        jobs = job_triggers(sc.arrivals_s[idx], sc.horizon_s, cfg.schedule_s, cfg.trigger_records)
        largest = max((float(work[a:b].sum()) for _, a, b in jobs), default=0.0)
        room = wl.slo.deadline_h * 3600.0 - startup
        if room > 0:
            need = max(need, math.ceil(largest / (workers * room)))
    return need


def search_batch(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """batch: instance_count (type, schedule and the rest as set or defaulted) from one below the count
    whose largest job ends within the deadline after start-up, up while the slowest result misses the
    deadline and more instances still bring it closer (a deadline inside the schedule interval is beyond
    any count), up to the catalog's instance limit."""
    most = int(sc.catalog.batch.instance_count_max.value)
    c, before = max(1, min(most, _batch_count(wl, sc, raw) - 1)), math.inf
    while c <= most:
        out = r.run({**raw, "instance_count": c})
        if out is None or out[0].feasible or not r.left or out[1] is None:
            return
        slowest = out[1].summary["latency_ms"]["max"]
        if not slowest < before:
            return
        c, before = c + 1, slowest


SEARCHES: dict[str, Callable[[Runner, Workload, Scenario, dict], None]] = {
    "realtime": search_realtime, "async": search_async, "multi-model": search_multi_model,
    "multi-container": search_multi_container, "inference-pipeline": search_pipeline,
    "triton": search_triton, "serverless": search_serverless, "batch": search_batch,
}
"""The search per option id; an option without one simulates its defaults (or the user's config) once."""

