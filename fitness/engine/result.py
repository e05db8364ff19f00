"""The decision engine's results, typed and frozen: each option as ranked, and the recommendation.

`Recommendation.to_dict()` is the `recommend --format json` object (DESIGN §3): each option is its
simulate object (`sim.summary.Summary`) plus rank, score and fitness, key for key in the contract's order.
Later stages (replications, headroom) build new objects; none changes one it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from sim.results import SimResult
from sim.summary import Summary


@dataclass(frozen=True)
class Interval:
    """Mean and 95% half-width (t distribution) of a replicated value over n runs; half-width None for one."""

    mean: float | None
    half_width: float | None
    n: int


@dataclass(frozen=True)
class Intervals:
    """One option's intervals over the replications' seeds: monthly cost, p99 latency and score."""

    monthly_usd: Interval
    p99_ms: Interval
    score: Interval
    seeds: tuple[int, ...]
    scores: tuple[float, ...] = ()
    """The score under each seed, in the order of `seeds` (paired differences between options)."""

    def to_json(self) -> dict:
        """{monthly_usd, p99_ms, score: {mean, half_width, n}, seeds: [...], scores: [...]}."""
        return {"monthly_usd": asdict(self.monthly_usd), "p99_ms": asdict(self.p99_ms),
                "score": asdict(self.score), "seeds": list(self.seeds), "scores": list(self.scores)}


@dataclass(frozen=True)
class Headroom:
    """The highest traffic multiple the chosen configuration keeps the SLO at (None: it fails today's), and the
    highest multiple the search could test (None: no limit known); a headroom equal to that limit is at least
    it."""

    multiple: float | None
    tested_to: float | None = None

    @property
    def at_limit(self) -> bool:
        """Whether every multiple tested passed, so the true headroom may be higher."""
        return self.multiple is not None and self.tested_to is not None and self.multiple >= self.tested_to

    def phrase(self) -> str:
        """'up to 2.1 x', or 'up to at least 16 x' at the search's limit; '' when today's traffic already fails."""
        if self.multiple is None:
            return ""
        return f"up to {'at least ' if self.at_limit else ''}{self.multiple:.2g} x"


@dataclass(frozen=True)
class RankedOption(Summary):
    """An option's summary as ranked: rank (None when infeasible), weighted score, per-function fitness
    (0..1) and one sentence per function; with replications its intervals and the options it ties with;
    for the recommended option its headroom; with SLOs per model, the p99 objective that binds (`binding`:
    the model, None for the pooled SLO; its p99 ms; its limit ms).

    An option the fitness functions scored has its explanations; one rejected before scoring has none.
    """

    rank: int | None = None
    score: float | None = None
    fitness: Mapping[str, float | None] = field(default_factory=dict)
    explanations: Mapping[str, str] = field(default_factory=dict)
    ci: Intervals | None = None
    tie_with: tuple[str, ...] | None = None
    headroom: Headroom | None = None
    binding: tuple[str | None, float, float] | None = None

    @staticmethod
    def of(s: Summary, **ranking) -> RankedOption:
        """The summary `s` with the ranking's fields."""
        return RankedOption(**{f: getattr(s, f) for f in Summary.__dataclass_fields__}, **ranking)

    def to_json(self) -> dict:
        """The simulate object, then fitness, explanations, score, rank (rank first for an option rejected
        before scoring), then ci, tie_with and headroom where they were measured."""
        out = super().to_json()
        ranking = {"fitness": dict(self.fitness), "explanations": dict(self.explanations), "score": self.score,
                   "rank": self.rank}
        order = ("fitness", "explanations", "score", "rank") if self.explanations else \
            ("rank", "score", "fitness", "explanations")
        out.update({k: ranking[k] for k in order})
        if self.ci is not None:
            out["ci"] = self.ci.to_json()
        if self.tie_with is not None:
            out["tie_with"] = list(self.tie_with)
        if self.headroom is not None:
            out["headroom"] = self.headroom.multiple
            out["headroom_tested_to"] = self.headroom.tested_to
        if self.binding is not None:
            model, p99, limit = self.binding
            out["binding_slo"] = {"model": model, "p99_ms": p99, "limit_ms": limit}
        return out


@dataclass(frozen=True)
class Recommendation:
    """Ranked options for a workload, and everything a report needs to explain the choice.

    - `options`: each option as ranked (best first, infeasible last).
    - `runs`: the raw result per option (request logs or their digests, capacity timelines) for charts.
    - `traffic`: the trace's characterisation (`sim.traffic_stats.characterise`).
    - `sensitivity`: what would change the decision, one dict per scenario tried.
    - `sizing`: per option, the configurations tried and the one chosen.
    - `assumptions`: the catalog facts behind the numbers (path, value, source, retrieved, confidence).
    - `reproduce`: command, seed, version, catalog name and date.
    - `context`: the workload as validated (models, traffic, SLO, budget, weights, options).
    - `window`: where the busiest day lies when a long scenario was right-sized and replicated on it
      (`fitness.engine.windows`), else None.
    - `assumed`: what the engine assumed where the workload is silent (production, the horizon...).
    - `warnings`: what the reader should not take on trust (a run too short for its load to settle).
    - `root_causes`: when nothing is feasible, why, and the smallest budget or SLO change that would do
      (`fitness.engine.diagnosis`).
    - `close_call`: the leader against the runner-up (`fitness.engine.closeness`): margins, what the lead
      rests on, the paired per-seed difference, whether it is within the materiality threshold.
    - `pricing`: the bill read three ways (`fitness.engine.pricing`): per option on demand, its meters, its
      operations hours and, when asked, committed and total-cost figures; and the what-ifs.
    """

    workload: str
    recommended: str | None
    options: tuple[RankedOption, ...]
    scenario_requests: int
    horizon_s: float
    seed: int
    runs: Mapping[str, SimResult] = field(default_factory=dict)
    traffic: dict = field(default_factory=dict)
    sensitivity: list[dict] = field(default_factory=list)
    sizing: dict = field(default_factory=dict)
    assumptions: list[dict] = field(default_factory=list)
    reproduce: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    window: dict | None = None
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pricing: dict = field(default_factory=dict)
    close_call: dict | None = None
    root_causes: list[str] = field(default_factory=list)

    def option(self, option_id: str | None) -> RankedOption | None:
        """The ranked option `option_id` (None when absent)."""
        return next((o for o in self.options if o.option == option_id), None)

    @property
    def ranked(self) -> list[RankedOption]:
        """The feasible options in rank order (best first)."""
        return sorted((o for o in self.options if o.feasible and o.rank), key=lambda o: o.rank)

    @property
    def best(self) -> RankedOption | None:
        """The recommended option (None when nothing is feasible)."""
        return self.option(self.recommended)

    def to_dict(self) -> dict:
        """The `recommend --format json` object: the DESIGN §3 keys, then traffic, sensitivity, sizing,
        assumptions and how to reproduce."""
        return {"workload": self.workload, "recommended": self.recommended,
                "options": [o.to_json() for o in self.options], "traffic": self.traffic,
                "sensitivity": self.sensitivity, "sizing": self.sizing, "window": self.window,
                "assumed": self.assumed, "warnings": self.warnings, "root_causes": self.root_causes,
                "close_call": self.close_call,
                "pricing": self.pricing, "assumptions": self.assumptions,
                "reproduce": self.reproduce}

    def to_frame(self) -> pd.DataFrame:
        """One row per option with the headline numbers."""
        import pandas as pd  # lazy: a recommendation is made and reported without pandas (start-up time)

        rows = []
        for o in self.options:
            lat, cost = o.latency_ms, o.cost_usd
            rows.append({"option": o.option, "rank": o.rank, "feasible": o.feasible, "score": o.score,
                         "p50_ms": lat.p50 if lat else None, "p99_ms": lat.p99 if lat else None,
                         "monthly_usd": cost.monthly if cost else None,
                         "per_million_usd": cost.per_million if cost else None, "reasons": "; ".join(o.reasons)})
        return pd.DataFrame(rows)
