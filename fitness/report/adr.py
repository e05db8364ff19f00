"""Rendering results: JSON (the contract), and the recommendation as an architecture decision record (ADR).

The ADR is declared once as `SECTIONS` (title + builder returning blocks: text, bullets, tables, charts) and
rendered to Markdown or to one self-contained offline HTML page (plotly.js inlined once, charts declared in
`fitness.report.plots`). Rendering only: every number comes from the Recommendation. User text reaching HTML is
escaped. Fields the ranking may not provide yet (`context`, per-option `explanations`, `ci`, `tie_with`,
`sensitivity`, `sizing`) are rendered when present and skipped, or noted as missing, when absent.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from fitness.engine.ranking import FITNESS_KEYS
from fitness.engine.result import Interval, RankedOption, Recommendation
from fitness.engine.run import DELIVERY_WORDS
from fitness.report.blocks import Block, Bullets, Charts, Section, Table, Text, markdown, page
from fitness.report.costs import cost_section
from fitness.report.risks import risks_section
from fitness.report.why import OUTCOME as _OUTCOME
from fitness.report.why import binding_text as _binding
from fitness.report.why import drill_text as _drill
from fitness.report.why import num as _num
from fitness.report.why import val as _val
from fitness.report.why import why_this as _why_this
from fitness.text import duration_text, span_text
from sim.cost import HOURS_PER_MONTH


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


def _errors(o: RankedOption) -> float:
    return o.requests.error_rate


def option_rows(rec: Recommendation) -> list[list[str]]:
    """Table rows (rank, option, p50, p99, monthly, per million, errors, cold starts, instances, notes)."""
    rows = []
    for o in rec.options:
        if not o.measured:
            rows.append(["-", o.option, "", "", "", "", "", "", "", "infeasible: " + "; ".join(o.reasons)])
            continue
        lat, c = o.latency_ms, o.cost_usd
        note = "" if o.feasible else "rejected: " + "; ".join(o.reasons)
        rows.append([str(o.rank or "-"), o.option, duration_text(lat.p50), duration_text(lat.p99),
                     _num(c.monthly), _num(c.per_million), f"{_errors(o):.3%}",
                     f"{o.cold_starts.fraction:.3%}", _num(o.instances.mean, ".2f"), note])
    return rows


HEADERS = ["rank", "option", "p50", "p99", "USD/month", "USD/1M", "errors", "cold", "instances", "notes"]


def _cfg(o: RankedOption) -> str:
    return ", ".join(f"{k}={_val(v)}" for k, v in o.config.to_json().items()) or "defaults"


def _context(rec: Recommendation) -> list[Block]:
    """Workload, traffic characterisation, and (when the ranking provides `context`) models, SLO, budget."""
    out: list[Block] = [Text("p", f"Workload **{rec.workload}**: {rec.scenario_requests:,} requests simulated "
                                  f"over {span_text(rec.horizon_s)}, seed {rec.seed}.")]
    if rec.traffic:
        out.append(Text("p", _traffic_text(rec.traffic)))
    ctx = getattr(rec, "context", None) or {}
    if not ctx:
        return out + [Text("note", "The workload's models, SLO, budget and delivery mode are not included in this "
                                   "recommendation.")]
    keys = ("name", "kind", "accelerator", "memory_mb", "size_mb", "service_time", "container_start_s", "load_s",
            "container")
    if ctx.get("models"):
        # a container start that varies is shown as its distribution (ms) in the start column
        shown = [{**m, "container_start_s": m["container_start"]} if m.get("container_start") else m
                 for m in ctx["models"]]
        rows = [[*(_val(m.get(k) if m.get(k) is not None else "") for k in keys), _val((m.get("slo") or {}).get(
            "p99_ms") or "")] for m in shown]
        out.append(Table(["model", "kind", "accelerator", "memory MB", "artifact MB", "service time", "start s",
                          "load s", "container", "own p99 SLO ms"], rows))
    if ctx.get("application"):
        out.append(Text("p", f"Application pattern: {_val(ctx['application'])}."))
    out.append(Bullets(_constraints(ctx)))
    if rec.assumed:
        out += [Text("p", "Assumed where the workload is silent:"), Bullets(rec.assumed)]
    return out


def _traffic_text(t: dict) -> str:
    """The traffic characterisation, each number with what it means."""
    per = t.get("daily_periodicity")
    return (f"Traffic: mean {_num(t.get('mean_rps'))} req/s; peak {_num(t.get('peak_rps'))} req/s (p99 of the "
            f"per-minute rates), {_num(t.get('peak_to_mean'))} x the mean (1 is flat). Inter-arrival CV "
            f"{_num(t.get('interarrival_cv'))} (1 for random, Poisson arrivals; above 1 bursty, below 1 regular). "
            f"Gaps longer than {_num(t.get('idle_gap_s'), 'g')} s cover {_num(t.get('idle_gap_fraction'), '.1%')} "
            "of the horizon. Daily periodicity " + ("n/a (under two days of traffic)." if per is None else
                                                     f"{per:.2f} (near 1: the same daily shape repeats)."))


def _constraints(ctx: dict) -> list[str]:
    """SLO, error budget, delivery, money budget and weights from the workload context."""
    slo, out = ctx.get("slo") or {}, []
    lat = [f"{k.removesuffix('_ms')} <= {_num(slo[k], 'g')} ms" for k in ("p99_ms", "p95_ms") if slo.get(k)]
    if lat:
        out.append("Latency SLO: " + ", ".join(lat) + ".")
    if slo.get("max_error_rate") is not None:
        out.append(f"Error rate at most {slo['max_error_rate']:.2%}.")
    if slo.get("delivery"):
        out.append(f"Delivery: {slo['delivery']} ({DELIVERY_WORDS.get(slo['delivery'], '')})"
                   + (f", deadline {_num(slo['deadline_h'], 'g')} h." if slo.get("deadline_h") else "."))
    if ctx.get("environment"):
        out.append(f"Environment: {ctx['environment']}" + (" (at least 2 instances per endpoint, the SLO kept through "
                                                            "one instance failure)." if ctx["environment"] ==
                                                           "production" else " (no production guardrails)."))
    budget = (ctx.get("budget") or {}).get("monthly_usd")
    out.append(f"Budget: {_num(budget)} USD/month." if budget is not None else "Budget: none set.")
    if ctx.get("weights"):
        out.append("Weights: " + ", ".join(f"{k} {_val(v)}" for k, v in ctx["weights"].items()) + ".")
    return out


def _options(rec: Recommendation) -> list[Block]:
    """Every option considered, its outcome, configuration and (for rejected ones) why."""
    rows, marks = [], []
    for o in rec.options:
        if o.option == rec.recommended:
            outcome, mark = "recommended", "best"
        elif o.feasible:
            outcome, mark = f"feasible, rank {o.rank}", ""
        else:
            outcome, mark = "rejected: breaks a constraint" if o.measured else "cannot serve this workload", "bad"
        rows.append([o.option, outcome, _cfg(o), "; ".join(o.reasons) or "-"])
        marks.append(mark)
    n_ok = sum(o.feasible for o in rec.options)
    return [Text("p", f"{len(rec.options)} options considered, {n_ok} feasible."),
            Table(["option", "outcome", "configuration", "reasons"], rows, marks)]


def _score(x: float | None) -> str:
    return _num(x, ".3f")


def _fitness(rec: Recommendation) -> list[Block]:
    """Scores (0..1, 1 best) and the headline raw numbers of every simulated option."""
    rows, marks = [], []
    for o in (o for o in rec.options if o.measured):
        f, r, inst = o.fitness, o.requests, o.instances
        rows.append([o.option, str(o.rank or "-"), _score(o.score), *(_score(f.get(k)) for k in FITNESS_KEYS),
                     _num(o.cost_usd.monthly), duration_text(o.latency_ms.p99),
                     f"{r.goodput:.3%}" if r.offered else "n/a", f"{_errors(o):.3%}",
                     f"{o.cold_starts.fraction:.3%}", f"{_num(inst.mean)} / {_num(inst.max, 'g')}"])
        marks.append("best" if o.option == rec.recommended else "" if o.feasible else "bad")
    if not rows:
        return [Text("note", "No option could be simulated for this workload.")]
    heads = ["option", "rank", "score", *(k.replace("_", " ") for k in FITNESS_KEYS), "USD/month", "p99",
             "goodput", "errors", "cold starts", "instances mean / max"]
    out: list[Block] = [Text("p", "Scores are 0..1 (1 is best among the feasible options; n/a: not computed); "
                                  f"USD/month is projected to {HOURS_PER_MONTH:g} h."), Table(heads, rows, marks)]
    return out + _ci(rec)


def _sig(x: float, digits: int) -> str:
    """x to `digits` significant digits, never in exponent notation."""
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


def _interval(v: Interval) -> str:
    """An interval as text: mean ± 95% half-width over n runs, "(one run)" without a half-width, "(the same
    in every run)" when the runs did not vary (a deterministic trace replay)."""
    if v.mean is None:
        return "n/a"
    if v.half_width is None:
        return _sig(v.mean, 4) + " (one run)"
    return _sig(v.mean, 4) + (f" ± {_sig(v.half_width, 2)}" if v.half_width > 0 else " (the same in every run)")


