"""What every option on provisioned instances shares: the fleet knobs, how the fleet is provisioned and run,
and the result of a one-fleet run.

A pinned `instance_count` means no autoscaling; otherwise target tracking on invocations per instance,
the user's `autoscaling` or one sized so instances run at `target_utilization` of their capacity. The
scenario's faults (`sim.faults`) are control-plane processes here too: an instance fails, a replacement
serves after the launch delay scale-out uses (`schedule_faults`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalog import Catalog, InstanceType
from sim.components.autoscaler import (
    LaunchDelay,
    TargetTracking,
    invocations_counter,
    launch,
    start_bounds,
    target_tracking,
)
from sim.components.busy import BusyMeter
from sim.components.credits import CreditBook, credit_ticks
from sim.components.fleet import Fleet
from sim.components.mme_pool import ModelAwarePool
from sim.components.pool import InstancePool
from sim.components.sizing import peak_rate_rps
from sim.components.step_scaling import StepPolicy, Steps, step_scaling
from sim.cost import instance_meters, object_store_usd, served_data_usd
from sim.engine import Engine
from sim.errors import InputError
from sim.faults import InstanceFailure
from sim.model import ModelSpec
from sim.options._scaling import Autoscaling, ScalingBounds, StepAlarm
from sim.results import SERVED, ConfigRecord, Figures, RequestLog, SimResult
from sim.scenario import Scenario, stream

EARLY_WINDOW_S = 600.0
"""The first minutes of traffic that size the initial count: a steady workload starts in steady state."""


class FleetConfig(BaseModel):
    """Knobs of a fleet of instances; unset ones are sized from the workload."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    instance_type: str | None = None
    """Instance type from the catalog (e.g. ml.c5.xlarge); unset: the cheapest type the models fit on."""
    instance_count: int | None = Field(default=None, ge=1)
    """Instances, pinned for the whole run (no autoscaling); unset: target-tracking autoscaling."""
    autoscaling: Autoscaling | None = None
    """Target tracking on invocations per instance; unset: min 1, max for twice the peak minute's need."""
    initial_count: int | None = Field(default=None, ge=1)
    """Instances at t = 0 when autoscaling; unset: what the first 10 minutes of traffic need."""
    min_instances: int = Field(default=1, ge=1)
    """Fewest instances of the sized autoscaling policy (unused when `instance_count` or `autoscaling` is
    given); production deployments run at least 2, spread over Availability Zones."""
    launch_s: float | None = Field(default=None, ge=0)
    """Seconds from a scale-out decision to serving; unset: the catalog's provisioning time plus start-up."""
    target_utilization: float = Field(default=0.6, gt=0, le=1)
    """Fraction of an instance's capacity that sized autoscaling targets; unused when `autoscaling` is given."""

    @model_validator(mode="after")
    def _pinned_or_scaled(self) -> FleetConfig:
        if self.instance_count is not None and self.autoscaling is not None:
            raise ValueError("give instance_count (pinned, no autoscaling) or autoscaling, not both")
        return self


def launch_delay_s(models: list[ModelSpec], catalog: Catalog) -> float:
    """Scale-out decision to serving: instance provisioning (catalog) + the slowest container's cold start
    (the containers of a new instance start side by side)."""
    bw = catalog.network.model_download_mb_per_s.value
    return catalog.realtime.instance_launch_s.value + max((m.cold_start_s(bw) for m in models), default=0.0)


def launch_delays(models: list[ModelSpec], catalog: Catalog, rng: np.random.Generator) -> LaunchDelay:
    """`launch_delay_s`, with each container drawing its own start per launch from `rng` when a model's start
    varies (`ModelSpec.container_start`)."""
    bw = catalog.network.model_download_mb_per_s.value
    return drawn_launch(launch_delay_s(models, catalog), models, rng, catalog.realtime.instance_launch_s.value,
                        [m.download_s(bw) + m.load_s for m in models])


def drawn_launch(constant_s: float, models: list[ModelSpec], rng: np.random.Generator, base_s: float,
                 after_s: Sequence[float]) -> LaunchDelay:
    """`constant_s` when no model's container start varies; else a function drawing, per launch, `base_s` +
    the slowest of the models' container starts, each followed by its `after_s` (download and load, s)."""
    if all(m.container_start is None for m in models):
        return constant_s
    return lambda: base_s + max(float(m.container_starts_s(rng, 1)[0]) + a for m, a in zip(models, after_s,
                                                                                           strict=True))


