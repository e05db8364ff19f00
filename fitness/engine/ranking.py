"""Constraints first, then a weighted score of the five fitness functions over the feasible options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from fitness.engine.constraints import binding, constrained
from fitness.engine.functions import FUNCTIONS, Context, evaluate
from fitness.engine.result import RankedOption, Recommendation
from fitness.engine.run import OptionRun
from fitness.escape import shell_arg
from fitness.version import __version__
from fitness.workload.scenario import assumed
from fitness.workload.spec import Workload
from sim.catalog import Catalog
from sim.scenario import Scenario
from sim.summary import Summary
from sim.traffic_stats import characterise

FITNESS_KEYS = tuple(fn.NAME for fn in FUNCTIONS)


def weighted(w: dict[str, float], fit: Mapping[str, float | None]) -> float:
    """Weighted mean of the fitness values that exist, weights `w` renormalised over those."""
    pairs = [(w[k], fit[k]) for k in FITNESS_KEYS if fit.get(k) is not None]
    total = sum(wk for wk, _ in pairs)
    return sum(wk * v for wk, v in pairs) / total if total > 0 else 0.0


def rank(wl: Workload, scenario: Scenario, runs: list[OptionRun]) -> Recommendation:
    """Apply constraints, score the feasible options and order them (best first)."""
    objs = [constrained(wl, run.summary) for run in runs]
    ok = [s for s in objs if s.feasible]
    traffic = characterise(scenario.arrivals_s, scenario.horizon_s)
    ctx = Context(wl, {r.result.option: r.result for r in runs})
    weights = wl.weights.model_dump()
    scored = [RankedOption.of(s, fitness=fit, explanations=why, score=weighted(weights, fit), binding=binding(wl, s))
              for s, (fit, why) in zip(ok, evaluate(ok, ctx), strict=True)]
    scored.sort(key=lambda s: (-s.score, s.cost_usd.monthly))
    ranked = [replace(s, rank=i) for i, s in enumerate(scored, 1)]
    bad = [RankedOption.of(s, fitness=dict.fromkeys(FITNESS_KEYS)) for s in objs if not s.feasible]
    return Recommendation(wl.name, ranked[0].option if ranked else None, tuple(ranked + bad), scenario.n,
                          scenario.horizon_s, wl.seed, runs={r.result.option: r.result for r in runs},
                          traffic=traffic, assumptions=assumptions(scenario.catalog, objs),
                          reproduce=reproduce(wl, scenario.catalog), context=wl.model_dump(mode="json"),
                          assumed=assumed(wl))


def assumptions(catalog: Catalog, objs: list[Summary]) -> list[dict]:
    """Catalog facts behind the figures: the facts of the instance types simulated (price, CPU credits) and
    every option fact."""
    types = {v for o in objs for v in o.config.values() if isinstance(v, str) and v in catalog.instances}
    out = []
    for path, fact in catalog.facts().items():
        # instances.<type>.<fact> or instances.<type>.<group>.<fact>: type names hold dots, so match prefixes
        if path.startswith("instances.") and not any(path.startswith(f"instances.{t}.") for t in types):
            continue
        out.append({"path": path, "value": fact.value, "source": fact.source, "retrieved": str(fact.retrieved),
                    "confidence": fact.confidence, "note": fact.note})
    return out


def reproduce(wl: Workload, catalog: Catalog) -> dict:
    """How to get the same numbers again."""
    return {"command": f"fitness recommend {shell_arg(wl.source) if wl.source else '<workload.yaml>'}", "seed": wl.seed,
            "version": __version__, "catalog": catalog.name, "catalog_retrieved": str(catalog.retrieved)}
