"""Copies of one model as members of an instance pool, placed on shared instances (`sim.components.placement`).

`CopyPool` is the compiled `InstancePool` whose members are a model's copies (each of `workers` workers, FIFO
per copy, least-outstanding routing), so the per-request loop is the pool's. What differs is at the edges:
- a copy is asked for through the placement (`delay`, the `LaunchDelay` the autoscaler draws per launch):
  it serves once its instance serves and its container has started and loaded the model; a copy that finds
  no room and no instance to add is not placed and not left pending (the next period's policy asks again,
  as Application Auto Scaling retries the desired count);
- a copy still starting on an instance that fails is lost with it (`lose_pending`): it never serves;
- a copy retired by the model's scaling policy returns its reservation at once (it drains what it holds);
- with no copy in service a request fails at once (the NoCapacityInvocationFailures of a model scaled to
  zero), and is counted in `no_capacity`;
- an instance failure takes every copy on it (`fail_copy`, `lose_pending`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from sim.components.placement import Placement, Resources
from sim.components.pool import InstancePool, K
from sim.results import FAILED, RequestLog

LOST = -1
"""The instance of a copy lost while it started (its instance failed)."""


class CopyPool(InstancePool):
    """One model's copies on a shared `Placement`, each reserving `need` (see the module docstring)."""

    def __init__(self, log: RequestLog, idx: np.ndarray, service_s: np.ndarray, workers: int, placement: Placement,
                 need: Resources, load_s: Callable[[], float]) -> None:
        super().__init__(log, idx, service_s, workers, elastic=True)
        self.placement, self.need, self.load_s = placement, need, load_s
        self.host_of: list[int] = []             # per copy id: its instance
        self._slots: list[tuple[float, int]] = []  # (serving time, instance) of copies asked for, not yet joined
        self.no_capacity = 0
        self.unplaced = 0

    def delay(self, now: float) -> float:
        """Place a copy asked for at `now`; seconds until it serves (inf when it cannot be placed: withdrawn)."""
        spot = self.placement.place(now, self.need)
        if spot is None:  # asked for (`request_launch`) just before: withdrawn, so the policy may ask again
            self.unplaced += 1
            self.pending -= 1
            self.launched_s.pop()
            return math.inf
        host, ready = spot
        at = ready + self.load_s()
        heapq.heappush(self._slots, (at, host))
        return at - now

    def deploy(self, count: int) -> int:
        """`count` copies serving at t = 0 (placed as the endpoint was deployed); returns how many found room."""
        placed = 0
        for _ in range(count):
            spot = self.placement.place(0.0, self.need, deployed=True)
            if spot is None:
                break
            heapq.heappush(self._slots, (0.0, spot[0]))
            self.join(0.0)
            placed += 1
        return placed

    def _on_join(self, iid: int, t: float) -> None:
        host = heapq.heappop(self._slots)[1]
        self.host_of.append(host)
        super()._on_join(iid, t)
        if host == LOST:  # its instance failed while it started: it leaves as it joins, serving nothing
            self.pending += 1  # no longer pending since the failure (`lose_pending`); `join` counted it out again
            self.fail_copy(iid, t)

    def lose_pending(self, host: int) -> int:
        """The copies asked for on instance `host` and still starting are lost with it (it failed): no longer
        pending, so the policy sees them gone; returns how many. Each still joins at its time, to leave at once
        (the launch that asked for it runs its course)."""
        n = sum(1 for _, h in self._slots if h == host)
        if n:
            self.pending -= n
            self._slots = [(at, LOST if h == host else h) for at, h in self._slots]
            heapq.heapify(self._slots)
        return n

    def retire(self, t: float) -> None:
        """The newest copy leaves routing at t (draining) and gives its instance's resources back."""
        if self.routable:
            iid = self.routable[-1]
            super().retire(t)
            self.placement.free(self.host_of[iid], self.need, t)

    def fail_copy(self, iid: int, t: float) -> int:
        """Copy `iid` goes down at t with its instance: out of routing, its requests in flight lost; returns how
        many were lost (0 if it was not in service)."""
        if iid not in self.routable:
            return 0
        pos = self.routable.index(iid)
        self.routable.pop(pos)
        self.left_s[iid] = self.failed_s[iid] = t
        self.busy_until[iid] = min(self.busy_until[iid], t)
        self.lost[iid] = self._lose(iid, pos, t)
        return self.lost[iid]

    def advance(self, until: float) -> None:
        """Serve the arrivals before `until`; with no copy in service they fail on arrival."""
        if self.routable:
            super().advance(until)
            return
        k = int(self._n[K])
        j = int(np.searchsorted(self._arr, until, side="left"))
        if j > k:
            pos = self._idx[k:j]
            self.log.status[pos] = FAILED
            self.log.finish_s[pos] = self.log.arrival_s[pos]
            self.log.start_s[pos] = np.nan
            self.no_capacity += j - k
            self._n[K] = j

    def reserved_s(self, horizon_s: float) -> np.ndarray:
        """Resource-seconds the copies reserved up to the horizon (per resource of `Resources`)."""
        held = sum(min(max(left, joined), horizon_s) - min(joined, horizon_s)
                   for joined, left in zip(self.joined_s, self.left_s, strict=True))
        return held * np.array(self.need)


class Copies:
    """Every model's `CopyPool` as one data plane of the engine: before a control event at t only the pools with an
    arrival before t are advanced (a heap of each pool's next arrival), so an endpoint of many models does not pay
    for every model at every event. A pool with nothing before t has nothing to serve, so skipping it is exact."""

    def __init__(self, pools: list[CopyPool]) -> None:
        self.pools = pools
        self._heap = [(float(p._arr[0]), i) for i, p in enumerate(pools) if len(p._arr)]
        heapq.heapify(self._heap)

    @property
    def idle(self) -> bool:
        """True once every pool has taken every arrival."""
        return not self._heap

    def advance(self, until: float) -> None:
        """Serve every arrival before `until`, pool by pool."""
        heap = self._heap
        while heap and heap[0][0] < until:
            _, i = heapq.heappop(heap)
            pool = self.pools[i]
            pool.advance(until)
            k = pool._next
            if k < len(pool._arr):
                heapq.heappush(heap, (float(pool._arr[k]), i))
