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

from sim.components.fleet import Fleet, mark_lost
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
        self._done: list[tuple[float, int, int]] = []   # (finish, instance, log position) of requests in flight
        self.wait_s = [0.0] * self.steps
        self.max_wait_s = [0.0] * self.steps

    def _on_join(self, iid: int, t: float) -> None:
        self._free.append([[t] * self.workers for _ in range(self.steps)])

    def _outstanding(self, t: float) -> list[int]:
        done, out = self._done, self.out
        while done and done[0][0] <= t:
            out[heapq.heappop(done)[1]] -= 1
        return [out[i] for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests whose last step ends after t, at whichever step they are."""
        done = self._done
        lost = [j for f, i, j in done if i == iid and f > t]
        done[:] = [e for e in done if e[1] != iid]
        heapq.heapify(done)
        self.out[iid] = 0
        return mark_lost(self.log, lost, t)

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
            j = idx[k]
            push(done, (f, iid, j))  # the position tells a failed instance its requests (`_lose`)
            if f > busy[iid]:
                busy[iid] = f
            finish_s[j] = f
            k += 1
        self._next = k
