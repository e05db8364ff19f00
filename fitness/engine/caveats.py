"""Caveats on figures: what the simulator could not model for the configuration the user pinned, and what a
configuration does that its percentiles hide.

Right-sizing never puts an option whose data plane lacks CPU credits (`OptionDef.credits`) on a burstable
type, but a user may pin one. Its run then assumes the type's full vCPUs at any load, which a T instance
keeps only under its baseline: the report says so rather than passing the figures off as simulated. A model
scaled to zero copies answers the requests that find none with an error: the report counts them.
"""

from __future__ import annotations

from fitness.engine.result import Recommendation
from sim.options import option_def


def config_types(config) -> list[str]:
    """The instance types a simulated configuration (`SimConfig`) uses, option-wide or per model."""
    knobs = [config.option, *config.models.values()]
    return sorted({k["instance_type"] for k in knobs if isinstance(k.get("instance_type"), str)})


def burstable_warnings(rec: Recommendation, catalog) -> list[str]:
    """One warning per option simulated on a burstable instance type its data plane gives no CPU credits."""
    out = []
    for o in rec.options:
        res = rec.runs.get(o.option)
        if res is None or option_def(o.option).credits:
            continue
        for it in (catalog.instances.get(n) for n in config_types(res.config)):
            if it is not None and it.burstable is not None:
                share = it.burstable.baseline_share_per_vcpu.value
                out.append(f"{o.option}: {it.name} is burstable, and {o.option} does not simulate CPU credits: "
                           f"its figures assume all {it.vcpu} vCPUs at any load, which the instance keeps only "
                           f"under its {share:.0%} baseline share. Pin a fixed-performance type to "
                           "trust them.")
    return out


def no_capacity_warnings(rec: Recommendation) -> list[str]:
    """One warning per option whose run had requests fail at once for want of any copy of their model
    (`details.no_capacity_failures`: a model scaled to zero copies, NoCapacityInvocationFailures)."""
    out = []
    for o in rec.options:
        res = rec.runs.get(o.option)
        failed = 0 if res is None else int(res.figures.details.get("no_capacity_failures", 0))
        if failed:
            out.append(f"{o.option}: {failed:,} requests found no copy of their model (scaled to zero copies) and "
                       "failed at once (NoCapacityInvocationFailures) until a copy was back; callers must retry "
                       "them. Keep min_copies at 1 or more for a model whose callers cannot.")
    return out
