"""Shared queue: one FIFO queue feeding every worker of every instance in service, compiled.

The data plane of asynchronous inference (an internal queue that never drops). Unlike per-instance
queues, which commit a request to an instance on arrival, a shared queue hands the head request to
whichever worker frees first, including workers of instances that join later. So `advance(until)` only
commits starts before `until` (the next control-plane event): the rest stay queued until the control
plane has had its say. Instances can scale to zero; requests then wait for the next instance.

Its state is two heaps in arrays, with `sim.components.pool`'s heap steps (`sim.jit`): the workers in service
keyed by (free at, instance), so the worker freeing first takes the head request, ties to the first instance;
and the finishes of the requests started, whose count up to t the backlog subtracts. The loop is the one
`tests/reference_queue.py` keeps on heapq, request for request.
"""

from __future__ import annotations

import math

import numpy as np

from sim.components.fleet import Fleet
from sim.components.pool import _count_out, _pop, _push
from sim.components.timeout import stop_at
from sim.jit import kernel, warm_up
from sim.results import FAILED, RequestLog

K, NF, NH = range(3)
"""`_n` columns: the next request to start, workers in the free heap, finishes in the in-flight heap."""


class SharedQueue(Fleet):
    """Requests `idx` of `log`, each holding a worker for `work_s` (s); work beyond `timeout_s` is stopped there
    and fails (`sim.components.timeout.stop_at`)."""

    def __init__(self, log: RequestLog, idx: np.ndarray, work_s: np.ndarray, workers: int,
                 timeout_s: float = math.inf) -> None:
        super().__init__()
        self.log, self.workers = log, workers
        self._idx = np.ascontiguousarray(idx, np.int64)
        self._arr = np.ascontiguousarray(log.arrival_s[idx], np.float64)
        work, self._late = stop_at(work_s, timeout_s)
        self._work = np.frombuffer(work, np.float64)  # the compact sequence's bytes, not a copy
        self._n = np.zeros(3, np.int64)
        self._free = [np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)]  # (free at, instance, 0)
        self._inflight = [np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)]  # (finish, 0, 0)
        self._done = np.zeros(1, np.int64)  # minus the requests finished and counted out of the backlog

    @property
    def _next(self) -> int:
        """The first request not yet started (`Fleet.idle`)."""
        return int(self._n[K])

    def _on_join(self, iid: int, t: float) -> None:
        nf = int(self._n[NF])
        if nf + self.workers > self._free[0].size:
            self._free = [np.concatenate([a, np.zeros(nf + self.workers, a.dtype)]) for a in self._free]
        for _ in range(self.workers):
            _push(*self._free, nf, t, iid, 0)
            nf += 1
        self._n[NF] = nf

    def fail(self, t: float) -> int:
        """Not modelled: asynchronous inference keeps its requests in a queue outside the instances (a failure
        would re-queue work, not lose it), and has no production floor of instances to fail over."""
        raise NotImplementedError("instance failures are not modelled on a shared queue (asynchronous inference)")

    def backlog(self, t: float) -> int:
        """Requests arrived before t and not finished by t (queued or in process)."""
        self._n[NH] = _count_out(*self._inflight, self._n[NH], t, self._done)
        return int(np.searchsorted(self._arr, t)) + int(self._done[0])

    def advance(self, until: float) -> None:
        """Start every queued request that a worker can start before `until`, in arrival order."""
        k0 = int(self._n[K])
        if k0 >= self._arr.size or self._arr[k0] >= until:
            return  # most calls have nothing to start: every plane is advanced before each control event
        left, busy = np.array(self.left_s), np.array(self.busy_until)
        while _advance(self._arr, self._work, self._idx, self._n, until, *self._free, left, busy, *self._inflight,
                       self.log.start_s, self.log.finish_s):
            self._inflight = [np.concatenate([a, np.zeros_like(a)]) for a in self._inflight]
        self.busy_until[:] = busy.tolist()
        k = int(self._n[K])
        late = self._late[k0:k]
        if late.any():  # the requests started now whose work ran past the limit
            self.log.status[self._idx[k0:k][late]] = FAILED


@kernel
def _advance(arr, work, idx, n, until, ff, fi, fj, left, busy, hf, hi, hj, start_s, finish_s):
    """Start requests from n[K] while a worker can start one before `until`; True when the in-flight heap is full
    (grow it and call again), False when done. A retired instance's workers leave the free heap as they come up."""
    k, nf, nh = n[K], n[NF], n[NH]
    while k < arr.size and arr[k] < until:
        while nf > 0 and left[fi[0]] != math.inf:
            nf = _pop(ff, fi, fj, nf)
        if nf == 0:
            break
        if nh == hf.size:
            n[K], n[NF], n[NH] = k, nf, nh
            return True
        f0, iid, a = ff[0], fi[0], arr[k]
        s = f0 if f0 > a else a
        if s >= until:
            break
        f = s + work[k]
        nf = _pop(ff, fi, fj, nf)  # heapq.heapreplace: the same worker, free again at f
        _push(ff, fi, fj, nf, f, iid, 0)
        nf += 1
        _push(hf, hi, hj, nh, f, 0, 0)
        nh += 1
        if f > busy[iid]:
            busy[iid] = f
        j = idx[k]
        start_s[j], finish_s[j] = s, f
        k += 1
    n[K], n[NF], n[NH] = k, nf, nh
    return False


@warm_up
def _warm() -> None:
    """The kernels once: two instances, one retired, the in-flight heap past its first room, the backlog read."""
    log = RequestLog.empty(np.arange(80) * 0.001, np.zeros(80, np.int32))
    q = SharedQueue(log, np.arange(80), np.ones(80), 40)
    for _ in range(2):
        q.join(0.0)
    q.advance(0.01)
    q.retire(0.02)
    q.backlog(0.5)
    q.advance(math.inf)
