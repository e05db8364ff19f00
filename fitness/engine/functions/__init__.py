"""The five fitness functions (DESIGN §2), one small pure module each.

Each module has `NAME`, `HIGHER_IS_BETTER`, `raw(summary, ctx)` (the metric, from the simulation) and
`explain(summary, raw, ctx, best)` (one sentence). Scores are normalised here unless the module scores
itself (`scores(raws, ctx, summaries)`: latency, against the SLO): the best feasible option scores 1 and
the others best/raw (or raw/best when higher is better), so a score of 0.5 means "twice as bad as the best
on this function".
"""

from __future__ import annotations

from fitness.engine.functions import complexity, cost, latency, throughput, traffic_fit
from fitness.engine.functions.base import Context, normalise

__all__ = ["FUNCTIONS", "Context", "evaluate", "normalise"]

FUNCTIONS = (cost, latency, throughput, complexity, traffic_fit)
"""In the order of DESIGN §2; `NAME`s are the keys of `fitness` in the result JSON."""


def evaluate(feasible: list[dict], ctx: Context) -> list[tuple[dict, dict]]:
    """Per feasible option: ({name: score}, {name: sentence})."""
    scores: list[dict] = [{} for _ in feasible]
    sentences: list[dict] = [{} for _ in feasible]
    for fn in FUNCTIONS:
        raws = [fn.raw(s, ctx) for s in feasible]
        norm = fn.scores(raws, ctx, feasible) if hasattr(fn, "scores") else normalise(raws, fn.HIGHER_IS_BETTER)
        known = [(r, s) for r, s in zip(raws, feasible, strict=True) if r is not None]
        best = (max if fn.HIGHER_IS_BETTER else min)(known, key=lambda p: p[0])[1] if known else None
        for i, (s, r, sc) in enumerate(zip(feasible, raws, norm, strict=True)):
            scores[i][fn.NAME] = sc
            sentences[i][fn.NAME] = fn.explain(s, r, ctx, best)
    return list(zip(scores, sentences, strict=True))
