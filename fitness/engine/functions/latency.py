"""Latency: end-to-end p99 in ms, queueing and cold starts included (lower is better).

Offline results only have to meet their deadline (a constraint checked before scoring), so every
feasible option scores 1: a faster answer nobody waits for buys nothing.
"""

from __future__ import annotations

from fitness.engine import digest
from fitness.engine.functions.base import normalise
from fitness.text import duration_text
from sim.summary import Summary

NAME = "latency"
HIGHER_IS_BETTER = False


def raw(s: Summary, ctx) -> float | None:
    """p99 of end-to-end latency of served requests, ms."""
    return s.latency_ms.p99


def scores(raws: list, ctx) -> list:
    """Normalised p99, or 1 for every option when delivery is offline."""
    if ctx.workload.slo.delivery == "offline":
        return [1.0 if r is not None else None for r in raws]
    return normalise(raws, HIGHER_IS_BETTER)


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
    if best is not None and best.option != s.option:
        text += f" ({best.option} is fastest at p99 {duration_text(best.latency_ms.p99)})"
    return text + "."
