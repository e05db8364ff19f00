"""`inference-components`: several models on one endpoint, each deployed as an inference component whose copies
reserve CPU cores, memory and accelerators on the endpoint's instances, scaled per model, with the instances
scaled under them (managed instance scaling).

Each model is a `CopyPool` (`sim.components.copies`): its copies are the members of the compiled instance
pool, least-outstanding routing over them, FIFO per copy. All the copies share one `Placement`
(`sim.components.placement`): a new copy goes where its reservation fits (spread or binpack), else on an
instance launched for it, up to the endpoint's max; a copy serves once its instance does and its container has
started and loaded the model (the model's cold start). Per model, copies are pinned (`copies`) or tracked on
SageMakerInferenceComponentInvocationsPerCopy (`sim.components.autoscaler.target_tracking`, the catalog's
alarms and cooldowns), down to zero copies when `min_copies` is 0: a request finding no copy fails at once, and
that failure count brings one copy back the next metric period (the step policy on the
NoCapacityInvocationFailures alarm the AWS docs set up). An instance left with no copy is released after the
catalog's scale-in cooldown (IDLE_RELEASE), never below `min_instances`. Billed per instance-second, whatever
the copies reserve; `details` tell how much of the paid capacity the copies reserved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Annotated, Literal

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalog import Catalog, InstanceType
from sim.components.autoscaler import TargetTracking, Tracker, launch, period_counter, tracking_together
from sim.components.copies import Copies, CopyPool
from sim.components.gpu import gpu_usable_mb
from sim.components.placement import Placement, Resources
from sim.components.sizing import payload_reasons, peak_rate_rps, processing_reasons, usable_memory_mb
from sim.components.timeout import time_out
from sim.engine import Engine
from sim.errors import InputError, did_you_mean
from sim.model import ModelSpec
from sim.options import register
from sim.options._fleet import data_usd, early_rate_rps, instance_bill
from sim.results import ConfigRecord, Figures, RequestLog, SimResult
from sim.scenario import Scenario, stream

OPTION = "inference-components"

Count = Annotated[int, Field(ge=0)]
PerModel = Count | dict[str, Count]
Positive = Annotated[float, Field(gt=0)]
PerModelPositive = Positive | dict[str, Positive]
OneOrMore = Annotated[int, Field(ge=1)]


class InferenceComponentsConfig(BaseModel):
    """Knobs of an endpoint of inference components, one per model. Unset knobs are sized from the workload.

    Per-model knobs (`copies`, `max_copies`, `target_invocations_per_copy`) take one value for every model or
    a mapping of model name to value (a model left out of the mapping gets the sized default).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    instance_type: str | None = None
    """Instance type of the endpoint; unset: the cheapest type (CPU, or GPU if a model needs one) a copy of
    every model fits on."""
    instance_count: int | None = Field(default=None, ge=1)
    """Instances, pinned (managed instance scaling off); unset: managed instance scaling between
    `min_instances` and `max_instances`."""
    min_instances: int = Field(default=1, ge=0)
    """Fewest instances managed instance scaling keeps (0 lets the endpoint scale to zero instances)."""
    max_instances: int | None = Field(default=None, ge=1)
    """Most instances managed instance scaling runs; unset: as many as every model's max copies take."""
    placement: Literal["spread", "binpack"] = "spread"
    """Where a new copy goes (the component's SchedulingConfig.PlacementStrategy): the instance with the most room
    left (SPREAD), or the least (BINPACK)."""
    copies: PerModel | None = None
    """Copies per model, pinned (no copy autoscaling); unset: target tracking per model."""
    min_copies: int = Field(default=1, ge=0)
    """Fewest copies of each model when its copies autoscale; 0 scales an idle model to zero copies."""
    max_copies: PerModel | None = None
    """Most copies of a model when its copies autoscale; unset: twice what its peak minute needs."""
    target_invocations_per_copy: PerModelPositive | None = None
    """InvocationsPerCopy target per metric period (one minute); unset: `target_utilization` of what a copy serves
    flat out."""
    target_concurrent_per_copy: PerModelPositive | None = None
    """Track the requests each copy holds (queued or in service) on the high-resolution
    ConcurrentRequestsPerCopy metric (a datapoint every 10 s) at this target, instead of invocations; a mapping
    sets it per model (the others track invocations)."""
    cpu_cores_per_copy: PerModelPositive | None = None
    """CPU cores each copy reserves (NumberOfCpuCoresRequired), one value or per model; unset: 1 (a CPU copy
    serves one request per whole core)."""
    memory_mb_per_copy: PerModelPositive | None = None
    """Memory each copy reserves, MB (MinMemoryRequiredInMb), one value or per model; unset: its workers' model
    memory, at least the API's minimum."""
    accelerators_per_copy: OneOrMore | dict[str, OneOrMore] | None = None
    """GPUs each copy of a GPU model reserves (NumberOfAcceleratorDevicesRequired), one value or per model;
    unset: 1."""
    target_utilization: float = Field(default=0.6, gt=0, le=1)
    """Fraction of a copy's capacity the sized copy target tracks; unused where a target is given."""
    launch_s: float | None = Field(default=None, ge=0)
    """Seconds from launching an instance to its serving; unset: the catalog's provisioning time."""

    @model_validator(mode="after")
    def _bounds(self) -> InferenceComponentsConfig:
        if self.max_instances is not None and self.max_instances < self.min_instances:
            raise ValueError("max_instances is below min_instances")
        if self.target_invocations_per_copy is not None and self.target_concurrent_per_copy is not None:
            raise ValueError("give target_invocations_per_copy or target_concurrent_per_copy, not both")
        return self


