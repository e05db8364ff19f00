"""Target-tracking autoscaling on invocations per instance, as Application Auto Scaling does it.

A control-plane SimPy process: every metric period it reads the invocations of the last period per
in-service instance; a high alarm after `scale_out_datapoints` breaching periods in a row sets the
capacity proportionally (ceil(in_service * metric / target)), a low alarm after `scale_in_datapoints`
periods below `scale_in_threshold_ratio` * target does the same downwards, each respecting its cooldown
and the min/max. New instances serve after the launch delay; retired ones drain.

Scheduled actions (`TargetTracking.schedule`) change min and max at times of day, every day, as
Application Auto Scaling's scheduled scaling does: the fleet is brought inside the new bounds at once
("If the current capacity is below the new minimum capacity, Application Auto Scaling scales out to the
new minimum"; above the new maximum it scales in to it), and target tracking works inside them. The run
starts at 00:00, with the bounds a full day of the actions leaves in force.

During a scale-out cooldown a larger scale-out still proceeds: the capacity the cooldown's own scale-out
asked for counts as part of the desired capacity, and only a scale-out beyond it is held back (AWS docs,
Application Auto Scaling `ScaleOutCooldown`: "the scaling policy won't increase the desired capacity again
unless either a larger scale out is triggered or the cooldown period ends").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from sim.components.pool import InstancePool  # or any pool with in_service, pending, retire, join

LaunchDelay = float | Callable[[], float]
"""Scale-out decision to serving, seconds: a constant, or a function that draws one delay per launch."""


@dataclass(frozen=True)
class TargetTracking:
    """Policy knobs (seconds, invocations per instance per metric period)."""

    min_instances: int
    max_instances: int
    target: float
    period_s: float
    out_datapoints: int
    in_datapoints: int
    in_ratio: float
    out_cooldown_s: float
    in_cooldown_s: float
    launch_s: LaunchDelay
    schedule: tuple[tuple[float, int | None, int | None], ...] = ()
    """Scheduled actions: (seconds after midnight, new min or None, new max or None), in time order."""


def start_bounds(lo: int, hi: int, schedule: tuple[tuple[float, int | None, int | None], ...]) -> tuple[int, int]:
    """(min, max) in force at 00:00: what a day of the scheduled actions leaves, from the policy's own."""
    for _, a_min, a_max in schedule:
        lo, hi = a_min if a_min is not None else lo, a_max if a_max is not None else hi
    return lo, hi


@dataclass
class Bounds:
    """The scalable target's min and max as they stand (scheduled actions change them during a run)."""

    min: int
    max: int


DAY_S = 86_400.0


def scheduled_bounds(env: simpy.Environment, pool: InstancePool, policy) -> Bounds:
    """The bounds a scaling process works inside (any policy with min_instances, max_instances, schedule and
    launch_s): those in force at 00:00, changed from then on by the scheduled actions' own process."""
    bounds = Bounds(*start_bounds(policy.min_instances, policy.max_instances, policy.schedule))
    if policy.schedule:
        env.process(scheduled_actions(env, pool, bounds, policy))
    return bounds


def scheduled_actions(env: simpy.Environment, pool: InstancePool, bounds: Bounds, policy) -> Generator:
    """Process: run each scheduled action at its time of day, every day: set the bounds, then launch up to a
    new min or retire down to a new max at once (newest first, draining)."""
    day = 0.0
    while True:
        for at_s, a_min, a_max in policy.schedule:
            if day + at_s > env.now:
                yield env.timeout(day + at_s - env.now)
            bounds.min = a_min if a_min is not None else bounds.min
            bounds.max = a_max if a_max is not None else bounds.max
            have = pool.in_service + pool.pending
            for _ in range(max(0, bounds.min - have)):
                env.process(launch(env, pool, policy.launch_s))
            for _ in range(max(0, min(pool.in_service, have - bounds.max))):  # launches under way still land
                pool.retire(env.now)
        day += DAY_S


def launch(env: simpy.Environment, pool: InstancePool, delay_s: LaunchDelay) -> Generator:
    """Process: an instance asked for now serves after `delay_s` (drawn now, when it is a function)."""
    asked = env.now
    pool.request_launch(asked)
    yield env.timeout(delay_s() if callable(delay_s) else delay_s)
    pool.join(env.now, launched_at=asked)


