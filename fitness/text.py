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


def deployable(chosen: dict | None) -> str:
    """A right-sized configuration in a few words: `2 x ml.c5.large`, `ml.g4dn.xlarge, 0..8 instances`,
    `1024 MB, up to 20 concurrent`, `2 x ml.c6i.large, a job every 4.0 h`, `4 x ml.c5.large, 8 model copies`;
    '' when nothing was sized."""
    if not chosen:
        return ""
    c, scaling = dict(chosen), {}
    for k in [k for k in c if k.startswith("autoscaling")]:
        v = c.pop(k)
        scaling.update(v if isinstance(v, dict) else {k.partition(".")[2]: v})
    it, n = c.get("instance_type"), c.get("instance_count")
    if "memory_mb" in c and it is None:
        text = f"{c['memory_mb']} MB, up to {c.get('max_concurrency', '?')} concurrent"
        pc = c.get("provisioned_concurrency")
        return text + (f", {pc} provisioned" if pc else "")
    fleet = f"{n} x {it}" if it and n else (it or (f"{n} instance{'' if n == 1 else 's'}" if n else ""))
    if scaling:
        fleet += f"{', ' if fleet else ''}{scaling.get('min', 1)}..{scaling.get('max', '?')} instances"
    copies = [v for k, v in c.items() if k == "copies" or k.startswith("copies.")]
    tops = [v for k, v in c.items() if k == "max_copies" or k.startswith("max_copies.")]
    if copies or tops:  # inference components: copies of the models on the instances
        total = sum(int(v) for v in copies or tops if isinstance(v, int | float))
        fleet += f"{', ' if fleet else ''}{'' if copies else 'up to '}{total} model copies"
        if n is None and "min_instances" in c:
            fleet += f" from {c['min_instances']} instances"
    if "schedule" in c:
        every = c["schedule"] if isinstance(c["schedule"], str) else span_text(float(c["schedule"]))
        fleet += f"{', ' if fleet else ''}a job every {every}"
    return fleet or ", ".join(f"{k}={v}" for k, v in list(c.items())[:3])
