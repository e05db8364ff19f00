"""From a validated workload to the scenario every option is simulated on: arrivals, model choices and
service times drawn for the workload's seed (or replayed from its trace)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fitness.errors import from_input_error
from fitness.workload.spec import Workload
from sim.application import Application
from sim.catalog import load_catalog
from sim.errors import InputError
from sim.options.serverless import quota_reasons
from sim.popularity import normalised
from sim.scenario import Scenario, build_scenario, stream
from sim.traces import Trace, replay_trace, trace_model_indices
from sim.traffic import TraceTraffic, assign_models, generate_arrivals, generate_window, load_trace
from sim.traffic_spec import DiurnalTraffic, OnOffTraffic, TrafficSpec

DEFAULT_HORIZON_S = 3600.0
"""Simulated time when the workload gives neither a horizon nor a trace, and its traffic has no period
longer than that (one hour)."""

MAX_HORIZON_S = 366 * 86400.0
"""Longest simulated time, seconds (366 days): our limit, not AWS's. The simulator keeps per-minute state
(scaling metrics, billed instance-minutes), so a trace spanning centuries would exhaust memory; a year is
the longest what-if we know of (a rare-traffic serverless endpoint run for months to see its cold starts,
notebooks/02)."""

MAX_REQUESTS = 25_000_000
"""Most requests one scenario may hold: our limit, not AWS's, about twice the flagship week (12.1 M).
Every option keeps per-request arrays for each replication, so far larger scenarios exhaust memory
instead of finishing; the answer rarely changes past a few million requests."""


def default_horizon_s(traffic: TrafficSpec) -> float:
    """The horizon of a workload that sets none: at least one full period of periodic traffic (a diurnal
    day, an on/off cycle), so the whole pattern is simulated and billed, else `DEFAULT_HORIZON_S`."""
    if isinstance(traffic, DiurnalTraffic):
        return max(DEFAULT_HORIZON_S, traffic.period_s)
    if isinstance(traffic, OnOffTraffic):
        return max(DEFAULT_HORIZON_S, traffic.on_s + traffic.off_s)
    return DEFAULT_HORIZON_S


def _model_index(wl: Workload, names: list[str], n: int) -> np.ndarray:
    """Which model each request names: its route (dynamic selection), its popularity, else uniform."""
    app = wl.application
    if app is not None and app.pattern == "dynamic-selection":
        p = np.array([app.routes.get(name, 0.0) for name in names])
        return assign_models(normalised(p), n, stream(wl.seed, "routes"))
    if len(names) == 1 or app is not None:
        return np.zeros(n, np.int32)
    pop = wl.traffic.popularity
    p = pop.probabilities(names) if pop else np.full(len(names), 1.0 / len(names))
    return assign_models(p, n, stream(wl.seed, "popularity"))


def application(wl: Workload, names: list[str]) -> Application | None:
    """The workload's pattern with model names turned into indices, for the simulator."""
    app = wl.application
    if app is None:
        return None
    pos = {name: i for i, name in enumerate(names)}
    return Application(app.pattern, tuple(pos[s] for s in app.steps), tuple(pos[b] for b in app.branches),
                       pos[app.aggregator] if app.aggregator else None)