class Copy(BaseModel):
    """What one model's copy is: its reservation, its workers, its start, and its scaling."""

    model_config = ConfigDict(frozen=True)

    need: tuple[float, float, float]
    workers: int
    pinned: int | None
    max_copies: int | None
    target: float | None
    concurrent: float | None = None
    """The copies track requests held per copy at this target (high resolution); None: invocations per copy."""


def per_model(value, model: str, names: list[str], field: str):
    """The value of a per-model knob for `model` (None when unset for it); an InputError for a name that is not a
    model of the workload."""
    if not isinstance(value, dict):
        return value
    for name in value:
        if name not in names:
            raise InputError(f"options.{OPTION}.{field}", f"a model of the workload ({', '.join(names)})", name,
                             hint=did_you_mean(name, names))
    return value.get(model)


def copy_of(m: ModelSpec, cfg: InferenceComponentsConfig, names: list[str], cat: Catalog) -> Copy:
    """The copy of model `m` the config asks for: 1 core and one worker per whole core (GPU: one accelerator and
    a worker per accelerator), memory for its workers' model (host memory only, for a GPU model)."""
    ic = cat.inference_components
    gpu = m.accelerator == "gpu"
    cores = per_model(cfg.cpu_cores_per_copy, m.name, names, "cpu_cores_per_copy") or 1.0
    accel = (per_model(cfg.accelerators_per_copy, m.name, names, "accelerators_per_copy") or 1) if gpu else 0
    workers = accel if gpu else max(1, math.floor(cores))
    memory = (per_model(cfg.memory_mb_per_copy, m.name, names, "memory_mb_per_copy")
              or max(ic.min_memory_per_copy_mb.value, 0.0 if gpu else workers * m.memory_mb))
    return Copy(need=(cores, memory, float(accel)), workers=workers,
                pinned=per_model(cfg.copies, m.name, names, "copies"),
                max_copies=per_model(cfg.max_copies, m.name, names, "max_copies"),
                target=per_model(cfg.target_invocations_per_copy, m.name, names, "target_invocations_per_copy"),
                concurrent=per_model(cfg.target_concurrent_per_copy, m.name, names, "target_concurrent_per_copy"))


def capacity_of(it: InstanceType, cat: Catalog) -> Resources:
    """What an instance offers copies: its vCPUs, its memory less the serving stack's, its GPUs."""
    return float(it.vcpu), usable_memory_mb(it, cat), float(it.gpu_count)


