"""Hard constraints: what a simulated option must meet before it is scored (SLO, error rate, budget,
an offline deadline)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from fitness.workload.spec import Workload
from sim.summary import Summary

S = TypeVar("S", bound=Summary)

SLO_BROKEN = "exceeds the SLO of"
"""The words of every latency-SLO reason (`fitness.engine.diagnosis` reads the reasons of trials)."""
BUDGET_BROKEN = "exceeds the budget of"
"""The words of the budget reason."""


def constraint_reasons(wl: Workload, s: Summary) -> list[str]:
    """Why a simulated option breaks the workload's hard constraints (SLO pooled and per model, error rate,
    budget, an offline deadline)."""
    out: list[str] = []
    req, lat, cost = s.requests, s.latency_ms, s.cost_usd
    if req.served == 0:
        return ["no request was served"]
    if wl.slo.delivery == "offline":
        # offline results are judged by the deadline on every result, not by percentiles of a waiting caller
        deadline_h = wl.slo.deadline_h
        if deadline_h is not None and lat.max > deadline_h * 3.6e6:
            out.append(f"the slowest result takes {lat.max / 3.6e6:.1f} h and misses the {deadline_h:g} h deadline")
    else:
        for key in ("p99", "p95"):
            limit, value = getattr(wl.slo, f"{key}_ms"), getattr(lat, key)
            if limit is not None and value > limit:
                out.append(f"{key} latency {value:.0f} ms {SLO_BROKEN} {limit:g} ms")
        out += _model_reasons(wl, s)
    if req.error_rate > wl.slo.max_error_rate:
        out.append(f"error rate {req.error_rate:.2%} (throttled {req.throttled}, failed {req.failed}) exceeds "
                   f"the SLO's {wl.slo.max_error_rate:.2%}")
    budget = wl.budget.monthly_usd
    if budget is not None and cost.monthly > budget:
        out.append(f"projected {cost.monthly:,.2f} USD/month {BUDGET_BROKEN} {budget:,.2f} USD/month")
    return out


def _model_reasons(wl: Workload, s: Summary) -> list[str]:
    """Models whose own latency SLO their requests break (the pooled SLO is checked apart)."""
    out = []
    for name, slo in wl.model_slos.items():
        lat = (s.latency_by_model_ms or {}).get(name)
        for key in ("p99", "p95"):
            limit = getattr(slo, f"{key}_ms")
            value = getattr(lat, key) if lat is not None else None
            if limit is not None and value is not None and value > limit:
                out.append(f"model {name}'s {key} latency {value:.0f} ms exceeds its SLO of {limit:g} ms")
    return out


def binding(wl: Workload, s: Summary) -> tuple[str | None, float, float] | None:
    """Which p99 objective binds: (None for the pooled SLO, else the model's name; its p99 ms; its limit ms),
    the one with the highest ratio of p99 to limit; None when no model has an SLO of its own."""
    if not wl.model_slos or s.latency_ms is None:
        return None
    pairs = []
    if wl.slo.p99_ms is not None and s.latency_ms.p99 is not None:
        pairs.append((None, s.latency_ms.p99, wl.slo.p99_ms))
    for name, slo in wl.model_slos.items():
        lat = (s.latency_by_model_ms or {}).get(name)
        if slo.p99_ms is not None and lat is not None and lat.p99 is not None:
            pairs.append((name, lat.p99, slo.p99_ms))
    return max(pairs, key=lambda p: p[1] / p[2]) if pairs else None


def constrained(wl: Workload, s: S) -> S:
    """Summary `s` with the workload's constraints applied (a new object): a feasible option that breaks one
    becomes infeasible, with the reasons added."""
    if not s.feasible:
        return s
    extra = constraint_reasons(wl, s)
    return replace(s, feasible=not extra, reasons=s.reasons + tuple(extra)) if extra else s
