"""The knobs of a fleet's autoscaling: bounds and cooldowns, scheduled actions, target tracking or step
scaling (`sim.options._fleet` runs them; `sim.components.autoscaler` and `sim.components.step_scaling` are the
control-plane processes)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScheduledCapacity(BaseModel):
    """A scheduled action: every day at `at` (UTC; the run starts at 00:00) the scalable target's min and/or
    max change, and the fleet is brought inside them at once (Application Auto Scaling scheduled scaling)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    """Time of day, HH:MM (UTC), when the action runs, every day."""
    min: int | None = Field(default=None, ge=0)
    """New fewest instances from then on; unset: unchanged."""
    max: int | None = Field(default=None, ge=1)
    """New most instances from then on; unset: unchanged."""

    @model_validator(mode="after")
    def _changes_something(self) -> ScheduledCapacity:
        if self.min is None and self.max is None:
            raise ValueError("a scheduled action sets min, max or both")
        return self

    @property
    def at_s(self) -> float:
        """Seconds after midnight."""
        h, m = self.at.split(":")
        return 3600.0 * int(h) + 60.0 * int(m)


class ScalingBounds(BaseModel):
    """The bounds and cooldowns of a target-tracking policy; `Autoscaling` and async's `BacklogScaling` add
    the metric they track."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)
    FLOOR: ClassVar[int] = 1
    """The lowest min the policy's metric allows (async's backlog allows 0)."""

    min: int = Field(default=1, ge=1)
    """Fewest instances in service."""
    max: int = Field(ge=1)
    """Most instances in service; at least `min`."""
    scale_in_cooldown_s: float | None = Field(default=None, ge=0)
    """Seconds after any scaling before the next scale-in; unset: the catalog's default."""
    scale_out_cooldown_s: float | None = Field(default=None, ge=0)
    """Seconds after a scale-out before the next one that asks no more than it did; unset: the catalog's
    default."""

    scheduled: tuple[ScheduledCapacity, ...] = ()
    """Scheduled actions changing min and max at times of day (for example more instances before a daily
    peak); unset: min and max hold all day."""

    @model_validator(mode="after")
    def _ordered(self) -> ScalingBounds:
        if self.max < self.min:
            raise ValueError("autoscaling max must be >= min")
        if len({a.at for a in self.scheduled}) < len(self.scheduled):
            raise ValueError("two scheduled actions at the same time of day")
        lo, hi = self.min, self.max
        for a in sorted(self.scheduled, key=lambda a: a.at_s) * 2:  # a day from the bounds, then a day in force
            lo, hi = a.min if a.min is not None else lo, a.max if a.max is not None else hi
            if hi < lo or lo < self.FLOOR:
                raise ValueError(f"the scheduled action at {a.at} leaves min {lo} and max {hi}: expected "
                                 f"{self.FLOOR} <= min <= max all day")
        return self

    def schedule(self) -> tuple[tuple[float, int | None, int | None], ...]:
        """The scheduled actions as (seconds after midnight, min, max), in time order."""
        return tuple((a.at_s, a.min, a.max) for a in sorted(self.scheduled, key=lambda a: a.at_s))


class StepAdjustment(BaseModel):
    """One step: when metric - threshold lies in [lower, upper), add `change` instances (negative: remove)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    lower: float | None = None
    """Lower bound of the breach, inclusive (invocations per instance per minute); unset: no lower bound."""
    upper: float | None = None
    """Upper bound of the breach, exclusive; unset: no upper bound."""
    change: int
    """Instances to add (scale-out steps, > 0) or remove (scale-in steps, < 0)."""


class StepAlarm(BaseModel):
    """One CloudWatch alarm on InvocationsPerInstance and the step policy it triggers (ChangeInCapacity)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    threshold: float = Field(ge=0)
    """Invocations per instance per metric period (one minute) the alarm compares against."""
    datapoints: int | None = Field(default=None, ge=1)
    """Breaching periods in a row that set the alarm off; unset: the catalog's target-tracking alarm's."""
    steps: tuple[StepAdjustment, ...] = Field(min_length=1)
    """The adjustments by breach size, in order, without gaps or overlaps."""
    cooldown_s: float | None = Field(default=None, ge=0)
    """The policy's cooldown; unset: the catalog's scale-out (or scale-in) cooldown."""


