"""The failure drill: a production configuration re-simulated with one instance failing at the busiest minute.

An architecture review asks what happens when an instance dies at the worst moment. The drill answers it
on the simulator (`sim.faults.InstanceFailure`): at the start of the busiest minute of the judged requests,
the instance of the busiest endpoint holding the most work fails, the requests it held are lost (their
callers get an error), and a replacement serves after the launch delay. The configuration keeps the SLO
when, on that run, every constraint still holds and the requests arriving while the fleet is one instance
short (from the failure until the replacement serves) still meet the latency objectives: the N+1 rule,
measured instead of assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitness.engine.constraints import constraint_reasons
from fitness.engine.run import run_option
from fitness.workload.spec import Workload
from sim.faults import InstanceFailure
from sim.metrics import distribution_ms
from sim.options._fleet import launch_delay_s
from sim.results import SERVED
from sim.scenario import Scenario

MINUTE_S = 60.0
"""The resolution of "the busiest minute" (CloudWatch's standard metric period)."""


@dataclass(frozen=True)
class Drill:
    """One failure drill: when and where the instance failed, what it cost, and whether the SLO held.

    `window_s` is (failure, replacement serving or the horizon); `p99_ms`/`p95_ms` are over the served
    requests arriving in it; `lost_requests` the requests the failed instance held; `reasons` why the SLO
    broke (empty when it held)."""

    at_s: float
    model: str | None
    lost_requests: int
    replacement_serving_s: float | None
    window_s: tuple[float, float]
    p99_ms: float | None
    p95_ms: float | None
    error_rate: float
    reasons: tuple[str, ...]

    @property
    def keeps_slo(self) -> bool:
        """True when every constraint held through the failure."""
        return not self.reasons

    def to_dict(self) -> dict:
        """Flat record for the JSON output and the report."""
        return {"at_s": self.at_s, "model": self.model, "lost_requests": self.lost_requests,
                "replacement_serving_s": self.replacement_serving_s, "window_s": list(self.window_s),
                "p99_ms": self.p99_ms, "p95_ms": self.p95_ms, "error_rate": self.error_rate,
                "keeps_slo": self.keeps_slo, "reasons": list(self.reasons)}


def busiest_minute(sc: Scenario, since_s: float = 0.0) -> tuple[float, str | None]:
    """(start of the minute with the most arrivals from `since_s` on, s; the model with the most arrivals in
    it, None for a single model). Ties go to the earliest minute and the first model. Minutes too late for a
    replacement to serve before the horizon are left out when the horizon allows, so the drill sees the
    whole time the fleet is one instance short."""
    arr = sc.arrivals_s
    latest = sc.horizon_s - launch_delay_s(list(sc.models), sc.catalog) - MINUTE_S
    lo, hi = np.searchsorted(arr, [since_s, latest if latest > since_s else sc.horizon_s])
    if lo >= hi:
        return since_s, None
    minutes = np.floor((arr[lo:hi] - since_s) / MINUTE_S).astype(np.int64)
    top = int(np.argmax(np.bincount(minutes)))
    start = since_s + top * MINUTE_S
    if len(sc.models) == 1:
        return start, None
    hi = np.searchsorted(arr, [start, start + MINUTE_S])
    counts = np.bincount(sc.model_idx[hi[0]:hi[1]], minlength=len(sc.models))
    return start, sc.models[int(np.argmax(counts))].name


def drill(wl: Workload, sc: Scenario, option: str, config: dict, since_s: float = 0.0) -> Drill:
    """Simulate `config` of `option` on `sc` with one instance failing at the busiest minute; judge it."""
    at_s, model = busiest_minute(sc, since_s)
    wl2 = wl.model_copy(update={"options": {**wl.options, option: config}})
    run = run_option(wl2, sc.with_faults(InstanceFailure(at_s, model)), option, since_s)
    fault = next(iter(run.result.figures.details.get("faults") or []), {})
    back = fault.get("replacement_serving_s")
    end = back if back is not None else sc.horizon_s
    log = run.result.log
    inside = (log.arrival_s >= at_s) & (log.arrival_s < end) & (log.status == SERVED)
    lat = distribution_ms(log.finish_s[inside] - log.arrival_s[inside])
    reasons = [f"when one instance fails at {_clock(at_s)} (the busiest minute): {r}"
               for r in constraint_reasons(wl, run.summary)] if run.summary.feasible else list(run.summary.reasons)
    reasons += _window_reasons(wl, lat, at_s, end)
    req = run.summary.requests
    return Drill(at_s, model, int(fault.get("lost_requests", 0)), back, (at_s, end), lat.p99, lat.p95,
                 req.error_rate if req is not None else 0.0, tuple(reasons))


def _window_reasons(wl: Workload, lat, at_s: float, end_s: float) -> list[str]:
    """The latency objectives broken by the requests arriving while the fleet is one instance short."""
    out = []
    for key in ("p99", "p95"):
        limit, value = getattr(wl.slo, f"{key}_ms"), getattr(lat, key)
        if wl.slo.delivery != "offline" and limit is not None and value is not None and value > limit:
            out.append(f"while one instance is replaced ({_clock(at_s)} to {_clock(end_s)}) the {key} latency is "
                       f"{value:,.0f} ms, above the SLO of {limit:g} ms")
    return out


def _clock(t_s: float) -> str:
    """Seconds from the start as h:mm:ss."""
    t = int(round(t_s))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"
