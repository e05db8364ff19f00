"""fitness: which way of hosting these models, at what cost, how fast.

Library entry points for scripts and notebooks: `load_workload`, `simulate`, `recommend`, `figures`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from fitness.version import __version__

if TYPE_CHECKING:
    from fitness.engine.recommend import recommend
    from fitness.engine.run import simulate
    from fitness.workload.spec import load_workload

__all__ = ["__version__", "figures", "load_workload", "recommend", "simulate"]

# The entry points resolve on first use (PEP 562), not on `import fitness`: every `fitness` command imports
# this package first, and the engine behind `recommend` pulls in pandas and the whole simulator, seconds
# that `fitness --help`, `validate` and `schema` must not pay (issue 18, start fast).
_LAZY = {"recommend": "fitness.engine.recommend", "simulate": "fitness.engine.run",
         "load_workload": "fitness.workload.spec"}


def __getattr__(name: str):
    """Import a library entry point the first time it is asked for, and keep it as a module attribute."""
    if name not in _LAZY:
        raise AttributeError(f"module 'fitness' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy entry points included (for completion in notebooks)."""
    return sorted({*globals(), *__all__})


def figures(rec):
    """A recommendation's charts as plotly Figures by id (Pareto, latency CDFs, capacity, cost breakdown)."""
    from fitness.report.plots import figures as build  # plotly loads only when charts are asked for (start-up)

    return build(rec)