def early_rate_rps(arrivals: np.ndarray, horizon_s: float) -> float:
    """Arrivals per second over the first `EARLY_WINDOW_S` (or the whole horizon, if shorter)."""
    early_s = min(EARLY_WINDOW_S, horizon_s)
    return np.searchsorted(arrivals, early_s) / early_s if early_s > 0 else 0.0


def schedule_text(schedule: tuple[tuple[float, int | None, int | None], ...]) -> str:
    """'08:00 min 4; 12:00 min 2 max 2': the scheduled actions as the config records them."""
    def one(at_s: float, lo: int | None, hi: int | None) -> str:
        bounds = (f" min {lo}" if lo is not None else "") + (f" max {hi}" if hi is not None else "")
        return f"{int(at_s // 3600):02d}:{int(at_s % 3600 // 60):02d}{bounds}"
    return "; ".join(one(*a) for a in schedule)


def tracking(cfg: FleetConfig, bounds: ScalingBounds, target: float, launch_s: LaunchDelay,
             catalog: Catalog, high_resolution: bool = False) -> TargetTracking:
    """The autoscaler's policy: `bounds` tracking `target` per instance per metric period, with the catalog's
    alarms and (unless `bounds` sets them) cooldowns; instances serve `cfg.launch_s`, or `launch_s` when
    unset, after a scale-out decision. `high_resolution`: the 10-second metric period, its scale-out
    datapoints, and scale-in after as long as the standard alarms wait."""
    f = catalog.autoscaling
    period, out_points, in_points = f.metric_period_s.value, f.scale_out_datapoints.value, f.scale_in_datapoints.value
    if high_resolution:
        period, out_points = f.high_resolution_period_s.value, f.high_resolution_scale_out_datapoints.value
        in_points = in_points * f.metric_period_s.value / period
    return TargetTracking(
        bounds.min, bounds.max, target, period, int(out_points), round(in_points), f.scale_in_threshold_ratio.value,
        bounds.scale_out_cooldown_s if bounds.scale_out_cooldown_s is not None else f.scale_out_cooldown_s.value,
        bounds.scale_in_cooldown_s if bounds.scale_in_cooldown_s is not None else f.scale_in_cooldown_s.value,
        cfg.launch_s if cfg.launch_s is not None else launch_s, bounds.schedule())


def stepping(cfg: FleetConfig, a: Autoscaling, launch_s: LaunchDelay, catalog: Catalog) -> StepPolicy:
    """The step-scaling process's policy from `a.step`, alarms' datapoints and cooldowns defaulting to the
    catalog's target-tracking ones (scale-out and scale-in)."""
    f = catalog.autoscaling

    def steps(alarm: StepAlarm | None, datapoints: float, cooldown_s: float) -> Steps | None:
        if alarm is None:
            return None
        adjustments = tuple((-math.inf if s.lower is None else s.lower, math.inf if s.upper is None else s.upper,
                             s.change) for s in alarm.steps)
        return Steps(alarm.threshold, alarm.datapoints or int(datapoints), adjustments,
                     alarm.cooldown_s if alarm.cooldown_s is not None else cooldown_s)

    return StepPolicy(a.min, a.max, f.metric_period_s.value, cfg.launch_s if cfg.launch_s is not None else launch_s,
                      steps(a.step.scale_out, f.scale_out_datapoints.value, f.scale_out_cooldown_s.value),
                      steps(a.step.scale_in, f.scale_in_datapoints.value, f.scale_in_cooldown_s.value), a.schedule())


def scaling_policy(cfg: FleetConfig, capacity_rps: float, launch_s: LaunchDelay, arrivals: np.ndarray, horizon_s: float,
                   catalog: Catalog) -> tuple[TargetTracking | StepPolicy, int]:
    """Target tracking and initial count: the user's, or sized from what one instance serves flat out.

    Sized: target = target_utilization x capacity_rps per instance (per metric period), max = twice the
    peak minute's need, initial = what the first 10 minutes need. `launch_s` is used unless the config
    sets its own.
    """
    a, period_s = cfg.autoscaling, catalog.autoscaling.metric_period_s.value
    per_instance_rps = cfg.target_utilization * capacity_rps
    if a is None:
        need = peak_rate_rps(arrivals, horizon_s) / per_instance_rps
        a = Autoscaling(min=cfg.min_instances, max=max(2, cfg.min_instances, math.ceil(2 * need)),
                        target_invocations_per_instance=per_instance_rps * period_s)
    policy = stepping(cfg, a, launch_s, catalog) if a.tracks == "step" else tracking(
        cfg, a, a.target, launch_s, catalog, high_resolution=a.tracks == "concurrency")
    # without an invocations target, the first minutes' need at the sized utilisation sets the initial count
    target_rps = a.target / period_s if a.tracks == "invocations" else per_instance_rps
    lo, hi = start_bounds(policy.min_instances, policy.max_instances, policy.schedule)  # scheduled since 00:00
    initial = cfg.initial_count or min(hi, max(lo, math.ceil(early_rate_rps(arrivals, horizon_s) / target_rps)))
    return policy, initial


