"""Scaling complexity: the decisions a team must make and keep right (rubric data; lower is better)."""

from __future__ import annotations

from fitness.options import rubric_decisions
from sim.summary import Summary

NAME = "complexity"
HIGHER_IS_BETTER = False


def decisions(option: str, ctx) -> list[dict]:
    """The rubric's decisions for an option (its unit's entry in `catalogs/rubrics/complexity.yaml`; an
    option the rubric does not rate is an error, never scored as another option)."""
    return rubric_decisions(option)


def raw(s: Summary, ctx) -> float:
    """Sum of the weights of the option's decisions (1 set once .. 3 needs load tests or tuning)."""
    return float(sum(d["weight"] for d in decisions(s.option, ctx)))


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: how many decisions, which, and their weight."""
    ds = decisions(s.option, ctx)
    names = ", ".join(d["decision"] for d in ds)
    return f"{s.option} asks {len(ds)} decisions of the team (weight {value:g}): {names}."
