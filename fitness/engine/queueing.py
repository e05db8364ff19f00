"""What capacity sustains what traffic: the closed forms that prune right-sizing.

Right-sizing (`fitness.engine.sizing`) simulates few configurations because these closed forms say where
to start: `endpoints` turns a workload into the demand each endpoint must serve, `plan` the count a
fleet candidate starts at, `can_save` whether autoscaling is worth a trial, `limit_for` the serverless
concurrency after a trial. Traffic is seen as it arrives: requests are counted per window (the
autoscaling metric period, or the offline deadline) and each window is treated as a steady stream at its
own rate (a quasi-static view), so a diurnal or bursty trace is sized for its busy windows, weighted by
the requests they carry. Within a window:
- a pool of k FIFO servers is GI/G/k: M/M/k (Erlang C) with the mean wait scaled by Allen-Cunneen's
  (ca^2 + cs^2) / 2 (ca^2 the burstiness within windows, cs^2 the work's), plus the request's own work
  drawn from the scenario's samples;
- a hard concurrency limit of k (serverless) throttles the Erlang B share, whatever the service law;
- an infinite pool (serverless containers) has Poisson(a) requests in service (M/G/infinity).
These are starting points; the simulation decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fitness.workload.spec import Workload
from sim.catalog import AutoscalingFacts
from sim.components.sizing import peak_rate_rps
from sim.metrics import sorted_quantiles
from sim.scenario import Scenario
from sim.traffic_stats import per_window_counts, scaled_gaps

QUANTILE_POINTS = 500
"""Service-time quantiles kept per endpoint for tail estimates: P(S > t) known to 1/500 (a p99 needs 1/100)."""

RATE_GRID = 0.01
"""Window rates are rounded up to a geometric grid of 1% steps: fewer distinct rates, never less load."""


def _gaps_scv(arrivals_s: np.ndarray, counts: np.ndarray, window_s: float) -> float:
    """Squared coefficient of variation of inter-arrival gaps, each scaled by its window's rate: the
    burstiness within windows (1 for Poisson), the rate changes between windows left out."""
    if arrivals_s.size < 3:
        return 1.0
    x = scaled_gaps(arrivals_s, counts, window_s)
    return float(x.var() / x.mean() ** 2) if x.mean() > 0 else 1.0


@dataclass(frozen=True)
class Demand:
    """What one endpoint must serve: window rates (req/s) with the share of requests each carries, the
    per-request work (s) as quantile points and mean, and the waiting-time variability factor
    (ca^2 + cs^2) / 2 of Allen-Cunneen (1 for Poisson arrivals and exponential work)."""

    rates: np.ndarray
    shares: np.ndarray
    service_q: np.ndarray
    mean_s: float
    variability: float
    arrivals_s: np.ndarray
    horizon_s: float

    @staticmethod
    def of(arrivals_s: np.ndarray, work_s: np.ndarray, horizon_s: float, window_s: float) -> Demand:
        """Demand of these arrivals (sorted), each needing the matching `work_s`, seen through windows."""
        win = min(window_s, horizon_s)
        counts = per_window_counts(arrivals_s, horizon_s, win)
        rates = counts[counts > 0] / win
        step = math.log1p(RATE_GRID)
        grid = np.exp(np.ceil(np.log(rates) / step) * step)
        uniq, inv = np.unique(grid, return_inverse=True)
        shares = np.bincount(inv, weights=counts[counts > 0]) / max(counts.sum(), 1)
        probs = (np.arange(QUANTILE_POINTS) + 0.5) / QUANTILE_POINTS
        # numpy's quantiles, read off a sorted copy: no selection pass (864,000 requests: 59-69 ms -> 14 ms)
        q = sorted_quantiles(np.sort(work_s), probs) if work_s.size else np.zeros(1)
        mean = float(work_s.mean()) if work_s.size else 0.0
        cs2 = float(work_s.var()) / mean**2 if mean**2 > 0 else 1.0  # a mean so small its square is 0: as 0
        return Demand(uniq, shares, q, mean, (_gaps_scv(arrivals_s, counts, win) + cs2) / 2, arrivals_s, horizon_s)

    @property
    def peak_rps(self) -> float:
        """Highest window rate (req/s)."""
        return float(self.rates.max()) if self.rates.size else 0.0


def erlang_b(a: np.ndarray, k: int) -> np.ndarray:
    """Blocking probability of M/G/k/k at offered loads `a` (Erlangs), by the stable recursion."""
    b = np.ones_like(a, dtype=float)
    for j in range(1, k + 1):
        b = a * b / (j + a * b)
    return b


def erlang_c(a: np.ndarray, k: int) -> np.ndarray:
    """P(wait) of M/M/k at offered loads `a` < k (Erlangs), from Erlang B."""
    b = erlang_b(a, k)
    return k * b / (k - a * (1 - b))


def late_share(d: Demand, servers: int, budget_s: float) -> float:
    """Share of requests whose response (wait + service) exceeds `budget_s` with `servers` FIFO servers.

    Per window P(T > t) = E_S[1 if S > t else P(wait) exp(-theta (t - S))], from M/M/k (Erlang C, theta =
    k mu - lambda) with the mean wait scaled by the variability v (Allen-Cunneen: GI/G/k waits are M/M/k's
    x (ca^2 + cs^2) / 2): P(wait) = C v while that is below 1 (clumps make more requests wait), then the
    wait lengthens (theta / (C v)). Windows at or over capacity count as wholly late.
    """
    if d.mean_s <= 0:
        return 0.0
    a = d.rates * d.mean_s
    ok = a < servers
    late = float(d.shares[~ok].sum())
    if ok.any():
        c = erlang_c(a[ok], servers) * d.variability
        theta = (servers - a[ok]) / d.mean_s / np.maximum(c, 1.0)
        c = np.minimum(c, 1.0)
        slack = np.maximum(budget_s - d.service_q, 0.0)
        tail = np.where(d.service_q > budget_s, 1.0, c[:, None] * np.exp(-theta[:, None] * slack[None, :]))
        late += float(d.shares[ok] @ tail.mean(axis=1))
    return late


def overloaded_share(d: Demand, servers: float) -> float:
    """Share of requests arriving in windows whose offered load reaches `servers` (unstable there)."""
    return float(d.shares[d.rates * d.mean_s >= servers].sum())


def smallest(ok, lo: int = 1, limit: int = 1 << 20) -> int | None:
    """Smallest integer n >= lo with ok(n), for ok monotone in n (doubling then bisection); None past limit."""
    if ok(lo):
        return lo
    hi = lo * 2
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def count_needed(d: Demand, workers: int, goals: list[tuple[float, float]], allowance: float
                 ) -> tuple[int, int | None]:
    """(stable, slo) instance counts of `workers` FIFO workers each: the fewest leaving at most `allowance`
    of requests in overloaded windows, and the fewest also keeping each (late share, budget s) target;
    None when no count can (the service time alone breaks a target)."""
    stable = smallest(lambda c: overloaded_share(d, c * workers) <= allowance)
    if stable is None:
        return 1, None
    if any(budget <= 0 or float(np.mean(d.service_q > budget)) > share for share, budget in goals):
        return stable, None
    slo = smallest(lambda c: all(late_share(d, c * workers, t) <= s for s, t in goals), lo=stable)
    return stable, slo


def blocked_share(d: Demand, limit: int, hold_s: float) -> float:
    """Share of requests refused by a hard concurrency `limit` when each holds a slot `hold_s` (Erlang B)."""
    return float(d.shares @ erlang_b(d.rates * hold_s, limit)) if d.rates.size else 0.0


def limit_for(observed: float, limit: int, target: float, cap: int) -> int:
    """The concurrency limit that brings a throttled share `observed` at `limit` down to `target`: Erlang B
    calibrated on the simulation (the offered load that gives `observed` at `limit`), at most `cap`."""
    hi = 1.0
    while erlang_b(np.array([hi]), limit)[0] < observed and hi < 1e9:
        hi *= 2
    lo = 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if erlang_b(np.array([mid]), limit)[0] < observed else (lo, mid)
    return smallest(lambda c: erlang_b(np.array([hi]), c)[0] <= target, lo=limit, limit=cap) or cap


def busy_share(d: Demand, slots: int, hold_s: float) -> float:
    """Share of requests arriving while at least `slots` requests are in service (M/G/infinity: Poisson)."""
    if not d.rates.size:
        return 0.0
    a = d.rates * hold_s
    pmf, below = np.exp(-a), np.zeros_like(a)
    for n in range(slots):
        below += pmf
        pmf = pmf * a / (n + 1)
    return float(d.shares @ np.clip(1.0 - below, 0.0, 1.0))


# --- what the workload asks of each endpoint -------------------------------------------------------


def targets(wl: Workload) -> list[tuple[float, float]]:
    """Latency targets as (share of requests allowed over, seconds): p99 -> (0.01, ...), p95 -> (0.05, ...)."""
    if wl.slo.delivery == "offline":
        return []
    return [(1 - q / 100, ms / 1000.0) for q, ms in ((99, wl.slo.p99_ms), (95, wl.slo.p95_ms)) if ms is not None]


def sizing_window_s(wl: Workload, sc: Scenario, wait_limit_s: float | None = None) -> float:
    """Window through which traffic is sized: the autoscaling metric period, or for offline results the
    deadline, but no longer than a request may wait on the option (`wait_limit_s`; unset: the real-time
    invocation timeout, which every endpoint but async holds its callers to): work queued past that fails
    whatever the deadline."""
    period = sc.catalog.autoscaling.metric_period_s.value
    if wl.slo.delivery == "offline" and wl.slo.deadline_h is not None:
        limit = wait_limit_s if wait_limit_s is not None else sc.catalog.realtime.timeout_s.value
        return max(period, min(wl.slo.deadline_h * 3600.0, sc.horizon_s, limit))
    return period


def allowance(wl: Workload) -> float:
    """Share of requests that may arrive in overloaded windows: the strictest latency share, else the error
    rate; none at all for offline results, which all have to meet the deadline."""
    if wl.slo.delivery == "offline":
        return 0.0
    return min([s for s, _ in targets(wl)], default=wl.slo.max_error_rate)


def endpoints(wl: Workload, sc: Scenario, hop_s: float, extra_s: Callable = lambda m: 0.0,
              wait_limit_s: float | None = None) -> list[tuple[int, Demand, float]]:
    """Per model endpoint with requests: (model index, demand, seconds the rest of the path takes).

    One model per request: each model's own requests. A pattern: every model sees every request; the rest
    of the path is the other stages' mean work plus a hop per stage. Count-expanded models of one spec
    are represented by their busiest member (they share one config, so it decides the count).
    `wait_limit_s`: as `sizing_window_s`.
    """
    app, h, win = sc.application, sc.horizon_s, sizing_window_s(wl, sc, wait_limit_s)
    if app is not None and not app.routed:
        means = {i: float(sc.step_service_s(i).mean()) if sc.n else 0.0 for i in app.models_used}
        path = sum(max(means[i] for i in stage) for stage in app.stages) + hop_s * len(app.stages)
        return [(i, Demand.of(sc.arrivals_s, sc.step_service_s(i) + extra_s(sc.models[i]), h, win), path - means[i])
                for i in app.models_used]
    busiest: dict[str, tuple[int, np.ndarray]] = {}
    for i, m in enumerate(sc.models):
        idx = sc.for_model(i)
        spec = m.model_dump_json(exclude={"name"})
        if idx.size and (spec not in busiest or idx.size > busiest[spec][1].size):
            busiest[spec] = (i, idx)
    return [(i, Demand.of(sc.arrivals_s[idx], sc.service_s[idx] + extra_s(sc.models[i]), h, win), 0.0)
            for i, idx in busiest.values()]


# --- fleets: instance type x count, then autoscaling -----------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One fleet candidate: fixed knobs (instance type...), the endpoints it serves as (demand, workers per
    instance, rest of the path s), the price of one instance on every endpoint, the count to start at, and
    whether no count can meet the latency targets (the work alone breaks them: one trial shows it)."""

    knobs: dict
    loads: tuple[tuple[Demand, int, float], ...]
    price: float
    start: int = 1
    hopeless: bool = False


