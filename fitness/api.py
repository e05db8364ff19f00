"""Library entry points: workload -> scenario -> simulated options -> recommendation.

Everything here returns objects; nothing prints or writes files (the CLI does that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fitness.errors import UserError, from_input_error
from fitness.workload import Workload
from sim.application import Application
from sim.catalog import load_catalog
from sim.errors import InputError
from sim.metrics import summary
from sim.options import load_all, option_def
from sim.results import SimResult
from sim.scenario import Scenario, build_scenario, stream
from sim.traces import replay_trace, trace_model_indices
from sim.traffic import TraceTraffic, assign_models, generate_arrivals, load_trace

DEFAULT_HORIZON_S = 3600.0
"""Simulated time when the workload gives neither a horizon nor a trace (one hour)."""


DELIVERY_WORDS = {"sync": "a synchronous answer to a waiting caller",
                  "async": "per-request results that the caller polls for or is notified of",
                  "offline": "results in bulk by a deadline"}


@dataclass(frozen=True)
class OptionRun:
    """One option simulated for one workload: the raw result and its DESIGN §3 summary."""

    result: SimResult
    summary: dict

    def to_frame(self):
        """The request log as a pandas DataFrame: arrival, start, finish (s), latency (ms), status, cold."""
        import pandas as pd

        log = self.result.log
        if log is None:
            return pd.DataFrame(columns=["arrival_s", "start_s", "finish_s", "latency_ms", "status", "cold"])
        return pd.DataFrame({"arrival_s": log.arrival_s, "start_s": log.start_s, "finish_s": log.finish_s,
                             "latency_ms": (log.finish_s - log.arrival_s) * 1000.0,
                             "status": pd.Categorical.from_codes(log.status, ["served", "throttled", "failed"]),
                             "cold": log.cold, "model_idx": log.model_idx})


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
        horizon = wl.horizon or DEFAULT_HORIZON_S
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


def run_option(wl: Workload, scenario: Scenario, option_id: str, since_s: float = 0.0) -> OptionRun:
    """Simulate one registered option on a built scenario; its summary covers the requests arriving from
    `since_s` on (a window cut with a lead judges the window alone)."""
    try:
        opt = option_def(option_id)
    except InputError as e:
        raise UserError(e.describe()) from e
    cfg = wl.option_config(option_id)
    delivery = wl.slo.delivery
    if delivery not in opt.delivers:
        reason = (f"{option_id} cannot deliver {DELIVERY_WORDS[delivery]} (slo.delivery: {delivery}); it "
                  f"delivers {' or '.join(DELIVERY_WORDS[d] for d in sorted(opt.delivers))}")
        res = SimResult.infeasible(option_id, [reason], scenario.horizon_s)
    elif (app := scenario.application) is not None and not app.routed and app.pattern not in \
            opt.patterns:
        hosts = opt.patterns
        can = f"it hosts {', '.join(sorted(hosts))} patterns" if hosts else "it hosts one model per request only"
        reason = f"{option_id} cannot host the {app.pattern} pattern; {can}"
        res = SimResult.infeasible(option_id, [reason], scenario.horizon_s)
    else:
        try:
            res = opt.simulate(scenario, cfg)
        except InputError as e:
            raise from_input_error(e, wl.source) from e
    return OptionRun(res, summary(res, since_s))


def simulate(wl: Workload, option_id: str) -> OptionRun:
    """Build the workload's scenario and simulate one option on it."""
    return run_option(wl, build(wl), option_id)


def evaluate_once(wl: Workload, progress: Callable[[str], None] | None = None, only: tuple[str, ...] = ()):
    """Build the scenario, simulate every registered option (or `only` these) once, apply the constraints
    and rank."""
    from fitness.ranking import rank

    scenario = build(wl)
    runs = []
    for oid in only or tuple(load_all()):
        if progress:
            progress(oid)
        runs.append(run_option(wl, scenario, oid))
    return rank(wl, scenario, runs)


def sized(wl: Workload, progress: Callable[[str], None] | None = None):
    """Right-size every option on the workload's scenario and rank the chosen configurations.

    Returns (recommendation, the workload with every chosen configuration pinned in `options`, and per option
    its chosen trial's run on the busiest day when the scenario is long), so replications and sensitivity
    simulate the deployment that was chosen. A long scenario is right-sized
    on its busiest day and confirmed on the whole horizon (`fitness.windows`). Runs are kept light: each
    request log is replaced by its digest as soon as the option is done.
    """
    from dataclasses import replace

    from fitness.ranking import rank
    from fitness.windows import size_all, window_of

    scenario = build(wl)
    window = window_of(scenario)
    runs, sizing, chosen, first = [], {}, dict(wl.options), {}
    for oid, done in size_all(wl, scenario, window, list(load_all()), progress).items():
        sizing[oid], chosen[oid] = done.record, done.chosen if done.chosen is not None else chosen.get(oid)
        runs.append(done.run)
        if done.window_run is not None:
            first[oid] = done.window_run
    rec = rank(wl, scenario, runs)
    return (replace(rec, sizing=sizing, window=window.to_dict() if window else None),
            wl.model_copy(update={"options": {k: v for k, v in chosen.items() if v is not None}}), first)


