"""Simulated headroom: the highest traffic multiple a fixed configuration serves within the SLO."""

from __future__ import annotations

from fitness.engine.constraints import constrained
from fitness.engine.parallel import fork_map
from fitness.engine.run import run_option
from fitness.engine.windows import busiest_start_of
from fitness.workload.scenario import arrivals_of, build, build_window
from fitness.workload.spec import Budget, Workload
from sim.components.sizing import peak_rate_rps
from sim.options._fleet import EARLY_WINDOW_S

WINDOW_S = 3600.0
"""Headroom simulates the busiest hour of the scaled traffic (the whole horizon when shorter)."""
MAX_REQUESTS = 300_000
"""At most this many requests a run: at a high multiple the hour and its lead shrink together (fleets,
containers and caches warm up in a lead of tens of thousands of requests; p99 and an error rate of 0.1%
are resolved by hundreds of thousands)."""


MAX_OFFLINE_REQUESTS = 1_500_000
"""Results judged by an offline deadline are simulated over the whole horizon, never a window of it (part of
the records would size the job for part of its work and bill part of its cycle): headroom and sensitivity run
them up to the traffic multiple whose run holds this many requests."""
MAX_MULTIPLE = 16.0
"""The highest traffic multiple headroom tests."""


def max_multiple(wl: Workload, requests_today: int) -> float:
    """The highest multiple headroom tests: `MAX_MULTIPLE`, or for offline results the multiple whose whole-horizon
    run holds `MAX_OFFLINE_REQUESTS` requests (at least 1: today's traffic was simulated whole)."""
    if wl.slo.delivery != "offline":
        return MAX_MULTIPLE
    return max(1.0, min(MAX_MULTIPLE, MAX_OFFLINE_REQUESTS / max(requests_today, 1)))


def span_at(rate_rps: float, window_s: float, horizon_s: float) -> tuple[float, float]:
    """(lead, window) in seconds simulated at `rate_rps`: `EARLY_WINDOW_S` then `window_s`, or the whole
    horizon (no lead) when it is not longer; shrunk so that they hold at most `MAX_REQUESTS` requests at that
    rate (the busiest window's), the lead keeping its share of the span (a shortened run still starts warm)."""
    share = EARLY_WINDOW_S / (EARLY_WINDOW_S + window_s)
    span = min(horizon_s, EARLY_WINDOW_S + window_s)
    shrink = min(1.0, MAX_REQUESTS / max(rate_rps * span, 1e-12))
    if shrink == 1.0:
        return (0.0, horizon_s) if horizon_s <= EARLY_WINDOW_S + window_s else (EARLY_WINDOW_S, window_s)
    return span * shrink * share, span * shrink * (1 - share)


def headroom(wl: Workload, option_id: str, config: dict, max_multiple: float = MAX_MULTIPLE, tol: float = 0.1,
             window_s: float | None = WINDOW_S) -> float | None:
    """Highest traffic multiple m in [1, max_multiple] at which `config` still meets the SLO; None if m = 1 fails.

    The configuration stays as given (an autoscaled one keeps its max): the workload's traffic is scaled by
    `rate_multiplier`, re-drawn, and its busiest `window_s` (None: the whole horizon) simulated after a
    lead of the traffic before it (the fleets' early-traffic window) and judged on the window alone; over a
    long horizon that costs an hour per multiple instead of days, and errs low (the busiest hour is the
    hardest). Lead and window shrink together when they would hold more than `MAX_REQUESTS` requests
    (`span_at`). Multiples 2, 4, 8 ... bracket the limit, then the bracket is cut on the log scale until
    hi / lo <= 1 + tol, two multiples at a time on the cores (`search`); the multiple returned is the highest
    that passed. The SLO is latency and error
    rate (and an offline deadline), not the budget: a serverless bill grows with traffic, which says
    nothing of what the configuration sustains. Offline results are judged on the whole horizon, uncut
    (`MAX_OFFLINE_REQUESTS`; the caller bounds `max_multiple` with `max_multiple()`).
    """
    fixed = wl.model_copy(update={"budget": Budget(), "options": {**wl.options, option_id: config}})
    today = arrivals_of(fixed)  # where the busy stretches are: no model choices nor work needed
    offline = wl.slo.delivery == "offline"
    window = today[1] if offline or not window_s else window_s
    rate = peak_rate_rps(*today, min(window, today[1]) or 1.0)
    ok = _judge(fixed, wl, option_id, today, rate, None if offline else window)
    return search(lambda ms: fork_map(ok, ms), max_multiple, tol)


def search(ok_all, max_multiple: float, tol: float) -> float | None:
    """The highest multiple in [1, max_multiple] that passes, two multiples at a time (`ok_all(multiples)` ->
    passed, one per multiple, on the cores): 1 and 2, then the next two doublings, until one fails; then the
    bracket is cut in three on the log scale (both inner points at once) until hi / lo <= 1 + tol. None when
    1 fails. Passing is taken to be monotone: a multiple above one that failed is not believed."""
    first, second = ok_all([1.0, min(2.0, max_multiple)])
    if not first:
        return None
    lo, hi = (min(2.0, max_multiple), None) if second else (1.0, min(2.0, max_multiple))
    while hi is None and lo < max_multiple:
        ms = [min(2 * lo, max_multiple), min(4 * lo, max_multiple)]
        passed = ok_all(ms[:1] if ms[0] == ms[1] else ms)
        if not passed[0]:
            hi = ms[0]
        elif len(passed) == 1 or not passed[1]:
            lo, hi = ms[0], (ms[1] if len(passed) > 1 else None)
        else:
            lo = ms[1]
    if hi is None:
        return lo
    while hi / lo > 1 + tol:
        step = (hi / lo) ** (1 / 3)
        a, b = lo * step, lo * step * step
        pa, pb = ok_all([a, b])
        lo, hi = (b, hi) if pa and pb else (a, b) if pa else (lo, a)
    return lo


def _judge(fixed: Workload, wl: Workload, option_id: str, today, rate_rps: float, window_s: float | None):
    """ok(m): whether `fixed` meets the SLO at m x the traffic, on the busiest stretch of today's traffic
    (placed per multiple, as its span shrinks; each multiple draws the stretch alone where its pattern allows:
    `build_window`), judged after the lead; on the whole horizon, never shrunk, when `window_s` is None.
    `today`: (arrival times, horizon) of today's traffic."""
    def ok(m: float) -> bool:
        traffic = wl.traffic.model_copy(update={"rate_multiplier": wl.traffic.rate_multiplier * m})
        scaled = fixed.model_copy(update={"traffic": traffic})
        lead, win = span_at(rate_rps * m, window_s, today[1]) if window_s else (0.0, today[1])
        t0 = busiest_start_of(*today, win, lead, noise_sd=3.0) if lead + win < today[1] else None
        if t0 is None:
            run = run_option(scaled, build(scaled), option_id, brief=True)
        else:  # judged on the window only: the lead lets caches, containers and fleets warm up
            scaled = scaled.model_copy(update={"horizon": t0 + lead + win})
            run = run_option(scaled, build_window(scaled, t0, lead + win), option_id, since_s=lead, brief=True)
        return constrained(fixed, run.summary).feasible

    return ok
