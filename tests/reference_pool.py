"""The interpreted instance pool of commit 032ca2b, which `sim.components.pool` replaced by compiled kernels.

Kept as the reference the kernels are held to, request for request (tests/test_kernels.py): instances of c
workers, a FIFO queue per instance, least-outstanding routing, on Python lists and heapq, and its burstable variant.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sim.components.credits import CreditBook
from sim.components.fleet import Fleet, mark_lost
from sim.components.seq import floats, floats_at, positions
from sim.results import RequestLog


class InstancePool(Fleet):
    """Routes a slice of the request log across instances; instances join and leave via the control plane.

    `idx` are the positions in `log` this pool serves (in arrival order; None: every request), `service_s` their service
    times on this hardware. The log gets when each request's work finished; the caller's timeout is applied
    to it after the run (`sim.components.timeout`).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 elastic: bool = True, route_u: np.ndarray | None = None) -> None:
        super().__init__()
        self.log, self.workers, self.elastic = log, workers, elastic
        self._rnd = None if route_u is None else floats(route_u)  # random routing (added with issue 16)
        self._idx = positions(idx, log.n)
        self._arr = floats_at(log.arrival_s, idx)
        self._svc = floats(service_s)
        self._next = 0
        self._free: list[list[float]] = []   # per instance: heap of worker free times
        self._out: list[int] = []            # outstanding requests by position in `routable` (see advance)
        self._done: list[tuple[float, int, int]] = []  # (finish, instance, log position) of requests in flight
        self._routable = self.routable

    def _on_join(self, iid: int, t: float) -> None:
        self._free.append([t] * self.workers)
        self._out.append(0)
        self._settle(t)

    def retire(self, t: float) -> None:
        """Take the newest instance out of routing at t; it drains what it already queued."""
        if self.routable:
            super().retire(t)
            self._out.pop()

    def _settle(self, t: float) -> None:
        """Count completions up to t out of the outstanding counters."""
        done, routable, out = self._done, self._routable, self._out
        while done and done[0][0] <= t:
            iid = heapq.heappop(done)[1]
            if self.left_s[iid] == math.inf:
                out[routable.index(iid)] -= 1

    def _outstanding(self, t: float) -> list[int]:
        self._settle(t)
        return list(self._out)

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests in flight at t: its entries of `_done` with a later finish (or, for a pinned
        single instance served by `_advance_single`, which keeps no such entries, every later finish)."""
        self._out.pop(pos)
        done = self._done
        if not self.elastic and len(self._free) == 1:
            served = np.asarray(self._idx[:self._next], np.int64)
            lost = served[self.log.finish_s[served] > t]
        else:
            lost = [j for f, i, j in done if i == iid and f > t]
        done[:] = [e for e in done if e[1] != iid]  # nothing of it is counted out of `_out` again
        heapq.heapify(done)
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Serve every arrival before `until`."""
        if not self._routable:
            return
        if not self.elastic and len(self._free) == 1:
            return self._advance_single(until)
        arr, svc, idx, k = self._arr, self._svc, self._idx, self._next
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, routable, out, free, busy = self._done, self._routable, self._out, self._free, self.busy_until
        left, n, inf = self.left_s, len(arr), math.inf
        push, replace, pop = heapq.heappush, heapq.heapreplace, heapq.heappop
        while k < n and arr[k] < until:
            a = arr[k]
            while done and done[0][0] <= a:
                iid = pop(done)[1]
                if left[iid] == inf:
                    out[routable.index(iid)] -= 1
            # Fleet.least_outstanding inline, over counts by position in `routable` so that min and index run
            # in C: calling it (counts by instance id) cost 23% and 13% of req/s on 4 and 16 pinned instances
            # (CPU time, best of 15 and 9 runs: 765k vs 988k, 543k vs 626k); equal on one instance.
            if self._rnd is not None:
                pos = min(int(self._rnd[k] * len(out)), len(out) - 1)
            else:
                pos = 0 if len(out) == 1 else out.index(min(out))
            iid = routable[pos]
            heap = free[iid]
            s = heap[0] if heap[0] > a else a
            f = s + svc[k]
            replace(heap, f)
            out[pos] += 1
            # the log position rides along so that a failed instance knows its requests (`_lose`): the third
            # item cost nothing measurable (4x2 and 16x1 pinned, CPU time best of 9 on a shared machine: within
            # the run-to-run spread of about 15%), where a per-request instance array would cost a store each
            j = idx[k]
            push(done, (f, iid, j))
            if f > busy[iid]:
                busy[iid] = f
            start_s[j] = s
            finish_s[j] = f
            k += 1
        self._next = k

    def _advance_single(self, until: float) -> None:
        """One pinned instance: the plain FIFO multi-server recursion, no routing to keep count of."""
        arr, svc, idx, k, n = self._arr, self._svc, self._idx, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        heap, replace = self._free[0], heapq.heapreplace
        busy = self.busy_until[0]
        while k < n and arr[k] < until:
            a = arr[k]
            s = heap[0] if heap[0] > a else a
            f = s + svc[k]
            replace(heap, f)
            if f > busy:
                busy = f
            j = idx[k]
            start_s[j] = s
            finish_s[j] = f
            k += 1
        self._next = k
        self.busy_until[0] = busy