def copy_reasons(m: ModelSpec, c: Copy, it: InstanceType, cat: Catalog) -> list[str]:
    """Why a copy of `m` cannot be placed on `it`, or is one CreateInferenceComponent refuses."""
    ic, cap, out = cat.inference_components, capacity_of(it, cat), []
    if c.need[0] < ic.min_cpu_cores_per_copy.value:
        out.append(f"a copy reserves at least {ic.min_cpu_cores_per_copy.value:g} CPU cores, not {c.need[0]:g}")
    if c.need[1] < ic.min_memory_per_copy_mb.value:
        out.append(f"a copy reserves at least {ic.min_memory_per_copy_mb.value:g} MB, not {c.need[1]:g}")
    if any(n > k + 1e-9 for n, k in zip(c.need, cap, strict=True)):
        out.append(f"a copy of model {m.name} reserves {c.need[0]:g} cores, {c.need[1]:,.0f} MB and {c.need[2]:g} "
                   f"GPUs, more than {it.name} offers ({cap[0]:g} cores, {cap[1]:,.0f} MB, {cap[2]:g} GPUs)")
    if m.accelerator == "gpu" and m.memory_mb > gpu_usable_mb(it, cat):
        out.append(f"model {m.name} needs {m.memory_mb:,.0f} MB of GPU memory and a GPU of {it.name} leaves "
                   f"{gpu_usable_mb(it, cat):,.0f} MB")
    return out


def endpoint_type(cfg: InferenceComponentsConfig, models: tuple[ModelSpec, ...], copies: list[Copy],
                  cat: Catalog) -> InstanceType | None:
    """The user's type, or the cheapest CPU (GPU when a model needs one) type a copy of every model fits on."""
    if cfg.instance_type:
        return cat.instance(cfg.instance_type, f"options.{OPTION}.instance_type")
    gpu = any(m.accelerator == "gpu" for m in models)
    fits = cat.cheapest(lambda it: it.accelerator in ("cpu", "gpu") and it.has_gpu == gpu and it.burstable is None
                        and not any(copy_reasons(m, c, it, cat) for m, c in zip(models, copies, strict=True)))
    return fits[0] if fits else None


def placed(counts: list[int], copies: list[Copy], capacity: Resources, strategy: str) -> list[int]:
    """The instance each copy lands on when `counts` copies of each model are placed at deployment, model after
    model (-1 for a copy that fits nowhere)."""
    p = Placement(capacity, 0, 1 << 30, lambda: 0.0, math.inf, strategy)
    out = []
    for n, c in zip(counts, copies, strict=True):
        for _ in range(n):
            spot = p.place(0.0, c.need, deployed=True)
            out.append(-1 if spot is None else spot[0])
    return out


def hosts_for(counts: list[int], copies: list[Copy], capacity: Resources, strategy: str) -> int:
    """Instances the placement opens for `counts` copies of each model, placed model after model."""
    spots = placed(counts, copies, capacity, strategy)
    return 1 << 30 if -1 in spots else max(spots, default=-1) + 1


def _policy(m: ModelSpec, c: Copy, cfg: InferenceComponentsConfig, arrivals: np.ndarray, horizon_s: float,
            cat: Catalog, delay: Callable[[], float]) -> tuple[TargetTracking, int]:
    """One model's copy scaling policy and its copies at t = 0: the user's target, or `target_utilization` of a
    copy's capacity; max twice the peak minute's need; initial what the first minutes need (within the bounds).
    On concurrency: the 10-second period and its datapoints, scale-in after as long as the standard alarms wait."""
    f, period = cat.autoscaling, cat.autoscaling.metric_period_s.value
    per_copy_rps = cfg.target_utilization * c.workers / max(m.service_time.expected_ms / 1000.0, 1e-9)
    target_rps = c.target / period if c.target else per_copy_rps
    top = c.max_copies or max(2, cfg.min_copies, math.ceil(2 * peak_rate_rps(arrivals, horizon_s) / target_rps))
    tick, target, out_points, in_points = period, target_rps * period, f.scale_out_datapoints.value, \
        f.scale_in_datapoints.value
    if c.concurrent is not None:
        tick, target = f.high_resolution_period_s.value, c.concurrent
        out_points, in_points = f.high_resolution_scale_out_datapoints.value, in_points * period / tick
    policy = TargetTracking(cfg.min_copies, max(top, cfg.min_copies), target, tick, int(out_points),
                            round(in_points), f.scale_in_threshold_ratio.value, f.scale_out_cooldown_s.value,
                            f.scale_in_cooldown_s.value, delay)
    first = min(policy.max_instances, max(cfg.min_copies, math.ceil(early_rate_rps(arrivals, horizon_s) / target_rps)))
    return policy, first


