"""Fleet: the instance bookkeeping every provisioned-instance data plane shares.

Instances are asked for (billed from then), join (serve from then), retire (take no new work, finish
what they hold) under the control plane (`target_tracking`), or fail (`fail`: gone at once with the
requests they held, `sim.faults.InstanceFailure`), and are billed per second until the horizon, until a
retired instance drained, or until an instance failed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from sim.results import FAILED, RequestLog, Timeline


class Fleet:
    """Instances launched, joined and retired by the control plane, with per-second billing intervals.

    Subclasses serve the arrivals `_arr` in order, `_next` being the first not yet served (`idle`).
    The bookkeeping `target_tracking` needs (`in_service`, `pending`, `request_launch`, `join`, `retire`),
    shared by the data planes of this module and of `tandem`. Subclasses keep per-instance state in
    `_on_join(iid, t)` and count outstanding requests in `out` (indexed by instance id); `least_outstanding`
    is the routing rule of every pool (`InstancePool` and `OneJobSharingPool` keep it inline in their
    compiled loops: the first of the fewest, in join order).

    `fail(t)` takes an instance down; each data plane overrides `_lose` to drop the requests it held.
    """

    def __init__(self) -> None:
        self.launched_s: list[float] = []    # per instance: when it was asked for (billing starts)
        self.joined_s: list[float] = []      # per instance: when it started serving
        self.left_s: list[float] = []        # per instance: when it stopped taking requests (inf: never)
        self.busy_until: list[float] = []    # per instance: finish of its last request
        self.routable: list[int] = []        # instance ids taking new requests, in join order
        self.out: list[int] = []             # per instance: requests routed to it and not yet answered
        self.pending = 0                     # instances launched but not yet serving
        self.failed_s: dict[int, float] = {}  # failed instance -> when it failed (its billing ends then)
        self.lost: dict[int, int] = {}       # failed instance -> requests it held and lost
        self.fault_records: list[dict] = []  # one per fault scheduled on this fleet (sim.options._fleet)

    @property
    def idle(self) -> bool:
        """True once every arrival has been taken (the engine's drain condition)."""
        return self._next >= len(self._arr)

    @property
    def in_service(self) -> int:
        """Instances currently taking requests."""
        return len(self.routable)

    def request_launch(self, t: float) -> None:
        """Note that an instance was asked for at t (it is billed from now, serves after its launch)."""
        self.pending += 1
        self.launched_s.append(t)

    def join(self, t: float, launched_at: float | None = None) -> int:
        """Bring an instance into service at t; returns its id."""
        iid = len(self.joined_s)
        if launched_at is None:
            self.launched_s.append(t)
        else:
            self.pending -= 1
        self.joined_s.append(t)
        self.left_s.append(math.inf)
        self.busy_until.append(t)
        self.out.append(0)
        self.routable.append(iid)
        self._on_join(iid, t)
        return iid

    def _on_join(self, iid: int, t: float) -> None:
        """Set up the per-instance state of the data plane."""

    def retire(self, t: float) -> None:
        """Take the newest instance out of routing at t; it finishes what it already holds."""
        if self.routable:
            self.left_s[self.routable.pop()] = t

    def fail(self, t: float) -> int:
        """The instance failure of `sim.faults.InstanceFailure` at t: the routable instance with the most
        outstanding requests (ties: the first joined) leaves routing for good, loses what it held (`_lose`)
        and is billed until t. Returns its id, or -1 with no instance in service (nothing fails)."""
        if not self.routable:
            return -1
        counts = self._outstanding(t)
        pos = counts.index(max(counts))  # first of the largest: routable is in join order
        iid = self.routable.pop(pos)
        self.left_s[iid] = self.failed_s[iid] = t
        self.busy_until[iid] = min(self.busy_until[iid], t)
        self.lost[iid] = self._lose(iid, pos, t)
        return iid

    def _outstanding(self, t: float) -> list[int]:
        """Outstanding requests of each routable instance (in `routable` order) at t, completions up to t
        counted out."""
        return [self.out[i] for i in self.routable]

    def held(self, t: float) -> int:
        """Requests held at t (queued, loading or in service) by the instances in service: the concurrency
        the high-resolution ConcurrentRequestsPerModel metric reports, summed."""
        return sum(self._outstanding(t))

    def _counted_out(self, done: list, out: list[int], t: float) -> list[int]:
        """`_outstanding` for pools that keep a heap `done` of (finish, instance, ...) and counts `out` by
        instance id: the completions up to t are counted out first."""
        while done and done[0][0] <= t:
            out[heapq.heappop(done)[1]] -= 1
        return [out[i] for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop the requests instance iid (at position `pos` of routing, already out of it) held at its
        failure at t (`mark_lost`), so that nothing of it is served or counted again; returns how many."""
        raise NotImplementedError(f"{type(self).__name__} does not model instance failures")

    def _hold_backlog(self, t: float) -> None:
        """Arrivals that waited while no instance was in service reach the instance joining at t at t (for data
        planes whose instances read the arrival time as the time a request reaches them)."""
        arr, k = self._arr, self._next
        while k < len(arr) and arr[k] < t:
            arr[k] = t
            k += 1

    def least_outstanding(self, tie: Callable[[int], float] | None = None) -> int:
        """The routable instance with the fewest outstanding requests (`out`): least-outstanding-requests
        routing. Ties go to the instance with the smallest `tie(iid)`, then to the first joined."""
        routable, out = self.routable, self.out
        if len(routable) == 1:
            return routable[0]
        if tie is None:
            return min(routable, key=out.__getitem__)
        return min(routable, key=lambda i: (out[i], tie(i)))

    def billed_intervals(self, horizon_s: float) -> list[tuple[float, float]]:
        """Per instance (launched, end): end is the horizon, when a retired instance drained, or when an instance
        failed."""
        out, failed = [], self.failed_s
        for iid, t0 in enumerate(self.launched_s):
            if iid in failed:
                end = failed[iid]
            elif iid < len(self.left_s) and self.left_s[iid] != math.inf:
                end = max(self.left_s[iid], self.busy_until[iid])
            else:
                end = horizon_s
            out.append((min(t0, horizon_s), min(max(end, t0), horizon_s)))  # draining past the horizon is not billed
        return out

    def instance_seconds(self, horizon_s: float) -> float:
        """Billed instance-seconds up to the horizon (the sum of `billed_intervals`)."""
        return sum(t1 - t0 for t0, t1 in self.billed_intervals(horizon_s))

    def capacity(self, horizon_s: float) -> Timeline:
        """Instances in service over time: +1 at each join, -1 at each retirement or failure, including instances that
        join after the horizon to drain queued work (means and maxima over the horizon clip it anyway)."""
        ups = list(self.joined_s)
        downs = [t for t in self.left_s if t != math.inf]
        return Timeline.from_deltas(np.array(ups + downs, float), np.r_[np.ones(len(ups)), -np.ones(len(downs))])


def mark_lost(log: RequestLog, positions: list[int] | np.ndarray, t: float) -> int:
    """Requests (log positions) lost with a failed instance at t: FAILED, answered (with the error) at t, never
    started if their service had not begun by t. Returns how many."""
    pos = np.asarray(positions, np.int64)
    if pos.size:
        log.status[pos] = FAILED
        start = log.start_s[pos]
        log.start_s[pos] = np.where(start <= t, start, np.nan)  # NaN stays NaN: never started
        log.finish_s[pos] = t
    return int(pos.size)
