"""Cost: projected USD per 730-hour month (lower is better)."""

from __future__ import annotations

from sim.summary import Summary

NAME = "cost"
HIGHER_IS_BETTER = False


def raw(s: Summary, ctx) -> float:
    """Monthly USD: the horizon's cost projected to 730 hours."""
    return s.cost_usd.monthly


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: monthly cost, per million, and how it compares with the cheapest."""
    per_m = s.cost_usd.per_million
    text = f"{s.option} costs {value:,.2f} USD/month ({per_m:,.2f} USD per million inferences)"
    if best is None or best.option == s.option:
        return text + ", the cheapest feasible option."
    other = best.cost_usd.monthly
    ratio = value / other if other > 0 else float("inf")
    return text + f", {ratio:,.1f} x the cheapest ({best.option}, {other:,.2f} USD/month)."
