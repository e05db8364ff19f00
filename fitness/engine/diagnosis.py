"""Why nothing is feasible, and what would make something feasible: the report's root causes.

Read from what the engine already measured: the models' own service times (a p99 SLO below a model's p99
service time rules out every hosting option), and the configurations right-sizing tried (the cheapest one
that broke the budget alone gives the smallest budget that would do; the fastest that broke the latency
SLO alone, the loosest SLO that would).
"""

from __future__ import annotations

import numpy as np

from fitness.engine.constraints import BUDGET_BROKEN, SLO_BROKEN
from fitness.engine.result import Recommendation
from fitness.text import duration_text
from fitness.workload.spec import Workload
from sim.scenario import Scenario


def _only(tried: dict, phrase: str) -> bool:
    reasons = tried.get("reasons") or []
    return bool(reasons) and all(phrase in r for r in reasons)


def _tried(rec: Recommendation) -> list[tuple[str, dict]]:
    return [(oid, t) for oid, sz in rec.sizing.items() for t in (sz or {}).get("tried", [])]


def root_causes(wl: Workload, scenario: Scenario, rec: Recommendation) -> list[str]:
    """Sentences naming why no option is feasible and the smallest change to the budget or the SLO that
    would make one feasible; [] when an option is feasible."""
    if rec.recommended is not None:
        return []
    out, slo = [], wl.slo.p99_ms
    for i, m in enumerate(scenario.models):
        idx = scenario.for_model(i)
        own = float(np.percentile(scenario.service_s[idx], 99)) * 1000.0 if idx.size else 0.0
        if slo is not None and wl.slo.delivery != "offline" and own > slo:
            out.append(f"The p99 SLO of {slo:g} ms is below model {m.name}'s own p99 service time "
                       f"({duration_text(own)}): no hosting option answers faster than the model computes, so "
                       f"the SLO must be at least {duration_text(own)} plus queueing, or the model faster.")
    budget = [(t["monthly_usd"], oid) for oid, t in _tried(rec) if _only(t, BUDGET_BROKEN) and t.get("monthly_usd")]
    if budget:
        usd, oid = min(budget)
        out.append(f"The budget binds: {oid} meets every other constraint at {usd:,.2f} USD/month, the smallest "
                   f"budget that would make an option feasible (today {wl.budget.monthly_usd:,.2f}).")
    late = [(t["p99_ms"], oid) for oid, t in _tried(rec) if _only(t, SLO_BROKEN) and t.get("p99_ms")]
    if late:
        p99, oid = min(late)
        out.append(f"The latency SLO binds: {oid} meets every other constraint at p99 {duration_text(p99)}, the "
                   "tightest p99 SLO that would make an option feasible (more instances may lower it further).")
    return out
