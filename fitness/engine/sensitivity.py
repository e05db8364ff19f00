"""Sensitivity: what would change the decision (DESIGN §2).

- Weights: the ranking with each fitness function alone and with equal weights (no new simulation:
  the fitness values are already known).
- Traffic x0.5, x2, x10: every option right-sized again at that traffic (a fleet grows with its load, as
  headroom says today's stops keeping the SLO) and ranked; when the winner changes, the multiple where it
  changes is found by bisection on a log scale, re-sizing the two options at each step.
- Platform assumptions (instance launch time, serverless keep-alive, model download rate) halved and doubled:
  the recommended option and the runner-up simulated again in today's configurations with that catalog fact
  changed, and ranked between themselves. A fact neither of them reads (`OptionDef.ignores`, e.g. the
  keep-alive for two instance fleets) is not simulated: the statement says so.
Sensitivity runs are capped at `MAX_REQUESTS` requests by shortening the horizon where the requests are
(`cut_s`: counted on a replayed trace, a share of the horizon for a pattern): monthly figures are
projections, so a shorter window of stationary traffic gives the same month (a diurnal pattern or a trace
loses part of its day; the report says so). Results judged by an offline deadline are never cut: a run
of part of the records would size the job for part of its work and project its bill from part of its
cycle. Their runs hold the whole horizon up to `MAX_OFFLINE_REQUESTS`; beyond it the multiple is not
simulated and the report says so, with today's headroom.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from fitness.engine.headroom import MAX_OFFLINE_REQUESTS
from fitness.engine.ranking import FITNESS_KEYS, weighted
from fitness.engine.result import RankedOption, Recommendation
from fitness.text import deployable, span_text
from fitness.workload.scenario import trace_time_of
from fitness.workload.spec import Workload
from sim.options import option_def
from sim.traffic import TraceTraffic

TRAFFIC_MULTIPLES = (0.5, 2.0, 10.0)
MAX_REQUESTS = 300_000
BISECTION_STEPS = 3


def at_traffic(wl: Workload, multiple: float, requests_today: int, horizon_s: float) -> Workload | None:
    """The workload at `multiple` x its traffic, one replication, over a horizon holding at most `MAX_REQUESTS`
    requests (`cut_s`); None when results judged by an offline deadline would need a run of more than
    `MAX_OFFLINE_REQUESTS` (such a run is never cut)."""
    expected = max(1.0, requests_today * multiple)
    horizon = horizon_s
    if wl.slo.delivery == "offline":
        if expected > MAX_OFFLINE_REQUESTS:
            return None
    elif expected > MAX_REQUESTS:
        horizon = cut_s(wl, MAX_REQUESTS / multiple, requests_today, horizon_s)
    traffic = wl.traffic.model_copy(update={"rate_multiplier": wl.traffic.rate_multiplier * multiple})
    return wl.model_copy(update={"traffic": traffic, "horizon": horizon, "replications": 1})


def cut_s(wl: Workload, requests: float, requests_today: int, horizon_s: float) -> float:
    """The horizon (seconds) by which today's traffic has offered about `requests` requests: counted on the
    trace for a replayed trace (`trace_time_of`), the same share of the horizon for a pattern (whose requests
    are spread over it)."""
    if isinstance(wl.traffic, TraceTraffic):
        return min(max(trace_time_of(wl, requests), math.ulp(horizon_s)), horizon_s)
    return horizon_s * min(1.0, requests / max(requests_today, 1))


def _winner(options: tuple[RankedOption, ...], weights: dict[str, float]) -> str | None:
    """The feasible option with the best weighted fitness under `weights` (None if none is feasible)."""
    ok = [o for o in options if o.feasible]
    return max(ok, key=lambda o: weighted(weights, o.fitness)).option if ok else None


def weight_sensitivity(rec: Recommendation) -> list[dict]:
    """The winner with each fitness function alone and with equal weights; nothing when no option is feasible
    (weights rank feasible options only)."""
    if rec.recommended is None:
        return []
    out = []
    sets = {f"only {k}": {j: float(j == k) for j in FITNESS_KEYS} for k in FITNESS_KEYS}
    sets["equal weights"] = dict.fromkeys(FITNESS_KEYS, 1.0)
    for label, weights in sets.items():
        win = _winner(rec.options, weights)
        same = win == rec.recommended
        statement = (f"With {label}, {rec.recommended} is still recommended." if same else
                     f"With {label}, {win} would be recommended instead of {rec.recommended}.")
        out.append({"kind": "weights", "change": label, "recommended": win, "changes_decision": not same,
                    "statement": statement})
    return out


Evaluate = Callable[..., Recommendation | None]
"""evaluate(traffic multiple, only=(option ids...)) -> the recommendation at that traffic among those
options (all when empty), one replication, capped; None when that multiple cannot be simulated
(`at_traffic`)."""


def _why(at: Recommendation, old: str, new: str) -> str:
    """Why `new` beats `old` at that traffic: `old` breaks a constraint, or `new` is cheaper or better."""
    was, now = at.option(old), at.option(new)
    if was is not None and not was.feasible:
        return f"{old} stops meeting its constraints ({'; '.join(was.reasons)[:160]})"
    a, b = was and was.cost_usd, now and now.cost_usd
    if a and b and b.monthly < a.monthly:
        return f"{new} becomes cheaper than {old} ({b.monthly:,.2f} vs {a.monthly:,.2f} USD/month)"
    return f"{new} scores higher on the weighted fitness functions"


def crossover(evaluate: Evaluate, lo: float, hi: float, old: str, new: str) -> float:
    """The traffic multiple between lo and hi where `new` takes over from `old` (bisection, log scale;
    only the two options are simulated)."""
    for _ in range(BISECTION_STEPS):
        mid = math.sqrt(lo * hi)
        if evaluate(mid, only=tuple(sorted((old, new)))).recommended == old:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def crossing(evaluate: Evaluate, m: float, today: str, win: str) -> float:
    """`crossover` between today's traffic and multiple `m`, where `win` replaces today's `today`."""
    return crossover(evaluate, *((1.0, m) if m > 1 else (m, 1.0)), *((today, win) if m > 1 else (win, today)))


def traffic_sensitivity(rec: Recommendation, evaluate: Evaluate, known: dict | None = None) -> list[dict]:
    """The decision at each traffic multiple, with the crossover multiple when it changes. `known`:
    {(multiple, today's winner, its winner): crossover} found already (`fitness.engine.ahead`)."""
    out, known = [], known or {}
    for m in TRAFFIC_MULTIPLES:
        at = evaluate(m)
        if at is None:
            out.append(_not_simulated(rec, m))
            continue
        win = at.recommended
        entry = {"kind": "traffic", "change": f"traffic x{m:g}", "multiple": m, "recommended": win,
                 "changes_decision": win != rec.recommended, "simulated": True, "configuration": _deploy(at, win),
                 "horizon_s": at.horizon_s,
                 "options": {o.option: {"monthly_usd": o.cost_usd.monthly, "configuration": _deploy(at, o.option)}
                             for o in at.options if o.feasible}}
        if win == rec.recommended:
            entry["statement"] = (f"At {m:g} x today's traffic, {win} is still recommended"
                                  f"{_resized(rec, at, win, m)}.")
        elif win is None:
            entry["statement"] = f"At {m:g} x today's traffic, no option meets the constraints."
        elif rec.recommended is None:
            entry["statement"] = f"At {m:g} x today's traffic, {win} would meet the constraints."
        else:
            x = known.get((m, rec.recommended, win))
            x = crossing(evaluate, m, rec.recommended, win) if x is None else x
            side = "above" if m > 1 else "below"
            entry["crossover_multiple"] = x
            entry["statement"] = (f"{side.capitalize()} about {x:.2g} x today's traffic, {win} becomes the "
                                  f"better choice: {_why(at, rec.recommended, win)}; at {m:g} x"
                                  f"{_resized(rec, at, win, m)}.")
        out.append(entry)
    return out


def _not_simulated(rec: Recommendation, m: float) -> dict:
    """The entry of a multiple whose run would be too long to simulate and cannot be cut (offline results),
    with what today's headroom says instead."""
    text = (f"At {m:g} x today's traffic: not simulated. A run would hold about {rec.scenario_requests * m:,.0f} "
            f"requests, more than the {MAX_OFFLINE_REQUESTS:,} a sensitivity run of results judged by a deadline "
            "may hold, and such a run is not shortened (part of the records would size the job for part of "
            "its work)")
    best = rec.best
    if best is not None and best.headroom is not None and best.headroom.phrase():
        text += (f". Today's {_deploy(rec, best.option) or best.option} meets the SLO {best.headroom.phrase()} "
                 "(headroom)")
    return {"kind": "traffic", "change": f"traffic x{m:g}", "multiple": m, "recommended": None,
            "changes_decision": False, "simulated": False, "statement": text + "."}


def _deploy(at: Recommendation, option: str | None) -> str:
    """The configuration `option` was right-sized to at that traffic ('' if none)."""
    return deployable((at.sizing.get(option) or {}).get("chosen")) if option else ""


def _resized(rec: Recommendation, at: Recommendation, option: str, m: float) -> str:
    """', re-sized to <configuration>', what today's configuration's headroom says of it, and the window
    simulated when the run was shortened."""
    text = f", re-sized to {_deploy(at, option)}" if _deploy(at, option) else ""
    best = rec.best
    if best is not None and best.option == option and best.headroom is not None and m > 1:
        h = best.headroom.multiple
        today = _deploy(rec, option) or "today's configuration"
        if h is not None and h < m and not best.headroom.at_limit:
            text += f" (today's {today} keeps the SLO only up to {h:.2g} x)"
    if at.horizon_s < rec.horizon_s * 0.999:
        text += (f"; simulated over {span_text(at.horizon_s)} of the {span_text(rec.horizon_s)} horizon "
                 f"(at most {MAX_REQUESTS:,} requests a run)")
    return text


ASSUMPTIONS = (("realtime", "instance_launch_s", "the instance launch time", "s"),
               ("serverless", "keep_alive_s", "the serverless keep-alive", "s"),
               ("network", "model_download_mb_per_s", "the model download rate", "MB/s"))
"""Catalog facts the decision rests on that no one has measured for SageMaker (all assumptions in the catalog):
(section, fact, words, unit)."""
ASSUMPTION_FACTORS = (0.5, 2.0)


def with_fact(catalog, section: str, name: str, factor: float):
    """The catalog with one fact's value multiplied by `factor` (its source kept: a what-if, not a fact)."""
    sec = getattr(catalog, section)
    fact = getattr(sec, name)
    changed = sec.model_copy(update={name: fact.model_copy(update={"value": fact.value * factor})})
    return catalog.model_copy(update={section: changed})


def _unread(section: str, name: str, options) -> bool:
    """Whether no option of `options` reads the catalog fact (`OptionDef.ignores`)."""
    return all(f"{section}.{name}" in option_def(o).ignores for o in options)


def assumption_catalogs(top: tuple[str, ...], catalog) -> list[tuple]:
    """(catalog with one fact changed, option) of every run `assumption_sensitivity` makes for the leaders
    `top`: each fact one of them reads, halved and doubled, for each of them; none for fewer than two."""
    if len(top) < 2:
        return []
    return [(with_fact(catalog, section, name, factor), oid) for section, name, _, _ in ASSUMPTIONS
            if not _unread(section, name, top) for factor in ASSUMPTION_FACTORS for oid in top]


def assumption_sensitivity(rec: Recommendation, catalog, evaluate_with: Callable) -> list[dict]:
    """Per assumption and factor, the winner between the recommended option and the runner-up when that
    fact is halved or doubled (`evaluate_with(catalog)` ranks the two in today's configurations). A fact
    neither option reads (`OptionDef.ignores`) cannot change their runs: it is not simulated, and says so."""
    ranked = rec.ranked
    if len(ranked) < 2:
        return []
    out = []
    for section, name, words, unit in ASSUMPTIONS:
        base = getattr(getattr(catalog, section), name).value
        unread = _unread(section, name, [o.option for o in ranked[:2]])
        for factor in ASSUMPTION_FACTORS:
            win = rec.recommended if unread else evaluate_with(with_fact(catalog, section, name, factor)).recommended
            what = f"With {words} at {base * factor:g} {unit} (x{factor:g} the catalog's {base:g})"
            if win == rec.recommended:
                said = f"{what}, {rec.recommended} is still recommended over {ranked[1].option}" + (
                    ": neither reads it (not simulated)." if unread else ".")
            else:
                said = f"{what}, {win or 'no option'} would be recommended instead of {rec.recommended}."
            out.append({"kind": "assumption", "change": f"{section}.{name} x{factor:g}", "recommended": win,
                        "changes_decision": win != rec.recommended, "simulated": not unread, "statement": said})
    return out
