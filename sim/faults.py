"""Faults injected into a run: what an architecture review asks about ("one instance fails at the busiest
minute"), as data a `Scenario` carries (`Scenario.with_faults`) and every option on provisioned instances
honours through the shared fleet code (`sim.options._fleet`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from sim.errors import InputError


@dataclass(frozen=True)
class InstanceFailure:
    """At `at_s` (seconds on the simulation clock) one instance of a fleet fails and is replaced.

    - Which fleet: `model` names the endpoint to hit where an option runs one fleet per model (real-time
      endpoints: one per model); None hits the option's only fleet, or for real-time endpoints the endpoint
      of the scenario's first model. On options with one fleet for every model, `model` is not read.
    - Which instance: the routable instance with the most outstanding requests at `at_s` (completions up to
      `at_s` counted), ties to the first joined. It leaves routing at once and is never picked again; its
      billing ends at `at_s` (not when its queue would have drained). With no instance in service (an
      earlier failure not yet replaced) the fault finds nothing to fail and does nothing.
    - Lost requests: every request the failed instance held at `at_s`, in service or queued on it (its
      work, finish > `at_s`): status FAILED (`sim.results.FAILED`), `finish_s` = `at_s` (the caller gets an
      error then; no retry), `start_s` kept if its service had begun, NaN if it never began. Requests that
      finished by `at_s`, and every request of the other instances, are untouched; a request arriving at
      `at_s` is routed among the survivors.
    - Replacement: SageMaker replaces the unhealthy instance: one is asked for at `at_s` (billed from then)
      and serves after the fleet's launch delay, the one scale-out uses (provisioning + container start).
      Until it joins, the survivors take the traffic; a fleet left with no instance holds arriving requests
      until the replacement joins, as its data plane does with no instance in service.
    - Failures at or past the horizon happen only while queued work still drains.
    """

    at_s: float
    model: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.at_s, numbers.Real) and math.isfinite(self.at_s) and self.at_s >= 0):
            raise InputError("faults.at_s", "a finite number of seconds >= 0", self.at_s)


def check_models(faults: Sequence[InstanceFailure], names: Sequence[str]) -> None:
    """Raise an InputError for a fault naming a model the scenario does not have."""
    for f in faults:
        if not isinstance(f, InstanceFailure):
            raise InputError("faults", "InstanceFailure values", f)
        if f.model is not None and f.model not in names:
            raise InputError("faults.model", f"one of the scenario's models ({', '.join(names)})", f.model)


def for_endpoint(faults: Sequence[InstanceFailure], model: str, first: bool) -> tuple[InstanceFailure, ...]:
    """The faults that hit `model`'s endpoint where every model has its own (`first`: it is the scenario's
    first model, the endpoint a fault naming no model hits)."""
    return tuple(f for f in faults if f.model == model or (f.model is None and first))


def unsupported(faults: Sequence[InstanceFailure], option: str, why: str) -> None:
    """Raise an InputError when faults are asked of an option that does not model them (`why`: the reason)."""
    if faults:
        raise InputError("scenario.faults", f"no instance failures on option {option} ({why})",
                         [f.at_s for f in faults])
