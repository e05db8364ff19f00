"""Right-sizing, replications, headroom and the what-ifs as two batches on the cores, not stage after stage.

Run stage after stage, each stage waits for its slowest piece while the other core idles: the slowest option
of a traffic what-if is most of its stage, and a headroom search is a chain of runs. But most pieces do not
wait on each other:
- the traffic what-ifs (every option right-sized again at x0.5, x2, x10) start from the user's workload and
  need nothing today's right-sizing decides, so `sized_with_traffic` sizes today's traffic and the what-ifs
  as one batch, the highest multiple first (it sizes the largest fleets);
- the replications (each feasible option under other seeds), the headroom of the recommended option, the
  platform-assumption what-ifs (the two leaders with one catalog fact changed) and the traffic multiple where
  another option takes over (a bisection, `sensitivity.crossing`) need today's choice, so `ahead` runs them
  as the second batch, for the leaders the first seed ranked. The two chains of runs (headroom, crossings)
  go first. When the replications reorder the leaders, `recommend` simulates the new leaders' pieces
  afterwards.
Every piece depends only on its inputs (same workload, scenario and seed), so the results are those of the
stages run one by one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from fitness.engine import digest
from fitness.engine.constraints import constrained
from fitness.engine.headroom import headroom, max_multiple
from fitness.engine.parallel import fork_map
from fitness.engine.result import Recommendation
from fitness.engine.run import OptionRun, run_option
from fitness.engine.sensitivity import TRAFFIC_MULTIPLES, assumption_catalogs, at_traffic, crossing
from fitness.engine.sized import assembled, prepared, sized
from fitness.engine.windows import replication_scenario, size_option
from fitness.options import option_ids
from fitness.workload.scenario import build
from fitness.workload.spec import Workload

PREFETCH_REQUESTS = 5_000_000
"""Replications of a short scenario run all at once (every seed, every option, spread on the cores) while
the seeds' scenarios hold at most this many requests together; beyond it, one seed after another."""


class Seeds:
    """The replications' seeds (seed + 1, ...) and their scenarios, built in this process so that forked
    workers share them; `run(seed, option)` simulates one option, in its chosen configuration, under one."""

    def __init__(self, wl: Workload, rec: Recommendation) -> None:
        self.wl, self.long = wl, rec.window is not None
        self.seeds = [wl.seed + k for k in range(1, wl.replications)]
        self.together = not self.long and rec.scenario_requests * len(self.seeds) <= PREFETCH_REQUESTS
        self.basis = digest.basis_for(wl.slo)
        self._cache: dict[int, tuple] = {}

    def scenario(self, seed: int) -> tuple:
        """(workload, scenario, judged from) of one seed, built once (one at a time unless `together`)."""
        if seed not in self._cache:
            if not self.together:
                self._cache.clear()  # one seed after another: keep one scenario in memory
            other = self.wl.model_copy(update={"seed": seed})
            self._cache[seed] = (other, *replication_scenario(build(other), self.long))
        return self._cache[seed]

    def run(self, seed: int, option: str) -> tuple:
        """(summary with the constraints applied, light result) of `option` under `seed`."""
        other, sc, since = self.scenario(seed)
        one = run_option(other, sc, option, since, brief=True)  # scored, not reported
        return constrained(self.wl, one.summary), digest.light(one.result, self.basis, cdf=False)

    def pairs(self, options: list[str]) -> list[tuple[int, str]]:
        """Every (seed, option), their scenarios built."""
        for seed in self.seeds:
            self.scenario(seed)
        return [(seed, oid) for seed in self.seeds for oid in options]


def headroom_of(wl: Workload, rec: Recommendation, option: str) -> float | None:
    """`fitness.engine.headroom.headroom` of `option` in its chosen configuration."""
    return headroom(wl, option, wl.options.get(option, {}), max_multiple(wl, rec.scenario_requests))


def light_run(wl: Workload, scenario, option: str) -> OptionRun:
    """One run with its request log replaced by its digest (what ranking reads)."""
    one = run_option(wl, scenario, option, brief=True)  # ranked against one other, not reported
    return replace(one, result=digest.light(one.result, digest.basis_for(wl.slo), cdf=False))


@dataclass(frozen=True)
class Early:
    """What `ahead` simulated: per seed the runs of every feasible option (in rank order); headroom by
    option; the assumption runs as (catalog, option, run); today's workload and scenario for the assumptions;
    the crossover multiples as `traffic_sensitivity` takes them ({(multiple, today's winner, its winner): x})."""

    seeds: dict[int, list]
    headroom: dict[str, float | None]
    assumptions: tuple[tuple, ...]
    today: tuple
    crossings: dict = field(default_factory=dict)

    def assumption(self, catalog, option: str) -> OptionRun | None:
        """The run of `option` with `catalog`, if it was simulated."""
        return next((run for c, o, run in self.assumptions if o == option and c == catalog), None)