def _plan(scenario: Scenario, cfg: InferenceComponentsConfig) -> tuple[InstanceType | None, list[Copy], list[str]]:
    """The endpoint's type, each model's copy, and the reasons the option cannot serve the workload."""
    cat, models = scenario.catalog, scenario.models
    names = [m.name for m in models]
    copies = [copy_of(m, cfg, names, cat) for m in models]
    reasons = payload_reasons(models, cat.realtime.payload_limit_mb.value, "inference components")
    reasons += processing_reasons(models, cat.realtime.timeout_s.value, "inference components")
    it = endpoint_type(cfg, models, copies, cat)
    if it is None:
        return None, copies, reasons + [f"no instance type in catalog {cat.name} holds a copy of every model"]
    reasons += [r for m, c in zip(models, copies, strict=True) for r in copy_reasons(m, c, it, cat)]
    return it, copies, reasons


def _starts(m: ModelSpec, rng: np.random.Generator, bandwidth_mb_per_s: float) -> Callable[[], float]:
    """A new copy's start: its container's start, the model's download and its load (drawn per copy when the
    container start varies)."""
    if m.container_start is None:
        mean_s = m.cold_start_s(bandwidth_mb_per_s)
        return lambda: mean_s
    return lambda: float(m.cold_starts_s(rng, 1, bandwidth_mb_per_s)[0])


def _pools(scenario: Scenario, cfg: InferenceComponentsConfig, copies: list[Copy], env: Engine, log: RequestLog,
           place: Placement) -> list[tuple[CopyPool, TargetTracking | None, int]]:
    """Per model: its copy pool (all of them attached to `env` as one `Copies` plane), its copy scaling policy
    (None: pinned) and its copies at t = 0."""
    cat, out = scenario.catalog, []
    bw = cat.network.model_download_mb_per_s.value
    order = np.argsort(scenario.model_idx, kind="stable")  # each model's positions, in arrival order
    bounds = np.searchsorted(scenario.model_idx[order], np.arange(len(scenario.models) + 1))
    for i, (m, c) in enumerate(zip(scenario.models, copies, strict=True)):
        idx = order[bounds[i]:bounds[i + 1]]
        pool = CopyPool(log, idx, scenario.service_s[idx], c.workers, place, c.need,
                        _starts(m, stream(scenario.seed, f"copies/{m.name}"), bw))
        if c.pinned is not None:
            out.append((pool, None, c.pinned))
            continue
        policy, first = _policy(m, c, cfg, scenario.arrivals_s[idx], scenario.horizon_s, cat,
                                lambda pool=pool: pool.delay(env.now))
        out.append((pool, policy, first))
    env.attach(Copies([pool for pool, _, _ in out]))
    return out


def _metric(pool: CopyPool, c: Copy, policy: TargetTracking, horizon_s: float) -> Callable[[float, float], float]:
    """metric(t0, t1) of a model's copy policy: its invocations in the period, or the requests its copies hold at
    t1; with no copy at all, the requests that found none (NoCapacityInvocationFailures, what brings one back)."""
    invocations = period_counter(pool._arr, policy.period_s, horizon_s)
    if c.concurrent is None:
        return invocations
    return lambda t0, t1: pool.held(t1) if pool.in_service else invocations(t0, t1)