def invocations_counter(arrivals_s: np.ndarray) -> Callable[[float, float], int]:
    """Count of arrivals in [t0, t1): the InvocationsPerInstance numerator (all requests offered)."""
    def count(t0: float, t1: float) -> int:
        return int(np.searchsorted(arrivals_s, t1) - np.searchsorted(arrivals_s, t0))
    return count


def period_counter(arrivals_s: np.ndarray, period_s: float, horizon_s: float) -> Callable[[float, float], int]:
    """`invocations_counter` for a policy evaluated at whole periods: the counts of every period up to the horizon
    taken once (the same `searchsorted` at every period boundary), so an evaluation is a lookup; any other window
    falls back to searching."""
    edges = np.arange(0.0, horizon_s + period_s, period_s)
    at = np.searchsorted(arrivals_s, edges)
    search = invocations_counter(arrivals_s)

    def count(t0: float, t1: float) -> int:
        k = int(round(t1 / period_s))
        if 0 < k < edges.size and edges[k] == t1 and edges[k - 1] == t0:
            return int(at[k] - at[k - 1])
        return search(t0, t1)
    return count


def target_tracking(env: simpy.Environment, pool: InstancePool, total: Callable[[float, float], float],
                    policy: TargetTracking) -> Generator:
    """Process: evaluate the alarms every period and resize the pool (`Tracker.evaluate`).

    `total(t0, t1)` is the metric summed over the endpoint for the period [t0, t1) (invocations, or a
    gauge such as the backlog at t1); the alarms compare it per in-service instance with the target.
    With `min_instances` 0, a period ending with work but no capacity launches one instance, as the
    step-scaling policy on HasBacklogWithoutCapacity that scale-from-zero needs does. The bounds are the
    policy's, changed by its scheduled actions (`scheduled_actions`, started here).
    """
    tracker = Tracker(env, pool, total, policy)
    while True:
        yield env.timeout(policy.period_s)
        tracker.evaluate()


def tracking_together(env: simpy.Environment, trackers: list[Tracker], period_s: float) -> Generator:
    """Process: every `period_s`, each tracker's evaluation in turn: many fleets' policies of one period (a model's
    copies each, on an endpoint of inference components) as one control event instead of one each."""
    while True:
        yield env.timeout(period_s)
        for tracker in trackers:
            tracker.evaluate()


class Tracker:
    """One target-tracking policy on one pool, between its evaluations: the alarms' breaching streaks, the last
    scale-out and scale-in, and what the last scale-out asked for (see `target_tracking`)."""

    def __init__(self, env: simpy.Environment, pool: InstancePool, total: Callable[[float, float], float],
                 policy: TargetTracking) -> None:
        self.env, self.pool, self.total, self.policy = env, pool, total, policy
        self.high = self.low = 0
        self.last_out = self.last_in = -math.inf
        self.out_level = 0  # the capacity the last scale-out asked for: what a scale-out inside its cooldown must beat
        self.bounds = scheduled_bounds(env, pool, policy)

    def evaluate(self) -> None:
        """The alarms at the end of a period: scale out or in as `target_tracking` says."""
        env, pool, policy, bounds = self.env, self.pool, self.policy, self.bounds
        t, serving = env.now, pool.in_service
        value = self.total(t - policy.period_s, t)
        if serving + pool.pending == 0:
            if value > 0 and bounds.max > 0:
                env.process(launch(env, pool, policy.launch_s))
                self.last_out, self.high, self.low, self.out_level = t, 0, 0, 1
            return
        metric = value / max(serving, 1)
        self.high = self.high + 1 if metric > policy.target else 0
        self.low = self.low + 1 if metric < policy.target * policy.in_ratio else 0
        desired = serving + pool.pending
        proportional = math.ceil(max(serving, 1) * metric / policy.target)
        wanted = min(bounds.max, max(bounds.min, proportional))
        cooled = t - self.last_out >= policy.out_cooldown_s
        if self.high >= policy.out_datapoints and wanted > desired and (cooled or wanted > self.out_level):
            for _ in range(wanted - desired):
                env.process(launch(env, pool, policy.launch_s))
            self.last_out, self.high, self.out_level = t, 0, wanted
        elif (self.low >= policy.in_datapoints and wanted < desired and pool.pending == 0
              and t - self.last_in >= policy.in_cooldown_s and t - self.last_out >= policy.in_cooldown_s):
            for _ in range(desired - wanted):
                pool.retire(t)
            self.last_in, self.low = t, 0