def sized_with_traffic(wl: Workload, progress: Callable[[str], None] | None = None) -> tuple[tuple, dict]:
    """`fitness.engine.sized.sized(wl)`, and when `wl.sensitivity` every option right-sized again at each
    traffic multiple (`at_traffic`: one replication, capped), as one batch on the cores. Returns (what
    `sized` returns, {multiple: recommendation there, None when it cannot be simulated})."""
    scenario, window = prepared(wl)
    plans = _traffic_plans(wl, scenario.n, scenario.horizon_s) if wl.sensitivity else {}
    jobs = {("today", oid): partial(size_option, wl, scenario, window, oid) for oid in option_ids()}
    for m in sorted(plans, reverse=True):  # the highest traffic sizes the largest fleets: longest first
        if plans[m] is not None:
            jobs.update({("size", m, oid): partial(size_option, *plans[m], oid, cdf=False) for oid in option_ids()})
    keys = sorted(jobs, key=lambda k: k[0] == "today" or k[1] < 1.0)  # stable: x10, x2, today's, x0.5
    left = {m: len(option_ids()) for m in plans if plans[m] is not None}
    count = [0]

    def done(key: tuple, _) -> None:  # one line per option of today's, one per traffic multiple
        if key[0] == "today":
            count[0] += 1
        else:
            left[key[1]] -= 1
        if progress and (key[0] == "today" or not left[key[1]]):
            progress(f"right-sized {key[1]} ({count[0]} of {len(option_ids())})" if key[0] == "today" else
                     f"sensitivity: traffic x{key[1]:g} right-sized")

    out = dict(zip(keys, fork_map(lambda key: jobs[key](), keys, done), strict=True))
    today = assembled(wl, scenario, window, {oid: out["today", oid] for oid in option_ids()})
    return today, {m: None if plan is None else assembled(*plan, {o: out["size", m, o] for o in option_ids()})[0]
                   for m, plan in plans.items()}


def ahead(wl: Workload, rec: Recommendation, seeds: Seeds | None,
          progress: Callable[[str], None] | None = None, asked: Workload | None = None,
          traffic: dict | None = None) -> Early:
    """Run the replications of a short scenario, the headroom of the leader, the assumption what-ifs and the
    crossover multiples (when `wl.sensitivity`) as one batch on the cores (see the module). `wl`: the workload
    with the chosen configurations; `rec`: the first seed's ranking; `asked`: the user's workload, which
    sensitivity re-sizes at other traffic; `traffic`: {multiple: recommendation there} (`sized_with_traffic`)."""
    today = _today(wl, rec) if wl.sensitivity else (None, None)
    cases = assumption_catalogs(tuple(o.option for o in rec.ranked[:2]), today[1].catalog) if wl.sensitivity \
        else []
    jobs: dict[tuple, Callable] = {}
    if rec.best is not None:  # the chains of runs: first
        jobs["headroom", rec.best.option] = partial(headroom_of, wl, rec, rec.best.option)
    for m, win in _takeovers(rec, traffic or {}) if wl.sensitivity and asked is not None else []:
        jobs["crossing", m, win] = partial(crossing, partial(resized_at, asked, rec), m, rec.recommended, win)
    feasible = [o.option for o in rec.options if o.feasible]
    if seeds is not None and seeds.together and feasible:
        for seed, oid in seeds.pairs(feasible):
            jobs["seed", seed, oid] = partial(seeds.run, seed, oid)
    for i, (catalog, oid) in enumerate(cases):
        jobs["assume", i, oid] = partial(light_run, today[0], replace(today[1], catalog=catalog), oid)
    if progress and jobs:
        progress(f"replications, headroom and assumptions: {len(jobs)} runs or searches")
    keys = list(jobs)
    out = dict(zip(keys, fork_map(lambda key: jobs[key](), keys), strict=True))
    by_seed: dict[int, list] = {}
    for key, value in out.items():
        if key[0] == "seed":
            by_seed.setdefault(key[1], []).append(value)
    return Early(by_seed, {k[1]: v for k, v in out.items() if k[0] == "headroom"},
                 tuple((cases[k[1]][0], k[2], v) for k, v in out.items() if k[0] == "assume"), today,
                 {(k[1], rec.recommended, k[2]): v for k, v in out.items() if k[0] == "crossing"})


def _takeovers(rec: Recommendation, traffic: dict) -> list[tuple[float, str]]:
    """(multiple, winner there) of each traffic multiple whose winner is another feasible option than today's."""
    if rec.recommended is None:
        return []
    return [(m, at.recommended) for m, at in sorted(traffic.items())
            if at is not None and at.recommended not in (None, rec.recommended)]


def resized_at(asked: Workload, rec: Recommendation, multiple: float, only: tuple[str, ...] = ()):
    """The recommendation at `multiple` x today's traffic, `only` these options right-sized from the user's
    knobs (what `recommend`'s sensitivity evaluates)."""
    at = at_traffic(asked, multiple, rec.scenario_requests, rec.horizon_s)
    return sized(at, only=only, cdf=False)[0] if at is not None else None


def _traffic_plans(asked: Workload, requests: int, horizon_s: float) -> dict[float, tuple | None]:
    """Per traffic multiple, (workload at that traffic, scenario, window) to right-size; None when it cannot
    be simulated (`at_traffic`). `requests`, `horizon_s`: today's scenario."""
    plans = {}
    for m in TRAFFIC_MULTIPLES:
        at = at_traffic(asked, m, requests, horizon_s)
        plans[m] = None if at is None else (at, *prepared(at))
    return plans


def _today(wl: Workload, rec: Recommendation) -> tuple:
    """(workload, scenario) the assumption what-ifs run: today's traffic in the chosen configurations, one
    replication, never more than a sensitivity run holds (it was right-sized whole)."""
    today = at_traffic(wl, 1.0, rec.scenario_requests, rec.horizon_s) or wl.model_copy(update={"replications": 1})
    return today, build(today)
