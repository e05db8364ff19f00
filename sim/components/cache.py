"""The model cache of one multi-model instance: a memory tier and a disk tier, each LRU.

Memory holds loaded models (`memory_mb` each, counted once per instance: every worker shares the copy);
disk holds downloaded artifacts (`size_mb` each). A request for a model in memory is a hit. Otherwise it
is a miss: least-recently-used models leave memory until the new one fits, and the model is loaded from
disk (disk read + `load_s`) if its artifact is still there, or downloaded first (`size_mb` / network
bandwidth + `load_s`), which may evict least-recently-used artifacts from disk. Both tiers are
`OrderedDict`s, so an access is O(1) (amortised over the evictions it causes).

The cache only keeps the books (what is where, counters, memory in use); when a load finishes and who
waits for it is the data plane's business (`sim.components.mme_pool`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
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


class ModelCache:
    """Memory and disk LRU tiers of one instance; `access(m, t)` returns None on a hit, else the load time.

    Counters: `hits`, `misses` (= `disk_hits` + `downloads`), `evictions` (from memory),
    `disk_evictions`. `used_mb` is the memory in use and `peak_mb` its maximum; with `track_memory`,
    `memory_trace` lists (t, used_mb) after every change. `on_evict(m)` is called for each model leaving
    memory (the data plane keeps its routing table with it).
    """

    def __init__(self, footprints: Footprints, memory_budget_mb: float, disk_budget_mb: float = math.inf,
                 on_evict: Callable[[int], None] | None = None, track_memory: bool = False) -> None:
        self.fp, self.memory_budget_mb, self.disk_budget_mb = footprints, memory_budget_mb, disk_budget_mb
        self.on_evict = on_evict
        self.mem: OrderedDict[int, float] = OrderedDict()
        self.disk: OrderedDict[int, float] = OrderedDict()
        self.used_mb = self.disk_used_mb = self.peak_mb = 0.0
        self.hits = self.misses = self.disk_hits = self.downloads = self.evictions = self.disk_evictions = 0
        self.memory_trace: list[tuple[float, float]] | None = [] if track_memory else None

    @property
    def hit_ratio(self) -> float:
        """hits / (hits + misses); 0 before any access."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def access(self, m: int, t: float = 0.0) -> float | None:
        """Use model `m` at time `t`: None if it is in memory (a hit), else the seconds its load takes."""
        mem = self.mem
        if m in mem:
            mem.move_to_end(m)
            if m in self.disk:  # the artifact's recency follows use, so disk evicts cold artifacts first
                self.disk.move_to_end(m)
            self.hits += 1
            return None
        self.misses += 1
        self._make_room(self.fp.memory_mb[m], t)
        mem[m] = need = self.fp.memory_mb[m]
        self.used_mb += need
        if self.used_mb > self.peak_mb:
            self.peak_mb = self.used_mb
        if self.memory_trace is not None:
            self.memory_trace.append((t, self.used_mb))
        disk = self.disk
        if m in disk:
            disk.move_to_end(m)
            self.disk_hits += 1
            return self.fp.disk_load_s[m]
        self.downloads += 1
        self._store(m)
        return self.fp.download_s[m]

    def _make_room(self, need: float, t: float) -> None:
        """Evict least-recently-used models until `need` MB fit in the memory budget."""
        mem, before = self.mem, self.evictions
        while mem and self.used_mb + need > self.memory_budget_mb:
            old, size = mem.popitem(last=False)
            self.evictions += 1
            # an empty tier is exactly empty: float drift must not leave a phantom remainder
            self.used_mb = self.used_mb - size if mem else 0.0
            if self.on_evict is not None:
                self.on_evict(old)
        if self.memory_trace is not None and self.evictions > before:
            self.memory_trace.append((t, self.used_mb))

    def _store(self, m: int) -> None:
        """Put model `m`'s artifact on disk, evicting least-recently-used artifacts until it fits."""
        disk, size = self.disk, self.fp.size_mb[m]
        while disk and self.disk_used_mb + size > self.disk_budget_mb:
            _, old_size = disk.popitem(last=False)
            self.disk_evictions += 1
            self.disk_used_mb = self.disk_used_mb - old_size if disk else 0.0
        disk[m] = size
        self.disk_used_mb += size

    def counters(self) -> dict[str, int]:
        """The counters as a dict (summed over instances by the option)."""
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "disk_hits": self.disk_hits, "downloads": self.downloads, "disk_evictions": self.disk_evictions}
