"""The interpreted shared queue of commit a2fe885, which `sim.components.queue` replaced by compiled kernels.

Kept as the reference the kernels are held to, request for request (tests/test_kernels.py). As it was:
one FIFO queue feeding every worker of every instance in service.

The data plane of asynchronous inference (an internal queue that never drops). Unlike per-instance
queues, which commit a request to an instance on arrival, a shared queue hands the head request to
whichever worker frees first, including workers of instances that join later. So `advance(until)` only
commits starts before `until` (the next control-plane event): the rest stay queued until the control
plane has had its say. Instances can scale to zero; requests then wait for the next instance.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sim.components.fleet import Fleet
from sim.components.seq import block, floats, ints
from sim.components.timeout import stop_at
from sim.results import FAILED, RequestLog


class SharedQueue(Fleet):
    """Requests `idx` of `log`, each holding a worker for `work_s` (s); work beyond `timeout_s` is stopped there
    and fails (`sim.components.timeout.stop_at`)."""

    def __init__(self, log: RequestLog, idx: np.ndarray, work_s: np.ndarray, workers: int,
                 timeout_s: float = math.inf) -> None:
        super().__init__()
        self.log, self.workers = log, workers
        self._idx, self._arr_np = ints(idx), log.arrival_s[idx]
        self._work, self._late = stop_at(work_s, timeout_s)
        self._arr = floats(self._arr_np)
        self._next = 0
        self._free: list[tuple[float, int]] = []   # (free at, instance) for every worker in service
        self._inflight: list[float] = []           # finishes of committed requests, for the backlog
        self._completed = 0

    def _on_join(self, iid: int, t: float) -> None:
        for _ in range(self.workers):
            heapq.heappush(self._free, (t, iid))

    def fail(self, t: float) -> int:
        """Not modelled: asynchronous inference keeps its requests in a queue outside the instances (a failure
        would re-queue work, not lose it), and has no production floor of instances to fail over."""
        raise NotImplementedError("instance failures are not modelled on a shared queue (asynchronous inference)")

    def backlog(self, t: float) -> int:
        """Requests arrived before t and not finished by t (queued or in process)."""
        while self._inflight and self._inflight[0] <= t:
            heapq.heappop(self._inflight)
            self._completed += 1
        return int(np.searchsorted(self._arr_np, t)) - self._completed

    def advance(self, until: float) -> None:
        """Start every queued request that a worker can start before `until`, in arrival order."""
        arr, k0 = self._arr, self._next
        if k0 >= len(arr) or arr[k0] >= until:
            return  # most calls have nothing to start: every plane is advanced before each control event
        work, idx, n = self._work, self._idx, len(arr)
        free, left, busy, inflight = self._free, self.left_s, self.busy_until, self._inflight
        start_s, finish_s, k = self.log.start_s, self.log.finish_s, k0
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        while k < n and arr[k] < until:
            while free and left[free[0][1]] != math.inf:
                pop(free)  # a retired instance's worker takes no new work
            if not free:
                break
            f0, iid = free[0]
            a = arr[k]
            s = f0 if f0 > a else a
            if s >= until:
                break
            f = s + work[k]
            replace(free, (f, iid))
            push(inflight, f)
            if f > busy[iid]:
                busy[iid] = f
            j = idx[k]
            start_s[j], finish_s[j] = s, f
            k += 1
        self._next = k
        if k == k0:  # no worker free before `until`
            return
        late = self._late[k0:k]
        if late.any():  # the requests started now whose work ran past the limit
            self.log.status[block(idx, k0, k)[late]] = FAILED
