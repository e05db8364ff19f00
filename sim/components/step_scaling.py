"""Step scaling on invocations per instance, as Application Auto Scaling does it.

A control-plane SimPy process like target tracking's (`sim.components.autoscaler`). Each metric period it
reads the invocations of the last period per in-service instance. A scale-out alarm is in ALARM after
`datapoints` periods in a row above its threshold, a scale-in alarm after `datapoints` periods below its
own; while an alarm is in ALARM, every period applies the step adjustment whose interval holds the breach
(metric - threshold): "The adjustments can continue for additional alarm breaches until the alarm state
returns to OK" (Application Auto Scaling User Guide, "How step scaling for Application Auto Scaling works").
Adjustments are ChangeInCapacity: instances added or removed, within min and max.

Cooldowns (StepScalingPolicyConfiguration.Cooldown): during a scale-out's cooldown "the capacity that has
been added by the previous scale out event that initiated the cooldown is calculated as part of the desired
capacity for the next scale out" (a larger step adds only the difference); a scale-in's cooldown blocks the
next scale-in. New instances serve after the launch delay; retired ones drain. Scheduled actions change
min and max as they do under target tracking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import simpy

from sim.components.autoscaler import LaunchDelay, launch, scheduled_bounds
from sim.components.pool import InstancePool  # or any pool with in_service, pending, retire, join


@dataclass(frozen=True)
class Steps:
    """One alarm and its policy: threshold (invocations per instance per metric period), breaching periods in
    a row that set it off, the adjustments as (lower, upper, change) on metric - threshold (lower inclusive,
    upper exclusive; -inf / inf when open), and the cooldown in seconds."""

    threshold: float
    datapoints: int
    adjustments: tuple[tuple[float, float, int], ...]
    cooldown_s: float

    def change(self, breach: float) -> int:
        """Instances to add (negative: remove) for a breach of `breach`; 0 outside every interval."""
        return next((c for lo, hi, c in self.adjustments if lo <= breach < hi), 0)


@dataclass(frozen=True)
class StepPolicy:
    """Bounds, metric period, launch delay, scheduled actions (as `TargetTracking.schedule`) and the two
    alarms (None: that direction does not scale)."""

    min_instances: int
    max_instances: int
    period_s: float
    launch_s: LaunchDelay
    out: Steps | None
    inn: Steps | None
    schedule: tuple[tuple[float, int | None, int | None], ...] = ()


def step_scaling(env: simpy.Environment, pool: InstancePool, total: Callable[[float, float], float],
                 policy: StepPolicy) -> Generator:
    """Process: evaluate both alarms every period and resize the pool by their steps (module docstring)."""
    bounds = scheduled_bounds(env, pool, policy)
    out, inn = policy.out, policy.inn
    high = low = 0
    out_until = in_until = -math.inf  # when each cooldown ends
    out_base = 0  # the capacity before the scale-out that started the cooldown
    while True:
        yield env.timeout(policy.period_s)
        t, serving = env.now, pool.in_service
        desired = serving + pool.pending
        metric = total(t - policy.period_s, t) / max(serving, 1)
        high = high + 1 if out is not None and metric > out.threshold else 0
        low = low + 1 if inn is not None and metric < inn.threshold else 0
        if out is not None and high >= out.datapoints:
            cooling = t < out_until
            base = out_base if cooling else desired  # in the cooldown, what it added counts as asked for already
            want = min(bounds.max, max(bounds.min, base + out.change(metric - out.threshold)))
            for _ in range(want - desired):
                env.process(launch(env, pool, policy.launch_s))
            if want > desired and not cooling:
                out_base, out_until = desired, t + out.cooldown_s
        elif inn is not None and low >= inn.datapoints and t >= in_until and pool.pending == 0:
            want = max(bounds.min, min(bounds.max, desired + inn.change(metric - inn.threshold)))
            for _ in range(desired - want):
                pool.retire(t)
            if want < desired:
                in_until = t + inn.cooldown_s
