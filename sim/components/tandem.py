"""Tandem queues: a request runs through S steps in order on one instance, each step its own FIFO workers.

The data plane of inference pipelines: every instance holds one container per step, each with
`workers` workers. A request routed to an instance (least outstanding requests) starts step k at
max(its finish at step k - 1 + hop, the earliest free worker of step k), so throughput is bound by the
slowest step and requests queue in front of it.

The recursion takes requests in arrival order at every step. That is exact when a step hands requests
on in arrival order (one worker per step, or constant service times); with several workers and variable
service a request can overtake another at one step and still wait for it at the next, which errs on the
slow side.
"""

from __future__ import annotations

import heapq

import numpy as np

from sim.components.credits import CreditBook
from sim.components.fleet import Fleet
from sim.components.seq import floats, floats_at, positions
from sim.results import RequestLog


class TandemPool(Fleet):
    """Requests `idx` of `log` (None: all of them) through the steps whose service times (s) are the columns
    of `service_s`.

    `hop_s` is the delay between consecutive steps (none before the first). The log gets when each
    request's last step finished (the caller's timeout is applied after the run, `sim.components.timeout`).
    Per-step queue waits are summed in `wait_s` (and their maxima in `max_wait_s`) to show where requests
    queue.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 hop_s: float = 0.0) -> None:
        super().__init__()
        service_s = np.asarray(service_s, float)
        service_s = service_s[:, None] if service_s.ndim == 1 else service_s
        self.log, self.workers, self.hop_s = log, workers, hop_s
        self.steps = service_s.shape[1]
        self._idx, self._arr = positions(idx, log.n), floats_at(log.arrival_s, idx)
        self._cols = [floats(service_s[:, j]) for j in range(self.steps)]
        self._next = 0
        self._free: list[list[list[float]]] = []   # per instance, per step: heap of worker free times
        self._done: list[tuple[float, int]] = []   # (finish, instance) of requests in flight
        self.wait_s = [0.0] * self.steps
        self.max_wait_s = [0.0] * self.steps

    def _on_join(self, iid: int, t: float) -> None:
        self._free.append([[t] * self.workers for _ in range(self.steps)])

    def advance(self, until: float) -> None:
        """Serve every arrival before `until` through all the steps of its instance."""
        if not self.routable:
            return
        arr, idx, cols, k, n = self._arr, self._idx, self._cols, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, out, free, busy = self._done, self.out, self._free, self.busy_until
        wait, top = self.wait_s, self.max_wait_s
        hop, steps = self.hop_s, range(self.steps)
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        while k < n and arr[k] < until:
            a = arr[k]
            while done and done[0][0] <= a:
                out[pop(done)[1]] -= 1
            iid = self.least_outstanding()
            heaps, ready, f = free[iid], a, a
            for s in steps:
                heap = heaps[s]
                begin = heap[0] if heap[0] > ready else ready
                if s == 0:
                    start_s[idx[k]] = begin
                waited = begin - ready
                wait[s] += waited
                if waited > top[s]:
                    top[s] = waited
                f = begin + cols[s][k]
                replace(heap, f)
                ready = f + hop
            out[iid] += 1
            push(done, (f, iid))
            if f > busy[iid]:
                busy[iid] = f
            finish_s[idx[k]] = f
            k += 1
        self._next = k


class BurstableTandemPool(TandemPool):
    """`TandemPool` on a burstable (T) type: every step's service time is multiplied by the factor the instance's
    `CreditBook` sets each tick (`sim.components.credits`); fixed-performance types keep the loop above.

    A worker free after a tick is busy until then without a gap at the first step only; at a later step a
    request may still be on its way (previous step, hop) at the tick, so the busy time of a tick can slip
    into the next one by up to a request's earlier steps: well under the tick's minute.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 credits: CreditBook, hop_s: float = 0.0) -> None:
        super().__init__(log, idx, service_s, workers, hop_s)
        self.credits = credits

    def _on_join(self, iid: int, t: float) -> None:
        self.credits.join(t)
        super()._on_join(iid, t)

    def credit_tick(self, t: float) -> None:
        """Settle the credits up to t (every arrival before t is routed): see `credit_ticks`."""
        free = self._free
        self.credits.tick(t, lambda iid, t1: sum(f - t1 for heap in free[iid] for f in heap if f > t1), self)

    def advance(self, until: float) -> None:
        """`TandemPool.advance`, each step's service time scaled by its instance's factor."""
        if not self.routable:
            return
        arr, idx, cols, k, n = self._arr, self._idx, self._cols, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, out, free, busy = self._done, self.out, self._free, self.busy_until
        wait, top, slow, routed = self.wait_s, self.max_wait_s, self.credits.slow, self.credits.routed_s
        hop, steps = self.hop_s, range(self.steps)
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        while k < n and arr[k] < until:
            a = arr[k]
            while done and done[0][0] <= a:
                out[pop(done)[1]] -= 1
            iid = self.least_outstanding()
            heaps, ready, f, sl = free[iid], a, a, slow[iid]
            for s in steps:
                heap = heaps[s]
                begin = heap[0] if heap[0] > ready else ready
                if s == 0:
                    start_s[idx[k]] = begin
                waited = begin - ready
                wait[s] += waited
                if waited > top[s]:
                    top[s] = waited
                d = cols[s][k] * sl
                routed[iid] += d
                f = begin + d
                replace(heap, f)
                ready = f + hop
            out[iid] += 1
            push(done, (f, iid))
            if f > busy[iid]:
                busy[iid] = f
            finish_s[idx[k]] = f
            k += 1
        self._next = k
