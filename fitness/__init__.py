"""fitness: which way of hosting these models, at what cost, how fast.

Library entry points for scripts and notebooks: `load_workload`, `simulate`, `recommend`.
"""

from fitness.api import recommend, simulate
from fitness.workload import load_workload

__all__ = ["load_workload", "recommend", "simulate"]
__version__ = "0.1.0"
