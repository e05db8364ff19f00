"""Cost: projected USD per 730-hour month, with operations cost when the workload prices it (lower is better)."""

from __future__ import annotations

from fitness.engine.tco import operations_usd
from sim.summary import Summary

NAME = "cost"
HIGHER_IS_BETTER = False


def raw(s: Summary, ctx) -> float:
    """Monthly USD: the horizon's AWS bill projected to 730 hours, plus the operations cost
    (`fitness.engine.tco.operations_usd`) when the workload gives an engineer cost; a what-if's own reading
    of the bill (`ctx.monthly_usd`) when it has one."""
    if ctx is not None and ctx.monthly_usd is not None:
        return ctx.monthly_usd[s.option]
    ops = operations_usd(s, ctx.workload) if ctx is not None else None
    return s.cost_usd.monthly + (ops or 0.0)


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: monthly cost, per million, and how it compares with the cheapest."""
    per_m = s.cost_usd.per_million
    ops = operations_usd(s, ctx.workload) if ctx is not None and ctx.monthly_usd is None else None
    text = f"{s.option} costs {value:,.2f} USD/month"
    text += (f" ({s.cost_usd.monthly:,.2f} on the AWS bill, {per_m:,.2f} USD per million inferences, and "
             f"{ops:,.2f} of operations)" if ops is not None else f" ({per_m:,.2f} USD per million inferences)")
    if best is None or best.option == s.option:
        return text + ", the cheapest feasible option."
    other = raw(best, ctx)
    ratio = value / other if other > 0 else float("inf")
    return text + f", {ratio:,.1f} x the cheapest ({best.option}, {other:,.2f} USD/month)."
