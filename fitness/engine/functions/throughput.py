"""Throughput: goodput, the share of offered requests served (higher is better)."""

from __future__ import annotations

from sim.summary import Summary

NAME = "throughput"
HIGHER_IS_BETTER = True


def raw(s: Summary, ctx) -> float:
    """served / offered (0..1); throttled and failed requests are the rest."""
    return s.requests.goodput


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: goodput and what was lost."""
    r = s.requests
    return (f"{s.option} serves {value:.3%} of {r.offered:,} offered requests "
            f"({r.throttled:,} throttled, {r.failed:,} failed).")
