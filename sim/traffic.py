"""Vectorised arrival-time generation from a traffic spec (`sim.traffic_spec`, whose names are handed on
here too).

Generation never touches global random state: every function takes a `numpy.random.Generator`, so a seed
reproduces a run exactly.

Speed matters (days of traffic, millions of requests): every pattern is generated without a sort, by
drawing sorted points of a unit-rate Poisson process (order statistics of exponential gaps) and mapping
them through the inverse cumulative intensity.
"""

from __future__ import annotations

import math

import numpy as np

from sim.errors import InputError
from sim.popularity import Popularity, assign_models
from sim.traces import Trace, load_trace, replay_trace, trace_model_indices
from sim.traffic_spec import (
    BurstyTraffic,
    ConstantTraffic,
    DiurnalTraffic,
    Duration,
    OnOffTraffic,
    PoissonTraffic,
    TraceTraffic,
    TrafficSpec,
)

__all__ = [
    "BurstyTraffic", "ConstantTraffic", "DiurnalTraffic", "Duration", "OnOffTraffic", "PoissonTraffic", "Popularity",
    "Trace", "TraceTraffic", "TrafficSpec", "assign_models", "generate_arrivals", "load_trace",
    "replay_trace", "trace_model_indices",
]

# Pieces per period of the diurnal cumulative-intensity grid: one per minute of a day. Within a piece the
# intensity is replaced by its exact average there, an error far below sampling noise. Capped so short
# periods over long horizons do not build a grid larger than the arrivals themselves.
_DIURNAL_PIECES_PER_PERIOD = 1440
_DIURNAL_MAX_GRID = 2_000_000


def generate_arrivals(spec: TrafficSpec, horizon_s: float, rng: np.random.Generator,
                      trace: Trace | None = None) -> np.ndarray:
    """Arrival times: sorted float64 seconds in [0, horizon_s).

    `trace` is required for a `TraceTraffic` spec (from `load_trace`); its times are relative to its first
    timestamp and are truncated at `horizon_s` (no wrap-around). Constant traffic uses no randomness.
    """
    if not (math.isfinite(horizon_s) and horizon_s > 0):
        raise InputError("horizon", "a positive, finite number of seconds", got=horizon_s)
    if isinstance(spec, TraceTraffic):
        if trace is None:
            raise ValueError("a trace spec needs its loaded Trace: call load_trace(path, spec) first")
        return replay_trace(trace, horizon_s, rng, spec.rate_multiplier)[0]
    generator = _GENERATORS[type(spec)]
    return _before(generator(spec, horizon_s, rng), horizon_s)


def generate_window(spec: TrafficSpec, horizon_s: float, t0: float, t1: float,
                    rng: np.random.Generator) -> np.ndarray | None:
    """Arrival times in [t0, t1) of the pattern over a horizon of `horizon_s`, drawn for that stretch alone:
    a Poisson process restricted to an interval is the Poisson process of the same intensity on it, so a busy
    hour at 16 x the traffic costs its own requests, not those of the hours before it (headroom). Sorted
    float64 seconds on the horizon's clock. Constant traffic gives exactly the points of the whole-horizon
    draw; None for the patterns whose state runs from t = 0 (bursty, on-off) and for a trace: draw those whole."""
    t1 = min(t1, horizon_s)
    if isinstance(spec, ConstantTraffic):
        rate = spec.rate_rps * spec.rate_multiplier
        return np.arange(math.ceil(t0 * rate), math.ceil(t1 * rate), dtype=np.float64) / rate
    if isinstance(spec, PoissonTraffic):
        rate = spec.rate_rps * spec.rate_multiplier
        return _before(t0 + _sorted_uniforms(rng, int(rng.poisson(rate * (t1 - t0))), t1 - t0), t1)
    if isinstance(spec, DiurnalTraffic):
        # the whole horizon's grid of constant-rate pieces, cut to the stretch (its ends as knots)
        pieces = math.ceil(horizon_s / spec.period_s * _DIURNAL_PIECES_PER_PERIOD)
        step = horizon_s / min(max(pieces, 1), _DIURNAL_MAX_GRID)
        inner = np.arange(math.floor(t0 / step) + 1, math.ceil(t1 / step)) * step
        knots = np.r_[t0, inner[(inner > t0) & (inner < t1)], t1]
        cumulative = spec.cumulative(knots)
        return _before(_piecewise(rng, knots, cumulative - cumulative[0]), t1)
    return None


def _sorted_uniforms(rng: np.random.Generator, n: int, span: float) -> np.ndarray:
    """`n` sorted uniform points on [0, span) in O(n): normalised partial sums of n + 1 exponentials."""
    if n == 0:
        return np.empty(0, dtype=np.float64)
    sums = np.cumsum(rng.standard_exponential(n + 1))
    points = sums[:n]
    points *= span / sums[n]
    return points


