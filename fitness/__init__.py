"""fitness: which way of hosting these models, at what cost, how fast.

Library entry points for scripts and notebooks: `load_workload`, `simulate`, `recommend`, `figures`.
"""

from fitness.engine.recommend import recommend
from fitness.engine.run import simulate
from fitness.version import __version__
from fitness.workload.spec import load_workload

__all__ = ["__version__", "figures", "load_workload", "recommend", "simulate"]


def figures(rec):
    """A recommendation's charts as plotly Figures by id (Pareto, latency CDFs, capacity, cost breakdown)."""
    from fitness.report.plots import figures as build  # plotly loads only when charts are asked for (start-up)

    return build(rec)
