"""Application patterns: how many models one request touches, as indices into the scenario's models.

`None` on a scenario means each request names one model (single or multi-tenant). Dynamic selection is
resolved when the scenario is built (each request's `model_idx` is its route), so options see it as
multi-tenant traffic; `routed` records that a router chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Pattern = Literal["serial", "scatter-gather", "aggregate", "dynamic-selection"]


@dataclass(frozen=True)
class Application:
    """A request's path: `steps` in order (serial), or `branches` in parallel then `aggregator`.

    Indices refer to `Scenario.models`. Business-logic steps are models with `kind == "logic"`.
    """

    pattern: Pattern
    steps: tuple[int, ...] = ()
    branches: tuple[int, ...] = ()
    aggregator: int | None = None

    @property
    def parallel(self) -> bool:
        """True for scatter-gather and aggregate: branches run at once, the slowest decides."""
        return self.pattern in ("scatter-gather", "aggregate")

    @property
    def routed(self) -> bool:
        """True for dynamic selection: each request runs the one model its route names."""
        return self.pattern == "dynamic-selection"

    @property
    def models_used(self) -> tuple[int, ...]:
        """Every model index the pattern runs, in first-use order."""
        seq = self.steps + self.branches + ((self.aggregator,) if self.aggregator is not None else ())
        return tuple(dict.fromkeys(seq))

    @property
    def stages(self) -> tuple[tuple[int, ...], ...]:
        """Stages in order; models within a stage run in parallel: serial -> one model per stage,
        scatter-gather -> (branches, aggregator)."""
        if self.parallel:
            return (self.branches,) + (((self.aggregator,),) if self.aggregator is not None else ())
        return tuple((s,) for s in self.steps)
