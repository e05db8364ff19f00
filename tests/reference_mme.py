"""The interpreted multi-model pool and model cache, as they ran before the compiled kernel
(sim/components/mme_pool.py, commit 8183d24): the reference tests/test_kernels.py holds the kernel to,
request for request, and the readable statement of the LRU tiers the cache tests check.

The rules are those sim/components/mme_pool.py states; here they run on heapq lists and an OrderedDict per
tier.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from sim.components.cache import Footprints
from sim.components.fleet import Fleet, mark_lost
from sim.components.seq import floats, floats_at, ints, positions
from sim.results import RequestLog


class ModelAwarePool(Fleet):
    """Serves requests `idx` of `log` (arrival order; None: all of them) on instances with a model cache each.

    `service_s` are the requests' service times on this hardware; the log gets when each request's work
    finished (the caller's timeout is applied after the run, `sim.components.timeout`). `track` keeps
    memory traces and, per request that waited for a load, (load end, load time or None for a delayed
    hit) in `waited` (tests, not the hot path).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 footprints: Footprints, memory_budget_mb: float, disk_budget_mb: float = math.inf,
                 track: bool = False) -> None:
        super().__init__()
        self.log, self.workers, self.track = log, workers, track
        self.fp, self.memory_budget_mb, self.disk_budget_mb = footprints, memory_budget_mb, disk_budget_mb
        self._idx, self._arr = positions(idx, log.n), floats_at(log.arrival_s, idx)
        self._svc, self._mod = floats(service_s), ints(log.model_idx if idx is None else log.model_idx[idx])
        self._next = 0
        self._free: list[list[float]] = []      # per instance: heap of worker free times
        self._out = self.out                    # per instance: outstanding requests (queued, loading, in service)
        self._routable = self.routable          # instances taking new requests, in join order
        self._holders: list[list[int]] = [[] for _ in footprints.memory_mb]  # per model: routable instances holding it
        self._ready: list[dict[int, float]] = []  # per instance: model -> when its latest load ends
        self._done: list[tuple[float, int, int]] = []  # (finish, instance, log position) of requests in flight
        self._loading: list[tuple[float, int, int]] = []  # (load end, position, instance) of waiting requests
        self.caches: list[ModelCache] = []
        self.delayed_hits = 0
        self.waited: dict[int, tuple[float, float | None]] = {}

    @property
    def idle(self) -> bool:
        """True once every arrival has been routed and every load it waited for has ended."""
        return self._next >= len(self._arr) and not self._loading

    def _on_join(self, iid: int, t: float) -> None:
        """Empty memory and disk, idle workers; requests held with no instance in service reach it now."""
        if len(self.routable) == 1:
            self._hold_backlog(t)  # their loads start when the instance is there, not at their arrival
        holders = self._holders
        self.caches.append(ModelCache(self.fp, self.memory_budget_mb, self.disk_budget_mb,
                                      on_evict=lambda m: holders[m].remove(iid), track_memory=self.track))
        self._free.append([t] * self.workers)
        self._ready.append({})

    def retire(self, t: float) -> None:
        """Take the newest instance out of routing at t; it drains what it already queued."""
        if not self.routable:
            return
        iid = self.routable[-1]
        super().retire(t)
        self._forget(iid)

    def _forget(self, iid: int) -> None:
        """Instance iid left routing: its copies route nothing any more."""
        for m in self.caches[iid].mem:
            self._holders[m].remove(iid)
        self.caches[iid].on_evict = None

    def _outstanding(self, t: float) -> list[int]:
        return self._counted_out(self._done, self._out, t)

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests queued or in service (finish after t) and those waiting for one of its loads."""
        self._forget(iid)
        done, loading = self._done, self._loading
        lost = [j for f, i, j in done if i == iid and f > t]
        lost += [self._idx[k] for _, k, i in loading if i == iid]
        done[:] = [e for e in done if e[1] != iid]
        loading[:] = [e for e in loading if e[2] != iid]
        heapq.heapify(done)
        heapq.heapify(loading)
        self._out[iid] = 0
        return mark_lost(self.log, lost, t)

    def _used_mb(self, iid: int) -> float:
        """Memory in use on instance iid: breaks least-outstanding ties towards the emptiest instance."""
        return self.caches[iid].used_mb

    def _route(self, hs: list[int]) -> int:
        """Instance for a request whose model is held by `hs` (see the module docstring)."""
        if not hs:
            return self.least_outstanding(self._used_mb)
        out = self._out
        iid = hs[0]
        for h in hs:
            if out[h] < out[iid]:
                iid = h
        if out[iid] >= self.workers and len(hs) < len(self._routable):
            alt = self.least_outstanding(self._used_mb)
            if out[alt] < self.workers:
                return alt
        return iid

    def advance(self, until: float) -> None:
        """Route and serve every arrival before `until`, and every request whose load ends before it."""
        arr, svc, mod, idx, k, n = self._arr, self._svc, self._mod, self._idx, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, loading, out, free, busy = self._done, self._loading, self._out, self._free, self.busy_until
        holders, caches, ready = self._holders, self.caches, self._ready
        push, replace, pop = heapq.heappush, heapq.heapreplace, heapq.heappop
        while self._routable and k < n and arr[k] < until:
            a = arr[k]
            while loading and loading[0][0] <= a:
                self._release(pop(loading))
            while done and done[0][0] <= a:
                out[pop(done)[1]] -= 1
            m = mod[k]
            hs = holders[m]
            iid = hs[0] if len(hs) == 1 and out[hs[0]] < self.workers else self._route(hs)
            load = caches[iid].access(m, a)
            out[iid] += 1
            if load is None:
                r = ready[iid][m]
                if r > a:  # resident but still loading: wait for that load
                    self.delayed_hits += 1
                    self._wait(k, iid, r, None)
                    k += 1
                    continue
            else:
                hs.append(iid)
                r = ready[iid][m] = a + load
                if r > a:
                    self._wait(k, iid, r, load)
                    k += 1
                    continue
            heap = free[iid]
            s = heap[0] if heap[0] > a else a
            f = s + svc[k]
            replace(heap, f)
            j = idx[k]
            push(done, (f, iid, j))  # the position tells a failed instance its requests (`_lose`)
            if f > busy[iid]:
                busy[iid] = f
            start_s[j] = s
            finish_s[j] = f
            k += 1
        self._next = k
        while loading and loading[0][0] < until:
            self._release(pop(loading))

    def _wait(self, k: int, iid: int, ready_s: float, load_s: float | None) -> None:
        """Request at position k waits on instance iid for a load that ends at ready_s."""
        heapq.heappush(self._loading, (ready_s, k, iid))
        j = self._idx[k]
        self.log.cold[j] = True
        if self.track:
            self.waited[j] = (ready_s, load_s)

    def _release(self, entry: tuple[float, int, int]) -> None:
        """A request's load ended: it joins its instance's FIFO queue now."""
        r, k, iid = entry
        heap, j = self._free[iid], self._idx[k]
        s = heap[0] if heap[0] > r else r
        f = s + self._svc[k]
        heapq.heapreplace(heap, f)
        heapq.heappush(self._done, (f, iid, j))
        if f > self.busy_until[iid]:
            self.busy_until[iid] = f
        self.log.start_s[j], self.log.finish_s[j] = s, f

    def counters(self) -> dict[str, int]:
        """Cache counters summed over every instance that served, plus `delayed_hits` (part of hits)."""
        total = dict.fromkeys(("hits", "misses", "evictions", "disk_hits", "downloads", "disk_evictions"), 0)
        for c in self.caches:
            for key, v in c.counters().items():
                total[key] += v
        total["delayed_hits"] = self.delayed_hits
        return total


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
