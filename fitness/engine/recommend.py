"""The decision engine's orchestration: right-size every option, rank, replicate, headroom, sensitivity.

`recommend(wl)` is the main job; `evaluate_once` ranks every option as the workload configures it,
once (sensitivity uses it at other traffic). Everything here returns objects; nothing prints or writes
files (the CLI does that).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace

from fitness.engine import digest
from fitness.engine.caveats import burstable_warnings
from fitness.engine.closeness import close_call
from fitness.engine.constraints import constrained
from fitness.engine.diagnosis import root_causes
from fitness.engine.headroom import headroom, max_multiple
from fitness.engine.horizon import horizon_warnings
from fitness.engine.parallel import fork_map
from fitness.engine.pricing import pricing
from fitness.engine.ranking import rank
from fitness.engine.replications import replicate
from fitness.engine.result import Headroom, Recommendation
from fitness.engine.run import run_option
from fitness.engine.sensitivity import assumption_sensitivity, at_traffic, traffic_sensitivity, weight_sensitivity
from fitness.engine.windows import replication_scenario, size_all, window_of
from fitness.options import option_ids
from fitness.workload.checks import unit_warnings
from fitness.workload.scenario import build
from fitness.workload.spec import Workload
from sim.catalog import load_catalog
from sim.results import SimResult
from sim.summary import Summary


def evaluate_once(wl: Workload, progress: Callable[[str], None] | None = None,
                  only: tuple[str, ...] = ()) -> Recommendation:
    """Build the scenario, simulate every registered option (or `only` these) once, apply the constraints
    and rank."""
    scenario = build(wl)
    runs = []
    for oid in only or option_ids():
        if progress:
            progress(oid)
        runs.append(run_option(wl, scenario, oid))
    return rank(wl, scenario, runs)


def sized(wl: Workload, progress: Callable[[str], None] | None = None, only: tuple[str, ...] = ()):
    """Right-size every option on the workload's scenario and rank the chosen configurations.

    Returns (recommendation, the workload with every chosen configuration pinned in `options`, and per option
    its chosen trial's run on the busiest day when the scenario is long), so replications and sensitivity
    simulate the deployment that was chosen. A long scenario is right-sized
    on its busiest day and confirmed on the whole horizon (`fitness.engine.windows`). Runs are kept light: each
    request log is replaced by its digest as soon as the option is done.
    """
    scenario = build(wl)
    window = window_of(scenario)
    runs, sizing, chosen, first = [], {}, dict(wl.options), {}
    for oid, done in size_all(wl, scenario, window, list(only or option_ids()), progress).items():
        sizing[oid], chosen[oid] = done.record, done.chosen if done.chosen is not None else chosen.get(oid)
        runs.append(done.run)
        if done.window_run is not None:
            first[oid] = done.window_run
    rec = rank(wl, scenario, runs)
    rec = replace(rec, warnings=unit_warnings(wl, scenario.catalog) + horizon_warnings(wl, scenario, rec)
                  + burstable_warnings(rec, scenario.catalog))
    rec = replace(rec, sizing=sizing, window=window.to_dict() if window else None)
    return (replace(rec, root_causes=root_causes(wl, scenario, rec)),
            wl.model_copy(update={"options": {k: v for k, v in chosen.items() if v is not None}}), first)


def recommend(wl: Workload, progress: Callable[[str], None] | None = None) -> Recommendation:
    """Right-size and rank every option; then replications and ties, headroom, and sensitivity."""
    asked = wl  # the user's own knobs: sensitivity re-sizes from them at each traffic multiple
    rec, wl, first = sized(wl, progress)
    if wl.replications > 1:
        rec = _replicated(wl, rec, first, progress)
    rec = replace(rec, pricing=pricing(wl, rec, load_catalog(wl.catalog)),
                  close_call=close_call(wl.weights.model_dump(), rec))
    best = rec.best
    if best is not None:
        if progress:
            progress("headroom")
        limit = max_multiple(wl, rec.scenario_requests)
        measured = replace(best, headroom=Headroom(headroom(wl, best.option, wl.options.get(best.option, {}), limit),
                                                   limit))
        rec = replace(rec, options=tuple(measured if o is best else o for o in rec.options))
    return replace(rec, sensitivity=_sensitivity(asked, wl, rec, progress)) if wl.sensitivity else rec


PREFETCH_REQUESTS = 5_000_000
"""Replications of a short scenario run all at once (every seed, every option, spread on the cores) while
the seeds' scenarios hold at most this many requests together; beyond it, one seed after another."""


def _replicated(wl: Workload, rec: Recommendation, first: dict, progress: Callable[[str], None] | None):
    """The recommendation over `wl.replications` seeds, each option in its chosen configuration (on the
    busiest day of each seed when the scenario is long: `fitness.engine.windows`), on every core. `first`:
    the sizing's runs on the busiest day of a long scenario, by option."""
    long = rec.window is not None
    cache: dict[int, tuple] = {}
    basis = digest.basis_for(wl.slo)
    seeds = [wl.seed + k for k in range(1, wl.replications)]
    together = not long and rec.scenario_requests * len(seeds) <= PREFETCH_REQUESTS

    def scenario_for(seed: int) -> tuple:
        if seed not in cache:
            if not together:
                cache.clear()  # one seed after another: keep one scenario in memory
            other = wl.model_copy(update={"seed": seed})
            cache[seed] = (other, *replication_scenario(build(other), long))
        return cache[seed]

    def run_seed(seed: int, oid: str) -> tuple[Summary, SimResult]:
        other, sc, since = scenario_for(seed)
        run = run_option(other, sc, oid, since)
        return constrained(wl, run.summary), digest.light(run.result, basis)

    feasible = [o.option for o in rec.options if o.feasible]
    ready: dict[int, list] = {}
    if together and feasible:  # every (seed, option) pair at once; the forked workers share the scenarios
        if progress:
            progress(f"replications: seeds {seeds[0]}..{seeds[-1]}")
        for seed in seeds:
            scenario_for(seed)
        pairs = [(seed, oid) for seed in seeds for oid in feasible]
        for (seed, _), one in zip(pairs, fork_map(lambda pair: run_seed(*pair), pairs), strict=True):
            ready.setdefault(seed, []).append(one)

    def run_many(seed: int, options: list[str]) -> list:
        if seed in ready and options == feasible:
            return ready.pop(seed)
        scenario_for(seed)  # built once in this process; the forked workers share it
        return fork_map(lambda oid: run_seed(seed, oid), options)

    if long:  # every replication on its busiest day: options sized on the whole horizon have no day run yet
        missing = [oid for oid in feasible if oid not in first]
        ran = dict(zip(missing, run_many(wl.seed, missing), strict=True)) if missing else {}
        firsts = {oid: ran.get(oid) or (constrained(wl, first[oid].summary), first[oid].result) for oid in feasible}
    else:
        firsts = {o.option: (o, rec.runs[o.option]) for o in rec.options if o.feasible}
    return replicate(wl, rec, run_many, firsts, progress)


def _sensitivity(asked: Workload, chosen: Workload, rec: Recommendation,
                 progress: Callable[[str], None] | None) -> list[dict]:
    """What would change the decision: weights; traffic x0.5, x2, x10 with every option right-sized again at
    that traffic from the user's own knobs (`asked`), as a team would deploy it then; and the platform
    assumptions, halved and doubled, on the two leading options in their chosen configurations (`chosen`)."""
    seen: dict[tuple, Recommendation | None] = {}

    def evaluate(multiple: float, only: tuple[str, ...] = ()) -> Recommendation | None:
        if (multiple, only) not in seen:
            at = at_traffic(asked, multiple, rec.scenario_requests, rec.horizon_s)
            if progress and at is not None:
                progress(f"sensitivity: traffic x{multiple:.2g}")
            seen[multiple, only] = sized(at, only=only)[0] if at is not None else None
        return seen[multiple, only]

    # today's traffic is never too much for one run: it was right-sized whole
    today = at_traffic(chosen, 1.0, rec.scenario_requests, rec.horizon_s) or chosen.model_copy(
        update={"replications": 1})
    scenario = build(today)
    top = tuple(o.option for o in rec.ranked[:2])

    def evaluate_with(catalog) -> Recommendation:
        if progress:
            progress("sensitivity: platform assumptions")
        sc = dataclasses.replace(scenario, catalog=catalog)
        return rank(today, sc, fork_map(lambda oid: run_option(today, sc, oid), top))

    return (weight_sensitivity(rec) + traffic_sensitivity(rec, evaluate)
            + assumption_sensitivity(rec, scenario.catalog, evaluate_with))
