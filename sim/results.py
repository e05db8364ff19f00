"""Flat result records of one simulated option: the request log, capacity over time and cost."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SERVED, THROTTLED, FAILED = 0, 1, 2
"""Request outcomes in `RequestLog.status`."""


@dataclass(frozen=True, eq=False)
class RequestLog:
    """One row per offered request, as parallel arrays (seconds on the simulation clock).

    `start_s` is when service began (NaN if never served), `finish_s` when the caller got its answer
    or its error (NaN if throttled), `cold` whether the request waited for a cold start.
    """

    arrival_s: np.ndarray
    start_s: np.ndarray
    finish_s: np.ndarray
    status: np.ndarray
    cold: np.ndarray
    model_idx: np.ndarray

    @property
    def n(self) -> int:
        """Number of requests in the log."""
        return int(self.arrival_s.size)

    @staticmethod
    def empty(arrival_s: np.ndarray, model_idx: np.ndarray) -> RequestLog:
        """A log for these arrivals with every outcome still to be written (served, warm, NaN times)."""
        n = arrival_s.size
        return RequestLog(arrival_s, np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.int8),
                          np.zeros(n, bool), model_idx)


@dataclass(frozen=True, eq=False)
class Timeline:
    """A step function: `values[i]` holds from `times_s[i]` until `times_s[i+1]` (or the horizon)."""

    times_s: np.ndarray
    values: np.ndarray

    @staticmethod
    def from_deltas(times_s: np.ndarray, deltas: np.ndarray, start: float = 0.0) -> Timeline:
        """Build from +k/-k changes at given times (any order); simultaneous changes are merged."""
        order = np.argsort(times_s, kind="stable")
        t, d = np.asarray(times_s, float)[order], np.asarray(deltas, float)[order]
        t_u, first = np.unique(t, return_index=True)
        level = start + np.cumsum(d)
        last = np.r_[first[1:] - 1, t.size - 1] if t.size else first
        times, values = np.r_[0.0, t_u], np.r_[start, level[last]]
        keep = np.r_[times[1:] > times[:-1], True]  # a change at t = 0 replaces the starting level
        return Timeline(times[keep], values[keep])

    @staticmethod
    def total(timelines: list[Timeline]) -> Timeline:
        """The sum of several step functions (e.g. the instances of several endpoints)."""
        times = np.unique(np.concatenate([t.times_s for t in timelines])) if timelines else np.zeros(1)
        return Timeline(times, sum((t.at(times) for t in timelines), np.zeros(times.size)))

    def mean(self, horizon_s: float, since_s: float = 0.0) -> float:
        """Time-average over [since_s, horizon_s): integral of the step function / duration."""
        t = np.clip(np.r_[self.times_s, horizon_s], since_s, horizon_s)
        return float(np.sum(self.values * np.diff(t)) / (horizon_s - since_s)) if horizon_s > since_s else 0.0

    def max(self, horizon_s: float) -> float:
        """Largest value reached before the horizon."""
        keep = self.times_s < horizon_s
        return float(self.values[keep].max()) if keep.any() else 0.0

    def at(self, t_s: np.ndarray) -> np.ndarray:
        """Values at the given times."""
        i = np.searchsorted(self.times_s, t_s, side="right") - 1
        return self.values[np.clip(i, 0, None)]


@dataclass(frozen=True, eq=False)
class SimResult:
    """Everything one option produced for one scenario.

    `cost_usd` maps a cost line (e.g. "instances", "compute", "data") to USD over the horizon;
    `config` is the configuration actually simulated (after defaults), flat and JSON-safe.
    """

    option: str
    feasible: bool
    reasons: tuple[str, ...]
    horizon_s: float
    config: dict = field(default_factory=dict)
    log: RequestLog | None = None
    capacity: Timeline | None = None
    cost_usd: dict[str, float] = field(default_factory=dict)
    cache: dict | None = None
    extra: dict = field(default_factory=dict)

    @staticmethod
    def infeasible(option: str, reasons: list[str], horizon_s: float, config: dict | None = None) -> SimResult:
        """A result that says why the option cannot serve the workload."""
        return SimResult(option, False, tuple(reasons), horizon_s, dict(config or {}))