def _arrivals(wl: Workload, names: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """Arrival times, model indices and horizon: from the pattern, or replayed from the trace file.

    The size is checked before anything is drawn, so a scenario too large for memory is refused at once.
    """
    rng = stream(wl.seed, "arrivals")
    if not isinstance(wl.traffic, TraceTraffic):
        horizon = _check_horizon(wl.horizon or default_horizon_s(wl.traffic), "horizon")
        _check_requests(wl.traffic.mean_rate_rps * horizon, horizon, "the traffic's mean rate")
        _check_periods(wl.traffic, horizon)
        arrivals = generate_arrivals(wl.traffic, horizon, rng)
        return arrivals, _model_index(wl, names, arrivals.size), horizon
    trace = load_trace(wl.base_dir / Path(wl.traffic.trace), wl.traffic)
    # the span ends on the last recorded request: keep it inside [0, horizon)
    horizon = _check_horizon(wl.horizon or math.nextafter(trace.span_s, math.inf),
                             "horizon" if wl.horizon else "traffic.trace")
    _check_requests(requests_before(trace, horizon) * wl.traffic.rate_multiplier, horizon,
                    "the trace" + (" times traffic.rate_multiplier" if wl.traffic.rate_multiplier != 1 else ""))
    arrivals, models = replay_trace(trace, horizon, rng, wl.traffic.rate_multiplier)
    if models is None:
        return arrivals, _model_index(wl, names, arrivals.size), horizon
    return arrivals, trace_model_indices(models, names, trace.source), horizon


def requests_before(trace: Trace, horizon_s: float) -> int:
    """Recorded requests the replay keeps in [0, horizon_s), before any rate multiplier (count)."""
    if trace.counts is None:
        return int(np.searchsorted(trace.times_s, horizon_s, side="left"))
    return int(trace.counts[trace.interval_starts_s < horizon_s].sum())


def trace_time_of(wl: Workload, requests: float) -> float:
    """When the workload's trace, at its own `rate_multiplier`, has offered about `requests` requests (seconds
    from its start): where its requests are, not where its hours are (a front-loaded trace is cut early).

    Count traces spread each interval's requests evenly over it, as the replay does on average."""
    trace = load_trace(wl.base_dir / Path(wl.traffic.trace), wl.traffic)
    raw = requests / wl.traffic.rate_multiplier
    if trace.counts is None:
        k = min(int(raw), trace.times_s.size - 1)
        return float(trace.times_s[k]) if k >= 0 else 0.0
    before = np.cumsum(trace.counts)
    i = min(int(np.searchsorted(before, raw, side="left")), before.size - 1)
    inside = (raw - (before[i - 1] if i else 0)) / max(int(trace.counts[i]), 1)
    return float(trace.interval_starts_s[i] + trace.interval_s * min(max(inside, 0.0), 1.0))


def _check_horizon(horizon_s: float, field: str) -> float:
    """`horizon_s` when it is at most `MAX_HORIZON_S`, else an InputError naming `field`."""
    if horizon_s > MAX_HORIZON_S:
        what = "the trace spans" if field == "traffic.trace" else "the horizon is"
        raise InputError(field, f"at most {MAX_HORIZON_S / 86400:.0f} days of simulated time (our limit)",
                         got=f"{what} {_span(horizon_s)}",
                         hint="set `horizon` (for example 7d) to simulate a representative part; costs are "
                              "projected to a month from any horizon")
    return horizon_s


def _span(seconds: float) -> str:
    """A duration for a message: seconds, hours or days, whichever reads best."""
    if seconds < 3600:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    days = seconds / 86400
    return f"{days:,.1f} days" if days < 1e6 else f"{days:.3g} days"


def _count(n: float) -> str:
    """A request count for a message; scientific past a trillion, so 1e308 stays readable."""
    if not math.isfinite(n):
        return "more than 1e308"
    return f"about {n:,.0f}" if n < 1e12 else f"about {n:.3g}"


def _check_requests(expected: float, horizon_s: float, what: str) -> None:
    """An InputError when about `expected` requests exceed `MAX_REQUESTS` (what: where they come from)."""
    if expected > MAX_REQUESTS:
        raise InputError("traffic", f"at most {MAX_REQUESTS:,} requests in one scenario (our limit, for memory)",
                         got=f"{_count(expected)} requests from {what} over {_span(horizon_s)}",
                         hint="shorten `horizon` (costs are projected to a month from any horizon) or simulate "
                              "a representative share of the traffic (a lower rate, or traffic.rate_multiplier "
                              "below 1 on a trace) and scale the instance count with it")


_PERIODS = ("on_s", "off_s", "mean_burst_s", "mean_gap_s", "period_s")
"""Traffic fields whose length sets how many periods the generator draws in a horizon."""


def _check_periods(traffic, horizon_s: float) -> None:
    """An InputError when a period is so short that the horizon holds more periods than `MAX_REQUESTS`: the
    generators keep one value per period (bursts and gaps) or count cycles in floating point (on/off)."""
    for name in _PERIODS:
        length = getattr(traffic, name, None)
        if length is not None and horizon_s / length > MAX_REQUESTS:
            raise InputError(f"traffic.{name}", f"at most {MAX_REQUESTS:,} periods in the horizon (our limit, for "
                             f"memory): a period of at least {horizon_s / MAX_REQUESTS:.3g} s",
                             got=f"{length:.3g} s, {_count(horizon_s / length)} periods over {_span(horizon_s)}")


def build(wl: Workload) -> Scenario:
    """Draw the workload's arrivals, model choices and service times for its seed."""
    try:
        return _scenario(wl, *_arrivals(wl, [m.name for m in wl.expanded_models]))
    except InputError as e:
        raise from_input_error(e, wl.source) from e


def _scenario(wl: Workload, arrivals: np.ndarray, idx: np.ndarray, horizon_s: float) -> Scenario:
    """The workload's scenario of these arrivals and model choices: its models, work, catalog and pattern."""
    models = wl.expanded_models
    return build_scenario(models, arrivals, idx, horizon_s, load_catalog(wl.catalog), wl.seed, {"workload": wl.name},
                          application(wl, [m.name for m in models]))


def arrivals_of(wl: Workload) -> tuple[np.ndarray, float]:
    """(arrival times, horizon) of the workload's traffic, as `build` draws them (the same times), without
    the model choices and the work."""
    try:
        arrivals, _, horizon = _arrivals(wl, [m.name for m in wl.expanded_models])
    except InputError as e:
        raise from_input_error(e, wl.source) from e
    return arrivals, horizon


def build_window(wl: Workload, t0: float, length_s: float) -> Scenario:
    """The requests of the workload's traffic arriving in [t0, t0 + length_s), shifted to start at 0, as
    `build(wl).cut(t0, length_s)` holds them, but drawn for that stretch alone where the pattern allows
    (`sim.traffic.generate_window`: Poisson, diurnal, constant): another draw of the same process, so a busy
    hour costs its own requests, not a whole horizon's. Bursty, on-off and trace traffic are drawn whole
    and cut."""
    if isinstance(wl.traffic, TraceTraffic):
        return build(wl).cut(t0, length_s)
    try:
        horizon = _check_horizon(wl.horizon or default_horizon_s(wl.traffic), "horizon")
        arrivals = generate_window(wl.traffic, horizon, t0, t0 + length_s, stream(wl.seed, "arrivals"))
        if arrivals is None:
            return build(wl).cut(t0, length_s)
        idx = _model_index(wl, [m.name for m in wl.expanded_models], arrivals.size)
        return _scenario(wl, arrivals - t0, idx, length_s)
    except InputError as e:
        raise from_input_error(e, wl.source) from e


def assumed(wl: Workload) -> list[str]:
    """What the engine assumed where the workload is silent, in words for the report."""
    out = []
    if "environment" not in wl.model_fields_set:
        out.append("environment: production (the workload does not say): endpoints on instances run at least "
                   "2 instances across Availability Zones and must keep the SLO when one fails at the busiest "
                   "minute; set `environment: dev` to lift both.")
    if wl.horizon is None and not isinstance(wl.traffic, TraceTraffic):
        h = default_horizon_s(wl.traffic)
        why = "one full period of the traffic pattern" if h > DEFAULT_HORIZON_S else "the default"
        out.append(f"horizon: {h / 3600:g} h, {why} (the workload sets none).")
    if len(wl.models) > 1 and all(m.container is None for m in wl.models):
        out.append("container: the models name no serving container, so they are taken to share one (as a "
                   "multi-model endpoint requires); name each model's `container` if they differ.")
    return out


def quota_notes(wl: Workload, sc: Scenario) -> list[str]:
    """The AWS quotas the workload breaks for an option that would host it, in words (`fitness validate`
    names them; the options themselves report them as reasons when they are simulated)."""
    return [f"serverless: {why}" for why in quota_reasons(sc.models, sc.catalog)]
