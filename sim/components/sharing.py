"""Processor sharing: the requests in service on an instance share its vCPUs.

The data plane of multi-container endpoints, where every container is loaded on every instance and
requests to any of them run at once, contending for the CPUs. With n jobs in service and C vCPUs each
job progresses at rate min(1, C / n) (egalitarian processor sharing; a job's work is its service time
at full speed, and one job uses at most one vCPU).

Each instance keeps a virtual clock V (the service each job in service has received since V = 0): a
job of work w joining at V finishes when V reaches V + w, so the jobs sit in one heap keyed by that
finish and an arrival or departure costs O(log n), with no process per request. Instances advance
lazily: only when a request is routed (least outstanding requests) or the control plane acts.
`sharing_pool` serves requests of one job (direct invocation of one container) on the compiled
`sim.components.sharing_single.OneJobSharingPool`, the same rules on arrays.

A request is a sequence of stages on one instance; the jobs of a stage run at once (branches of a
scatter-gather), the next stage starts `hops_s[k]` after the last job of stage k - 1 finished.
"""

from __future__ import annotations

import math

import numpy as np

from sim.components import sharing_kernel as kern
from sim.components.fleet import Fleet, mark_lost
from sim.components.sharing_single import OneJobSharingPool
from sim.jit import warm_up
from sim.results import RequestLog


def sharing_pool(log: RequestLog, idx: np.ndarray | None, work: np.ndarray, stages: tuple[tuple[int, ...], ...],
                 vcpus: int, hops_s: tuple[float, ...] | None = None) -> Fleet:
    """The pool for these requests (arguments as `SharingPool`'s): the compiled one-job pool when every request
    is one job with no hop, else `SharingPool`."""
    if stages == ((0,),) and (hops_s is None or tuple(hops_s) == (0.0,)):
        work = np.asarray(work, float)
        return OneJobSharingPool(log, idx, work if work.ndim == 1 else work[:, 0], vcpus)
    return SharingPool(log, idx, work, stages, vcpus, hops_s)


class SharingPool(Fleet):
    """Requests `idx` of `log` (None: all of them) on instances of `vcpus` vCPUs shared by processor sharing.

    `work` holds one column per container a request visits (seconds at full speed, one row per request
    in `idx`); `stages` lists, in order, the columns run at once in each stage; `hops_s[k]` is the delay
    before stage k starts (in-host or network hops; 0 for none). The log gets when each request's work
    finished (the caller's timeout is applied after the run, `sim.components.timeout`). The loop is
    compiled (`sim.components.sharing_kernel`); the interpreted pool it replaced is tests/reference_sharing.py.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, work: np.ndarray, stages: tuple[tuple[int, ...], ...],
                 vcpus: int, hops_s: tuple[float, ...] | None = None) -> None:
        super().__init__()
        work = np.asarray(work, float)
        work = work[:, None] if work.ndim == 1 else work
        self.log, self.vcpus, self.stages = log, vcpus, stages
        self.hops_s = tuple(hops_s) if hops_s is not None else (0.0,) * len(stages)
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)  # empty: every position
        self._arr = np.array(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)  # held backlog moves
        self._work = np.ascontiguousarray(work, np.float64)
        self._off = np.cumsum([0] + [len(st) for st in stages]).astype(np.int64)
        self._cols = np.array([c for st in stages for c in st], np.int64)
        self._hops = np.array(self.hops_s, np.float64)
        size = self._arr.size
        self._at, self._stage, self._left = np.full(size, -1, np.int64), np.zeros(size, np.int64), np.zeros(size,
                                                                                                         np.int64)
        self._n, self._total = np.zeros(2, np.int64), np.zeros(1)
        self._inst, self._outs, self._nj, self._nh = np.zeros((0, 3)), np.zeros(0, np.int64), np.zeros(0, np.int64), \
            np.zeros(0, np.int64)
        self._heaps = [np.zeros((0, 16)), np.zeros((0, 16), np.int64), np.zeros((0, 16), np.int64),
                       np.zeros((0, 16)), np.zeros((0, 16), np.int64), np.zeros((0, 16), np.int64)]

    @property
    def _next(self) -> int:
        """The first arrival not yet routed (`Fleet.idle`)."""
        return int(self._n[kern.K])

    @property
    def work_s(self) -> float:
        """Work of every job started (s at full speed), for utilisation."""
        return float(self._total[0])

    def _on_join(self, iid: int, t: float) -> None:
        if len(self.routable) == 1:
            self._hold_backlog(t)  # requests held with no instance in service start when this one joins
        self._inst = np.vstack([self._inst, [0.0, t, math.inf]])
        self._outs, self._nj, self._nh = (np.r_[a, 0] for a in (self._outs, self._nj, self._nh))
        self._heaps = [np.vstack([h, np.zeros((1, h.shape[1]), h.dtype)]) for h in self._heaps]

    def _outstanding(self, t: float) -> list[int]:
        return [int(self._outs[i]) for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests in flight at t: every job in its heap and every request between stages on it.
        `advance(t)` ran each instance with an event by t up to t, so none of them has finished."""
        ks = np.flatnonzero(self._at == iid)
        self._at[ks] = -1
        self._nj[iid] = self._nh[iid] = 0
        self._inst[iid, kern.DUE] = math.inf
        self._outs[iid] = 0
        return mark_lost(self.log, ks if self._idx.size == 0 else self._idx[ks], t)

    def advance(self, until: float) -> None:
        """Route every arrival before `until`, then run every instance up to `until`."""
        busy = np.array(self.busy_until)
        routable = np.array(self.routable, np.int64)
        while kern.serve(self._arr, self._work, self._idx, self._n, until, routable, self._inst, self._outs, busy,
                         *self._heaps[:3], self._nj, *self._heaps[3:], self._nh, self._at, self._stage, self._left,
                         self._off, self._cols, self._hops, self._total, self.vcpus, self.log.start_s,
                         self.log.finish_s) == kern.GROW:
            self._heaps = [np.concatenate([h, np.zeros_like(h)], axis=1) for h in self._heaps]
        self.busy_until[:] = busy.tolist()


@warm_up
def _warm() -> None:
    """The kernels once: two stages with a hop and two branches, two instances, a failure, heaps grown."""
    log = RequestLog.empty(np.arange(80) * 0.001, np.zeros(80, np.int32))
    pool = SharingPool(log, None, np.ones((80, 3)), ((0,), (1, 2)), 1, (0.0, 0.01))
    for _ in range(2):
        pool.join(0.0)
    pool.advance(0.05)
    pool.fail(0.06)
    pool.advance(math.inf)