def _poisson_points(rng: np.random.Generator, mass: float) -> np.ndarray:
    """Sorted points of a unit-rate Poisson process on [0, mass)."""
    return _sorted_uniforms(rng, int(rng.poisson(mass)), mass)


def _before(times: np.ndarray, horizon_s: float) -> np.ndarray:
    """Drop points at or after the horizon (only rounding can put them there); `times` is sorted."""
    if times.size and times[-1] >= horizon_s:
        times = times[: np.searchsorted(times, horizon_s, side="left")]
    return times


def _piecewise(rng: np.random.Generator, knots_s: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """Poisson arrivals whose cumulative intensity is linear between knots (piecewise-constant rate).

    Inverting the cumulative intensity maps unit-rate points to the wanted process; `np.interp` is safe
    with flat stretches (zero rate) because a point never lands strictly inside a zero-width interval.
    """
    return np.interp(_poisson_points(rng, float(cumulative[-1])), cumulative, knots_s)


def _constant(spec: ConstantTraffic, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    rate = spec.rate_rps * spec.rate_multiplier
    # k / rate rather than a running sum, so spacing stays exact over millions of arrivals.
    return np.arange(math.ceil(horizon_s * rate), dtype=np.float64) / rate


def _poisson(spec: PoissonTraffic, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    rate = spec.rate_rps * spec.rate_multiplier
    return _sorted_uniforms(rng, int(rng.poisson(rate * horizon_s)), horizon_s)


def _diurnal(spec: DiurnalTraffic, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    pieces = math.ceil(horizon_s / spec.period_s * _DIURNAL_PIECES_PER_PERIOD)
    knots = np.linspace(0.0, horizon_s, min(max(pieces, 1), _DIURNAL_MAX_GRID) + 1)
    return _piecewise(rng, knots, spec.cumulative(knots))


def _bursty(spec: BurstyTraffic, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    states, ends = _mmpp_sojourns(spec, horizon_s, rng)
    rates = np.array([spec.rate_rps, spec.burst_rate_rps]) * spec.rate_multiplier
    knots = np.concatenate(([0.0], ends))
    cumulative = np.concatenate(([0.0], np.cumsum(rates[states] * np.diff(knots))))
    return _piecewise(rng, knots, cumulative)


def _mmpp_sojourns(spec: BurstyTraffic, horizon_s: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Alternating base (0) / burst (1) sojourns covering [0, horizon): their states and end times.

    The first state is drawn from the stationary distribution; exponential sojourns are memoryless, so
    the first (residual) sojourn has the ordinary distribution.
    """
    means = np.array([spec.mean_gap_s, spec.mean_burst_s])
    state = int(rng.random() < spec.mean_burst_s / (spec.mean_gap_s + spec.mean_burst_s))
    chunks_states, chunks_lengths, covered = [], [], 0.0
    while covered < horizon_s:
        # Draw a little more than the expected number of sojourns; loop in the rare short case.
        n = int(2.2 * (horizon_s - covered) / means.sum()) + 16
        states = (state + np.arange(n)) % 2
        lengths = rng.exponential(means[states])
        chunks_states.append(states)
        chunks_lengths.append(lengths)
        covered += float(lengths.sum())
        state = 1 - int(states[-1])
    states = np.concatenate(chunks_states)
    ends = np.cumsum(np.concatenate(chunks_lengths))
    last = int(np.searchsorted(ends, horizon_s, side="left"))
    ends = ends[: last + 1]
    ends[-1] = horizon_s
    return states[: last + 1], ends


def _on_off(spec: OnOffTraffic, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    cycle = spec.on_s + spec.off_s
    full, rest = divmod(horizon_s, cycle)
    on_time = full * spec.on_s + min(rest, spec.on_s)
    # Poisson on the concatenated "on" time, then each point moved to its cycle: no sort, no knots.
    on_points = _sorted_uniforms(rng, int(rng.poisson(spec.rate_rps * spec.rate_multiplier * on_time)),
                                 on_time)
    # fmod is exact for positive numbers, so a point never leaks past the end of its "on" period.
    within = np.fmod(on_points, spec.on_s)
    on_points -= within
    on_points *= cycle / spec.on_s  # now the start of the point's cycle (up to rounding)
    on_points += within
    return on_points


_GENERATORS = {
    ConstantTraffic: _constant,
    PoissonTraffic: _poisson,
    DiurnalTraffic: _diurnal,
    BurstyTraffic: _bursty,
    OnOffTraffic: _on_off,
}
