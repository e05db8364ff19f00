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
