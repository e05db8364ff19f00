"""Feed-forward composition: a request's stages served one after another by per-model endpoints.

A serial pattern is a chain of stages, scatter-gather a stage of parallel branches then the aggregator.
Because work only flows forward, each stage can be simulated whole once the previous stage's finish times
are known: the arrivals at stage k are the finishes of stage k-1 plus a hop. That is exact, and lets any
option that hosts one model per endpoint host a pattern with the endpoint machinery it already has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.application import Application
from sim.results import SERVED, RequestLog, Timeline


@dataclass(frozen=True, eq=False)
class Served:
    """What one endpoint did with the requests it was given (in the order given): `config` holds the knobs of
    its model (`model`), as simulated; `extra` the figures its option sums over endpoints."""

    log: RequestLog
    cost_usd: dict[str, float]
    capacity: Timeline
    config: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    model: str | None = None


ServeFn = Callable[[int, np.ndarray, np.ndarray], Served]
"""serve(model index, arrival times sorted, service times) -> Served."""


def compose(arrivals_s: np.ndarray, app: Application, service: Callable[[int], np.ndarray], serve: ServeFn,
            hop_s: float) -> tuple[RequestLog, list[Served]]:
    """Run the pattern's stages in order; every call to a stage's endpoint costs `hop_s` first.

    Returns the end-to-end log (start = first service start, finish = last stage's finish, or the error
    of the first call that failed; cold if any call met a cold start; throttled or failed if any call
    was) and each endpoint's `Served`. A request refused at one stage goes no further.
    """
    n = arrivals_s.size
    log = RequestLog.empty(arrivals_s, np.zeros(n, np.int32))
    ready, parts = arrivals_s.copy(), []
    for depth, stage in enumerate(app.stages):
        done = np.full(n, -np.inf)
        idx = np.flatnonzero(log.status == SERVED)  # every branch of a stage gets the same calls at once
        order = idx[np.argsort(ready[idx], kind="stable")]
        for i in stage:
            part = serve(i, ready[order] + hop_s, service(i)[order])
            parts.append(part)
            refused = part.log.status != SERVED
            log.status[order[refused]] = part.log.status[refused]
            log.finish_s[order[refused]] = part.log.finish_s[refused]  # NaN when throttled
            log.cold[order] |= part.log.cold
            if depth == 0:
                log.start_s[order] = np.fmin(log.start_s[order], part.log.start_s)
            done[order] = np.maximum(done[order], part.log.finish_s)
        ok = log.status == SERVED
        ready[ok] = done[ok]
    ok = log.status == SERVED
    log.finish_s[ok] = ready[ok]
    return log, parts


def merge_capacity(parts: list[Served]) -> Timeline:
    """Sum of the endpoints' capacity step functions."""
    return Timeline.total([p.capacity for p in parts])


def merge_costs(parts: list[Served]) -> dict[str, float]:
    """Cost lines summed over endpoints."""
    out: dict[str, float] = {}
    for p in parts:
        for k, v in p.cost_usd.items():
            out[k] = out.get(k, 0.0) + v
    return out


def run_endpoints(scenario, serve: ServeFn, hop_s: float) -> tuple[RequestLog, list[Served]]:
    """One endpoint per model: compose the scenario's pattern, or give each endpoint its model's requests.

    Every model gets an endpoint even with no requests: provisioned capacity costs money while idle.
    """
    app = scenario.application
    if app is not None and not app.routed:
        return compose(scenario.arrivals_s, app, scenario.step_service_s, serve, hop_s)
    if len(scenario.models) == 1:  # the common case: no split, no copy back
        part = serve(0, scenario.arrivals_s, scenario.service_s)
        return part.log, [part]
    log = RequestLog.empty(scenario.arrivals_s, scenario.model_idx)
    parts = []
    for i in range(len(scenario.models)):
        idx = scenario.for_model(i)
        part = serve(i, scenario.arrivals_s[idx], scenario.service_s[idx])
        log.start_s[idx], log.finish_s[idx] = part.log.start_s, part.log.finish_s
        log.status[idx], log.cold[idx] = part.log.status, part.log.cold
        parts.append(part)
    return log, parts
