"""Shared queue: one FIFO queue feeding every worker of every instance in service.

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

from sim.results import FAILED, RequestLog


class SharedQueue:
    """Requests `idx` of `log`, each holding a worker for `work_s` (s); work beyond `timeout_s` fails."""

    def __init__(self, log: RequestLog, idx: np.ndarray, work_s: np.ndarray, workers: int,
                 timeout_s: float = math.inf) -> None:
        self.log, self.workers, self.timeout_s = log, workers, timeout_s
        self._idx, self._arr_np = idx.tolist(), log.arrival_s[idx]
        self._arr, self._work = self._arr_np.tolist(), work_s.tolist()
        self._next = 0
        self._free: list[tuple[float, int]] = []   # (free at, instance) for every worker in service
        self._inflight: list[float] = []           # finishes of committed requests, for the backlog
        self._completed = 0
        self.launched_s: list[float] = []
        self.joined_s: list[float] = []
        self.left_s: list[float] = []
        self.busy_until: list[float] = []
        self.pending = 0

    @property
    def in_service(self) -> int:
        """Instances taking work."""
        return sum(1 for t in self.left_s if t == math.inf)

    def request_launch(self, t: float) -> None:
        """An instance was asked for at t: billed from now, serving after its launch."""
        self.pending += 1
        self.launched_s.append(t)

    def join(self, t: float, launched_at: float | None = None) -> int:
        """Bring an instance with `workers` workers into service at t."""
        iid = len(self.joined_s)
        if launched_at is None:
            self.launched_s.append(t)
        else:
            self.pending -= 1
        self.joined_s.append(t)
        self.left_s.append(math.inf)
        self.busy_until.append(t)
        for _ in range(self.workers):
            heapq.heappush(self._free, (t, iid))
        return iid

    def retire(self, t: float) -> None:
        """The newest instance in service stops taking work at t; it finishes what it started."""
        serving = [i for i, left in enumerate(self.left_s) if left == math.inf]
        if serving:
            self.left_s[serving[-1]] = t

    def backlog(self, t: float) -> int:
        """Requests arrived before t and not finished by t (queued or in process)."""
        while self._inflight and self._inflight[0] <= t:
            heapq.heappop(self._inflight)
            self._completed += 1
        return int(np.searchsorted(self._arr_np, t)) - self._completed

    @property
    def idle(self) -> bool:
        """True once every arrival has been served or refused."""
        return self._next >= len(self._arr)

    def advance(self, until: float) -> None:
        """Start every queued request that a worker can start before `until`, in arrival order."""
        arr, work, idx, k, n = self._arr, self._work, self._idx, self._next, len(self._arr)
        free, left, busy, inflight, timeout = self._free, self.left_s, self.busy_until, self._inflight, self.timeout_s
        start_s, finish_s, status = self.log.start_s, self.log.finish_s, self.log.status
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
            w = work[k]
            j = idx[k]
            if w > timeout:
                status[j] = FAILED
                w = timeout
            f = s + w
            replace(free, (f, iid))
            push(inflight, f)
            if f > busy[iid]:
                busy[iid] = f
            start_s[j], finish_s[j] = s, f
            k += 1
        self._next = k

    def billed_intervals(self, horizon_s: float) -> list[tuple[float, float]]:
        """Per instance (launched, end): until the horizon, or until a retired instance drained."""
        out = []
        for iid, t0 in enumerate(self.launched_s):
            if iid < len(self.left_s) and self.left_s[iid] != math.inf:
                end = max(self.left_s[iid], self.busy_until[iid])
            else:
                end = horizon_s
            out.append((min(t0, horizon_s), min(max(end, t0), horizon_s)))  # draining past the horizon is not billed
        return out
