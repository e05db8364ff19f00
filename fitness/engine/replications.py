"""Replications: the same workload under several seeds, metrics with confidence intervals, ties.

Each replication draws new arrivals and service times (seed, seed + 1, ...), simulates every feasible
option with the configuration chosen on the first, and scores them again. A difference between two
options whose score intervals overlap is inside the noise: it is reported as a tie.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from statistics import mean, stdev

from fitness.engine.functions import Context, evaluate
from fitness.engine.ranking import weighted
from fitness.engine.result import Interval, Intervals, RankedOption, Recommendation
from fitness.workload.spec import Workload
from sim.results import SimResult
from sim.summary import Summary

# Student t quantiles t(0.975, df) for 95% intervals with few replications (df = replications - 1).
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         15: 2.131, 20: 2.086, 29: 2.045}


def t975(df: int) -> float:
    """Student t quantile for a two-sided 95% interval (table value at or below df; 1.96 beyond 29)."""
    if df >= 30:
        return 1.96
    return _T975[max(k for k in _T975 if k <= df)]


def interval(values: list[float]) -> Interval:
    """Mean and 95% half-width (t distribution) of replicated values; half-width None with one value."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return Interval(None, None, 0)
    if len(vals) == 1:
        return Interval(vals[0], None, 1)
    return Interval(mean(vals), t975(len(vals) - 1) * stdev(vals) / math.sqrt(len(vals)), len(vals))


def replicated_scores(wl: Workload, rep: dict[str, tuple[Summary, SimResult]]) -> dict[str, float]:
    """Per option feasible in one replication (`rep`: {option: (summary, result)}), its weighted score."""
    feasible = [s for s, _ in rep.values() if s.feasible]
    ctx = Context(wl, {o: r for o, (_, r) in rep.items()})
    weights = wl.weights.model_dump()
    return {s.option: weighted(weights, fit) for s, (fit, _) in zip(feasible, evaluate(feasible, ctx), strict=True)}


def overlaps(a: Interval, b: Interval) -> bool:
    """Whether two intervals overlap (a tie): |mean_a - mean_b| <= half_a + half_b."""
    if a.half_width is None or b.half_width is None:
        return a.mean == b.mean
    return abs(a.mean - b.mean) <= a.half_width + b.half_width


RunMany = Callable[[int, list[str]], list[tuple[Summary, SimResult]]]
"""run_many(seed, options) -> [(summary with constraints applied, result), ...] under another seed."""


def replicate(wl: Workload, rec: Recommendation, run_many: RunMany, first: dict[str, tuple[Summary, SimResult]],
              progress: Callable[[str], None] | None = None) -> Recommendation:
    """The recommendation re-ranked over `wl.replications` seeds.

    `first` is the first replication, {option: (summary with constraints applied, result)}; `run_many`
    simulates options under another seed. An option must meet the constraints in every replication to stay
    feasible; the feasible ones are ranked by mean score, and options whose score interval overlaps the
    leader's are reported as tied with it (`tie_with`). Returns a new recommendation.
    """
    seeds = [wl.seed + k for k in range(wl.replications)]
    feasible = [o for o in rec.options if o.feasible]
    names = [o.option for o in feasible]
    scores: dict[str, list[float]] = {}
    summaries: list[dict[str, Summary]] = []

    def add(rep: dict) -> None:  # one replication in memory at a time: score it, keep its summaries only
        for option, value in replicated_scores(wl, rep).items():
            scores.setdefault(option, []).append(value)
        summaries.append({k: v[0] for k, v in rep.items()})

    add({n: first[n] for n in names})
    for seed in seeds[1:]:
        if progress:
            progress(f"replication seed {seed}")
        add(dict(zip(names, run_many(seed, names), strict=True)))
    updated = {o.option: _replicated(o, [rep[o.option] for rep in summaries], scores.get(o.option, []), seeds)
               for o in feasible}
    ok = sorted((updated[n] for n in names if updated[n].feasible), key=lambda o: -o.ci.score.mean)
    ok = [replace(o, rank=i, score=o.ci.score.mean) for i, o in enumerate(ok, 1)]
    ok = [replace(o, tie_with=tuple(p.option for p in ok if p is not o and overlaps(o.ci.score, p.ci.score)))
          for o in ok]
    rest = [o for o in (updated.get(o.option, o) for o in rec.options) if not o.feasible]
    return replace(rec, recommended=ok[0].option if ok else None, options=tuple(ok + rest))


def _replicated(o: RankedOption, reps: list[Summary], scores: list[float], seeds: list[int]) -> RankedOption:
    """Option `o` with its intervals over the replications `reps`; infeasible if any broke a constraint."""
    ci = Intervals(interval([r.cost_usd.monthly for r in reps if r.cost_usd]),
                   interval([r.latency_ms.p99 for r in reps if r.latency_ms]), interval(scores), tuple(seeds),
                   tuple(scores))
    broken = [r for r in reps if not r.feasible]
    if not broken:
        return replace(o, ci=ci)
    why = f"breaks the constraints in {len(broken)} of {len(reps)} replications: " + "; ".join(broken[0].reasons)
    return replace(o, ci=ci, feasible=False, rank=None, score=None, reasons=o.reasons + (why,))
