"""The decision engine's orchestration: right-size every option, rank, replicate, headroom, sensitivity.

`recommend(wl)` is the main job; `evaluate_once` ranks every option as the workload configures it,
once (sensitivity uses it at other traffic). Everything here returns objects; nothing prints or writes
files (the CLI does that).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace

from fitness.engine.ahead import Early, Seeds, ahead, headroom_of, light_run, resized_at, sized_with_traffic
from fitness.engine.closeness import close_call
from fitness.engine.constraints import constrained
from fitness.engine.headroom import max_multiple
from fitness.engine.parallel import fork_map
from fitness.engine.pricing import pricing
from fitness.engine.ranking import rank
from fitness.engine.replications import replicate
from fitness.engine.result import Headroom, Recommendation
from fitness.engine.run import run_option
from fitness.engine.sensitivity import assumption_sensitivity, traffic_sensitivity, weight_sensitivity
from fitness.options import option_ids
from fitness.workload.scenario import build
from fitness.workload.spec import Workload
from sim.catalog import load_catalog


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


def recommend(wl: Workload, progress: Callable[[str], None] | None = None) -> Recommendation:
    """Right-size and rank every option; then replications and ties, headroom, and sensitivity (the work that
    does not wait on the replications run with them, `fitness.engine.ahead`)."""
    asked = wl  # the user's own knobs: sensitivity re-sizes from them at each traffic multiple
    (rec, wl, first), traffic = sized_with_traffic(wl, progress)
    seeds = Seeds(wl, rec) if wl.replications > 1 else None
    early = ahead(wl, rec, seeds, progress, asked, traffic)
    if seeds is not None:
        rec = _replicated(wl, rec, first, progress, seeds, early.seeds)
    del seeds  # the seeds' scenarios: not needed past the replications
    rec = replace(rec, pricing=pricing(wl, rec, load_catalog(wl.catalog)),
                  close_call=close_call(wl.weights.model_dump(), rec))
    best = rec.best
    if best is not None:
        if best.option not in early.headroom and progress:
            progress("headroom")
        limit = max_multiple(wl, rec.scenario_requests)
        found = early.headroom[best.option] if best.option in early.headroom else headroom_of(wl, rec, best.option)
        measured = replace(best, headroom=Headroom(found, limit))
        rec = replace(rec, options=tuple(measured if o is best else o for o in rec.options))
    return replace(rec, sensitivity=_sensitivity(asked, rec, traffic, early, progress)) if wl.sensitivity else rec


def _replicated(wl: Workload, rec: Recommendation, first: dict, progress: Callable[[str], None] | None,
                seeds: Seeds | None = None, ready: dict | None = None):
    """The recommendation over `wl.replications` seeds, each option in its chosen configuration (on the
    busiest day of each seed when the scenario is long: `fitness.engine.windows`), on every core. `first`:
    the sizing's runs on the busiest day of a long scenario, by option; `ready`: {seed: runs of every
    feasible option} already simulated (`fitness.engine.ahead`)."""
    seeds = seeds or Seeds(wl, rec)
    feasible = [o.option for o in rec.options if o.feasible]
    ready = dict(ready or {})
    if seeds.together and feasible and not ready:  # every (seed, option) pair at once
        if progress:
            progress(f"replications: seeds {seeds.seeds[0]}..{seeds.seeds[-1]}")
        pairs = seeds.pairs(feasible)
        for (seed, _), one in zip(pairs, fork_map(lambda pair: seeds.run(*pair), pairs), strict=True):
            ready.setdefault(seed, []).append(one)

    def run_many(seed: int, options: list[str]) -> list:
        if seed in ready and options == feasible:
            return ready.pop(seed)
        seeds.scenario(seed)  # built once in this process; the forked workers share it
        return fork_map(lambda oid: seeds.run(seed, oid), options)

    if seeds.long:  # every replication on its busiest day: options sized on the whole horizon have no day run yet
        missing = [oid for oid in feasible if oid not in first]
        ran = dict(zip(missing, run_many(wl.seed, missing), strict=True)) if missing else {}
        firsts = {oid: ran.get(oid) or (constrained(wl, first[oid].summary), first[oid].result) for oid in feasible}
    else:
        firsts = {o.option: (o, rec.runs[o.option]) for o in rec.options if o.feasible}
    return replicate(wl, rec, run_many, firsts, progress)


def _sensitivity(asked: Workload, rec: Recommendation, traffic: dict, early: Early,
                 progress: Callable[[str], None] | None) -> list[dict]:
    """What would change the decision: weights; traffic x0.5, x2, x10 with every option right-sized again at
    that traffic from the user's own knobs (`asked`), as a team would deploy it then; and the platform
    assumptions, halved and doubled, on the two leading options in their chosen configurations (`early.today`).
    What was simulated already is taken from `traffic` ({multiple: recommendation}) and `early`."""
    seen: dict[tuple, Recommendation | None] = {(m, ()): r for m, r in traffic.items()}

    def evaluate(multiple: float, only: tuple[str, ...] = ()) -> Recommendation | None:
        if (multiple, only) not in seen:  # a bisection step (the multiples themselves are in `traffic`)
            if progress:
                progress(f"sensitivity: traffic x{multiple:.2g}")
            seen[multiple, only] = resized_at(asked, rec, multiple, only)
        return seen[multiple, only]

    today, scenario = early.today
    top = tuple(o.option for o in rec.ranked[:2])

    def evaluate_with(catalog) -> Recommendation:
        sc = dataclasses.replace(scenario, catalog=catalog)
        runs = {oid: early.assumption(catalog, oid) for oid in top}
        missing = [oid for oid, run in runs.items() if run is None]
        if missing and progress:
            progress("sensitivity: platform assumptions")
        runs.update(zip(missing, fork_map(lambda oid: light_run(today, sc, oid), missing), strict=True))
        return rank(today, sc, [runs[oid] for oid in top])

    return (weight_sensitivity(rec) + traffic_sensitivity(rec, evaluate, early.crossings)
            + assumption_sensitivity(rec, scenario.catalog, evaluate_with))
