"""Library entry points: workload -> scenario -> simulated options -> recommendation.

Everything here returns objects; nothing prints or writes files (the CLI does that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitness.errors import UserError, from_input_error
from fitness.workload import Workload
from sim.catalog import load_catalog
from sim.errors import InputError
from sim.metrics import summary
from sim.options import load_all
from sim.results import SimResult
from sim.scenario import Scenario, build_scenario, stream
from sim.traffic import TraceTraffic, assign_models, generate_arrivals, load_trace

DEFAULT_HORIZON_S = 3600.0
"""Simulated time when the workload gives neither a horizon nor a trace (one hour)."""


@dataclass(frozen=True)
class OptionRun:
    """One option simulated for one workload: the raw result and its DESIGN §3 summary."""

    result: SimResult
    summary: dict


def _model_index(wl: Workload, names: list[str], trace_models: np.ndarray | None, n: int) -> np.ndarray:
    """Which model each request names: the trace's model column, else the popularity, else uniform."""
    if trace_models is not None:
        lookup = {name: i for i, name in enumerate(names)}
        unknown = sorted({str(m) for m in trace_models if str(m) not in lookup})
        if unknown:
            raise InputError("traffic.model_column", "model names listed under models:",
                             unknown[0], hint=f"{len(unknown)} unknown name(s) in the trace")
        return np.fromiter((lookup[str(m)] for m in trace_models), np.int32, count=len(trace_models))
    if len(names) == 1:
        return np.zeros(n, np.int32)
    pop = wl.traffic.popularity
    p = pop.probabilities(names) if pop else np.full(len(names), 1.0 / len(names))
    return assign_models(p, n, stream(wl.seed, "popularity"))


def build(wl: Workload) -> Scenario:
    """Draw the workload's arrivals, model choices and service times for its seed."""
    try:
        models = wl.expanded_models
        trace = None
        if isinstance(wl.traffic, TraceTraffic):
            trace = load_trace(wl.base_dir / Path(wl.traffic.trace), wl.traffic)
        horizon = wl.horizon or (trace.span_s if trace is not None else DEFAULT_HORIZON_S)
        arrivals = generate_arrivals(wl.traffic, horizon, stream(wl.seed, "arrivals"), trace)
        tm = trace.models if trace is not None and trace.models is not None else None
        if tm is not None and tm.size != arrivals.size:
            tm = None  # multiplier-thinned traces lose the 1:1 model column; fall back to popularity
        idx = _model_index(wl, [m.name for m in models], tm, arrivals.size)
        return build_scenario(models, arrivals, idx, horizon, load_catalog(wl.catalog), wl.seed,
                              {"workload": wl.name})
    except InputError as e:
        raise from_input_error(e, wl.source) from e


def run_option(wl: Workload, scenario: Scenario, option_id: str) -> OptionRun:
    """Simulate one registered option on a built scenario."""
    registry = load_all()
    if option_id not in registry:
        import difflib
        near = difflib.get_close_matches(option_id, list(registry), n=1)
        raise UserError(f"unknown option '{option_id}': expected one of {', '.join(registry)}"
                        + (f"; did you mean '{near[0]}'?" if near else "."))
    cfg = wl.option_config(option_id)
    if wl.application is not None:
        reason = f"application pattern '{wl.application.pattern}' is not modelled yet for {option_id}"
        res = SimResult.infeasible(option_id, [reason], scenario.horizon_s)
    else:
        try:
            res = registry[option_id].simulate(scenario, cfg)
        except InputError as e:
            raise from_input_error(e, wl.source) from e
    return OptionRun(res, summary(res))


def simulate(wl: Workload, option_id: str) -> OptionRun:
    """Build the workload's scenario and simulate one option on it."""
    return run_option(wl, build(wl), option_id)


def recommend(wl: Workload, progress: Callable[[str], None] | None = None):
    """Simulate every registered option, filter by constraints, rank the rest (see `fitness.ranking`)."""
    from fitness.ranking import rank

    scenario = build(wl)
    runs = []
    for oid in load_all():
        if progress:
            progress(oid)
        runs.append(run_option(wl, scenario, oid))
    return rank(wl, scenario, runs)
