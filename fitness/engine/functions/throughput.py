"""Throughput: goodput, the share of offered requests served (higher is better)."""

from __future__ import annotations

NAME = "throughput"
HIGHER_IS_BETTER = True


def raw(s: dict, ctx) -> float:
    """served / offered (0..1); throttled and failed requests are the rest."""
    r = s["requests"]
    return r["served"] / r["offered"] if r["offered"] else 0.0


def explain(s: dict, value: float, ctx, best: dict | None) -> str:
    """One sentence: goodput and what was lost, with the headroom when right-sizing measured it."""
    r = s["requests"]
    text = (f"{s['option']} serves {value:.3%} of {r['offered']:,} offered requests "
            f"({r['throttled']:,} throttled, {r['failed']:,} failed)")
    headroom = s.get("headroom")
    if headroom is not None:
        text += f" and keeps the SLO up to {headroom:.1f} x today's traffic"
    return text + "."
