"""A scenario: the arrivals and per-request work every option is simulated against.

Arrivals, model choice and base service times are drawn once per seed, each from its own stream, so
every option sees the same requests (common random numbers make option differences sharper).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.application import Application
from sim.catalog import Catalog
from sim.faults import InstanceFailure, check_models
from sim.model import ModelSpec


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator for the named stream: SeedSequence(seed, spawn_key=(crc32(name),)).

    Keyed by name rather than by spawn order so adding a stream never shifts the others.
    """
    key = zlib.crc32(name.encode())
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


@dataclass(frozen=True, eq=False)
class Scenario:
    """Requests to serve: arrival times (s, sorted), model index and base service time (s) of each.

    `service_s` is the time on one reference worker; options scale it where their hardware differs.
    `faults` are instance failures to inject (`sim.faults.InstanceFailure`; `with_faults` sets them).
    """

    models: tuple[ModelSpec, ...]
    arrivals_s: np.ndarray
    model_idx: np.ndarray
    service_s: np.ndarray
    horizon_s: float
    catalog: Catalog
    seed: int = 0
    meta: dict = field(default_factory=dict)
    application: Application | None = None
    faults: tuple[InstanceFailure, ...] = ()
    _step_cache: dict = field(default_factory=dict, repr=False)
    _groups: list = field(default_factory=list, repr=False)  # [request order by model, model start offsets]

    @property
    def n(self) -> int:
        """Number of requests offered."""
        return int(self.arrivals_s.size)

    def for_model(self, i: int) -> np.ndarray:
        """Indices of the requests that name model `i`, ascending. The requests are grouped by model once
        (a stable sort), so a thousand models cost one pass, not a thousand scans of every request."""
        if not self._groups:
            counts = np.bincount(self.model_idx, minlength=len(self.models))
            self._groups[:] = [np.argsort(self.model_idx, kind="stable"), np.r_[0, np.cumsum(counts)]]
        order, start = self._groups
        if not 0 <= i < start.size - 1:
            return np.empty(0, np.int64)
        return order[start[i]:start[i + 1]]

    def with_faults(self, *faults: InstanceFailure) -> Scenario:
        """A copy of this scenario whose faults are `faults` (none: a copy without faults). The requests and
        their per-step service times are shared, so a faulted run sees the same work as the plain one."""
        check_models(faults, [m.name for m in self.models])
        return dataclasses.replace(self, faults=tuple(faults))

    def cut(self, t0: float, length_s: float) -> Scenario:
        """The requests arriving in [t0, t0 + length_s), shifted to start at 0: a scenario of its own (its
        per-step service times are drawn anew when a pattern asks for them). Its arrays are copies, so a day
        cut from a week does not keep the week in memory. Faults in the window come along, shifted with it."""
        lo, hi = np.searchsorted(self.arrivals_s, [t0, t0 + length_s])
        faults = tuple(dataclasses.replace(f, at_s=f.at_s - t0) for f in self.faults if t0 <= f.at_s < t0 + length_s)
        return Scenario(self.models, self.arrivals_s[lo:hi] - t0, self.model_idx[lo:hi].copy(),
                        self.service_s[lo:hi].copy(), length_s, self.catalog, self.seed, dict(self.meta),
                        self.application, faults)

    def endpoint_kb(self) -> np.ndarray:
        """Kilobytes in and out of one endpoint serving each request (its payload and response): the request's
        model's for one model per request; for a pattern hosted on one endpoint, the largest payload of the
        first stage in and the largest response of the last stage out (the steps in between stay on the
        instance)."""
        app = self.application
        if app is None or app.routed:
            per_model = np.array([m.payload_kb + m.response_kb for m in self.models], float)
            return per_model[self.model_idx] if self.n else np.zeros(0)
        first, last = app.stages[0], app.stages[-1]
        kb = max(self.models[i].payload_kb for i in first) + max(self.models[i].response_kb for i in last)
        return np.full(self.n, kb)

    def step_service_s(self, i: int) -> np.ndarray:
        """Service time (s) of every request at model `i`, for patterns where a request visits several
        models; drawn once from the model's own stream, so every option sees the same work."""
        if i not in self._step_cache:
            m = self.models[i]
            self._step_cache[i] = m.service_time.sample_s(stream(self.seed, f"step-service/{m.name}"), self.n)
        return self._step_cache[i]


def draw_service_s(models: Sequence[ModelSpec], model_idx: np.ndarray, seed: int) -> np.ndarray:
    """Base service time of every request, in seconds, one stream per model so models are independent."""
    out = np.empty(model_idx.size)
    for i, m in enumerate(models):
        idx = np.flatnonzero(model_idx == i)
        if idx.size:
            out[idx] = m.service_time.sample_s(stream(seed, f"service/{m.name}"), idx.size)
    return out


def build_scenario(models: Sequence[ModelSpec], arrivals_s: np.ndarray, model_idx: np.ndarray,
                   horizon_s: float, catalog: Catalog, seed: int, meta: dict | None = None,
                   application: Application | None = None) -> Scenario:
    """Assemble a scenario from arrivals already drawn; service times come from the seed's streams."""
    arrivals_s = np.ascontiguousarray(arrivals_s, dtype=np.float64)
    model_idx = np.ascontiguousarray(model_idx, dtype=np.int32)
    service = draw_service_s(models, model_idx, seed)
    return Scenario(tuple(models), arrivals_s, model_idx, service, float(horizon_s), catalog, seed,
                    dict(meta or {}), application)