def _deploy(scenario: Scenario, env: Engine, fleet: list, copies: list[Copy], place: Placement,
            config: ConfigRecord) -> str | None:
    """Place each model's copies at t = 0 and start their scaling (the policies of one period evaluated
    together: one control event a period, however many models); why they do not fit, else None."""
    together: dict[float, list[Tracker]] = {}
    for m, c, (pool, policy, first) in zip(scenario.models, copies, fleet, strict=True):
        if pool.deploy(first) < first:
            return (f"{first} copies of model {m.name} do not fit on the endpoint's {len(place.live)} instances "
                    "beside the other models' copies")
        config.set(m.name, cpu_cores_per_copy=c.need[0], memory_mb_per_copy=c.need[1],
                   accelerators_per_copy=int(c.need[2]), workers_per_copy=c.workers, initial_copies=first)
        if policy is None:
            config.set(m.name, copies=first)
            continue
        tracker = Tracker(env, pool, _metric(pool, c, policy, scenario.horizon_s), policy)
        together.setdefault(policy.period_s, []).append(tracker)
        what = f"{policy.target:g} concurrent/copy" if c.concurrent is not None else f"{policy.target:.0f}/copy/min"
        config.set(m.name, autoscaling=f"{policy.min_instances}..{policy.max_instances} target {what}")
    for period_s, trackers in together.items():
        env.process(tracking_together(env, trackers, period_s))
    return None


def run(scenario: Scenario, cfg: InferenceComponentsConfig) -> tuple[SimResult, list[CopyPool], Placement | None]:
    """Simulate the endpoint; also returns its pools and placement (empty / None when infeasible), for tests."""
    cat, h = scenario.catalog, scenario.horizon_s
    it, copies, reasons = _plan(scenario, cfg)
    config = ConfigRecord(models=len(scenario.models), instance_type=it.name if it else None, placement=cfg.placement)
    if reasons:
        return SimResult.infeasible(OPTION, reasons, h, config.freeze()), [], None
    capacity, env, log = capacity_of(it, cat), Engine(), RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    launch_s = cfg.launch_s if cfg.launch_s is not None else cat.realtime.instance_launch_s.value
    lo = cfg.instance_count or cfg.min_instances
    place = Placement(capacity, lo, lo, lambda: launch_s, cat.inference_components.scale_in_cooldown_min.value * 60.0,
                      cfg.placement)
    place.start(lo)
    fleet = _pools(scenario, cfg, copies, env, log, place)
    if cfg.instance_count is None:  # managed instance scaling: room for every model's max copies, unless capped
        tops = [policy.max_instances if policy else first for _, policy, first in fleet]
        place.max = cfg.max_instances or max(lo, 1, hosts_for(tops, copies, capacity, cfg.placement))
    if (why := _deploy(scenario, env, fleet, copies, place, config)) is not None:
        return SimResult.infeasible(OPTION, [why], h, config.freeze()), [], None
    config.set(instances=f"{lo} pinned" if cfg.instance_count else f"{place.min}..{place.max} managed",
               initial_instances=len(place.live))
    pools = [pool for pool, _, _ in fleet]
    records = [_fault(env, pools, place, f.at_s, h) for f in scenario.faults]
    env.run_until(h)
    time_out(log, cat.realtime.timeout_s.value)
    return _result(scenario, log, pools, place, it, config, records), pools, place


PER_MODEL = ("copies", "max_copies", "target_invocations_per_copy", "target_concurrent_per_copy",
             "cpu_cores_per_copy", "memory_mb_per_copy", "accelerators_per_copy")
"""The knobs that take one value or a mapping of model name to value."""


def check_config(cfg: InferenceComponentsConfig, catalog: Catalog, names: list[str]) -> None:
    """InputError for a copy CreateInferenceComponent would refuse (fewer cores or less memory than its minimum,
    for one model or every model), or a per-model mapping naming no model of the workload."""
    for field in PER_MODEL:
        value = getattr(cfg, field)
        for name in value if isinstance(value, dict) else ():
            if name not in names:
                shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                raise InputError(f"{field}.{name}", f"a model of the workload ({shown})", name,
                                 hint=did_you_mean(name, names))
    ic = catalog.inference_components
    for field, least, what in (
            ("cpu_cores_per_copy", ic.min_cpu_cores_per_copy.value, "cores (NumberOfCpuCoresRequired)"),
            ("memory_mb_per_copy", ic.min_memory_per_copy_mb.value, "MB (MinMemoryRequiredInMb)")):
        value = getattr(cfg, field)
        for name, v in (value.items() if isinstance(value, dict) else [(None, value)]):
            if v is not None and v < least:
                raise InputError(field if name is None else f"{field}.{name}", f"at least {least:g} {what}", v)


