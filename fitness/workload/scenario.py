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
from sim.scenario import Scenario, build_scenario, stream
from sim.traces import replay_trace, trace_model_indices
from sim.traffic import TraceTraffic, assign_models, generate_arrivals, load_trace
from sim.traffic_spec import DiurnalTraffic, OnOffTraffic, TrafficSpec

DEFAULT_HORIZON_S = 3600.0
"""Simulated time when the workload gives neither a horizon nor a trace, and its traffic has no period
longer than that (one hour)."""


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
        return assign_models(p / p.sum(), n, stream(wl.seed, "routes"))
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
    """Arrival times, model indices and horizon: from the pattern, or replayed from the trace file."""
    rng = stream(wl.seed, "arrivals")
    if not isinstance(wl.traffic, TraceTraffic):
        horizon = wl.horizon or default_horizon_s(wl.traffic)
        arrivals = generate_arrivals(wl.traffic, horizon, rng)
        return arrivals, _model_index(wl, names, arrivals.size), horizon
    trace = load_trace(wl.base_dir / Path(wl.traffic.trace), wl.traffic)
    # the span ends on the last recorded request: keep it inside [0, horizon)
    horizon = wl.horizon or math.nextafter(trace.span_s, math.inf)
    arrivals, models = replay_trace(trace, horizon, rng, wl.traffic.rate_multiplier)
    if models is None:
        return arrivals, _model_index(wl, names, arrivals.size), horizon
    return arrivals, trace_model_indices(models, names, trace.source), horizon


def build(wl: Workload) -> Scenario:
    """Draw the workload's arrivals, model choices and service times for its seed."""
    try:
        models = wl.expanded_models
        names = [m.name for m in models]
        arrivals, idx, horizon = _arrivals(wl, names)
        return build_scenario(models, arrivals, idx, horizon, load_catalog(wl.catalog), wl.seed,
                              {"workload": wl.name}, application(wl, names))
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
