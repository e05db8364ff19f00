"""Digests: the few figures of a run that need its request log, kept so the log itself can go.

A week of traffic is about 12 million requests, and a request log holds six arrays of them (some 220 MB
per run). The decision engine keeps one run per option for scoring, replications and charts; it keeps
each run's digest instead of its log (`light`), so memory does not grow with the horizon times the
options. A digest is computed once from the log, the first time anything asks (`of`), and kept beside the
result (never in it: a result is not changed once simulated); a light run (`LightResult`) carries its
digest with it, also across processes. Every reader goes through `of`, so a run with a log and a light run
give the same numbers.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields

import numpy as np

import catalogs
from sim.metrics import tail_percentile
from sim.results import SERVED, SimResult
from sim.traffic_stats import peak_window_share, per_window_counts

CDF_POINTS = 2000
"""Evenly spaced ranks drawn per latency CDF (plus `CDF_TAIL_POINTS` towards the slowest request)."""
CDF_TAIL_POINTS = 400
"""Ranks at log-spaced tail probabilities (p99, p99.9, ...) so the tail keeps its shape."""
PEAK_WINDOW_S = 60.0
"""Burst loss looks at per-minute arrival counts (the peak minutes)."""


@dataclass(frozen=True)
class Digest:
    """What the fitness functions and charts read from a request log.

    `slo_attainment`: share of served requests within the p99 latency SLO (None without one);
    `burst_loss`: share of requests arriving in the peak minutes that were refused, failed or later than
    the SLO; `cdf_ms`, `cdf_p`: points of the served-latency CDF (ms, fraction at or below);
    `p99_halves_ms`: the p99 of the requests arriving in the first and in the second half of the horizon
    (None for a half with none served), which tells a run still drifting from one in steady state.
    """

    slo_attainment: float | None
    burst_loss: float
    cdf_ms: np.ndarray
    cdf_p: np.ndarray
    p99_halves_ms: tuple[float | None, float | None] = (None, None)
    served_requests: int = 0

    @property
    def served(self) -> bool:
        """Whether any request was served."""
        return self.served_requests > 0


def cdf_points(latency_ms: np.ndarray, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Points of the empirical CDF (latency, fraction at or below) at a few thousand ranks, tail included;
    `ordered`: `latency_ms` is sorted already."""
    x = latency_ms if ordered else np.sort(latency_ms)
    n = x.size
    tail = 1.0 - np.logspace(-2, -np.log10(n), CDF_TAIL_POINTS) if n > 100 else np.empty(0)
    ranks = np.unique(np.r_[np.linspace(0, n - 1, min(n, CDF_POINTS)), np.ceil(tail * n) - 1].astype(np.int64))
    ranks = ranks[(ranks >= 0) & (ranks < n)]
    # float32, half the bytes: rounding keeps the order, so these are the points of the rounded values sorted
    return x[ranks].astype(np.float32), ((ranks + 1) / n).astype(np.float32)


@dataclass(frozen=True)
class Basis:
    """What a digest depends on besides the run: the p99 latency SLO (ms, None without one), the delivery
    (sync, async, offline) and the percentile of per-minute counts that makes a minute a peak minute."""

    p99_ms: float | None
    delivery: str
    peak_percentile: float

    @staticmethod
    def of(slo, rubric: dict) -> Basis:
        """From a workload's `slo` and the fitness rubric."""
        return Basis(slo.p99_ms, slo.delivery, float(rubric["peak_minutes_percentile"]))


def basis_for(slo) -> Basis:
    """The basis of a workload's `slo` under the built-in fitness rubric."""
    return Basis.of(slo, catalogs.rubric("fitness"))


def compute(result: SimResult, basis: Basis, cdf: bool = True) -> Digest:
    """The digest of a run that still has its log (see `Digest` for each figure); `cdf`: with the points of
    the latency CDF (a sort of every served latency), which only the report's charts of today's runs read: a
    what-if's or a replication's digest leaves them empty."""
    log, limit = result.log, basis.p99_ms
    served = log.status == SERVED
    lat_ms = (log.finish_s - log.arrival_s) * 1000.0
    ok_ms = lat_ms[served]
    slo = float(np.mean(ok_ms <= limit)) if limit is not None and ok_ms.size else None
    burst = 0.0
    if log.n:
        counts = per_window_counts(log.arrival_s, result.horizon_s, PEAK_WINDOW_S)
        peak = np.percentile(counts, basis.peak_percentile)
        bad = ~served
        if limit is not None and basis.delivery != "offline":
            bad |= lat_ms > limit
        inside, worse = peak_window_share(log.arrival_s, bad, counts, float(peak), PEAK_WINDOW_S)
        burst = worse / inside if inside else 0.0  # np.mean of the bad flags in the peak minutes, exactly
    if cdf:
        ordered = np.sort(ok_ms.astype(np.float32))  # rounding keeps the order: the float64 points, rounded
        x, p = cdf_points(ordered, ordered=True)
    else:
        ordered = np.sort(ok_ms[::64])  # enough for a threshold (any threshold gives numpy's percentile)
        x, p = np.empty(0, np.float32), np.empty(0, np.float32)
    first = log.arrival_s < result.horizon_s / 2
    rough = float(ordered[int(0.95 * (ordered.size - 1))]) if ordered.size else 0.0  # about the run's 95th
    halves = tuple(tail_percentile(lat_ms[served & h], 99, rough) if (served & h).any() else None
                   for h in (first, ~first))
    return Digest(slo, burst, x, p, halves, int(ok_ms.size))


@dataclass(frozen=True, eq=False)
class LightResult(SimResult):
    """A run whose request log was dropped (`light`), with the digest kept of it and the basis it was made on."""

    digest: tuple[Basis, Digest] | None = None


_KEPT: weakref.WeakKeyDictionary[SimResult, tuple[Basis, Digest]] = weakref.WeakKeyDictionary()
"""The digest last computed of each run that still has its log, for as long as the run lives."""


def of(result: SimResult | None, basis: Basis) -> Digest | None:
    """The run's digest on `basis`: the one a light run carries or the one kept of a run, else computed from
    its log. None for no run, an infeasible one, or a light run digested on another basis."""
    if result is None:
        return None
    kept = result.digest if isinstance(result, LightResult) else _KEPT.get(result)
    if kept is not None and kept[0] == basis:
        return kept[1]
    if result.log is None:
        return None
    d = compute(result, basis)
    _KEPT[result] = (basis, d)
    return d


def light(result: SimResult, basis: Basis, cdf: bool = True) -> SimResult:
    """The run without its request log, its digest on `basis` kept (capacity, costs and extras stay); `cdf`:
    with the CDF points (`compute`; a digest without them is not kept for the run's other readers)."""
    if result.log is None:
        return result
    kept = _KEPT.get(result)
    d = of(result, basis) if cdf or (kept is not None and kept[0] == basis) else compute(result, basis, cdf=False)
    kept = {f.name: getattr(result, f.name) for f in fields(SimResult) if f.name != "log"}
    return LightResult(**kept, digest=(basis, d))
