"""Model-aware instance pool: the data plane of multi-model endpoints (MME); compiled.

Like `InstancePool` (instances x workers, a FIFO queue per instance, least-outstanding routing,
join/retire/request_launch driven by the autoscaler), plus a model cache per instance:

- Cache: a memory tier of loaded models (`memory_mb` each, one copy per instance shared by its workers)
  and a disk tier of downloaded artifacts (`size_mb` each), each least-recently-used. A request for a
  model in memory is a hit. Otherwise least-recently-used models leave memory until the new one fits,
  and it loads from disk (disk read + `load_s`) if its artifact is still there, else is downloaded first
  (`size_mb` / network bandwidth + `load_s`), evicting least-recently-used artifacts from disk. An
  artifact's recency follows its model's use, so disk evicts cold artifacts first.
- Routing: a request for model m goes to an in-service instance that has m in memory (loaded or being
  loaded), the least outstanding among them. If none has it, it goes to the least-outstanding instance
  (ties: the one with the least memory in use), which loads m. When every holder is saturated (all its
  workers busy) and another instance has a free worker, the request goes there and m gets a second
  copy: SageMaker routes some of a busy model's traffic to other instances.
- Lazy loading in the background: the request that misses waits for its model's download (or disk
  read) + load and only then joins its instance's FIFO queue, so a load holds no worker and never delays
  the instance's other models. Requests for m that arrive while m loads wait for that same load (no
  second load); the cache counts them as hits (m is already resident, nothing is fetched again) and the
  pool counts them as `delayed_hits`. Both kinds of waiting request are marked cold in the log.
- Loads on one instance run in parallel, each at the full download rate (no bandwidth sharing).
- An eviction takes effect at once in the books; requests already queued for the evicted copy are still
  served (in reality the copy leaves when they finish).

A request enters its instance's queue at arrival (warm) or when its load ends (cold). Pending loads
sit in one heap ordered by that time and are released before the next arrival, so each instance's
queue sees requests in order of entry and the Kiefer-Wolfowitz recursion on worker free-times holds.

The per-request loop is one compiled call (`sim.jit`, in `sim.components.mme_kernel`) over arrays: an
LRU tier is a last-use stamp per (instance, model), so the least recently used is the smallest stamp,
as an `OrderedDict` moved to its end on each use orders them. The interpreted pool it replaced is
tests/reference_mme.py, held to it request for request in tests/test_kernels.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.components import mme_kernel as kern
from sim.components.cache import Footprints
from sim.components.fleet import Fleet, mark_lost
from sim.components.pool import _count_out
from sim.jit import warm_up
from sim.results import RequestLog

_COUNTERS = ("hits", "misses", "evictions", "disk_hits", "downloads", "disk_evictions")


@dataclass(frozen=True)
class CacheBooks:
    """One instance's cache as it stands: counters, memory and disk in use (MB), its peak, and the models in
    memory from least to most recently used (`mem`)."""

    hits: int
    misses: int
    evictions: int
    disk_hits: int
    downloads: int
    disk_evictions: int
    used_mb: float
    peak_mb: float
    disk_used_mb: float
    mem: tuple[int, ...]

    def counters(self) -> dict[str, int]:
        """The counters as a dict (summed over instances by the option)."""
        return {k: getattr(self, k) for k in _COUNTERS}


class ModelAwarePool(Fleet):
    """Serves requests `idx` of `log` (arrival order; None: all of them) on instances with a model cache each.

    `service_s` are the requests' service times on this hardware; the log gets when each request's work
    finished (the caller's timeout is applied after the run, `sim.components.timeout`). `track` keeps, per
    request that waited for a load, (load end, load time or None for a delayed hit) in `waited` (tests).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 footprints: Footprints, memory_budget_mb: float, disk_budget_mb: float = math.inf,
                 track: bool = False) -> None:
        super().__init__()
        self.log, self.workers, self.track = log, workers, track
        self.fp, self.memory_budget_mb, self.disk_budget_mb = footprints, memory_budget_mb, disk_budget_mb
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)  # empty: every position
        self._arr = np.array(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)  # own copy
        self._svc = np.ascontiguousarray(service_s, np.float64)
        self._mod = np.ascontiguousarray(log.model_idx if idx is None else log.model_idx[idx], np.int64)
        self._fp = tuple(np.asarray(v, np.float64) for v in (footprints.memory_mb, footprints.size_mb,
                                                             footprints.disk_load_s, footprints.download_s))
        m = len(footprints.memory_mb)
        self._n = np.zeros(kern.N_COUNTERS, np.int64)
        self._hold, self._nh = np.zeros((m, 4), np.int64), np.zeros(m, np.int64)  # per model: routable holders
        self._grow_instances(4)
        self._df, self._di, self._dj = np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)
        self._lf, self._lk, self._li = np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)
        self._wready = np.full(log.n if track else 0, np.nan)
        self._wload = np.full(log.n if track else 0, np.nan)

    def _grow_instances(self, cap: int) -> None:
        """Room for `cap` instances in the per-instance arrays, those there kept."""
        m = len(self.fp.memory_mb)
        shapes = {"_free": ((cap, self.workers), 0.0), "_outs": ((cap,), 0), "_ready": ((cap, m), 0.0),
                  "_stamp": ((cap, m), 0), "_inmem": ((cap, m), False), "_res": ((cap, m), 0),
                  "_ondisk": ((cap, m), False), "_dstamp": ((cap, m), 0), "_dres": ((cap, m), 0),
                  "_sizes": ((cap, kern.N_SIZES), 0.0), "_cnt": ((cap, kern.N_CACHE), 0)}
        for name, (shape, fill) in shapes.items():
            new = np.full(shape, fill, dtype=type(fill) if not isinstance(fill, bool) else np.bool_)
            old = getattr(self, name, None)
            if old is not None:
                new[:old.shape[0]] = old
            setattr(self, name, new)
        hold = np.zeros((m, cap), np.int64)
        hold[:, :self._hold.shape[1]] = self._hold
        self._hold = hold

    @property
    def _next(self) -> int:
        """The first arrival not yet routed (`Fleet.idle`, `BusyMeter`)."""
        return int(self._n[kern.K])

    @property
    def idle(self) -> bool:
        """True once every arrival has been routed and every load it waited for has ended."""
        return self._next >= self._arr.size and self._n[kern.NL] == 0

    @property
    def delayed_hits(self) -> int:
        """Requests that found their model resident but still loading, and waited for that load."""
        return int(self._n[kern.DELAYED])

    @property
    def caches(self) -> list[CacheBooks]:
        """Each instance's cache books, in instance id order."""
        out = []
        for iid in range(len(self.joined_s)):
            mem = np.flatnonzero(self._inmem[iid])
            order = mem[np.argsort(self._stamp[iid, mem], kind="stable")]
            used, peak, disk = self._sizes[iid, :3].tolist()
            out.append(CacheBooks(*self._cnt[iid, :len(_COUNTERS)].tolist(), used, peak, disk, tuple(order.tolist())))
        return out

    @property
    def waited(self) -> dict[int, tuple[float, float | None]]:
        """With `track`: per log position that waited for a load, (load end, load time or None)."""
        pos = np.flatnonzero(~np.isnan(self._wready))
        return {int(j): (float(self._wready[j]), None if self._wload[j] < 0 else float(self._wload[j]))
                for j in pos}

    def _on_join(self, iid: int, t: float) -> None:
        """Empty memory and disk, idle workers; requests held with no instance in service reach it now."""
        if len(self.routable) == 1:
            self._hold_backlog(t)  # their loads start when the instance is there, not at their arrival
        if iid >= self._free.shape[0]:
            self._grow_instances(2 * self._free.shape[0])
        self._free[iid] = t

    def retire(self, t: float) -> None:
        """Take the newest instance out of routing at t; it drains what it already queued."""
        if not self.routable:
            return
        iid = self.routable[-1]
        super().retire(t)
        self._forget(iid)

    def _forget(self, iid: int) -> None:
        """Instance iid left routing: its copies route nothing any more."""
        for m in np.flatnonzero(self._inmem[iid]):
            kern.drop_holder(self._hold, self._nh, int(m), iid)

    def _settle(self, t: float) -> None:
        """Count completions up to t out of the outstanding counters."""
        self._n[kern.ND] = _count_out(self._df, self._di, self._dj, int(self._n[kern.ND]), t, self._outs)

    def _outstanding(self, t: float) -> list[int]:
        self._settle(t)
        return [int(self._outs[i]) for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests queued or in service (finish after t) and those waiting for one of its loads."""
        self._forget(iid)
        nd, nl = int(self._n[kern.ND]), int(self._n[kern.NL])
        df, di, dj = self._df[:nd], self._di[:nd], self._dj[:nd]
        lf, lk, li = self._lf[:nl], self._lk[:nl], self._li[:nl]
        every = self._idx.size == 0
        waiting = lk[li == iid]
        lost = np.r_[dj[(di == iid) & (df > t)], waiting if every else self._idx[waiting]]
        for (f, a, b), keep, (nf, na, nb), counter in (((df, di, dj), di != iid, ("_df", "_di", "_dj"), kern.ND),
                                                       ((lf, lk, li), li != iid, ("_lf", "_lk", "_li"), kern.NL)):
            order = np.lexsort((b[keep], a[keep], f[keep]))  # sorted keys are a heap
            size = int(order.size)
            for name, col in zip((nf, na, nb), (f, a, b), strict=True):
                getattr(self, name)[:size] = col[keep][order]
            self._n[counter] = size
        self._outs[iid] = 0
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Route and serve every arrival before `until`, and every request whose load ends before it."""
        busy = np.array(self.busy_until)
        routable = np.array(self.routable, np.int64)
        budgets = np.array([self.memory_budget_mb, self.disk_budget_mb])
        while True:
            grow = kern.serve(self._arr, self._svc, self._mod, self._idx, self._n, until, routable, self._free,
                              self._outs, busy, self._hold, self._nh, self._ready, self._stamp, self._inmem,
                              self._res, self._ondisk, self._dstamp, self._dres, self._sizes, self._cnt,
                              *self._fp, budgets, self._df, self._di, self._dj, self._lf, self._lk, self._li,
                              self.log.start_s, self.log.finish_s, self.log.cold, self._wready, self._wload)
            if grow == kern.DONE:
                break
            names = ("_df", "_di", "_dj") if grow == kern.GROW_DONE else ("_lf", "_lk", "_li")
            for name in names:
                a = getattr(self, name)
                setattr(self, name, np.concatenate([a, np.zeros_like(a)]))
        self.busy_until[:] = busy.tolist()

    def counters(self) -> dict[str, int]:
        """Cache counters summed over every instance that served, plus `delayed_hits` (part of hits)."""
        n = len(self.joined_s)
        total = dict(zip(_COUNTERS, (int(v) for v in self._cnt[:n, :len(_COUNTERS)].sum(axis=0)), strict=True))
        total["delayed_hits"] = self.delayed_hits
        return total


@warm_up
def _warm() -> None:
    """The kernels once: two instances, two models past the heaps' first room, a disk eviction, a failure."""
    log = RequestLog.empty(np.arange(200) * 0.01, (np.arange(200) % 3).astype(np.int32))
    fp = Footprints([10.0, 10.0, 10.0], [5.0, 5.0, 5.0], [0.1, 0.1, 0.1], [0.5, 0.5, 0.5])
    pool = ModelAwarePool(log, None, np.ones(200), 2, fp, 20.0, 10.0, track=True)
    for _ in range(2):
        pool.join(0.0)
    pool.advance(1.0)
    pool.fail(1.1)
    pool.retire(1.2)
    pool.advance(math.inf)
