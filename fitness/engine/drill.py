"""The failure drill: a production configuration re-simulated with one instance failing at the busiest minute.

An architecture review asks what happens when an instance dies at the worst moment. The drill answers it
on the simulator (`sim.faults.InstanceFailure`): at the start of the busiest minute of the judged requests,
the instance of the busiest endpoint holding the most work fails, the requests it held are lost (their
callers get an error), and a replacement serves after the launch delay. The configuration keeps the SLO
when the requests arriving while the fleet is one instance short (from the failure until the replacement
serves) still meet the latency objectives, the error rate over the run (the lost requests included) stays
within the SLO's, and offline results still meet their deadline: the N+1 rule, measured instead of assumed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from fitness.engine.run import run_option
from fitness.text import clock_text
from fitness.workload.spec import Workload
from sim.faults import InstanceFailure
from sim.metrics import distribution_ms
from sim.options._fleet import EARLY_WINDOW_S, launch_delay_s
from sim.results import SERVED, RequestLog
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


_BUSIEST: weakref.WeakKeyDictionary[Scenario, dict] = weakref.WeakKeyDictionary()
"""`busiest_minute` of each scenario by (since_s, launch_s): every trial of a search drills the same minute."""


def busiest_minute(sc: Scenario, since_s: float = 0.0, launch_s: float | None = None) -> tuple[float, str | None]:
    """(start of the minute with the most arrivals from `since_s` on, s; the model with the most arrivals in
    it, None for a single model). Ties go to the earliest minute and the first model. Minutes too late for a
    replacement to serve before the horizon are left out when the horizon allows, so the drill sees the
    whole time the fleet is one instance short. Found once per scenario (a pure function of it)."""
    launch_s = launch_delay_s(list(sc.models), sc.catalog) if launch_s is None else launch_s
    known = _BUSIEST.setdefault(sc, {})
    if (since_s, launch_s) not in known:
        known[since_s, launch_s] = _busiest_minute(sc, since_s, launch_s)
    return known[since_s, launch_s]


def _busiest_minute(sc: Scenario, since_s: float, launch_s: float) -> tuple[float, str | None]:
    arr = sc.arrivals_s
    latest = sc.horizon_s - launch_s - MINUTE_S
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


def drill(wl: Workload, sc: Scenario, option: str, config: dict, since_s: float = 0.0,
          base: RequestLog | None = None) -> Drill:
    """Simulate `config` of `option` with one instance failing at the busiest minute of `sc`; judge it.

    Only the stretch around the failure is simulated again: from `EARLY_WINDOW_S` before it (the lead that
    lets fleets start warm, as the busiest-day windows do) to `EARLY_WINDOW_S` after the replacement is due
    (the backlog clears). A failure cannot change what happened before it, and the stretch ends once the
    fleet is whole again, so the error rate over the judged requests is the trial's own (`base`, its request
    log) with that stretch replaced by the drill's: the cost of a drill does not grow with the horizon."""
    launch_s = launch_delay_s(list(sc.models), sc.catalog)
    at_s, model = busiest_minute(sc, since_s, launch_s)
    t0 = max(0.0, at_s - EARLY_WINDOW_S)
    t1 = min(sc.horizon_s, at_s + launch_s + EARLY_WINDOW_S)
    wl2 = wl.model_copy(update={"options": {**wl.options, option: config}})
    cut = sc.cut(t0, t1 - t0)
    run = run_option(wl2, cut.with_faults(InstanceFailure(at_s - t0, model)), option, at_s - t0, brief=True)
    if not run.summary.feasible:
        return Drill(at_s, model, 0, None, (at_s, t1), None, None, 0.0, run.summary.reasons)
    fault = next(iter(run.result.figures.details.get("faults") or []), {})
    back = fault.get("replacement_serving_s")
    end = back + t0 if back is not None else t1
    log = run.result.log
    served = log.status == SERVED
    inside = (log.arrival_s >= at_s - t0) & (log.arrival_s < end - t0) & served
    lat = distribution_ms(log.finish_s[inside] - log.arrival_s[inside])
    rate = _error_rate(base, log, since_s, at_s, t0, t1) if base is not None else run.summary.requests.error_rate
    reasons = _window_reasons(wl, lat, at_s, end)
    if rate > wl.slo.max_error_rate:
        reasons.append(f"when one instance fails at {clock_text(at_s)} (the busiest minute) the error rate is "
                       f"{rate:.2%} ({int(fault.get('lost_requests', 0))} requests lost with it), above the SLO's "
                       f"{wl.slo.max_error_rate:.2%}")
    span = (log.arrival_s >= at_s - t0) & served
    if wl.slo.delivery == "offline" and wl.slo.deadline_h is not None and span.any():
        slowest_h = float(np.max(log.finish_s[span] - log.arrival_s[span])) / 3600.0
        if slowest_h > wl.slo.deadline_h:
            reasons.append(f"when one instance fails at {clock_text(at_s)} the slowest result takes {slowest_h:.1f} h "
                           f"and misses the {wl.slo.deadline_h:g} h deadline")
    return Drill(at_s, model, int(fault.get("lost_requests", 0)), end if back is not None else None, (at_s, end),
                 lat.p99, lat.p95, rate, tuple(reasons))


def _error_rate(base: RequestLog, cut: RequestLog, since_s: float, at_s: float, t0: float, t1: float) -> float:
    """Errors over the trial's judged requests (arriving from `since_s`) when those arriving in [t0, t1) fare
    as in the drill (`cut`, on a clock starting at t0): the whole stretch, so that the requests the failed
    instance held, which arrived before the failure, count too."""
    judged = base.arrival_s >= since_s
    swapped = judged & (base.arrival_s >= t0) & (base.arrival_s < t1)
    mine = cut.arrival_s + t0 >= since_s
    errors = int(np.sum(base.status[judged & ~swapped] != SERVED)) + int(np.sum(cut.status[mine] != SERVED))
    return errors / max(int(judged.sum()), 1)


def _window_reasons(wl: Workload, lat, at_s: float, end_s: float) -> list[str]:
    """The latency objectives broken by the requests arriving while the fleet is one instance short."""
    out = []
    for key in ("p99", "p95"):
        limit, value = getattr(wl.slo, f"{key}_ms"), getattr(lat, key)
        if wl.slo.delivery != "offline" and limit is not None and value is not None and value > limit:
            out.append(f"while one instance is replaced ({clock_text(at_s)} to {clock_text(end_s)}) the {key} "
                       f"latency is {value:,.0f} ms, above the SLO of {limit:g} ms")
    return out
