"""What every fitness function shares: the context it may look at, and the normalisation of its scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import catalogs


@dataclass(frozen=True)
class Context:
    """What the functions may look at beyond one option's summary: the workload, the trace, raw runs; and
    `monthly_usd`, the cost per option a what-if reads the bill as (None: the workload's own reading)."""

    workload: object
    runs: dict = field(default_factory=dict)
    fitness_rubric: dict = field(default_factory=lambda: catalogs.rubric("fitness"))
    monthly_usd: dict | None = None


def normalise(raws: list[float | None], higher_is_better: bool) -> list[float | None]:
    """0..1 scores: best/raw (lower is better) or raw/best (higher is better); None stays None."""
    known = [r for r in raws if r is not None]
    if not known:
        return [None] * len(raws)
    best = max(known) if higher_is_better else min(known)
    out = []
    for r in raws:
        if r is None:
            out.append(None)
        elif r == best:
            out.append(1.0)
        elif higher_is_better:
            out.append(r / best if best > 0 else 0.0)
        else:
            out.append(best / r if r > 0 else 1.0)
    return out
