"""The five fitness functions (DESIGN §2), one small pure module each.

Each module has `NAME`, `HIGHER_IS_BETTER`, `raw(summary, ctx)` (the metric, from the simulation) and
`explain(summary, raw, ctx, best)` (one sentence). Scores are normalised here, the same way for all:
the best feasible option scores 1 and the others best/raw (or raw/best when higher is better), so a
score of 0.5 means "twice as bad as the best on this function".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import yaml

import catalogs
from fitness.functions import complexity, cost, latency, throughput, traffic_fit

FUNCTIONS = (cost, latency, throughput, complexity, traffic_fit)
"""In the order of DESIGN §2; `NAME`s are the keys of `fitness` in the result JSON."""


@dataclass(frozen=True)
class Context:
    """What the functions may look at beyond one option's summary: the workload, the trace, raw runs."""

    workload: object
    runs: dict = field(default_factory=dict)
    complexity_rubric: dict = field(default_factory=lambda: load_rubric("complexity"))
    fitness_rubric: dict = field(default_factory=lambda: load_rubric("fitness"))


@functools.cache
def load_rubric(name: str) -> dict:
    """A built-in rubric (catalog data) as a mapping, parsed once (shared: read it, do not change it)."""
    return yaml.safe_load(catalogs.read_rubric_text(name))


def normalise(raws: list[float | None], higher_is_better: bool) -> list[float | None]:
    """0..1 scores: best/raw (lower is better) or raw/best (higher is better); None stays None."""
    known = [r for r in raws if r is not None]
    if not known:
        return [None] * len(raws)
    best = max(known) if higher_is_better else min(known)
    out = []
    for r in raws:
        if r is None:
            out.append(None)
        elif r == best:
            out.append(1.0)
        elif higher_is_better:
            out.append(r / best if best > 0 else 0.0)
        else:
            out.append(best / r if r > 0 else 1.0)
    return out


def evaluate(feasible: list[dict], ctx: Context) -> list[tuple[dict, dict]]:
    """Per feasible option: ({name: score}, {name: sentence})."""
    scores: list[dict] = [{} for _ in feasible]
    sentences: list[dict] = [{} for _ in feasible]
    for fn in FUNCTIONS:
        raws = [fn.raw(s, ctx) for s in feasible]
        norm = fn.scores(raws, ctx) if hasattr(fn, "scores") else normalise(raws, fn.HIGHER_IS_BETTER)
        known = [(r, s) for r, s in zip(raws, feasible, strict=True) if r is not None]
        best = (max if fn.HIGHER_IS_BETTER else min)(known, key=lambda p: p[0])[1] if known else None
        for i, (s, r, sc) in enumerate(zip(feasible, raws, norm, strict=True)):
            scores[i][fn.NAME] = sc
            sentences[i][fn.NAME] = fn.explain(s, r, ctx, best)
    return list(zip(scores, sentences, strict=True))
