"""Simulated headroom: the highest traffic multiple a fixed configuration serves within the SLO."""

from __future__ import annotations

import math

from fitness.engine.constraints import constrained
from fitness.engine.run import run_option
from fitness.engine.windows import busiest_start
from fitness.workload.scenario import build
from fitness.workload.spec import Budget, Workload
from sim.options._fleet import EARLY_WINDOW_S

WINDOW_S = 3600.0
"""Headroom simulates the busiest hour of the scaled traffic (the whole horizon when shorter)."""


def headroom(wl: Workload, option_id: str, config: dict, max_multiple: float = 16.0, tol: float = 0.1,
             window_s: float | None = WINDOW_S) -> float | None:
    """Highest traffic multiple m in [1, max_multiple] at which `config` still meets the SLO; None if m = 1 fails.

    The configuration stays as given (an autoscaled one keeps its max): the workload's traffic is scaled by
    `rate_multiplier`, re-drawn, and its busiest `window_s` (None: the whole horizon) simulated after a
    lead of the traffic before it (the fleets' early-traffic window) and judged on the window alone; over a
    long horizon that costs an hour per multiple instead of days, and errs low (the busiest hour is the
    hardest). Multiples 2, 4, 8 ... bracket the limit, then bisection on the log scale stops when
    hi / lo <= 1 + tol; the multiple returned is the highest that passed. The SLO is latency and error
    rate (and an offline deadline), not the budget: a serverless bill grows with traffic, which says
    nothing of what the configuration sustains.
    """
    fixed = wl.model_copy(update={"budget": Budget(), "options": {**wl.options, option_id: config}})
    # the window is placed once, on today's traffic; each multiple draws its traffic only up to its end
    t0 = busiest_start(build(fixed), window_s, EARLY_WINDOW_S, noise_sd=3.0) if window_s else None

    def ok(m: float) -> bool:
        traffic = wl.traffic.model_copy(update={"rate_multiplier": wl.traffic.rate_multiplier * m})
        scaled = fixed.model_copy(update={"traffic": traffic})
        if t0 is None:
            run = run_option(scaled, build(scaled), option_id)
        else:  # judged on the window only: the lead lets caches, containers and fleets warm up
            length = EARLY_WINDOW_S + window_s
            scaled = scaled.model_copy(update={"horizon": t0 + length})
            run = run_option(scaled, build(scaled).cut(t0, length), option_id, since_s=EARLY_WINDOW_S)
        return constrained(fixed, run.summary).feasible

    if not ok(1.0):
        return None
    lo, hi = 1.0, None
    while hi is None and lo < max_multiple:
        m = min(2 * lo, max_multiple)
        lo, hi = (m, None) if ok(m) else (lo, m)
    if hi is None:
        return lo
    while hi / lo > 1 + tol:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo
