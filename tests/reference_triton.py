"""The general Triton host as plain Python: the reference the compiled one (sim/components/triton_kernel.py)
is held to, request for request, in tests/test_kernels.py. The rules are sim/components/batcher.py's module
docstring; this is the loop that ran them before it was compiled."""

from __future__ import annotations

import heapq
import math
from collections import deque

from sim.components.batch_plan import Ensemble
from sim.components.gpu import SharedGpu
from sim.results import RequestLog

_DELAY, _LOGIC = 0, 1  # timer kinds: a batcher's queue delay expires; a business-logic step ends


class TritonHost:
    """One instance: a batcher per model, its GPUs, and the requests in flight on it."""

    def __init__(self, ens: Ensemble, log: RequestLog, t0: float) -> None:
        self.ens, self.log = ens, log
        m = len(ens.plans)
        self.gpu = SharedGpu(ens.gpus, t0)
        self.now = self.busy_until = t0
        self.outstanding = 0
        self.batch_sizes: list[dict[int, int]] = [{} for _ in range(m)]
        self._queue: list[deque[int]] = [deque() for _ in range(m)]
        self._ready: list[deque[float]] = [deque() for _ in range(m)]
        self._free = [p.slots if p is not None else 0 for p in ens.plans]
        self._timer_at = [math.inf] * m
        self._timers: list[tuple[float, int, int, int]] = []  # (time, seq, kind, model or request)
        self._seq = 0
        self._stage: dict[int, int] = {}   # request -> position of its current stage
        self._left: dict[int, int] = {}    # request -> branches of that stage still running
        self._touched: set[int] = set()    # models whose queues grew during the current event
        self._only = ens.paths[0] if ens.path_of is None else None  # every request's path, when there is one

    @property
    def gpu_busy_s(self) -> float:
        """GPU-seconds with a batch running on this instance."""
        return self.gpu.busy_s

    def in_flight(self) -> list[int]:
        """The requests taken and not yet answered (queued, in a batch or between stages)."""
        return list(self._stage)

    def _timer(self, t: float, kind: int, x: int) -> None:
        heapq.heappush(self._timers, (t, self._seq, kind, x))
        self._seq += 1

    def run_until(self, t_lim: float) -> None:
        """Process every batch end and timer at or before `t_lim`, in time order (batch ends first)."""
        gpu, timers = self.gpu, self._timers
        while True:
            tg = gpu.next_finish()
            tt = timers[0][0] if timers else math.inf
            if (tg > t_lim and tt > t_lim) or tg == tt == math.inf:
                break
            if tg <= tt:
                t, (i, js) = gpu.finish()
                self._free[i] += 1
                self._touched.add(i)
                for j in js:
                    self._branch_done(j, t)
            else:
                t, _, kind, x = heapq.heappop(timers)
                if kind == _DELAY:
                    if t == self._timer_at[x]:
                        self._timer_at[x] = math.inf
                    self._touched.add(x)
                else:
                    self._branch_done(x, t)
            self._dispatch_touched(t)
        if t_lim != math.inf and t_lim > self.now:
            self.now = t_lim

    def arrive(self, t: float, j: int) -> None:
        """Request j reaches this instance at t (or when the instance started, if later)."""
        t = max(t, self.now)
        self.outstanding += 1
        path = self._only or self.ens.paths[self.ens.path_of[j]]
        self._stage[j], self._left[j] = 0, len(path[0])
        for i in path[0]:
            self._enter(i, j, t)
        self._dispatch_touched(t)

    def _enter(self, i: int, j: int, t: float) -> None:
        """Request j joins model i's queue at t (a logic step starts at once)."""
        if self.ens.plans[i].logic:
            if self._stage[j] == 0:
                self._mark_start(j, t)
            self._timer(t + self.ens.work[i][j], _LOGIC, j)
            return
        self._queue[i].append(j)
        self._ready[i].append(t)
        self._touched.add(i)

    def _mark_start(self, j: int, t: float) -> None:
        start = self.log.start_s
        if not start[j] <= t:  # NaN (not started yet) or a later branch: keep the earliest start
            start[j] = t

    def _dispatch_touched(self, t: float) -> None:
        while self._touched:  # in model order (the compiled host's order)
            i = min(self._touched)
            self._touched.discard(i)
            self._dispatch(i, t)

    def _dispatch(self, i: int, t: float) -> None:
        """Send batches of model i while it has a free slot and a batch is due (Triton's rules)."""
        plan, q, ready = self.ens.plans[i], self._queue[i], self._ready[i]
        while self._free[i] and q:
            size = plan.ready_size(len(q))
            if not size:
                deadline = ready[0] + plan.delay_s
                if t < deadline:
                    if self._timer_at[i] != deadline:
                        self._timer_at[i] = deadline
                        self._timer(deadline, _DELAY, i)
                    return
                size = len(q)
            js = [q.popleft() for _ in range(size)]
            for _ in range(size):
                ready.popleft()
            self._free[i] -= 1
            hist = self.batch_sizes[i]
            hist[size] = hist.get(size, 0) + 1
            samples = self.ens.work[i]
            self.gpu.start(t, plan.work_s([samples[j] for j in js] if samples is not None else js), (i, js))
            for j in js:
                if self._stage[j] == 0:
                    self._mark_start(j, t)

    def _branch_done(self, j: int, t: float) -> None:
        """One of request j's branches ended at t: move it to its next stage, or finish it."""
        left = self._left[j] - 1
        if left:
            self._left[j] = left
            return
        path = self._only or self.ens.paths[self.ens.path_of[j]]
        k = self._stage[j] + 1
        if k < len(path):
            self._stage[j], self._left[j] = k, len(path[k])
            for i in path[k]:
                self._enter(i, j, t)
            return
        del self._stage[j], self._left[j]
        self.outstanding -= 1
        self.busy_until = max(self.busy_until, t)
        self.log.finish_s[j] = t


class ReferenceHosts:
    """The interface of `batcher.TritonHosts` over interpreted hosts: `join` and `serve`."""

    def __init__(self, ens: Ensemble, log: RequestLog, arrivals) -> None:
        self.ens, self.log, self.arr, self.hosts = ens, log, arrivals, []

    def join(self, t0: float) -> TritonHost:
        """A host starts serving at t0."""
        self.hosts.append(TritonHost(self.ens, self.log, t0))
        return self.hosts[-1]

    def serve(self, routable: list[int], k: int, until: float) -> int:
        """Arrivals k, ... before `until`, each to the host with the fewest requests in flight (the first of
        those tied); returns the next k."""
        arr, hosts, n = self.arr, self.hosts, len(self.arr)
        while routable and k < n and arr[k] < until:
            a = arr[k]
            for iid in routable:
                hosts[iid].run_until(a)
            host = hosts[min(routable, key=lambda iid: hosts[iid].outstanding)]
            host.arrive(a, k)
            k += 1
        return k
