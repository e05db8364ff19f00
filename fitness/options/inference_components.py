"""The `inference-components` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/inference_components.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import math
import re

import numpy as np

from fitness.engine.fleets import budget_floor, distinct, next_size
from fitness.engine.queueing import Demand, allowance, count_needed, sizing_window_s, targets
from fitness.engine.sizing import Runner
from fitness.export.aws import ExportPlan, camel, invocations_per_minute
from fitness.export.components import Component, ComponentSet
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.catalog import InstanceType
from sim.model import ModelSpec
from sim.options.inference_components import (
    InferenceComponentsConfig,
    capacity_of,
    copy_of,
    copy_reasons,
    hosts_for,
    per_model,
    placed,
)
from sim.scenario import Scenario
from sim.traffic_stats import per_window_counts

DOCS = """\
`sim/options/inference_components.py`, data plane `CopyPool` (`sim/components/copies.py`: the compiled
`InstancePool` whose members are copies) on a shared `Placement` (`sim/components/placement.py`). Delivers
sync, async and offline; one model per request.

- **Copies.** Each model is an inference component; each copy reserves CPU cores
  (`cpu_cores_per_copy`, default 1), memory (`memory_mb_per_copy`, default its workers' `memory_mb`, at least
  `inference_components.min_memory_per_copy_mb`) and, for a GPU model, accelerators (`accelerators_per_copy`,
  default 1) on one instance. A CPU copy serves one request per whole core it reserves (FIFO per copy); a GPU
  copy one per accelerator. Requests go to the copy of their model with the fewest outstanding.
- **Placement.** A new copy goes to the instance with room for it: the one with the most room left in its
  scarcest resource (`placement: spread`, SPREAD) or the least (`binpack`, BINPACK). With none, managed
  instance scaling launches an instance (`realtime.instance_launch_s`) and the copy waits for it. A copy serves
  once its instance does and its container has started, downloaded and loaded the model (the model's cold
  start). Instances offer their vCPUs, memory less `realtime.memory_overhead_mb`, and GPUs.