def plan(wl: Workload, knobs: dict, loads: list[tuple[Demand, int, float]], price: float) -> Plan:
    """A plan starting one instance below the Erlang C count (per endpoint, the largest), never below stable."""
    start, hopeless = 1, False
    for d, workers, rest in loads:
        goals = [(s, t - rest) for s, t in targets(wl)]
        stable, slo = count_needed(d, workers, goals, allowance(wl))
        start, hopeless = max(start, stable, (slo or stable) - 1), hopeless or (bool(goals) and slo is None)
    return Plan(knobs, tuple(loads), price, start, hopeless)


def per_instance_rps(p: Plan, count: int, period: float) -> list[float]:
    """Per endpoint, the request rate one instance takes at the utilisation `count` instances had at the
    busiest endpoint's peak metric period (the pinned count shown to meet the SLO there)."""
    util = max((peak_rate_rps(d.arrivals_s, d.horizon_s, period) * d.mean_s / (count * w)
                for d, w, _ in p.loads if d.mean_s > 0), default=0.0)
    return [util * w / d.mean_s if d.mean_s > 0 and util > 0 else math.inf for d, w, _ in p.loads]


def can_save(p: Plan, count: int, min_count: int, f: AutoscalingFacts, launch_s: float) -> bool:
    """True if target tracking could pay for fewer instances than `count` on average. Per metric period,
    the instances needed are those of the busiest period from `scale_out_datapoints` periods plus the
    launch ahead (capacity for a rise must already be there) to `scale_in_datapoints` periods behind
    (capacity for a fall is kept that long)."""
    period = f.metric_period_s.value
    ahead = int(f.scale_out_datapoints.value) + math.ceil(launch_s / period)
    span = int(f.scale_in_datapoints.value) + 1 + ahead
    rates_per_instance = per_instance_rps(p, count, period)
    if not all(math.isfinite(x) for x in rates_per_instance):
        return False  # an endpoint without work gives no target to track
    need = 0.0
    for (d, _, _), rate in zip(p.loads, rates_per_instance, strict=True):
        rates = per_window_counts(d.arrivals_s, d.horizon_s, period) / period
        padded = np.pad(rates, (span - 1 - ahead, ahead), mode="edge")  # beyond the horizon: as at its ends
        busiest = np.lib.stride_tricks.sliding_window_view(padded, span).max(axis=1)
        need += float(np.mean(np.maximum(min_count, np.ceil(busiest / rate))))
    return need < count * len(p.loads)


def invocations_target(p: Plan, top: int, period: float) -> float:
    """InvocationsPerInstance target (per metric period) for autoscaling up to `top` instances (the
    smallest over endpoints: one config serves them all)."""
    return float(min(per_instance_rps(p, top, period)) * period)