def at_traffic(wl: Workload, multiple: float, requests_today: int, horizon_s: float) -> Workload:
    """The workload at `multiple` x its traffic, one replication, its horizon shortened so the run stays
    under `sensitivity.MAX_REQUESTS` requests."""
    from fitness.sensitivity import MAX_REQUESTS

    expected = max(1.0, requests_today * multiple)
    horizon = horizon_s * min(1.0, MAX_REQUESTS / expected)
    traffic = wl.traffic.model_copy(update={"rate_multiplier": wl.traffic.rate_multiplier * multiple})
    return wl.model_copy(update={"traffic": traffic, "horizon": horizon, "replications": 1})


def recommend(wl: Workload, progress: Callable[[str], None] | None = None):
    """Right-size and rank every option; then replications and ties, headroom, and sensitivity."""
    from dataclasses import replace

    from fitness.headroom import headroom

    rec, wl, first = sized(wl, progress)
    if wl.replications > 1:
        rec = _replicated(wl, rec, first, progress)
    best = next((o for o in rec.options if o["option"] == rec.recommended), None)
    if best is not None:
        if progress:
            progress("headroom")
        best["headroom"] = headroom(wl, best["option"], wl.options.get(best["option"], {}))
    return replace(rec, sensitivity=_sensitivity(wl, rec, progress)) if wl.sensitivity else rec


def _replicated(wl: Workload, rec, first: dict, progress: Callable[[str], None] | None):
    """The recommendation over `wl.replications` seeds, each option in its chosen configuration (on the
    busiest day of each seed when the scenario is long, on every core: `fitness.windows`). `first`: the
    sizing's runs on the busiest day of a long scenario, by option."""
    from fitness import digest
    from fitness.parallel import fork_map
    from fitness.ranking import constrained
    from fitness.replications import replicate
    from fitness.windows import replication_scenario

    long = rec.window is not None
    cache: dict[int, tuple] = {}
    basis = digest.basis_for(wl.slo)

    def scenario_for(seed: int) -> tuple:
        if seed not in cache:
            cache.clear()  # replications run one seed after another: keep one scenario in memory
            other = wl.model_copy(update={"seed": seed})
            cache[seed] = (other, *replication_scenario(build(other), long))
        return cache[seed]

    def run_seed(seed: int, oid: str) -> tuple[dict, SimResult]:
        other, sc, since = scenario_for(seed)
        run = run_option(other, sc, oid, since)
        return constrained(wl, run.summary), digest.light(run.result, basis)

    def run_many(seed: int, options: list[str]) -> list:
        if not long:
            return [run_seed(seed, oid) for oid in options]
        scenario_for(seed)  # built once in this process; the forked workers share it
        return fork_map(lambda oid: run_seed(seed, oid), options)

    feasible = [o["option"] for o in rec.options if o["feasible"]]
    if long:  # every replication on its busiest day: options sized on the whole horizon have no day run yet
        missing = [oid for oid in feasible if oid not in first]
        ran = dict(zip(missing, run_many(wl.seed, missing), strict=True)) if missing else {}
        firsts = {oid: ran.get(oid) or (constrained(wl, first[oid].summary), first[oid].result) for oid in feasible}
    else:
        firsts = {o["option"]: (o, rec.runs[o["option"]]) for o in rec.options if o["feasible"]}
    return replicate(wl, rec, run_many, firsts, progress)


def _sensitivity(wl: Workload, rec, progress: Callable[[str], None] | None) -> list[dict]:
    """What would change the decision: weights, and traffic x0.5, x2, x10 in the chosen configurations."""
    from fitness.sensitivity import traffic_sensitivity, weight_sensitivity

    seen: dict[tuple, object] = {}

    def evaluate(multiple: float, only: tuple[str, ...] = ()):
        if (multiple, only) not in seen:
            if progress:
                progress(f"sensitivity: traffic x{multiple:.2g}")
            seen[multiple, only] = evaluate_once(at_traffic(wl, multiple, rec.scenario_requests, rec.horizon_s),
                                                 only=only)
        return seen[multiple, only]

    return weight_sensitivity(rec) + traffic_sensitivity(rec, evaluate)
