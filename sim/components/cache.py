"""What a multi-model instance's cache needs to know of each model: memory, artifact and load times.

The cache itself (a memory tier and a disk tier, each LRU) lives in the compiled loop of the multi-model
pool (`sim.components.mme_pool`, `sim.components.mme_kernel`); its readable statement, the OrderedDict
`ModelCache` it replaced, is tests/reference_mme.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.catalog import Catalog
from sim.model import ModelSpec


@dataclass(frozen=True)
class Footprints:
    """Per model (by index): memory when loaded and artifact size (MB), and its two load times (s).

    `disk_load_s` is the reload of an artifact still on disk; `download_s` the load of one that is not.
    Shared by every instance's cache (lists, read in the hot path).
    """

    memory_mb: list[float]
    size_mb: list[float]
    disk_load_s: list[float]
    download_s: list[float]

    @staticmethod
    def uniform(n: int, memory_mb: float = 1.0) -> Footprints:
        """`n` equal models with no artifact and instant loads: a pure LRU cache (Che's setting)."""
        return Footprints([memory_mb] * n, [0.0] * n, [0.0] * n, [0.0] * n)

    @staticmethod
    def of(models: Sequence[ModelSpec], catalog: Catalog) -> Footprints:
        """From model specs and the catalog's network and disk rates.

        A model giving no `memory_mb` (0: unknown) is counted at its artifact size, so that a cache of
        such models still fills up and evicts rather than holding an unbounded number of them.
        """
        net = catalog.network.model_download_mb_per_s.value
        disk = catalog.multi_model.disk_read_mb_per_s.value
        return Footprints([m.memory_mb or m.size_mb for m in models], [m.size_mb for m in models],
                          [m.size_mb / disk + m.load_s for m in models],
                          [m.download_s(net) + m.load_s for m in models])