_CI_HEADS = ("monthly usd", "p99 ms", "score", "seeds")


def _ci(rec: Recommendation) -> list[Block]:
    """Confidence intervals per option and metric, when the ranking replicated (`ci`)."""
    rows = [[o.option, _interval(o.ci.monthly_usd), _interval(o.ci.p99_ms), _interval(o.ci.score),
             ", ".join(map(str, o.ci.seeds))] for o in rec.options if o.ci is not None]
    note = Text("p", "Mean ± half-width of the 95% confidence interval over the replications (seeds listed).")
    return [Text("h3", "Confidence intervals"), note, Table(["option", *_CI_HEADS], rows)] if rows else []


def _decision(rec: Recommendation) -> list[Block]:
    """The recommended option, its headline numbers and configuration, ties and the runner-up."""
    best = rec.best
    if best is None:
        return [Text("p", "**No option meets the constraints.** The reasons are listed per option above."),
                *([Text("p", "Root causes:"), Bullets(rec.root_causes)] if rec.root_causes else [])]
    c, r = best.cost_usd, best.requests
    n_ok = sum(o.feasible for o in rec.options)
    out: list[Block] = [Text("p", f"**Recommended: `{best.option}`** (rank 1 of {n_ok} feasible, score "
                                  f"{_score(best.score)}): {_num(c.monthly)} USD/month "
                                  f"({_num(c.per_million)} USD per million served), p99 "
                                  f"{duration_text(best.latency_ms.p99)}, {r.served:,} of "
                                  f"{r.offered:,} requests served."),
                        Text("p", f"Configuration: `{_cfg(best)}`.")]
    out += [Text("p", "**Warning:** " + w) for w in rec.warnings] + _binding(best) + _drill(rec) + _why_this(rec)
    if best.tie_with:
        out.append(Text("p", "Tied with " + ", ".join(f"`{t}`" for t in best.tie_with)
                        + " (the ranking cannot separate them within its confidence intervals)."))
    second = next((o for o in rec.options if o.feasible and o.rank == 2), None)
    if second is not None:
        out.append(Text("p", f"Runner-up: `{second.option}` (score {_score(second.score)}, "
                             f"{_num(second.cost_usd.monthly)} USD/month, p99 "
                             f"{duration_text(second.latency_ms.p99)})."))
    if rec.close_call:
        lead = "**Close call.** " if rec.close_call["close"] else ""
        out.append(Text("p", lead + rec.close_call["statement"]))
    return out