class StepScaling(BaseModel):
    """Step scaling: a scale-out alarm above one threshold and a scale-in alarm below another (either may be
    left out), each with its steps (Application Auto Scaling StepScaling policies)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    scale_out: StepAlarm | None = None
    """Alarm on invocations above its threshold; its steps' bounds are >= 0 and their changes > 0."""
    scale_in: StepAlarm | None = None
    """Alarm on invocations below its threshold; its steps' bounds are <= 0 and their changes < 0."""

    @model_validator(mode="after")
    def _well_formed(self) -> StepScaling:
        if self.scale_out is None and self.scale_in is None:
            raise ValueError("step scaling needs scale_out, scale_in or both")
        if self.scale_out and self.scale_in and self.scale_in.threshold >= self.scale_out.threshold:
            raise ValueError("the scale_in threshold must be below the scale_out threshold")
        for name, alarm, sign in (("scale_out", self.scale_out, 1), ("scale_in", self.scale_in, -1)):
            if alarm is not None:
                _check_steps(name, alarm.steps, sign)
        return self


def _check_steps(name: str, steps: tuple[StepAdjustment, ...], sign: int) -> None:
    """AWS's rules for one policy's steps: contiguous intervals, no gaps or overlaps, on the alarm's side of the
    threshold (scale-out from 0 up to an open end, scale-in from an open end up to 0), changes of that sign."""
    lows = [-math.inf if s.lower is None else s.lower for s in steps]
    highs = [math.inf if s.upper is None else s.upper for s in steps]
    edge = (lows[0], highs[-1]) == ((0.0, math.inf) if sign > 0 else (-math.inf, 0.0))
    if not edge or any(h != lo for h, lo in zip(highs[:-1], lows[1:], strict=True)) or any(
            lo >= h for lo, h in zip(lows, highs, strict=True)):
        side = "from lower 0 to an open upper end" if sign > 0 else "from an open lower end to upper 0"
        raise ValueError(f"{name}.steps must run {side}, each step's lower the previous step's upper")
    if any(s.change * sign <= 0 for s in steps):
        raise ValueError(f"{name}.steps change instances {'up (> 0)' if sign > 0 else 'down (< 0)'}")


class Autoscaling(ScalingBounds):
    """Target tracking on InvocationsPerInstance (per minute), or step scaling on it (`step`); cooldowns
    default to the catalog's."""

    target_invocations_per_instance: float | None = Field(default=None, gt=0)
    """Invocations per instance per metric period (one minute) that target tracking tracks."""
    target_concurrent_requests: float | None = Field(default=None, gt=0)
    """Requests held per instance (queued or in service) that target tracking on the high-resolution
    ConcurrentRequestsPerModel metric tracks (a datapoint every 10 s: faster scale-out)."""
    target_cpu_utilization: float | None = Field(default=None, gt=0, le=100)
    """Percent of an instance's workers busy (one worker per vCPU, as sized by default) that target tracking
    on CPUUtilization tracks, per one-minute period (`sim.components.busy`)."""
    step: StepScaling | None = None
    """Step scaling instead of target tracking."""

    @property
    def tracks(self) -> Literal["invocations", "concurrency", "cpu", "step"]:
        """What the policy scales on: the one of its targets (or `step`) that is given."""
        return next(k for k, v in self._policies().items() if v is not None)

    @property
    def target(self) -> float | None:
        """The target of target tracking, in the unit of what it `tracks`; None for step scaling."""
        return self._policies()[self.tracks] if self.tracks != "step" else None

    def _policies(self) -> dict:
        return {"invocations": self.target_invocations_per_instance, "concurrency": self.target_concurrent_requests,
                "cpu": self.target_cpu_utilization, "step": self.step}

    @model_validator(mode="after")
    def _one_policy(self) -> Autoscaling:
        if sum(g is not None for g in self._policies().values()) != 1:
            raise ValueError("give target_invocations_per_instance, target_concurrent_requests or "
                             "target_cpu_utilization (target tracking) or step (step scaling), one of them")
        return self