class BurstablePool(InstancePool):
    """`InstancePool` on a burstable (T) type: each instance's service times are multiplied by the factor its
    `CreditBook` sets every tick (`sim.components.credits`). A subclass, so that the pools of fixed-performance
    types keep the loops above untouched: here each request costs one multiply and one add more."""

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 credits: CreditBook, elastic: bool = True) -> None:
        self.credits = credits  # before the base class: joins in its constructor would need it
        super().__init__(log, idx, service_s, workers, elastic)

    def _on_join(self, iid: int, t: float) -> None:
        self.credits.join(t)
        super()._on_join(iid, t)

    def credit_tick(self, t: float) -> None:
        """Settle the credits up to t (every arrival before t is routed): see `credit_ticks`."""
        free = self._free
        self.credits.tick(t, lambda iid, t1: sum(f - t1 for f in free[iid] if f > t1), self)

    def advance(self, until: float) -> None:
        """`InstancePool.advance`, service times scaled by their instance's factor."""
        if not self._routable:
            return
        if not self.elastic and len(self._free) == 1:
            return self._advance_single(until)
        arr, svc, idx, k = self._arr, self._svc, self._idx, self._next
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, routable, out, free, busy = self._done, self._routable, self._out, self._free, self.busy_until
        slow, routed = self.credits.slow, self.credits.routed_s
        left, n, inf = self.left_s, len(arr), math.inf
        push, replace, pop = heapq.heappush, heapq.heapreplace, heapq.heappop
        while k < n and arr[k] < until:
            a = arr[k]
            while done and done[0][0] <= a:
                iid = pop(done)[1]
                if left[iid] == inf:
                    out[routable.index(iid)] -= 1
            pos = 0 if len(out) == 1 else out.index(min(out))
            iid = routable[pos]
            heap = free[iid]
            s = heap[0] if heap[0] > a else a
            d = svc[k] * slow[iid]
            f = s + d
            routed[iid] += d
            replace(heap, f)
            out[pos] += 1
            j = idx[k]
            push(done, (f, iid, j))  # the position tells a failed instance its requests (`_lose`)
            if f > busy[iid]:
                busy[iid] = f
            start_s[j] = s
            finish_s[j] = f
            k += 1
        self._next = k

    def _advance_single(self, until: float) -> None:
        """One pinned instance: the factor is constant between two control events, so it is read once and
        the work scheduled is summed once per call."""
        arr, svc, idx, k0, n = self._arr, self._svc, self._idx, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        heap, replace, slow, k = self._free[0], heapq.heapreplace, self.credits.slow[0], k0
        busy = self.busy_until[0]
        while k < n and arr[k] < until:
            a = arr[k]
            s = heap[0] if heap[0] > a else a
            f = s + svc[k] * slow
            replace(heap, f)
            if f > busy:
                busy = f
            j = idx[k]
            start_s[j] = s
            finish_s[j] = f
            k += 1
        self._next = k
        self.busy_until[0] = busy
        if k > k0:
            self.credits.routed_s[0] += slow * float(np.frombuffer(svc, np.float64)[k0:k].sum())