def _rationale(rec: Recommendation) -> list[Block]:
    """One sentence per fitness function: the ranking's explanation, else one built from the numbers."""
    best = rec.best
    if best is None:
        return []
    ok = [o for o in rec.options if o.feasible]
    cheap = min(ok, key=lambda o: o.cost_usd.monthly)
    fast = min(ok, key=lambda o: o.latency_ms.p99)
    r, lat, c = best.requests, best.latency_ms, best.cost_usd
    util = best.utilization
    built = {
        "cost": f"{_num(c.monthly)} USD/month; the cheapest feasible option is `{cheap.option}` at "
                f"{_num(cheap.cost_usd.monthly)} USD/month.",
        "latency": f"p50 {duration_text(lat.p50)}, p95 {duration_text(lat.p95)}, p99 "
                   f"{duration_text(lat.p99)}; the lowest feasible p99 is {duration_text(fast.latency_ms.p99)}"
                   f" (`{fast.option}`).",
        "throughput": f"{r.served:,} of {r.offered:,} offered requests served; {r.throttled:,} throttled, "
                      f"{r.failed:,} failed.",
        "complexity": "not scored in this recommendation.",
        "traffic_fit": f"{best.cold_starts.fraction:.3%} of served requests met a cold start"
                       + (f"; {util:.1%} of the paid capacity did work." if util is not None else "."),
    }
    return [Bullets([f"**{k.replace('_', ' ')}** (score {_score(best.fitness.get(k))}): "
                     + (best.explanations.get(k) or built[k]) for k in FITNESS_KEYS])]


