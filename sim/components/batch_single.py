"""Triton's dynamic batcher for the common case: one model, one stage, no more slots than GPUs.

`batcher.TritonHost` handles any ensemble with GPU processor sharing. When an instance hosts a single model
that every request visits once, and the model has no more execution slots than the instance has GPUs, no
two batches ever share a GPU: each batch runs at full speed from its start, so it ends at start + work.
The host is then a FIFO queue in front of `slots` servers that take requests in batches, and this class
serves it with a heap of batch ends and one delay timer instead of the general host's stage maps, timer
heap and virtual clock. The batching rules are `BatchPlan.ready_size` and `max_queue_delay` exactly as in
`TritonHost`, events at one instant in the same order (batch ends before the delay timer, arrivals after
both); only the end times' last bits may differ, as start + work is computed directly.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush

from sim.components.batch_plan import BatchPlan, Ensemble
from sim.results import RequestLog


def single_model(ens: Ensemble) -> int | None:
    """The index of the one model every request visits once, when `SingleBatchHost` can serve `ens`."""
    hosted = [i for i, p in enumerate(ens.plans) if p is not None]
    if len(hosted) != 1:
        return None
    i = hosted[0]
    plan = ens.plans[i]
    if plan.logic or plan.slots > ens.gpus or any(path != ((i,),) for path in ens.paths):
        return None
    return i


class SingleBatchHost:
    """One instance serving one model's batches on its own GPUs (see the module docstring)."""

    def __init__(self, ens: Ensemble, model: int, log: RequestLog, t0: float) -> None:
        self.plan: BatchPlan = ens.plans[model]
        self.model, self.work, self.log = model, ens.work[model], log
        self.now = self.busy_until = t0
        self.outstanding = 0
        self.gpu_busy_s = 0.0
        self.hist: dict[int, int] = {}
        self._q: list[int] = []          # requests waiting, from index _h on
        self._qt: list[float] = []       # when each reached the queue
        self._h = 0
        self._free = self.plan.slots
        self._timer = math.inf           # when the oldest request's queue delay expires (if armed)
        self._running: list[tuple[float, int, list[int]]] = []   # (end, seq, requests) per batch
        self._cap = self.plan.max_batch
        self._due = [self.plan.ready_size(n) for n in range(self._cap + 1)]  # batch to send with n queued
        self._seq = 0

    @property
    def batch_sizes(self) -> list[dict[int, int]]:
        """Per model (the general host's shape): how many batches of each size ran."""
        out: list[dict[int, int]] = [{} for _ in range(self.model + 1)]
        out[self.model] = self.hist
        return out

    def in_flight(self) -> list[int]:
        """The requests taken and not yet answered (queued or in a running batch)."""
        return self._q[self._h:] + [j for _, _, js in self._running for j in js]

    def run_until(self, t_lim: float) -> None:
        """Process every batch end and delay expiry at or before `t_lim`, in time order (batch ends first)."""
        running = self._running
        while True:
            if running and running[0][0] <= t_lim and running[0][0] <= self._timer:
                tf, _, js = heappop(running)
                self._free += 1
                self._finish(js, tf)
                if self._h < len(self._q):
                    self._dispatch(tf)
            elif self._timer <= t_lim and self._timer != math.inf:
                t, self._timer = self._timer, math.inf
                self._dispatch(t)
            else:
                break
        if t_lim != math.inf and t_lim > self.now:
            self.now = t_lim

    def arrive(self, t: float, j: int) -> None:
        """Request j reaches this instance at t (or when the instance started, if later)."""
        if t < self.now:
            t = self.now
        self.outstanding += 1
        self._q.append(j)
        self._qt.append(t)
        # with the delay timer armed for the oldest request, one more only matters if it completes a batch
        if self._free and (self._timer == math.inf or self._due[min(len(self._q) - self._h, self._cap)]):
            self._dispatch(t)

    def serve(self, arr, k: int, until: float) -> int:
        """Serve arrivals k, k+1, ... before `until` (this host the only one routable); returns the next k."""
        n, running = len(arr), self._running
        while k < n and arr[k] < until:
            a = arr[k]
            if (running and running[0][0] <= a) or self._timer <= a:
                self.run_until(a)
            self.arrive(a, k)
            k += 1
        return k

    def _dispatch(self, t: float) -> None:
        """Send batches while a slot is free and a batch is due (`TritonHost._dispatch`'s rules). The delay
        timer is armed only for the oldest request waiting: once that one leaves, it is disarmed (the general
        host lets it fire and do nothing)."""
        q, h, plan, due, cap = self._q, self._h, self.plan, self._due, self._cap
        while self._free and h < len(q):
            queued = len(q) - h
            size = due[min(queued, cap)]
            if not size:
                deadline = self._qt[h] + plan.delay_s
                if t < deadline:
                    self._timer = deadline
                    break
                size = queued
            self._timer = math.inf
            self._start(q[h:h + size], t)
            h += size
        if h > 4096 and 2 * h > len(q):  # drop the served prefix so the queue's memory stays bounded
            del q[:h], self._qt[:h]
            h = 0
        self._h = h

    def _start(self, js: list[int], t: float) -> None:
        """A batch of these requests starts at t on a free slot."""
        size = len(js)
        self._free -= 1
        self.hist[size] = self.hist.get(size, 0) + 1
        work = self.work
        if work is None:
            w = self.plan.work_s(js)
        elif size == 1 and self.plan.fixed_s is None:
            w = work[js[0]]  # what the default curve gives a batch of one: its own sample
        else:
            w = self.plan.work_s([work[j] for j in js])
        self.gpu_busy_s += w
        start = self.log.start_s
        for j in js:
            start[j] = t
        heappush(self._running, (t + w, self._seq, js))
        self._seq += 1

    def _finish(self, js: list[int], t: float) -> None:
        """A batch ended at t: its requests are answered (the timeout is applied to the log after the run)."""
        self.outstanding -= len(js)
        self.busy_until = t
        finish = self.log.finish_s
        for j in js:
            finish[j] = t