def _metric(tracks: str, pool, arrivals: np.ndarray, cfg: FleetConfig) -> tuple[Callable[[float, float], float], str]:
    """metric(t0, t1) summed over the fleet for the policy that `tracks` it, and how the config records its
    target: invocations in the period (step scaling too), requests held at t1, or busy worker-seconds as a
    percent of one instance's workers (where a request holds one worker: `sim.components.busy`)."""
    if tracks == "concurrency":  # the gauge at the end of each 10-s period
        return (lambda t0, t1: pool.held(t1)), "target {:g} concurrent/instance"
    if tracks == "cpu":
        if not isinstance(pool, InstancePool | ModelAwarePool):
            raise InputError("autoscaling.target_cpu_utilization", "target tracking on CPU on real-time or "
                             "multi-model endpoints (a request holds one worker, a worker one vCPU); on this "
                             "option track invocations or concurrency", got=cfg.autoscaling.target_cpu_utilization)
        meter = BusyMeter(pool)
        return (lambda t0, t1: 100.0 * meter(t0, t1) / ((t1 - t0) * pool.workers)), "target {:g}% CPU"
    return invocations_counter(arrivals), "target {:.0f}/instance/min"


def provision(env: simpy.Environment, pool, cfg: FleetConfig, capacity_rps: float, launch_s: LaunchDelay,
              arrivals: np.ndarray, horizon_s: float, catalog: Catalog, config: dict,
              faults: Sequence[InstanceFailure] = (), model: str | None = None) -> int:
    """Join the initial instances of `pool`, start its autoscaler unless the count is pinned, and schedule
    `faults` on it (`schedule_faults`, labelled with `model` when the fleet is one model's endpoint).

    Records the policy and initial count in `config` (the knobs of the fleet: the option's, or one model's
    endpoint's); returns the count.
    """
    count = cfg.instance_count
    if count is None:
        pol, count = scaling_policy(cfg, capacity_rps, launch_s, arrivals, horizon_s, catalog)
        tracks = cfg.autoscaling.tracks if cfg.autoscaling is not None else "invocations"
        metric, what = _metric(tracks, pool, arrivals, cfg)
        env.process((step_scaling if tracks == "step" else target_tracking)(env, pool, metric, pol))
        config["autoscaling"] = f"{pol.min_instances}..{pol.max_instances} " + (
            "step scaling" if tracks == "step" else what.format(pol.target))
        if pol.schedule:
            config["scheduled"] = schedule_text(pol.schedule)
    for _ in range(count):
        pool.join(0.0)
    config["initial_count"] = count
    schedule_faults(env, pool, faults, cfg.launch_s if cfg.launch_s is not None else launch_s, horizon_s, model)
    return count


def schedule_faults(env: simpy.Environment, fleet: Fleet, faults: Sequence[InstanceFailure], launch_s: LaunchDelay,
                    horizon_s: float, model: str | None = None) -> None:
    """Start one control-plane process per fault (`fail_and_replace`), each filling its record in
    `fleet.fault_records` as the run goes (`model`: the endpoint's model, else the fault's own)."""
    for fault in faults:
        record = {"at_s": fault.at_s, "model": model if model is not None else fault.model, "instance": None,
                  "lost_requests": 0, "replacement_serving_s": None}
        fleet.fault_records.append(record)
        env.process(fail_and_replace(env, fleet, fault.at_s, launch_s, horizon_s, record))


def fail_and_replace(env: simpy.Environment, fleet: Fleet, at_s: float, launch_s: LaunchDelay, horizon_s: float,
                     record: dict) -> Generator:
    """Process: at `at_s` an instance fails (`Fleet.fail`); its replacement is asked for then and serves
    `launch_s` later, as an instance launched by the autoscaler does (`launch`)."""
    yield env.timeout(at_s)
    iid = fleet.fail(env.now)
    if iid < 0:  # no instance in service to fail
        return
    record.update(instance=iid, lost_requests=fleet.lost[iid])
    yield from launch(env, fleet, launch_s)
    if env.now <= horizon_s:
        record["replacement_serving_s"] = env.now


