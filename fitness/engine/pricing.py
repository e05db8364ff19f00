"""On-demand, committed and total-cost figures side by side, and whether reading the bill another way would
change the recommendation (`Recommendation.pricing`, the report's cost section)."""

from __future__ import annotations

from fitness.engine.functions import Context, evaluate
from fitness.engine.ranking import weighted
from fitness.engine.result import Recommendation
from fitness.engine.tco import committed_monthly_usd, operated, operations_hours, operations_usd

TERMS = {"1y": "a 1-year Savings Plan", "3y": "a 3-year Savings Plan"}


def pricing(wl, rec: Recommendation, catalog) -> dict:
    """Per measured option its monthly bill on demand, its meters, its operations hours (and cost, with an
    engineer cost) and, with a commitment, its committed bill; then one what-if per other reading of the bill:
    the option the same weights pick on it, and whether that changes the recommendation."""
    p = wl.pricing
    views = {}
    for o in (o for o in rec.options if o.measured):
        counts = operated(o, wl)
        ops = operations_usd(o, wl)
        view = {"on_demand_monthly_usd": o.cost_usd.monthly,
                "meters_monthly_usd": {k: o.cost_usd.monthly * v / o.cost_usd.total if o.cost_usd.total else 0.0
                                       for k, v in o.cost_usd.breakdown.items()},
                "operated": counts, "operations_hours_per_month": operations_hours(counts)}
        if ops is not None:
            view.update(operations_monthly_usd=ops, tco_monthly_usd=o.cost_usd.monthly + ops)
        if p.commitment is not None and o.option in rec.runs:
            view["committed_monthly_usd"] = committed_monthly_usd(o, rec.runs[o.option], catalog, p.commitment)
        views[o.option] = view
    basis = "on-demand bill + operations cost" if p.engineer_usd_per_hour is not None else "on-demand bill"
    return {"basis": basis, "commitment": p.commitment, "engineer_usd_per_hour": p.engineer_usd_per_hour,
            "options": views, "what_if": what_ifs(wl, rec, views)}


def what_ifs(wl, rec: Recommendation, views: dict) -> list[dict]:
    """The other readings of the bill the workload asks about: with its Savings Plan (plus operations cost if
    given), and without operations cost; each with the option the weights then pick."""
    p, out = wl.pricing, []
    ops = {k: v.get("operations_monthly_usd", 0.0) for k, v in views.items()}
    if p.commitment is not None:
        committed = {k: v["committed_monthly_usd"] + ops[k] for k, v in views.items() if "committed_monthly_usd" in v}
        more = " and operations cost" if p.engineer_usd_per_hour is not None else ""
        out.append(_what_if(wl, rec, committed, "commitment",
                            f"With {TERMS[p.commitment]} on instance usage{more}"))
    if p.engineer_usd_per_hour is not None:
        bill = {k: v["on_demand_monthly_usd"] for k, v in views.items()}
        out.append(_what_if(wl, rec, bill, "bill_only", "On the AWS bill alone (no operations cost)"))
    return out


def _what_if(wl, rec: Recommendation, monthly: dict[str, float], key: str, lead: str) -> dict:
    """Re-score the feasible options with `monthly` as their cost; the winner and a sentence saying whether
    it differs from the recommendation."""
    ok = [o for o in rec.options if o.feasible and o.option in monthly]
    winner = None
    if ok:
        ctx = Context(wl, dict(rec.runs), monthly_usd=monthly)
        weights = wl.weights.model_dump()
        scored = [(weighted(weights, fit), -monthly[o.option], o.option) for o, (fit, _) in
                  zip(ok, evaluate(ok, ctx), strict=True)]
        winner = max(scored)[2]
    changes = winner is not None and winner != rec.recommended
    if winner is None:
        text = f"{lead}, no option is feasible either."
    elif changes:
        text = (f"{lead}, `{winner}` would be recommended instead of `{rec.recommended}` "
                f"({monthly[winner]:,.2f} vs {monthly.get(rec.recommended, float('nan')):,.2f} USD/month).")
    else:
        text = f"{lead}, `{winner}` is still recommended ({monthly[winner]:,.2f} USD/month)."
    return {"basis": key, "recommended": winner, "changes_decision": changes, "statement": text}
