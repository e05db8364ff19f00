"""Numbers written for people: shared by the report and the fitness-function explanations."""

from __future__ import annotations

import math


def duration_text(ms: float | None) -> str:
    """Latency in the unit a reader thinks in: ms under 10 s, then s, min, h."""
    if ms is None or (isinstance(ms, float) and not math.isfinite(ms)):
        return "n/a"
    for limit, div, unit in ((1e4, 1.0, "ms"), (6e5, 1e3, "s"), (3.6e7, 6e4, "min")):
        if ms < limit:
            return f"{ms / div:,.1f} {unit}"
    return f"{ms / 3.6e6:,.1f} h"


def span_text(s: float) -> str:
    """A length of simulated time: minutes under two hours, hours under two days, then days."""
    return f"{s / 60:,.0f} min" if s < 7200 else f"{s / 3600:,.1f} h" if s < 172800 else f"{s / 86400:,.1f} days"


def clock_text(t_s: float) -> str:
    """Seconds from the start of a run as h:mm:ss."""
    t = int(round(t_s))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"