def fault_details(fleet: Fleet) -> dict:
    """`{"faults": [...]}`, one record per fault scheduled on `fleet` (`Figures.details`), or {} without any."""
    return {"faults": [dict(r) for r in fleet.fault_records]} if fleet.fault_records else {}


def run_fleet(scenario: Scenario, fleet: Fleet, cfg: FleetConfig, capacity_rps: float, models: list[ModelSpec],
              config: dict) -> None:
    """Serve the scenario on `fleet`: a pinned count, or target tracking on invocations per instance, with the
    scenario's faults. A fleet on a burstable type (one with a `CreditBook` as `credits`) has its credits
    settled every metric period."""
    env = Engine()
    delays = launch_delays(models, scenario.catalog, stream(scenario.seed, "launch/fleet"))
    provision(env, fleet, cfg, capacity_rps, delays, scenario.arrivals_s,
              scenario.horizon_s, scenario.catalog, config, scenario.faults)
    env.attach(fleet)
    burstable = isinstance(getattr(fleet, "credits", None), CreditBook)
    if burstable:
        env.process(credit_ticks(env, fleet, scenario.catalog.autoscaling.metric_period_s.value))
    env.run_until(scenario.horizon_s)
    if burstable:  # the run stops before a tick at the horizon: settle the last one
        fleet.credit_tick(scenario.horizon_s)


def fleet_result(option: str, scenario: Scenario, log: RequestLog, fleet: Fleet, it: InstanceType, config: dict,
                 busy_s: float, slots: int, details: dict | None = None) -> SimResult:
    """Capacity timeline, instance cost and utilisation (busy_s over `slots` per instance-second); `details`:
    the option's own diagnostics (`Figures.details`), plus the credit figures of a burstable fleet."""
    h = scenario.horizon_s
    seconds, cap = fleet.instance_seconds(h), fleet.capacity(h)
    credits = getattr(fleet, "credits", None)
    details = {**(details or {}), **(credits.figures() if isinstance(credits, CreditBook) else {})}
    figures = Figures(utilization=busy_s / (seconds * slots) if seconds else 0.0, instance_seconds=seconds,
                      details={**details, **fault_details(fleet)})
    return SimResult(option, True, (), h, ConfigRecord(**config).freeze(), log, cap,
                     {**instance_bill(seconds, it, scenario.catalog), "data": data_usd(scenario, log)}, figures=figures)


def data_usd(scenario: Scenario, log: RequestLog) -> float:
    """Data processed in and out of the endpoint for the requests served (`Scenario.endpoint_kb`) at the
    catalog's `realtime.data_price_per_gb`, in USD."""
    return served_data_usd(log.status, scenario.endpoint_kb(), scenario.catalog.realtime.data_price_per_gb.value,
                           SERVED)


def instance_bill(instance_seconds: float, it: InstanceType, catalog: Catalog,
                  volume_gb: float | None = None) -> dict[str, float]:
    """The meters of `instance_seconds` of type `it` (`sim.cost.instance_meters`): instance time at its price,
    and the ML storage volume each instance carries (`volume_gb`, else the type's, `InstanceType.volume_gb`) at
    the catalog's `realtime.storage_price_per_gb_month`; USD."""
    r = catalog.realtime
    gb = volume_gb if volume_gb is not None else it.volume_gb(r.default_volume_gb.value)
    return instance_meters(instance_seconds, it.price_per_hour.value, gb, r.storage_price_per_gb_month.value)


def kept_kb(scenario: Scenario, log: RequestLog) -> float:
    """Kilobytes an option keeps in S3: the payload of every offered request and the response of every served
    one (async inputs and results, batch records in and out)."""
    served = log.status == SERVED
    pay = np.array([m.payload_kb for m in scenario.models])[log.model_idx]
    resp = np.array([m.response_kb for m in scenario.models])[log.model_idx]
    return float(pay.sum() + resp[served].sum())


def s3_bill(kilobytes_written: float, puts: int, gets: int, catalog: Catalog) -> dict[str, float]:
    """S3 storage and requests of payloads and results (`sim.cost.object_store_usd`), each object kept the
    catalog's `object_store.retention_days`, at its prices; USD."""
    o = catalog.object_store
    return object_store_usd(kilobytes_written, o.retention_days.value, puts, gets, o.storage_price_per_gb_month.value,
                            o.put_price_per_1000.value, o.get_price_per_1000.value)