@register(OPTION, InferenceComponentsConfig, check=check_config, ignores=frozenset({"serverless.keep_alive_s"}))
def simulate(scenario: Scenario, cfg: InferenceComponentsConfig) -> SimResult:
    """Inference components: per-model copies reserving resources on shared instances, scaled per model."""
    return run(scenario, cfg)[0]


def _fault(env: simpy.Environment, pools: list[CopyPool], place: Placement, at_s: float, horizon_s: float) -> dict:
    """Schedule an instance failure at `at_s` (`fail_instance`); returns its record, filled as the run goes."""
    record = {"at_s": at_s, "model": None, "instance": None, "lost_requests": 0, "replacement_serving_s": None}
    env.process(fail_instance(env, pools, place, at_s, horizon_s, record))
    return record


def fail_instance(env: simpy.Environment, pools: list[CopyPool], place: Placement, at_s: float, horizon_s: float,
                  record: dict) -> Generator:
    """Process: at `at_s` the instance whose copies hold the most requests fails with every copy on it (serving or
    still starting); each lost copy is asked for again at once (placed where there is room, or on a new
    instance), and the record says when the last of them serves."""
    yield env.timeout(at_s)
    t = env.now
    held: dict[int, int] = {}
    for pool in pools:
        for iid, n in zip(pool.routable, pool._outstanding(t), strict=True):
            held[pool.host_of[iid]] = held.get(pool.host_of[iid], 0) + n
    if not held:
        return
    host = max(held, key=lambda i: (held[i], -i))
    lost, again = 0, []
    for pool in pools:
        serving = [i for i in pool.routable if pool.host_of[i] == host]
        for iid in serving:
            lost += pool.fail_copy(iid, t)
        for _ in range(len(serving) + pool.lose_pending(host)):  # copies still starting there are lost too
            again.append(env.process(launch(env, pool, lambda pool=pool: pool.delay(env.now))))
    place.fail(host, t)
    record.update(instance=host, lost_requests=lost)
    if again:
        yield env.all_of(again)
    if env.now <= horizon_s:
        record["replacement_serving_s"] = env.now


def _result(scenario: Scenario, log: RequestLog, pools: list[CopyPool], place: Placement, it: InstanceType,
            config: ConfigRecord, faults: list[dict]) -> SimResult:
    """Instance cost (whatever the copies reserve), capacity as instances serving, and utilisation over what is
    paid: busy seconds over the instances' cores (their GPUs when a model needs one), so the capacity paid and
    left unreserved counts as idle; `details` say how much of it the copies reserved."""
    h, models = scenario.horizon_s, scenario.models
    seconds = place.instance_seconds(h)
    slots = it.gpu_count if any(m.accelerator == "gpu" for m in models) else it.vcpu
    busy = float(np.sum(scenario.service_s[log.start_s < h]))
    reserved = place.reserved_share(h, sum((p.reserved_s(h) for p in pools), np.zeros(3)))
    details = {"reserved_share": reserved, "idle_reserved_share": 1.0 - reserved,
               "no_capacity_failures": sum(p.no_capacity for p in pools),
               "unplaced_copies": sum(p.unplaced for p in pools),
               "instances_peak": place.timeline(h).max(h), "copy_seconds": sum(p.instance_seconds(h) for p in pools),
               **{f"{m.name}.copies_peak": p.capacity(h).max(h) for m, p in zip(models, pools, strict=True)},
               **({"faults": faults} if faults else {})}
    figures = Figures(utilization=busy / (seconds * slots) if seconds else 0.0, instance_seconds=seconds,
                      details=details)
    cost = {**instance_bill(seconds, it, scenario.catalog), "data": data_usd(scenario, log)}
    return SimResult(OPTION, True, (), h, config.freeze(), log, place.timeline(h), cost, figures=figures)
