"""Scaling complexity: the decisions a team must make and keep right (rubric data; lower is better)."""

from __future__ import annotations

import catalogs
from fitness.engine.tco import operated
from fitness.options import rubric_decisions
from sim.summary import Summary

NAME = "complexity"
HIGHER_IS_BETTER = False


def decisions(option: str, ctx) -> list[dict]:
    """The rubric's decisions for an option (its unit's entry in `catalogs/rubrics/complexity.yaml`; an
    option the rubric does not rate is an error, never scored as another option)."""
    return rubric_decisions(option)


def raw(s: Summary, ctx) -> float:
    """Sum of the weights of the option's decisions (1 set once .. 3 needs load tests or tuning), plus the
    rubric's weight for each endpoint beyond the first and each network hop a request makes beyond its
    first call (`scale`)."""
    return float(sum(d["weight"] for d in decisions(s.option, ctx))) + scale(s, ctx)[2]


def scale(s: Summary, ctx) -> tuple[int, int, float]:
    """(endpoints, hops, their weight): the option's endpoints (or job streams), and for an application run
    as separate endpoints the calls a request makes beyond its first, weighted by the rubric."""
    rubric = catalogs.rubric("complexity")
    counts = operated(s, ctx.workload if ctx is not None else None)
    endpoints = max(1, counts["endpoint"] or counts["scheduler"])  # the same counts operations cost uses
    hops = counts["hop"]
    return endpoints, hops, (endpoints - 1) * rubric["per_extra_endpoint"] + hops * rubric["per_hop"]


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: how many decisions, which, their weight, and what the endpoints and hops add."""
    ds = decisions(s.option, ctx)
    names = ", ".join(d["decision"] for d in ds)
    endpoints, hops, extra = scale(s, ctx)
    grown = (f"; {endpoints} endpoints and {hops} hops per request add {extra:g}" if extra else "")
    return f"{s.option} asks {len(ds)} decisions of the team (weight {value:g}{grown}): {names}."
