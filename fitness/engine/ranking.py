"""Constraints first, then a weighted score of the five fitness functions over the feasible options."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from fitness.engine.constraints import constrained
from fitness.engine.functions import FUNCTIONS, Context, evaluate
from fitness.engine.run import OptionRun
from fitness.version import __version__
from fitness.workload.spec import Workload
from sim.catalog import Catalog
from sim.scenario import Scenario
from sim.traffic_stats import characterise

FITNESS_KEYS = tuple(fn.NAME for fn in FUNCTIONS)


def weighted(w: dict[str, float], fit: dict) -> float:
    """Weighted mean of the fitness values that exist, weights `w` renormalised over those."""
    pairs = [(w[k], fit[k]) for k in FITNESS_KEYS if fit.get(k) is not None]
    total = sum(wk for wk, _ in pairs)
    return sum(wk * v for wk, v in pairs) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Recommendation:
    """Ranked options for a workload, and everything a report needs to explain the choice.

    - `options`: DESIGN §3 objects plus rank, score and fitness (best first, infeasible last).
    - `runs`: the raw result per option (request logs, capacity timelines) for charts.
    - `traffic`: the trace's characterisation (`sim.traffic_stats.characterise`).
    - `sensitivity`: what would change the decision, one dict per scenario tried.
    - `sizing`: per option, the configurations tried and the one chosen.
    - `assumptions`: the catalog facts behind the numbers (path, value, source, retrieved, confidence).
    - `reproduce`: command, seed, version, catalog name and date.
    - `context`: the workload as validated (models, traffic, SLO, budget, weights, options).
    - `window`: where the busiest day lies when a long scenario was right-sized and replicated on it
      (`fitness.engine.windows`), else None.
    """

    workload: str
    recommended: str | None
    options: list[dict]
    scenario_requests: int
    horizon_s: float
    seed: int
    runs: dict = field(default_factory=dict)
    traffic: dict = field(default_factory=dict)
    sensitivity: list[dict] = field(default_factory=list)
    sizing: dict = field(default_factory=dict)
    assumptions: list[dict] = field(default_factory=list)
    reproduce: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    window: dict | None = None

    def to_dict(self) -> dict:
        """The `recommend --format json` object: the DESIGN §3 keys, then traffic, sensitivity, sizing,
        assumptions and how to reproduce."""
        return {"workload": self.workload, "recommended": self.recommended, "options": self.options,
                "traffic": self.traffic, "sensitivity": self.sensitivity, "sizing": self.sizing,
                "window": self.window,
                "assumptions": self.assumptions, "reproduce": self.reproduce}

    def to_frame(self) -> pd.DataFrame:
        """One row per option with the headline numbers."""
        rows = []
        for o in self.options:
            lat, cost = o.get("latency_ms") or {}, o.get("cost_usd") or {}
            rows.append({"option": o["option"], "rank": o["rank"], "feasible": o["feasible"],
                         "score": o["score"], "p50_ms": lat.get("p50"), "p99_ms": lat.get("p99"),
                         "monthly_usd": cost.get("monthly"), "per_million_usd": cost.get("per_million"),
                         "reasons": "; ".join(o["reasons"])})
        return pd.DataFrame(rows)


def rank(wl: Workload, scenario: Scenario, runs: list[OptionRun]) -> Recommendation:
    """Apply constraints, score the feasible options and order them (best first)."""
    objs = [constrained(wl, run.summary) for run in runs]
    ok = [s for s in objs if s["feasible"]]
    traffic = characterise(scenario.arrivals_s, scenario.horizon_s)
    ctx = Context(wl, {r.result.option: r.result for r in runs})
    for s, (fit, why) in zip(ok, evaluate(ok, ctx), strict=True):
        s["fitness"], s["explanations"], s["score"] = fit, why, weighted(wl.weights.model_dump(), fit)
    ok.sort(key=lambda s: (-s["score"], s["cost_usd"]["monthly"]))
    for i, s in enumerate(ok, 1):
        s["rank"] = i
    bad = [s for s in objs if not s["feasible"]]
    for s in bad:
        s["rank"], s["score"], s["fitness"], s["explanations"] = None, None, dict.fromkeys(FITNESS_KEYS), {}
    return Recommendation(wl.name, ok[0]["option"] if ok else None, ok + bad, scenario.n,
                          scenario.horizon_s, wl.seed, runs={r.result.option: r.result for r in runs},
                          traffic=traffic,
                          assumptions=assumptions(scenario.catalog, objs),
                          reproduce=reproduce(wl, scenario.catalog), context=wl.model_dump(mode="json"))


def assumptions(catalog: Catalog, objs: list[dict]) -> list[dict]:
    """Catalog facts behind the figures: the prices of the instance types simulated and every option fact."""
    types = {v for o in objs for v in o.get("config", {}).values() if isinstance(v, str) and v in catalog.instances}
    out = []
    for path, fact in catalog.facts().items():
        if path.startswith("instances.") and path.removeprefix("instances.").rsplit(".", 1)[0] not in types:
            continue
        out.append({"path": path, "value": fact.value, "source": fact.source, "retrieved": str(fact.retrieved),
                    "confidence": fact.confidence, "note": fact.note})
    return out


def reproduce(wl: Workload, catalog: Catalog) -> dict:
    """How to get the same numbers again."""
    return {"command": f"fitness recommend {wl.source or '<workload.yaml>'}", "seed": wl.seed,
            "version": __version__, "catalog": catalog.name, "catalog_retrieved": str(catalog.retrieved)}
