"""Result records of one simulated option, typed and frozen: the request log, capacity over time, the
configuration simulated (`SimConfig`), the bill, and what else it measured (`Figures`, `Cache`, `Job`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Cache:
    """A model cache's lookups (multi-model endpoints): hits, misses, evictions, hits / lookups."""

    hits: int
    misses: int
    evictions: int
    hit_ratio: float


@dataclass(frozen=True)
class Job:
    """One batch transform job: its model, when it triggered, was ready, ended (s), its records and bill."""

    model: str
    trigger_s: float
    ready_s: float
    end_s: float
    records: int
    mini_batches: int
    duration_s: float
    cost_usd: float


class SimConfig:
    """The configuration actually simulated (after defaults): knobs of the option as a whole (`option`), and of
    each model given an endpoint, a job stream or a container of its own (`models`).

    Immutable once built (`ConfigRecord.freeze`). `to_json()` is the flat, JSON-safe object of the result
    contract, a model's knob under `<model>.<knob>`, in the order the simulation recorded them.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[tuple[str | None, str], Any] | None = None) -> None:
        self._items = dict(items or {})

    @property
    def option(self) -> dict[str, Any]:
        """The option-wide knobs (endpoints, mode, instance type of a shared fleet...)."""
        return {k: v for (m, k), v in self._items.items() if m is None}

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Per model with knobs of its own: knob -> value."""
        out: dict[str, dict[str, Any]] = {}
        for (m, k), v in self._items.items():
            if m is not None:
                out.setdefault(m, {})[k] = v
        return out

    def model(self, name: str) -> dict[str, Any]:
        """The knobs of model `name` ({} when it has none of its own)."""
        return {k: v for (m, k), v in self._items.items() if m == name}

    def values(self) -> list[Any]:
        """Every value recorded, option-wide and per model."""
        return list(self._items.values())

    def to_json(self) -> dict[str, Any]:
        """The contract's flat object: option-wide knobs by name, a model's as `<model>.<knob>`."""
        return {k if m is None else f"{m}.{k}": v for (m, k), v in self._items.items()}

    @staticmethod
    def from_json(flat: Mapping[str, Any], model_names: list[str]) -> SimConfig:
        """The inverse of `to_json`, given the models' names (the longest name that prefixes a key wins)."""
        names = sorted(model_names, key=len, reverse=True)
        items = {}
        for key, v in flat.items():
            m = next((n for n in names if key.startswith(f"{n}.")), None)
            items[(m, key[len(m) + 1:] if m is not None else key)] = v
        return SimConfig(items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimConfig) and self._items == other._items

    __hash__ = None  # its values need not be hashable

    def __repr__(self) -> str:
        return f"SimConfig({self.to_json()!r})"


class ConfigRecord:
    """What a simulation records of its configuration as it goes; `freeze()` makes the `SimConfig`. A knob set
    again keeps its place and takes the new value."""

    def __init__(self, **option: Any) -> None:
        self._items: dict[tuple[str | None, str], Any] = {(None, k): v for k, v in option.items()}

    def set(self, model: str | None = None, **knobs: Any) -> ConfigRecord:
        """Record option-wide knobs, or `model`'s."""
        self._items.update(((model, k), v) for k, v in knobs.items())
        return self

    def freeze(self) -> SimConfig:
        """The configuration recorded so far, immutable."""
        return SimConfig(self._items)


@dataclass(frozen=True, eq=False)
class Figures:
    """What an option measured beyond its request log, capacity and bill.

    - `utilization`: busy worker-seconds / paid worker-seconds (the share of capacity paid for that did work);
    - `paid_utilization`: where idle capacity is paid for only in part (serverless: provisioned concurrency),
      busy seconds / paid seconds; None where every live second is paid (use `utilization`);
    - `instance_seconds`: billed instance-seconds, for the options billed per instance;
    - `backlog`: requests waiting or in process over time (options with a queue);
    - `jobs`: one record per batch transform job;
    - `details`: option-specific diagnostics (container counts, batch sizes, per-step waits, cache
      counters...), for tests and notebooks; no layer above the simulator reads them.
    """

    utilization: float | None = None
    paid_utilization: float | None = None
    instance_seconds: float | None = None
    backlog: Timeline | None = None
    jobs: tuple[Job, ...] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class SimResult:
    """Everything one option produced for one scenario.

    `cost_usd` maps a cost line (e.g. "instances", "compute", "data") to USD over the horizon;
    `config` is the configuration actually simulated (after defaults); `cache` a model cache's counters.
    """

    option: str
    feasible: bool
    reasons: tuple[str, ...]
    horizon_s: float
    config: SimConfig = field(default_factory=SimConfig)
    log: RequestLog | None = None
    capacity: Timeline | None = None
    cost_usd: dict[str, float] = field(default_factory=dict)
    cache: Cache | None = None
    figures: Figures = field(default_factory=Figures)

    @staticmethod
    def infeasible(option: str, reasons: list[str], horizon_s: float, config: SimConfig | None = None) -> SimResult:
        """A result that says why the option cannot serve the workload."""
        return SimResult(option, False, tuple(reasons), horizon_s, config or SimConfig())