def _sensitivity(rec: Recommendation) -> list[Block]:
    """What would change the decision: the ranking's statements."""
    items = [("**Changes the decision:** " if s.get("changes_decision") else "") + str(s["statement"])
             for s in rec.sensitivity if s.get("statement")]
    return [Bullets(items)] if items else [Text("note", "No sensitivity analysis in this recommendation.")]


def _sizing(rec: Recommendation) -> list[Block]:
    """Per option, the configurations tried while right-sizing it and the one chosen."""
    out: list[Block] = []
    for option, s in rec.sizing.items():
        tried, chosen = s.get("tried") or [], s.get("chosen") or {}
        keys = list(dict.fromkeys(k for t in tried for k in t if k not in _OUTCOME))
        rows = [[*(_val(t.get(k, "")) for k in keys), "yes" if t.get("feasible") else "no",
                 _num(t.get("monthly_usd")), duration_text(t.get("p99_ms")), "; ".join(t.get("reasons") or [])]
                for t in tried]
        marks = ["best" if chosen and all(t.get(k) == v for k, v in chosen.items()) else
                 "" if t.get("feasible") else "bad" for t in tried]
        said = (f"Chosen: `{', '.join(f'{k}={_val(v)}' for k, v in chosen.items())}`." if chosen else
                "No configuration tried met the constraints.")
        pinned = " The workload pins this option's configuration: simulated once as given." if s.get("pinned") else ""
        out += [Text("h3", option), Text("p", said + pinned + _screened_text(tried) + _reserved_text(rec, option))]
        if rows:
            out.append(Table([*keys, "feasible", "USD/month", "p99", "reasons"], rows, marks))
    return out


def _reserved_text(rec: Recommendation, option: str) -> str:
    """' Its copies reserved X of the capacity paid ...' for a run of copies on shared instances (details
    `reserved_share`, `<model>.copies_peak`), so the idle capacity paid for shows beside the chosen size."""
    res = rec.runs.get(option)
    details = res.figures.details if res is not None else {}
    if "reserved_share" not in details:
        return ""
    peaks = [f"{k.removesuffix('.copies_peak')} {v:g}" for k, v in details.items() if k.endswith(".copies_peak")]
    shown = ", ".join(peaks[:8]) + (f" and {len(peaks) - 8} more" if len(peaks) > 8 else "")
    return (f" Its copies reserved {details['reserved_share']:.0%} of the capacity paid for (by the instances' "
            f"scarcest resource), so {details['idle_reserved_share']:.0%} was paid and reserved by no copy; busy "
            f"{res.figures.utilization:.0%} of the paid cores. Most copies at once: {shown}.")