- **Scaling.** Per model, copies pinned (`copies`) or target tracking on
  SageMakerInferenceComponentInvocationsPerCopy (the catalog's `autoscaling.*` alarms and cooldowns; default
  target `target_utilization` of a copy's capacity, max twice the peak minute's need), or with
  `target_concurrent_per_copy` on the requests each copy holds
  (SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution: `autoscaling.high_resolution_*`, a gauge
  every 10 s, scale-in after as long as the standard alarms wait). With `min_copies: 0` an idle model scales to
  zero copies: a request that finds none fails at once (NoCapacityInvocationFailures), and the next metric
  period with such failures asks for one copy (the step policy the AWS docs pair with that alarm). A retired
  copy gives back its reservation at once and drains. Instances are pinned (`instance_count`) or managed between
  `min_instances` and `max_instances` (default: what every model's max copies take); an instance left without
  copies is released `inference_components.scale_in_cooldown_min` after it emptied, if still empty then
  (IDLE_RELEASE), never below `min_instances`. A copy that finds no room and no instance to add is withdrawn
  (`unplaced_copies` counts them) and asked for again by the next period's policy.
- **Defaults.** Instance type: the cheapest CPU (GPU, when a model needs one) non-burstable type a copy of every
  model fits on. Never sized onto a burstable type: CPU credits are not simulated here.
- **Limits.** As real-time endpoints (6 MB, 60 s). Copies below the API's minimum cores or memory, or larger
  than the instance, make the option infeasible.
- **Billing.** Instance-seconds x price of the endpoint's instances, whatever the copies reserve; the ML
  storage volume of each instance; the data processed in and out. Utilisation is busy seconds over the paid
  instances' cores (GPUs when a model needs one), so capacity no copy reserved counts as idle;
  `reserved_share` (details) is the share of the paid capacity, by its scarcest resource, the copies reserved;
  the report's sizing section states it, the share paid and reserved by no copy, and each model's most copies.
- **Failures.** An instance failure takes every copy on it (the instance whose copies hold the most requests),
  serving or still starting; each copy is asked for again at once, on an instance with room or on a new one.
- **Search.** Per candidate type (cheapest first) and copy size: 1-core copies (one accelerator for a GPU model),
  then copies of 2, 4, ... cores (accelerators) up to the instance's, each model's no larger than its Erlang C
  need shared over the floor's copies (a light model keeps 1-core copies); a model whose copy resources the
  workload sets keeps them. Larger copies queue a model's requests once over more workers, smaller ones place
  more finely: both are priced and, at the same bill, simulated in that order. Per model the copies Erlang C
  says meet the latency targets (one below it, never below stability; count-expanded models take their busiest
  member's), in production at least one copy of every model per floor instance (2), so one lost instance loses
  no model; the instances they take by placement, never below the floor, and their room filled with copies (the
  instances are paid whatever the copies reserve: each added to the model with the most erlangs per copy). A
  failing candidate gets one more instance, filled alike. Screened, not simulated: instances alone over the
  budget, a dearer type that places the copies exactly as a cheaper one did (the same copies, cores, GPUs and
  placement), copy scaling that cannot bill fewer instances (the fewest copies already take them, or even the
  quietest minute needs every copy at the sized target), and a size up that costs no less. After the first
  candidate that passes: the same copies as the max of per-model target tracking on managed instances, and the
  next size up in the family. The user's `copies`, `instance_count` and copy resources are kept.
- **Checked by** `tests/test_inference_components.py` (one model with one copy is the real-time endpoint request
  for request; a pinned copy count is an M/M/c per model; placement, scale to zero and instance release worked
  by hand; 2-core copies passing where 1-core ones fail at the same bill; hand-worked cases against a
  multi-model endpoint; invariants).
"""
"""This option's section of docs/options.md (generated from it)."""

PINS = ("instance_count", "copies")
"""Capacity is pinned by both the instances and the copies."""


def copies_needed(wl: Workload, sc: Scenario, workers: list[int]) -> list[int]:
    """Per model, the copies of `workers` workers Erlang C says meet the latency targets at the sizing window's
    rates, one below it (the trials show the boundary), never below stability or one copy. Count-expanded models
    of one spec take the count of their busiest member (as real-time endpoints of one spec do): a thousand
    tenants cost one closed form, not a thousand."""
    goals, share, window = targets(wl), allowance(wl), sizing_window_s(wl, sc)
    busiest: dict[str, int] = {}
    for i, m in enumerate(sc.models):
        spec = m.model_dump_json(exclude={"name"}) + f"/{workers[i]}"
        if spec not in busiest or sc.for_model(i).size > sc.for_model(busiest[spec]).size:
            busiest[spec] = i
    count: dict[str, int] = {}
    for spec, i in busiest.items():
        idx = sc.for_model(i)
        if idx.size == 0:
            count[spec] = 1
            continue
        stable, slo = count_needed(Demand.of(sc.arrivals_s[idx], sc.service_s[idx], sc.horizon_s, window),
                                   workers[i], goals, share)
        count[spec] = max(1, stable, (slo or stable) - 1)
    return [count[m.model_dump_json(exclude={"name"}) + f"/{workers[i]}"] for i, m in enumerate(sc.models)]


def per_model_knob(names: list[str], values: list[int]) -> int | dict[str, int]:
    """One value for every model when they agree, else the mapping of model name to value."""
    return values[0] if len(set(values)) == 1 else dict(zip(names, values, strict=True))


def candidate_types(sc: Scenario, raw: dict, cfg: InferenceComponentsConfig) -> list[InstanceType]:
    """The user's type, or every distinct non-burstable type a copy of every model (as `cfg` sizes it) fits on,
    cheapest first."""
    cat, models = sc.catalog, sc.models
    if raw.get("instance_type"):
        return [cat.instance(raw["instance_type"])]
    names = [m.name for m in models]
    gpu = any(m.accelerator == "gpu" for m in models)
    return distinct(cat.cheapest(lambda t: t.accelerator in ("cpu", "gpu") and t.has_gpu == gpu
                                 and t.burstable is None
                                 and not any(copy_reasons(m, copy_of(m, cfg, names, cat), t, cat) for m in models)))


def copy_shapes(sc: Scenario, raw: dict, t: InstanceType, ones, floor: int) -> list[dict]:
    """The resources per copy to try on type `t`, as knobs over `raw`: first none (a core, or for a GPU model an
    accelerator, per copy), then copies of 2, 4, ... cores (accelerators) up to the instance's, each model's no
    larger than its share of its need over the production floor's copies (`ones()`: its one-worker copies by
    Erlang C; a light model keeps one-core copies); a model whose resources the user set keeps them, and shapes
    alike are tried once. Larger copies queue a model's requests once over more workers (one M/M/c beats c
    one-worker copies behind least-outstanding routing) and place more coarsely: the search prices both."""
    models = sc.models
    free = [not _user_set(raw, m) for m in models]
    if not any(free):
        return [{}]
    need = ones()
    tops = [min(max(1, math.ceil(n / max(floor, 1))), t.gpu_count if m.accelerator == "gpu" else t.vcpu)
            if f else 1 for m, n, f in zip(models, need, free, strict=True)]
    shapes, seen, k = [{}], {(1,) * len(models)}, 2
    while k < 2 * max(tops):
        sizes = tuple(min(k, top) for top in tops)
        k *= 2
        if sizes in seen:
            continue
        seen.add(sizes)
        shape = {}
        for field, gpu in (("cpu_cores_per_copy", False), ("accelerators_per_copy", True)):
            ours = {m.name: n for m, n in zip(models, sizes, strict=True) if (m.accelerator == "gpu") == gpu and n > 1}
            if ours:
                every = len(ours) == len(models) and len(set(ours.values())) == 1
                shape[field] = next(iter(ours.values())) if every else {**(raw.get(field) or {}), **ours}
        shapes.append(shape)
    return shapes


def _user_set(raw: dict, m: ModelSpec) -> bool:
    """Whether the workload sets the resources of model `m`'s copies (cores for a CPU model, GPUs for a GPU one)."""
    value = raw.get("accelerators_per_copy" if m.accelerator == "gpu" else "cpu_cores_per_copy")
    return value is not None and (not isinstance(value, dict) or m.name in value)


def search_inference_components(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """inference-components: per type, the Erlang C copies per model and the instances they take, their room
    filled with copies (`_fill`: the instances are paid whatever the copies reserve), cheapest first; a candidate
    that fails gets one more instance, filled alike; one that would place its copies as a cheaper one did, on as
    many cores and GPUs, is listed as screened; after the first that passes, target tracking per model up to
    those copies on managed instances (never below the production floor) and the next size up. The user's
    `copies` and `instance_count` are kept (a type their copies overflow is screened)."""
    cat, models = sc.catalog, sc.models
    names = [m.name for m in models]
    base = InferenceComponentsConfig(**{k: v for k, v in raw.items() if k not in ("instance_type", "copies")})
    users = [per_model(raw.get("copies"), m.name, names, "copies") for m in models]
    queue, seen, sized = [], {}, {}
    load = [sc.for_model(i).size * float(np.mean(sc.service_s[sc.for_model(i)])) / sc.horizon_s
            if sc.for_model(i).size else 0.0 for i in range(len(models))]  # erlangs of each model

    def needed(workers: tuple[int, ...]) -> list[int]:
        if workers not in sized:  # the closed form depends on the workers of a copy, not on the type
            sized[workers] = copies_needed(wl, sc, list(workers))
        return sized[workers]

    for t in candidate_types(sc, raw, base):
        for shape in copy_shapes(sc, raw, t, lambda: needed((1,) * len(models)), r.floor):
            cfg = base.model_copy(update=shape) if shape else base
            copies = [copy_of(m, cfg, names, cat) for m in models]
            if any(copy_reasons(m, c, t, cat) for m, c in zip(models, copies, strict=True)):
                continue  # a copy this large does not fit this type (its memory)
            # production: a copy of every model on each of the floor's instances, so one lost loses no model
            counts = [max(n, r.floor) if u is None else u
                      for u, n in zip(users, needed(tuple(c.workers for c in copies)), strict=True)]
            hosts = raw.get("instance_count") or _hosts(r, base, t, copies, counts)
            queue.append([t, copies, counts, hosts, False, shape])
    while queue and r.left:
        k = min(range(len(queue)), key=lambda j: (queue[j][3] * queue[j][0].price_per_hour.value, j))
        t, copies, counts, hosts, filled, shape = queue[k]
        if not filled:  # the instances are paid whatever the copies reserve: their room gets copies too
            counts = queue[k][2] = _fill(r, base, t, copies, counts, users, load, hosts)
        pinned = {**{k2: v for k2, v in raw.items() if k2 not in ("min_instances", "max_instances", "max_copies")},
                  **shape, "instance_type": t.name, "instance_count": hosts, "copies": per_model_knob(names, counts)}
        if (why := budget_floor(r, t.price_per_hour.value, hosts)) is not None:
            r.screen(pinned, why)  # the cheapest candidate left: every other costs more
            r.over_budget = True  # as after a trial over budget: no pinned candidate is worth a run
            return
        if (why := _screened(r, base, t, copies, counts, hosts, seen)) is not None:
            r.screen(pinned, why)
        else:
            out = r.run(pinned)
            if out is None:
                return
            if out[0].feasible:
                _tracked(r, {**raw, **shape}, t, copies, counts, names, hosts)
                _size_up(r, {**raw, **shape}, t, copies, counts, hosts, pinned)
                return
        # one more instance, filled (none more when the user pinned the count)
        more = _fill(r, base, t, copies, counts, users, load, hosts + (raw.get("instance_count") is None))
        if more == counts:  # nothing left to add on this type: the user's copies, or the user's instances full
            queue.pop(k)
        else:
            queue[k] = [t, copies, more, raw.get("instance_count") or _hosts(r, base, t, copies, more), True, shape]


def _fill(r: Runner, base: InferenceComponentsConfig, t: InstanceType, copies: list, counts: list[int],
          users: list, load: list[float], hosts: int) -> list[int]:
    """`counts` with copies added, one at a time, while `hosts` instances still hold them all: each to the model
    with the most load (erlangs) per copy that the user left unpinned and that has work; a model whose copy
    reserves no less than one that did not fit is not tried again."""
    cap, counts = capacity_of(t, r.scenario.catalog), list(counts)
    while True:
        failed: list[tuple] = []
        busiest = sorted((i for i, u in enumerate(users) if u is None and load[i] > 0),
                         key=lambda i: -load[i] / max(counts[i], 1))
        for i in busiest:
            need = copies[i].need
            if any(all(a >= b for a, b in zip(need, f, strict=True)) for f in failed):
                continue
            trial = [n + (j == i) for j, n in enumerate(counts)]
            if max(r.floor, 1, hosts_for(trial, copies, cap, base.placement)) <= hosts:
                counts = trial
                break
            failed.append(need)
        else:
            return counts


def _hosts(r: Runner, base: InferenceComponentsConfig, t: InstanceType, copies: list, counts: list[int]) -> int:
    """Instances of type `t` the copies take, never below the production floor."""
    return max(r.floor, 1, hosts_for(counts, copies, capacity_of(t, r.scenario.catalog), base.placement))


def _screened(r: Runner, base: InferenceComponentsConfig, t: InstanceType, copies: list, counts: list[int],
              hosts: int, seen: dict) -> str | None:
    """Why a candidate need not be simulated: its copies overflow the user's instance count, or a cheaper type
    placed them alike (and failed); None to simulate it."""
    cat = r.scenario.catalog
    need = hosts_for(counts, copies, capacity_of(t, cat), base.placement)
    if need > hosts:
        return f"these copies take {need} x {t.name}, more than the {hosts} instances pinned"
    shape = (t.vcpu, t.gpu_count, hosts, tuple(c.need for c in copies),
             tuple(placed(counts, copies, capacity_of(t, cat), base.placement)))
    if shape in seen:
        return (f"{t.name} would place and run these copies as {seen[shape]} (the same copies, cores, GPUs and "
                "placement), at a higher price")
    seen[shape] = t.name
    return None


def _tracked(r: Runner, raw: dict, t: InstanceType, copies: list, counts: list[int], names: list[str],
             hosts: int) -> None:
    """Per-model target tracking up to the pinned copies that passed (never below a copy per floor instance), on
    managed instances from the floor up; listed as screened when it cannot bill less (`_cannot_save`)."""
    if raw.get("instance_count") is not None or raw.get("copies") is not None:
        return  # the user pinned one of the two: nothing to scale
    least = max(r.floor, 1)
    low = raw.get("min_copies", least)
    if all(n <= low for n in counts):
        return  # every model already at its fewest copies: the copies, so the instances, cannot scale
    cfg = {**raw, "instance_type": t.name, "min_instances": max(least, raw.get("min_instances") or 1),
           "min_copies": low, "max_copies": per_model_knob(names, counts)}
    if (why := _cannot_save(r, raw, t, copies, counts, hosts, low)) is not None:
        r.screen(cfg, why)
        return
    r.run(cfg)


def _cannot_save(r: Runner, raw: dict, t: InstanceType, copies: list, counts: list[int], hosts: int,
                 low: int) -> str | None:
    """Why scaling the copies cannot bill fewer instances than the `hosts` pinned, before simulating it: the
    fewest copies already take as many instances, or even the quietest metric period needs every model's pinned
    copies at the sized target (InvocationsPerCopy at `target_utilization` of a copy's capacity); None when it
    may save."""
    sc, cat = r.scenario, r.scenario.catalog
    fewest = max(r.floor, 1, hosts_for([low] * len(counts), copies, capacity_of(t, cat), "binpack"))
    if fewest >= hosts:
        return f"the fewest copies ({low} of each model) already take {fewest} x {t.name}: scaling cannot bill less"
    knobs = InferenceComponentsConfig(**raw)
    if knobs.target_invocations_per_copy is not None or knobs.target_concurrent_per_copy is not None:
        return None  # the user's own target: the sized one does not apply
    period = cat.autoscaling.metric_period_s.value
    for i, (m, c, n) in enumerate(zip(sc.models, copies, counts, strict=True)):
        idx = sc.for_model(i)
        if idx.size == 0:
            return None
        # the simulation's sized target (sim.options.inference_components._policy), invocations a period
        per_copy = knobs.target_utilization * c.workers / max(m.service_time.expected_ms / 1000.0, 1e-9) * period
        if math.ceil(per_window_counts(sc.arrivals_s[idx], sc.horizon_s, period).min() / per_copy) < n:
            return None
    return "even the quietest minute needs every model's pinned copies at the sized target: scaling cannot bill less"


def _size_up(r: Runner, raw: dict, t: InstanceType, copies: list, counts: list[int], hosts: int,
             pinned: dict) -> None:
    """The next size up in the family with the same copies on the fewer instances it packs them into (never below
    the floor): simulated when it costs less, else listed as screened (the cheaper feasible trial is chosen)."""
    cat = r.scenario.catalog
    bigger = next_size(cat, t.name) if not raw.get("instance_type") else None
    if bigger is None:
        return
    big = cat.instance(bigger)
    if any(copy_reasons(m, c, big, cat) for m, c in zip(r.scenario.models, copies, strict=True)):
        return
    n = max(r.floor, 1, hosts_for(counts, copies, capacity_of(big, cat), pinned.get("placement", "spread")))
    cfg = {**pinned, "instance_type": bigger, "instance_count": n}
    if n * big.price_per_hour.value >= hosts * t.price_per_hour.value:
        r.screen(cfg, f"{n} x {bigger} cost no less than the {hosts} x {t.name} that met the constraints")
        return
    r.run(cfg)


# --- export -----------------------------------------------------------------------------------------

COPY_TEXT = re.compile(r"^(\d+)\.\.(\d+) target ([0-9.eE+-]+)(/copy/min| concurrent/copy)$")
"""How the simulation records a model's copy policy, e.g. '1..4 target 300/copy/min' (invocations per metric
period) or '1..4 target 2 concurrent/copy' (requests held per copy)."""
MANAGED_TEXT = re.compile(r"^(\d+)\.\.(\d+) managed$")
"""How the simulation records managed instance scaling, e.g. '2..5 managed'."""


def _copy_scaling(plan: ExportPlan, text: str | None) -> dict | None:
    """A model's copy scaling as simulated, in AWS units (invocations per copy per minute), or None (pinned)."""
    if text is None:
        return None
    m = COPY_TEXT.match(str(text))
    if m is None:
        raise ValueError(f"unrecognised copy scaling record {text!r}: expected {COPY_TEXT.pattern}")
    f = plan.catalog.autoscaling
    period, concurrent = f.metric_period_s.value, m.group(4) != "/copy/min"
    return {"min": int(m.group(1)), "max": int(m.group(2)), "concurrent": concurrent,
            "target": float(m.group(3)) if concurrent else invocations_per_minute(float(m.group(3)), period),
            "in_cooldown_s": round(f.scale_in_cooldown_s.value), "out_cooldown_s": round(f.scale_out_cooldown_s.value),
            "period_s": int(period)}


def _variant(plan: ExportPlan) -> dict:
    """The endpoint's variant: no model (the components bring them), its instances pinned or under managed
    instance scaling (IDLE_RELEASE after the catalog's cooldown, as simulated)."""
    c, ic = plan.config.option, plan.catalog.inference_components
    variant = plan.variant(c["instance_type"], max(1, int(c["initial_instances"])))
    managed = MANAGED_TEXT.match(str(c["instances"]))
    if managed is not None:
        variant["ManagedInstanceScaling"] = {
            "Status": "ENABLED", "MinInstanceCount": int(managed.group(1)), "MaxInstanceCount": int(managed.group(2)),
            "ScaleInPolicy": {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": int(ic.scale_in_cooldown_min.value),
                              "MaximumStepSize": int(ic.scale_in_max_step.value)}}
        plan.notes.add(f"Managed instance scaling runs {managed.group(1)} to {managed.group(2)} instances; an instance "
                       f"left with no copy was released {ic.scale_in_cooldown_min.value:g} minutes after it emptied "
                       "in the simulation (IDLE_RELEASE; AWS documents the cooldown for consolidation).")
    return variant


def build_inference_components(plan: ExportPlan) -> list[ComponentSet]:
    """inference-components: one endpoint, then per model its model, its component (the simulated reservation
    and copies) and its copy scaling."""
    components = []
    for m in plan.models:
        k = plan.config.model(m.name)
        need = {"NumberOfCpuCoresRequired": float(k["cpu_cores_per_copy"]),
                "MinMemoryRequiredInMb": int(round(k["memory_mb_per_copy"]))}
        if k.get("accelerators_per_copy"):
            need["NumberOfAcceleratorDevicesRequired"] = float(k["accelerators_per_copy"])
        scaling = _copy_scaling(plan, k.get("autoscaling"))
        if scaling is not None and scaling["min"] == 0:
            plan.token(f"{camel(m.name)}ScaleFromZeroPolicyArn", f"PolicyARN returned by the scale-from-zero "
                       f"PutScalingPolicy call of model {m.name}'s component",
                       "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:00000000-0000-0000-0000-"
                       "000000000000:resource/sagemaker/inference-component/x:policyName/y", None, in_template=False)
            plan.notes.add("A component scaled to zero copies answers with an error until a copy is back: the "
                           "NoCapacityInvocationFailures alarm asks for one copy, as simulated.")
        components.append(Component(m.name, {"PrimaryContainer": plan.container(m, int(k["workers_per_copy"]))},
                                    need, int(k["initial_copies"]), scaling))
    if any(c.scaling for c in components):
        plan.notes.alarms(plan.catalog)
    plan.notes.add("Invoke with InferenceComponentName set to the model's component (named <endpoint>-<model>).")
    return [ComponentSet(plan.option, _variant(plan), tuple(components))]


UNIT = register(OptionUnit(
    "inference-components", "SageMaker inference components (per-model copies on shared instances)",
    pins=PINS, search=search_inference_components, export=build_inference_components,
    rubric="inference-components", docs=DOCS, pins_all=True, production_instances=2))
"""The `inference-components` unit, registered once."""

