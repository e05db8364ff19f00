"""Rendering results: JSON (the contract), Markdown and a minimal offline HTML page.

Rendering only: every number comes from the result objects. User text reaching HTML is escaped.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from fitness.ranking import Recommendation


def _clean(x: Any) -> Any:
    """Make a result JSON-safe: NaN and infinities become null, tuples lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars
        return _clean(x.item())
    return x


def to_json(obj: Any) -> str:
    """Indented JSON with NaN mapped to null."""
    return json.dumps(_clean(obj), indent=2, allow_nan=False)


def _num(x: float | None, fmt: str = ",.2f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def duration_text(ms: float | None) -> str:
    """Latency in the unit a reader thinks in: ms under 10 s, then s, min, h."""
    if ms is None or (isinstance(ms, float) and not math.isfinite(ms)):
        return "n/a"
    for limit, div, unit in ((1e4, 1.0, "ms"), (6e5, 1e3, "s"), (3.6e7, 6e4, "min")):
        if ms < limit:
            return f"{ms / div:,.1f} {unit}"
    return f"{ms / 3.6e6:,.1f} h"


def option_rows(rec: Recommendation) -> list[list[str]]:
    """Table rows (rank, option, p50, p99, monthly, per million, errors, cold starts, instances, notes)."""
    rows = []
    for o in rec.options:
        if o.get("requests") is None:
            rows.append(["-", o["option"], "", "", "", "", "", "", "", "infeasible: " + "; ".join(o["reasons"])])
            continue
        r, lat, c = o["requests"], o["latency_ms"], o["cost_usd"]
        err = (r["throttled"] + r["failed"]) / r["offered"] if r["offered"] else 0.0
        note = "" if o["feasible"] else "rejected: " + "; ".join(o["reasons"])
        rows.append([str(o["rank"] or "-"), o["option"], duration_text(lat["p50"]), duration_text(lat["p99"]),
                     _num(c["monthly"]), _num(c["per_million"]), f"{err:.3%}",
                     f"{o['cold_starts']['fraction']:.3%}", _num(o["instances"]["mean"], ".2f"), note])
    return rows


HEADERS = ["rank", "option", "p50", "p99", "USD/month", "USD/1M", "errors", "cold", "instances", "notes"]


def render_markdown(rec: Recommendation) -> str:
    """The recommendation as Markdown: verdict, options table, configurations simulated, reproduction."""
    lines = [f"# Hosting recommendation: {rec.workload}", ""]
    if rec.recommended:
        best = next(o for o in rec.options if o["option"] == rec.recommended)
        lines += [f"**Recommended: `{rec.recommended}`** at {_num(best['cost_usd']['monthly'])} USD/month "
                  f"(projected to 730 h), p99 {duration_text(best['latency_ms']['p99'])}.", ""]
    else:
        lines += ["**No option meets the constraints.** The reasons are listed per option below.", ""]
    lines += [f"Simulated {rec.scenario_requests:,} requests over {rec.horizon_s / 3600:.2f} h, seed {rec.seed}.", "",
              "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in option_rows(rec)]
    lines += ["", "## Configurations simulated", ""]
    for o in rec.options:
        cfg = ", ".join(f"{k}={v}" for k, v in o.get("config", {}).items())
        lines.append(f"- `{o['option']}`: {cfg or 'defaults'}")
    return "\n".join(lines) + "\n"


def render_html(rec: Recommendation) -> str:
    """A self-contained offline page with the same content as the Markdown (text escaped)."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in option_rows(rec))
    verdict = (f"Recommended: <code>{e(rec.recommended)}</code>" if rec.recommended
               else "No option meets the constraints.")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(rec.workload)}</title></head><body>"
            f"<h1>Hosting recommendation: {e(rec.workload)}</h1><p>{verdict}</p>"
            f"<table border='1'><tr>{head}</tr>{body}</table></body></html>\n")