def _screened_text(tried: list[dict]) -> str:
    """' N candidates simulated, M screened without a run (...)' for a search that screened any."""
    screened = sum(bool(t.get("screened")) for t in tried)
    if not screened:
        return ""
    ran = len(tried) - screened
    return (f" {ran} candidate{'s' if ran != 1 else ''} simulated, {screened} screened without a run (a closed form, "
            "a catalog fact or a cheaper twin rules each out: see its reason).")


def _assumptions(rec: Recommendation) -> list[Block]:
    """The catalog and every fact used, low-confidence ones and assumptions first and highlighted."""
    rp, facts = rec.reproduce, sorted(rec.assumptions, key=lambda a: a.get("confidence") not in _WEAK)
    weak = sum(a.get("confidence") in _WEAK for a in facts)
    out: list[Block] = [Text("p", f"Catalog **{rp.get('catalog', 'n/a')}** retrieved "
                                  f"{rp.get('catalog_retrieved', 'n/a')}: {len(facts)} facts behind these numbers, "
                                  f"{weak} of them low-confidence or assumptions (highlighted).")]
    rows = [[str(a.get(k, "")) if k != "value" else _val(a.get(k)) for k in
             ("path", "value", "confidence", "source", "retrieved", "note")] for a in facts]
    return out + ([Table(["fact", "value", "confidence", "source", "retrieved", "note"], rows,
                         ["warn" if a.get("confidence") in _WEAK else "" for a in facts])] if rows else [])


_WEAK = ("low", "assumption")


def _reproduce(rec: Recommendation) -> list[Block]:
    """Command, seed, version and catalog to get the same numbers again."""
    rp = rec.reproduce
    if not rp:
        return [Text("p", f"Seed {rec.seed}.")]
    return [Text("code", str(rp.get("command", ""))),
            Bullets([f"seed {rp.get('seed', rec.seed)}", f"fitness version {rp.get('version', 'n/a')}",
                     f"catalog {rp.get('catalog', 'n/a')} retrieved {rp.get('catalog_retrieved', 'n/a')}"])]


SECTIONS: list[Section] = [
    Section("Context", _context), Section("Options considered", _options), Section("Fitness", _fitness),
    Section("Cost", cost_section),
    Section("Decision", _decision), Section("Risks", risks_section),
    Section("Rationale", _rationale), Section("Charts", lambda rec: [Charts()]),
    Section("Sensitivity", _sensitivity), Section("Right-sizing", _sizing), Section("Assumptions", _assumptions),
    Section("How to reproduce", _reproduce),
]
"""The ADR, in order."""


def _status(rec: Recommendation) -> str:
    rp = rec.reproduce
    made = (f" Generated by fitness {rp.get('version')} with catalog {rp.get('catalog')} "
            f"(retrieved {rp.get('catalog_retrieved')}).") if rp else ""
    verdict = f"recommends `{rec.recommended}`" if rec.recommended else "no option meets the constraints"
    return f"**Status:** proposed; {verdict}.{made}"


def document(rec: Recommendation) -> list[tuple[str, list[Block]]]:
    """The ADR's non-empty sections as (title, blocks)."""
    return [(s.title, blocks) for s in SECTIONS if (blocks := s.build(rec))]


def render_markdown(rec: Recommendation) -> str:
    """The recommendation as a Markdown ADR: context, options, fitness, decision, rationale, ... reproduction."""
    return markdown(rec, _status(rec), document(rec))


def render_html(rec: Recommendation) -> str:
    """The same ADR as one self-contained offline HTML page (plotly.js inlined once, charts declared)."""
    return page(rec, _status(rec), document(rec))
