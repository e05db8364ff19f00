"""Fleet searches: instance type x count, cheapest first, then autoscaling and one size up.

The machinery of every option on instances (realtime, async, multi-model, multi-container, pipelines,
Triton): `fleet_search` walks pinned counts over the plans (`fitness.engine.queueing.plan`) and the
closed forms screen what cannot be feasible or cheapest (burstable types that would drain their credits,
types the simulator cannot tell from a cheaper one, a size up that costs no less, and configurations whose
instances alone break the budget), listing each as screened, not simulated (`Runner.screen`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from fitness.engine.queueing import Plan, can_save, endpoints, invocations_target, plan
from fitness.engine.sizing import Runner, capacity_floor, defaults
from sim.catalog import InstanceType
from sim.components.cache import Footprints
from sim.components.sizing import cheapest_fitting, hardware_reasons, max_workers
from sim.cost import HOURS_PER_MONTH
from sim.options import option_def
from sim.options.multi_model import memory_for_models_mb

Hourly = Callable[[dict], "float | None"]
"""USD per hour of one instance on every endpoint of a configuration (None: not known), for `budget_floor`."""


def fleet_search(r: Runner, plans: list[Plan], pinned: Callable[[Plan, int], dict],
                 scaled: Callable[[Plan, int], dict] | None, min_count: int = 1, hourly: Hourly | None = None) -> None:
    """Pinned counts cheapest first (price x count over every plan, never below the runner's floor); at the
    first that meets the constraints, try autoscaling up to that count if the traffic leaves room to save,
    then one size up in the same family (`size_up`). A pinned count that meets the SLO but not the budget
    still tries autoscaling up to it, which pays for fewer instances when the traffic varies. When the work
    alone breaks the latency targets on every plan, the cheapest is simulated once to show it. `hourly`: what
    one instance on every endpoint of a configuration costs an hour, for `budget_floor` (none: no budget
    screen)."""
    plans = credited(r, plans, pinned)
    if plans and all(p.hopeless for p in plans):
        r.hopeless = True
        cat = r.scenario.catalog
        fair = [p for p in plans if drains_credits(p, max(p.start, r.floor), cat) is None] or plans
        plans = [min(fair, key=lambda p: p.price * max(p.start, r.floor))]
    starts = [max(p.start, r.floor) for p in plans]
    heap = [(p.price * c, i, c) for i, (p, c) in enumerate(zip(plans, starts, strict=True))]
    heapq.heapify(heap)
    least = max(min_count, r.floor)
    twins = twin_of(r, plans)
    while heap and r.left:
        _, i, c = heapq.heappop(heap)
        if twins[i] is not None:  # simulates exactly as a cheaper plan: listed once, never run
            r.screen(pinned(plans[i], c), f"{plans[i].knobs['instance_type']} would run as "
                     f"{plans[twins[i]].knobs['instance_type']} (the same workers per instance), at a higher price")
            continue
        if (why := drains_credits(plans[i], c, r.scenario.catalog)) is not None:
            if c == starts[i]:  # listed once per type: the counts above it are screened alike
                r.screen(pinned(plans[i], c), why)
            heapq.heappush(heap, (plans[i].price * (c + 1), i, c + 1))
            continue
        out = r.run(pinned(plans[i], c))
        if out is None:
            return
        if out[0].feasible:
            autoscale(r, plans[i], c, scaled, least, hourly=hourly)
            size_up(r, plans, i, c, pinned)
            return
        if out[0].meets_slo and r.over_budget:
            autoscale(r, plans[i], c, scaled, least, cheaper=True, hourly=hourly)
            return
        if not plans[i].hopeless:
            heapq.heappush(heap, (plans[i].price * (c + 1), i, c + 1))


def plan_type(p: Plan, cat) -> InstanceType | None:
    """The instance type a plan pins (None: per-model defaults, or a name the catalog lacks)."""
    return cat.instances.get(p.knobs.get("instance_type") or "")


def twin_of(r: Runner, plans: list[Plan]) -> list[int | None]:
    """Per plan, a cheaper plan the simulator cannot tell it from (None if none): the same knobs but the type,
    the same workers per instance on every endpoint, the same GPUs and accelerator, the same CPU credits; and,
    on a multi-model endpoint, whose cache is the instance's memory, the same memory. Only vCPUs and memory a
    plan's workers leave unused differ, so it would give the same trial at a higher price."""
    cat, seen, out = r.scenario.catalog, {}, []
    for i, p in sorted(enumerate(plans), key=lambda ip: ip[1].price):
        it = plan_type(p, cat)
        if it is None:
            out.append((i, None))
            continue
        key = (tuple(w for _, w, _ in p.loads), tuple(sorted((k, str(v)) for k, v in p.knobs.items()
                                                              if k != "instance_type")),
               it.gpu_count, it.gpu_memory_gib, it.accelerator, it.burstable,
               it.memory_gib if r.option == "multi-model" and not holds_every_model(r, p, it) else None)
        out.append((i, seen.get(key)))
        seen.setdefault(key, i)
    return [t for _, t in sorted(out)]


def holds_every_model(r: Runner, p: Plan, it: InstanceType) -> bool:
    """Whether a multi-model endpoint on `it` holds every model in memory at once (their footprints sum to no
    more than its model memory budget): nothing is ever evicted, so its memory beyond that changes no trial."""
    cat, models = r.scenario.catalog, r.scenario.models
    gpu = any(m.accelerator == "gpu" for m in models)
    usable = memory_for_models_mb(it, gpu, cat)
    budget = p.knobs.get("model_memory_budget_mb") or usable
    return budget <= usable and float(np.sum(Footprints.of(models, cat).memory_mb)) <= budget


def credited(r: Runner, plans: list[Plan], pinned: Callable[[Plan, int], dict]) -> list[Plan]:
    """The plans whose instance type the option can simulate: an option whose data plane does not simulate CPU
    credits (`OptionDef.credits`) is never sized onto a burstable type (each is listed, screened, once)."""
    if option_def(r.option).credits:
        return plans
    cat, out = r.scenario.catalog, []
    for p in plans:
        it = plan_type(p, cat)
        if it is not None and it.burstable is not None:
            r.screen(pinned(p, max(p.start, r.floor)), f"{it.name} is burstable and {r.option} does not simulate "
                     "CPU credits: it is not sized onto a burstable type")
        else:
            out.append(p)
    return out


def drains_credits(p: Plan, count: int, cat) -> str | None:
    """Why `count` instances of the plan's burstable type would run above its baseline CPU share on average
    (offered work / (count x workers), the busiest endpoint), so that `burstable_reasons` would refuse them
    and the search moves on without simulating; None when they would not (or the type is not burstable)."""
    it = plan_type(p, cat)
    if it is None or it.burstable is None:
        return None
    util = max((d.arrivals_s.size * d.mean_s / d.horizon_s / (count * w) for d, w, _ in p.loads if d.horizon_s > 0),
               default=0.0)
    base = it.burstable.baseline_share_per_vcpu.value
    if util <= base:
        return None
    return (f"{it.name} is burstable and this load keeps it at {util:.0%} CPU on average, above its {base:.0%} "
            "baseline: sustained load would drain its CPU credits")


def autoscale(r: Runner, p: Plan, count: int, scaled: Callable[[Plan, int], dict] | None, min_count: int,
              cheaper: bool = False, hourly: Hourly | None = None) -> None:
    """After `count` pinned instances met the SLO: autoscaling up to `count`, then `count` + 1 (an instance
    of headroom for the scaling lag), if the traffic leaves room to pay for fewer on average; `cheaper`: the
    pinned count broke the budget, so autoscaling is tried whatever the traffic (it is the only way left).
    Policies `scaling_screened` rules out are listed, not simulated."""
    cat = r.scenario.catalog
    if scaled is None:
        return
    if not cheaper and not can_save(p, count, min_count, cat.autoscaling, cat.realtime.instance_launch_s.value):
        return
    for top in (count, count + 1):
        cfg = scaled(p, top)
        if (why := scaling_screened(r, count, cfg, hourly)) is not None:
            r.screen(cfg, why)
            continue
        out = r.run(cfg, cheaper=cheaper)
        if out is None or out[0].feasible:
            return


def scaling_screened(r: Runner, count: int, cfg: dict, hourly: Hourly | None) -> str | None:
    """Why the autoscaled `cfg` need not be simulated after `count` pinned instances were: a policy whose min
    and max are both `count` runs exactly those instances (when it starts with them and no fault is
    injected), and one whose min alone breaks the budget (`budget_floor`, given `hourly`) cannot pass; None
    otherwise."""
    a = getattr(r.config_model(**cfg), "autoscaling", None) if r.config_model is not None else None
    if a is None or a.schedule():  # a scheduled action may lower the min: no bound holds
        return None
    # the same instances from t = 0 (no initial count of the user's to scale from) and nothing to replace
    if a.min >= a.max == count and cfg.get("initial_count") is None and not r.scenario.faults:
        return (f"autoscaling between {count} and {count} instances runs the {count} pinned instances already "
                "simulated")
    price = hourly(cfg) if hourly is not None else None
    return budget_floor(r, price, starts_from(cfg, a.min)) if price is not None else None


def starts_from(cfg: dict, least: int) -> int:
    """The fewest instances a fleet with minimum `least` ever runs: fewer when the user's `initial_count`
    starts it below its minimum."""
    first = cfg.get("initial_count")
    return least if first is None else min(least, int(first))


def budget_floor(r: Runner, hourly_usd: float, least: int) -> str | None:
    """Why every configuration that never runs fewer than `least` instances per endpoint breaks the budget,
    before it is simulated: with no fault injected, each of its endpoints bills at least `least` instances for
    the whole horizon, so its instance time alone costs least x `hourly_usd` (USD per hour of one instance of
    every endpoint, `Hourly`) x 730 h a month, a lower bound of the bill; None when that is within
    the budget (or there is none, or a fault may stop an instance's billing)."""
    budget = r.wl.budget.monthly_usd
    if budget is None or least <= 0 or r.scenario.faults:
        return None
    usd = least * hourly_usd * HOURS_PER_MONTH
    if usd <= budget:
        return None
    what = "instance per endpoint costs" if least == 1 else "instances per endpoint cost"
    return (f"at least {least} {what} {usd:,.2f} USD/month in instance time alone, over the budget of "
            f"{budget:,.2f} USD/month")


def screen_defaults(r: Runner, raw: dict, hourly: Hourly) -> None:
    """When the search found nothing and simulated something, list the option's own defaults (`defaults`,
    the last resort `right_size` simulates) as screened if their instances alone break the budget
    (`budget_floor`: never fewer than the defaults' minimum, at `hourly` of the defaults)."""
    if r.best is not None or r.last is None or r.config_model is None:
        return
    cfg = defaults(raw, r.floor, r.config_model)
    least, price = capacity_floor(r.config_model(**cfg)), hourly(cfg)
    if least is not None and price is not None and (why := budget_floor(r, price, starts_from(cfg, least))):
        r.screen(cfg, f"the option's defaults: {why}")


def size_up(r: Runner, plans: list[Plan], i: int, count: int, pinned: Callable[[Plan, int], dict]) -> None:
    """After `count` instances of plan `i` met the constraints: the next size up in the same family with the
    fewer instances its workers allow (never below the floor), so the trials show it; the cheaper feasible
    trial is chosen, so one that costs no less is listed as screened, not simulated."""
    bigger = next_size(r.scenario.catalog, plans[i].knobs.get("instance_type"))
    q = next((p for p in plans if bigger is not None and p.knobs.get("instance_type") == bigger), None)
    if q is None:
        return
    here, there = (max(w for _, w, _ in p.loads) for p in (plans[i], q))  # workers per instance of each
    n = max(1, r.floor, math.ceil(count * here / there))
    if q.price * n >= plans[i].price * count:  # the cheaper feasible trial is chosen: this one cannot be
        r.screen(pinned(q, n), f"{n} x {bigger} cost no less than the {count} x {plans[i].knobs['instance_type']} "
                               "that met the constraints")
        return
    r.run(pinned(q, n))


def next_size(cat, name: str | None) -> str | None:
    """The smallest type of the same family (`ml.c5` of `ml.c5.xlarge`) with more vCPUs and GPUs at least as
    many; in a family of one size (`ml.t2.medium` here), the cheapest type of any family with more vCPUs and
    as many GPUs of the same accelerator kind; or None."""
    if not name or name not in cat.instances:
        return None
    it, family = cat.instances[name], name.rsplit(".", 1)[0]
    bigger = [t for t in cat.instances.values() if t.vcpu > it.vcpu and t.gpu_count >= it.gpu_count
              and t.accelerator == it.accelerator]
    same = [t for t in bigger if t.name.rsplit(".", 1)[0] == family]
    if same:
        return min(same, key=lambda t: (t.vcpu, t.price_per_hour.value)).name
    return min(bigger, key=lambda t: (t.price_per_hour.value, t.vcpu)).name if bigger else None


def without(raw: dict, *keys: str) -> dict:
    """The user's knobs less `keys` (those a candidate sets another way)."""
    return {k: v for k, v in raw.items() if k not in keys}


def pinned_config(raw: dict) -> Callable[[Plan, int], dict]:
    """Config builder: the user's knobs, the plan's, and a pinned instance_count."""
    return lambda p, c: {**without(raw, "autoscaling", "initial_count"), **p.knobs, "instance_count": int(c)}


def tracked_config(r: Runner, raw: dict) -> Callable[[Plan, int], dict]:
    """Config builder: target tracking on invocations per instance, min 1 (the runner's floor when higher),
    max `top`."""
    period = r.scenario.catalog.autoscaling.metric_period_s.value
    least = {"min": r.floor} if r.floor > 1 else {}
    return lambda p, top: {**without(raw, "instance_count"), **p.knobs, "autoscaling": {
        **least, "max": max(int(top), r.floor), "target_invocations_per_instance": invocations_target(p, top, period)}}


def distinct(types: list[InstanceType]) -> list[InstanceType]:
    """Types in order, dropping any with the shape and price of one before it (ml.c5.large, ml.c6i.large):
    the simulator could not tell them apart."""
    seen, out = set(), []
    for t in types:
        key = (t.vcpu, t.memory_gib, t.gpu_count, t.gpu_memory_gib, t.accelerator, t.price_per_hour.value)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def types_for(models: list, cat, fits: Callable[[InstanceType], bool], name: str | None) -> list[InstanceType | None]:
    """The user's type, or every distinct CPU (GPU) type that fits, cheapest first; [None] (per-model
    defaults) when the models need different accelerators."""
    if name:
        return [cat.instance(name)]
    kinds = {m.accelerator for m in models}
    if len(kinds) != 1:
        return [None]
    gpu = kinds == {"gpu"}
    return distinct(cat.cheapest(lambda t: t.accelerator in ("cpu", "gpu") and t.has_gpu == gpu and fits(t)))


FLEET_PINS = ("instance_count", "autoscaling")
"""A fleet's capacity is pinned by a count or by an autoscaling policy."""


def per_model_plans(r: Runner, raw: dict, extra_s: Callable = lambda m: 0.0,
                    wait_limit_s: float | None = None) -> list[Plan]:
    """Plans for options with one endpoint per model (realtime, async): each type that fits every model,
    workers per instance as the option sizes them (one per vCPU or GPU that memory allows); `wait_limit_s`:
    the longest a request may wait (`fitness.engine.queueing.sizing_window_s`)."""
    wl, sc = r.wl, r.scenario
    cat, workers = sc.catalog, raw.get("workers_per_instance")
    eps = endpoints(wl, sc, cat.co_hosting.endpoint_hop_ms.value / 1000.0, extra_s, wait_limit_s)
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
