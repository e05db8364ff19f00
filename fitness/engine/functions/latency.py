"""Latency: end-to-end p99 in ms, queueing and cold starts included (lower is better), scored against the SLO.

A p99 comfortably inside the SLO scores 1, whichever option is fastest: the caller cannot tell 20 ms from
40 ms under a 200 ms objective. The score falls as the p99 nears the SLO and beyond it (`slo_score`, the
rubric's `latency` figures); the objective that binds is the pooled p99 SLO or a model's own, whichever the
p99 is nearest to. With no p99 SLO the score is relative to the fastest option. Offline results only have
to meet their deadline (a constraint checked before scoring), so every feasible option scores 1.
"""

from __future__ import annotations

from fitness.engine import digest
from fitness.engine.constraints import binding
from fitness.engine.functions.base import normalise
from fitness.text import duration_text
from sim.summary import Summary

NAME = "latency"
HIGHER_IS_BETTER = False


def raw(s: Summary, ctx) -> float | None:
    """p99 of end-to-end latency of served requests, ms."""
    return s.latency_ms.p99


def slo_share(s: Summary, ctx) -> float | None:
    """p99 / its SLO, for the objective that binds (a model's own SLO, or the pooled one); None without a p99
    SLO or a p99."""
    wl = ctx.workload
    bound = binding(wl, s)
    if bound is not None:
        return bound[1] / bound[2]
    p99 = s.latency_ms.p99 if s.latency_ms is not None else None
    return p99 / wl.slo.p99_ms if p99 is not None and wl.slo.p99_ms else None


def slo_score(share: float, comfortable: float, at_slo: float) -> float:
    """Score of a p99 at `share` x its SLO: 1 up to `comfortable`, then linear to `at_slo` at the SLO, then
    at_slo / share beyond it (0..1)."""
    if share <= comfortable:
        return 1.0
    if share <= 1.0:
        return 1.0 - (1.0 - at_slo) * (share - comfortable) / (1.0 - comfortable)
    return at_slo / share


def scores(raws: list, ctx, summaries: list | None = None) -> list:
    """Per option: 1 for offline delivery; `slo_score` of its SLO share when every scored option has one;
    else its p99 normalised against the fastest."""
    if ctx.workload.slo.delivery == "offline":
        return [1.0 if r is not None else None for r in raws]
    shares = [slo_share(s, ctx) if r is not None else None for s, r in zip(summaries or [], raws, strict=True)]
    if summaries is None or any(sh is None for sh, r in zip(shares, raws, strict=True) if r is not None):
        return normalise(raws, HIGHER_IS_BETTER)
    rule = ctx.fitness_rubric["latency"]
    return [None if sh is None else slo_score(sh, rule["comfortable_share"], rule["score_at_slo"]) for sh in shares]


def slo_attainment(s: Summary, ctx) -> float | None:
    """Share of served requests within the p99 SLO (None without a p99 SLO or a run to look at)."""
    d = digest.of(ctx.runs.get(s.option), digest.Basis.of(ctx.workload.slo, ctx.fitness_rubric))
    return d.slo_attainment if d is not None else None


def explain(s: Summary, value: float | None, ctx, best: Summary | None) -> str:
    """One sentence: p99 and p50, and SLO attainment or the deadline."""
    lat = s.latency_ms
    text = f"{s.option} answers in {duration_text(lat.p50)} at p50 and {duration_text(value)} at p99"
    slo = ctx.workload.slo
    if slo.delivery == "offline":
        deadline = f"the {slo.deadline_h:g} h deadline" if slo.deadline_h else "no deadline"
        return text + f"; offline delivery only has to meet {deadline}, so latency does not rank the options."
    share = slo_attainment(s, ctx)
    if share is not None:
        text += f"; {share:.2%} of requests meet the {slo.p99_ms:g} ms SLO"
    of_slo = slo_share(s, ctx)
    if of_slo is not None:
        full = ctx.fitness_rubric["latency"]["comfortable_share"]
        text += (f"; scored against the SLO: its p99 is {of_slo:.0%} of the objective that binds, full marks up "
                 f"to {full:.0%}")
    elif best is not None and best.option != s.option:
        text += f"; scored against the fastest, {best.option} at p99 {duration_text(best.latency_ms.p99)}"
    return text + "."
