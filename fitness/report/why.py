"""The recommended option's facts for the ADR's decision section: headroom, utilisation, the p99's
precision, why this size, per-model results, the binding SLO and the failure drill; and the number and
value formatting every report section shares."""

from __future__ import annotations

import math
from typing import Any

from fitness.engine.result import RankedOption, Recommendation
from fitness.report.blocks import Block, Bullets, Table, Text
from fitness.text import clock_text, duration_text
from sim.metrics import SECTIONS as RUN_SECTIONS

OUTCOME = ("feasible", "monthly_usd", "p99_ms", "reasons", "failure_drill", "screened")
"""The keys of a sizing trial that are its outcome, not its configuration."""


def num(x: float | None, fmt: str = ",.2f") -> str:
    """A number as text in `fmt`; 'n/a' for None or a non-finite float."""
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def val(v: Any) -> str:
    """A config or catalog value as short text: floats without trailing zeros, lists comma-separated."""
    if isinstance(v, float):
        return num(v, "g")
    if isinstance(v, list | tuple):
        return "[" + ", ".join(val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {val(x)}" for k, x in v.items()) + "}"
    return str(v)


def why_this(rec: Recommendation) -> list[Block]:
    """Headroom, utilisation, why this size (the cheaper configurations tried and why each was refused) and
    the per-model results of the recommended option."""
    best = rec.best
    facts = []
    if best.headroom is not None:
        h = best.headroom
        limit = f" (no higher multiple was tested: {h.tested_to:.2g} x is the limit)" if h.at_limit else ""
        facts.append(f"Headroom: this configuration keeps the SLO {h.phrase()} today's traffic{limit}." if h.phrase()
                     else "Headroom: this configuration does not keep the SLO at today's traffic.")
    if best.utilization is not None:
        facts.append(f"Utilisation: {best.utilization:.1%} of the capacity paid for does work.")
    iv = best.p99_interval_ms
    if iv is not None and iv[1] > iv[0]:  # no interval where nothing varies
        facts.append(f"Precision: the p99 of {duration_text(best.latency_ms.p99)} has a 95% interval of "
                     f"{duration_text(iv[0])} to {duration_text(iv[1])} over {RUN_SECTIONS} sections of the run.")
    tried = (rec.sizing.get(best.option) or {}).get("tried") or []
    cheaper = [t for t in tried if not t.get("feasible") and t.get("reasons")
               and (t.get("monthly_usd") is None or t["monthly_usd"] < best.cost_usd.monthly)]
    if cheaper:
        keys = [k for k in tried[0] if k not in OUTCOME]
        facts.append("Why this size: " + "; ".join(
            f"{', '.join(f'{k}={val(t.get(k))}' for k in keys if t.get(k) is not None)} was refused "
            f"({t['reasons'][0]})" for t in cheaper[:3]) + ".")
    out: list[Block] = [Bullets(facts)] if facts else []
    if best.latency_by_model_ms:
        out.append(Table(["model", "p50", "p99", "max"], [[m, duration_text(v.p50), duration_text(v.p99),
                                                          duration_text(v.max)]
                                                         for m, v in best.latency_by_model_ms.items()]))
    return out


def binding_text(best: RankedOption) -> list[Block]:
    """Which p99 objective binds the recommended option when models have SLOs of their own."""
    if best.binding is None:
        return []
    model, p99, limit = best.binding
    what = f"model `{model}`" if model is not None else "the pooled p99"
    return [Text("p", f"Binding SLO: {what}, p99 {duration_text(p99)} of its {num(limit, 'g')} ms "
                      f"({p99 / limit:.0%} of the limit).")]


def drill_text(rec: Recommendation) -> list[Block]:
    """The recommended configuration's failure drill (production endpoints on instances), in one paragraph."""
    d = (rec.sizing.get(rec.recommended) or {}).get("failure_drill") if rec.recommended else None
    if not d:
        return []
    where = f"of the `{d['model']}` endpoint " if d.get("model") else ""
    back = d.get("replacement_serving_s")
    until = (f"its replacement served at {clock_text(back)}, after the launch delay" if back is not None else
             "its replacement did not serve before the end of the run")
    during = (f"p99 {duration_text(d['p99_ms'])} over the requests arriving while one instance short"
              if d.get("p99_ms") is not None else "no request arrived while one instance short")
    verdict = "The SLO held." if d.get("keeps_slo") else "The SLO broke: " + "; ".join(d.get("reasons") or []) + "."
    return [Text("p", f"Failure drill: one instance {where}failed at {clock_text(d['at_s'])}, the busiest minute, "
                      f"losing the {d['lost_requests']:,} requests it held; {until}; {during}, "
                      f"error rate {d['error_rate']:.3%} over the run. {verdict}")]
