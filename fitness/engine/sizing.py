"""Right-sizing: the cheapest configuration of an option that meets the workload's constraints, by search.

The search machinery every option's search (in its unit, `fitness.options.<option>`) builds on. An option
the workload pins (`OptionUnit.is_pinned`) is simulated once as given. Otherwise its unset knobs are
searched the way Inference Recommender, Lambda Power Tuning and Triton's Model Analyzer do on real
hardware, but on the simulator: candidate configurations run on the SAME scenario (same arrivals and
service draws: common random numbers), cheapest first, and the search stops at the first that meets
every constraint (`fitness.engine.constraints.constraint_reasons`: SLO, error rate, budget, deadline). Knobs the
workload sets are kept. Closed forms (`fitness.engine.queueing`) choose where to start, so a search costs a
handful of simulations, not a grid:
- a fleet count starts one instance below what Erlang C says meets the latency targets (never below
  stability), so the trials show the boundary: the count below the one chosen failed;
- a trial that breaks the budget ends the search (every later candidate costs more), and so does one the
  option cannot serve at all (payload, delivery, pattern: no knob searched changes those); when the
  work alone breaks the latency targets, one trial shows it.
The search of each option is in its unit, documented on its function. `fitness.engine.windows.right_size`
is the entry point.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from pydantic import BaseModel

from fitness.engine.constraints import constrained
from fitness.engine.drill import Drill, drill
from fitness.engine.queueing import Plan, can_save, endpoints, invocations_target, plan
from fitness.engine.run import OptionRun, run_option
from fitness.workload.spec import Budget, Workload
from sim.catalog import InstanceType
from sim.components.cache import Footprints
from sim.components.sizing import cheapest_fitting, hardware_reasons, max_workers
from sim.options import option_def
from sim.options.multi_model import memory_for_models_mb
from sim.scenario import Scenario
from sim.summary import Summary


@dataclass(frozen=True)
class Trial:
    """One configuration simulated: its knobs, whether it met every constraint, its cost, p99 and why not;
    `meets_slo`: whether it met every constraint but the budget (a cheaper way to scale may still pass)."""

    config: dict
    feasible: bool
    monthly_usd: float | None
    p99_ms: float | None
    reasons: list[str]
    meets_slo: bool = False
    drill: Drill | None = None
    screened: bool = False
    """Refused without a run: a closed form or a catalog fact rules it out, or it would simulate as a cheaper one."""

    def to_dict(self) -> dict:
        """Flat row for reports: the knobs (nested ones as `a.b`) then feasible, monthly_usd, p99_ms, reasons,
        screened (and `failure_drill` when the trial was drilled)."""
        row = {**flat(self.config), "feasible": self.feasible, "monthly_usd": self.monthly_usd,
               "p99_ms": self.p99_ms, "reasons": list(self.reasons), "screened": self.screened}
        return {**row, "failure_drill": self.drill.to_dict()} if self.drill is not None else row


@dataclass(frozen=True)
class Sizing:
    """An option right-sized: the trials in the order simulated, the one chosen and its run.

    `chosen` is the config of the cheapest feasible trial (None when nothing met the constraints). `run`
    is the chosen trial's run; when nothing met them, the last trial's (the most capacity tried, or the
    one that broke the budget), so a report can still say why the option fails.
    """

    option: str
    pinned: bool
    chosen: dict | None
    run: OptionRun
    tried: list[Trial] = field(default_factory=list)

    def to_dict(self) -> dict:
        """`{"pinned", "chosen", "tried"}` with flat knobs, and the chosen trial's `failure_drill` when it was
        drilled, for the report and the JSON output."""
        out = {"pinned": self.pinned, "chosen": flat(self.chosen) if self.chosen is not None else None,
               "tried": [t.to_dict() for t in self.tried]}
        drilled = next((t.drill for t in self.tried if t.config == self.chosen and t.drill is not None), None)
        return {**out, "failure_drill": drilled.to_dict()} if drilled is not None else out


def capacity_floor(cfg: BaseModel) -> int | None:
    """Fewest instances a fleet configuration runs: its pinned count, its autoscaling minimum, or the minimum
    of the policy the simulator sizes (None for an option not on instances)."""
    if getattr(cfg, "instance_count", None) is not None:
        return cfg.instance_count
    if getattr(cfg, "autoscaling", None) is not None:
        return cfg.autoscaling.min
    return getattr(cfg, "min_instances", None)


def flat(config: dict, prefix: str = "") -> dict:
    """Nested knobs flattened to dotted keys: {"autoscaling": {"max": 3}} -> {"autoscaling.max": 3}."""
    out: dict = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class Runner:
    """Simulates configurations of one option on one scenario; keeps the trials, the best run and the last.

    `floor`: the fewest instances a configuration may run (production: 2 for an endpoint on instances, 0
    for none), read from configurations of `config_model`; a configuration below it is judged infeasible.
    After a trial that breaks the budget, pinned candidates only cost more (`left` is False), but one that
    scales with the traffic may still pass (`run` with `cheaper=True`).
    """

    def __init__(self, wl: Workload, scenario: Scenario, option: str, max_trials: int, since_s: float = 0.0,
                 floor: int = 0, config_model: type[BaseModel] | None = None) -> None:
        self.wl, self.scenario, self.option, self.max_trials = wl, scenario, option, max_trials
        self.since_s, self.floor, self.config_model = since_s, floor, config_model
        self.trials: list[Trial] = []
        self.simulated = 0        # trials simulated (screened ones are listed but cost no run)
        self.best: tuple[Trial, OptionRun] | None = None
        self.last: OptionRun | None = None
        self.stopped = False      # the option cannot serve the workload: no knob searched changes that
        self.over_budget = False  # a trial broke the budget
        self.hopeless = False     # the work alone breaks the latency targets: no configuration can meet them
        self._unbudgeted = wl.model_copy(update={"budget": Budget()})
        self._seen: dict[str, Trial] = {}

    @property
    def left(self) -> bool:
        """True while another candidate that costs more than the last is worth simulating."""
        return not self.stopped and not self.over_budget and self.simulated < self.max_trials

    def run(self, config: dict, cheaper: bool = False,
            force: bool = False) -> tuple[Trial, OptionRun | None] | None:
        """Simulate `config` (None when no trial is left; a config already tried returns its trial, no run).
        `cheaper`: the candidate may cost less than one that broke the budget; `force`: simulate it even past
        the trial limit (the option's own defaults, the last resort)."""
        key = json.dumps(config, sort_keys=True, default=str)
        if key in self._seen:
            return self._seen[key], None
        allowed = force or (not self.stopped and self.simulated < self.max_trials
                            and (cheaper or not self.over_budget))
        if not allowed:
            return None
        wl2 = self.wl.model_copy(update={"options": {**self.wl.options, self.option: config}})
        run = run_option(wl2, self.scenario, self.option, self.since_s)  # since: a window judged after its lead
        self.simulated += 1
        trial = self._judge(config, run)
        self.trials.append(trial)
        self._seen[key] = trial
        self.last = run
        if trial.feasible and (self.best is None or trial.monthly_usd < self.best[0].monthly_usd):
            self.best = (trial, run)
        budget = self.wl.budget.monthly_usd
        # no knob searched fixes what the option cannot do; a candidate over budget ends the pinned ones
        self.stopped = self.stopped or not run.summary.feasible
        self.over_budget = self.over_budget or (budget is not None and trial.monthly_usd is not None
                                                and trial.monthly_usd > budget)
        return trial, run

    def screen(self, config: dict, reason: str) -> None:
        """List `config` as tried and refused without simulating it (a closed form rules it out)."""
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in self._seen:
            trial = Trial(config, False, None, None, [f"{reason} (screened, not simulated)"], screened=True)
            self._seen[key] = trial
            self.trials.append(trial)

    def _judge(self, config: dict, run: OptionRun) -> Trial:
        """The trial of `config`: the workload's constraints, the production rules (floor, burstable types
        under sustained load, the failure drill), and the budget apart."""
        s = run.summary
        judged = constrained(self.wl, s)
        # an option that cannot serve says only why
        rules = self.floor_reasons(config) + burstable_reasons(s, self.scenario.catalog) if s.feasible else []
        ran, slo_kept = None, s.feasible and constrained(self._unbudgeted, s).feasible
        if self.floor and slo_kept and not rules:
            # the budget is judged on the trial itself: the drill asks only whether the SLO survives a failure
            ran = drill(self._unbudgeted, self.scenario, self.option, config, self.since_s, run.result.log)
            rules += list(ran.reasons)
        meets = slo_kept and not rules
        return Trial(config, judged.feasible and not rules, s.cost_usd.monthly if s.feasible else None,
                     s.latency_ms.p99 if s.feasible else None, list(judged.reasons) + rules, meets, ran)

    def floor_reasons(self, config: dict) -> list[str]:
        """Why `config` runs fewer instances than production allows (empty when it does not)."""
        if not self.floor or self.config_model is None:
            return []
        least = capacity_floor(self.config_model(**config))
        if least is None or least >= self.floor:
            return []
        return [f"runs {least} instance{'s' if least != 1 else ''} at times and production needs at least "
                f"{self.floor} across Availability Zones (set `environment: dev` for a test deployment)"]

    def sizing(self, pinned: bool) -> Sizing:
        """The outcome: the cheapest feasible trial, or none."""
        if self.best is not None:
            return Sizing(self.option, pinned, self.best[0].config, self.best[1], list(self.trials))
        last, trial = self.last, self.trials[-1] if self.trials else None
        if last is not None and trial is not None and last.summary.feasible:
            # the run met the simulator's limits but not a rule of the product (production floor, failure drill)
            last = replace(last, summary=replace(last.summary, feasible=False, reasons=tuple(trial.reasons)))
        return Sizing(self.option, pinned, None, last, list(self.trials))



def burstable_reasons(s: Summary, cat) -> list[str]:
    """Why a burstable (T) type in `s`'s configuration cannot carry its load for good: busy worker-seconds
    over paid ones (`utilization`, one vCPU per worker) above the type's baseline share means the instance
    spends credits faster than it earns them, so sustained load drains them whatever the horizon shows."""
    names = {v for v in s.config.values() if isinstance(v, str) and v in cat.instances}
    out = []
    for it in (cat.instances[n] for n in sorted(names)):
        b = it.burstable
        if b is not None and s.utilization is not None and s.utilization > b.baseline_share_per_vcpu.value:
            out.append(f"{it.name} is burstable and runs at {s.utilization:.0%} CPU on average, above its "
                       f"{b.baseline_share_per_vcpu.value:.0%} baseline: sustained load would drain its CPU "
                       "credits and throttle it to the baseline")
    return out


# --- fleets: instance type x count, then autoscaling -----------------------------------------------


def fleet_search(r: Runner, plans: list[Plan], pinned: Callable[[Plan, int], dict],
                 scaled: Callable[[Plan, int], dict] | None, min_count: int = 1) -> None:
    """Pinned counts cheapest first (price x count over every plan, never below the runner's floor); at the
    first that meets the constraints, try autoscaling up to that count if the traffic leaves room to save,
    then one size up in the same family (`size_up`). A pinned count that meets the SLO but not the budget
    still tries autoscaling up to it, which pays for fewer instances when the traffic varies. When the work
    alone breaks the latency targets on every plan, the cheapest is simulated once to show it."""
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
            autoscale(r, plans[i], c, scaled, least)
            size_up(r, plans, i, c, pinned)
            return
        if out[0].meets_slo and r.over_budget:
            autoscale(r, plans[i], c, scaled, least, cheaper=True)
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
              cheaper: bool = False) -> None:
    """After `count` pinned instances met the SLO: autoscaling up to `count`, then `count` + 1 (an instance
    of headroom for the scaling lag), if the traffic leaves room to pay for fewer on average; `cheaper`: the
    pinned count broke the budget, so autoscaling is tried whatever the traffic (it is the only way left)."""
    cat = r.scenario.catalog
    if scaled is None:
        return
    if not cheaper and not can_save(p, count, min_count, cat.autoscaling, cat.realtime.instance_launch_s.value):
        return
    for top in (count, count + 1):
        out = r.run(scaled(p, top), cheaper=cheaper)
        if out is None or out[0].feasible:
            return


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
