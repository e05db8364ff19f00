"""The ADR's risks section: what the review board asks before signing, for the recommended option and the
runner-up: availability, quotas and GPU capacity, deployment, and features the option lacks.

Figures come from the simulation (instances, GPU types, concurrency) and the rubric of documented platform
facts `catalogs/rubrics/risks.yaml`, each with its source.
"""

from __future__ import annotations

import catalogs
from fitness.engine.caveats import config_types
from fitness.engine.result import RankedOption, Recommendation
from fitness.report.blocks import Block, Bullets, Text
from sim.catalog import load_catalog


def option_risks(o: RankedOption, catalog) -> list[str]:
    """One line per risk of option `o` as simulated."""
    rule, out = catalogs.rubric("risks"), []
    types = config_types(o.config)
    peak = o.instances.max if o.instances is not None else 0
    if types:
        low = o.instances.mean if o.instances is not None else 0
        out.append(f"Availability: {low:.1f} instances on average, {peak:.0f} at the peak, of "
                   f"{', '.join(types)}; " + ("a single instance is a single point of failure." if low < 2
                                             else "spread across Availability Zones by SageMaker."))
        gpus = [t for t in types if (it := catalog.instances.get(t)) is not None and it.gpu_count]
        q = rule["quotas"]["instances"]
        out.append(f"Quotas{' and GPU capacity' if gpus else ''}: {q['text']} ({peak:.0f} x {', '.join(types)}; "
                   f"{q['source']}).")
        for kind in ("blue_green", "rolling"):
            d = rule["deployment"][kind]
            out.append(f"Deployment: {d['text']} ({d['source']}).")
    managed = rule["availability"].get(o.option)
    if managed:
        out.append(f"Availability: {managed['text']} ({managed['source']}).")
    dep = rule["deployment"]["rolling_unavailable"]
    if o.option in dep["options"]:
        out.append(f"Deployment: rolling deployments are not available on {o.option}; updates shift traffic "
                   f"all at once or by canary ({dep['source']}).")
    lacks = rule["lacks"].get(o.option)
    if lacks:
        out.append(f"Security and compliance: {o.option} lacks {', '.join(lacks['features'])} "
                   f"({lacks['source']}).")
    return out


def risks_section(rec: Recommendation, catalog=None) -> list[Block]:
    """Risks of the recommended option and of the runner-up (nothing when no option is feasible)."""
    cat = catalog or load_catalog((rec.reproduce or {}).get("catalog") or "aws/us-east-1")
    ranked = rec.ranked[:2]
    out: list[Block] = []
    for o, role in zip(ranked, ("recommended", "runner-up"), strict=False):
        out += [Text("h3", f"`{o.option}` ({role})"), Bullets(option_risks(o, cat))]
    return out
