"""Fleet: the instance bookkeeping every provisioned-instance data plane shares.

Instances are asked for (billed from then), join (serve from then), retire (take no new work, finish
what they hold) under the control plane (`target_tracking`), and are billed per second until the
horizon or until a retired instance drained.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.results import Timeline


class Fleet:
    """Instances launched, joined and retired by the control plane, with per-second billing intervals.

    Subclasses serve the arrivals `_arr` in order, `_next` being the first not yet served (`idle`).
    The bookkeeping `target_tracking` needs (`in_service`, `pending`, `request_launch`, `join`, `retire`),
    shared by the data planes of this module and of `tandem`. Subclasses keep per-instance state in
    `_on_join(iid, t)` and count outstanding requests in `out` (indexed by instance id); `least_outstanding`
    is the routing rule of every pool (`InstancePool` and `SharingPool`'s one-job path keep it inline, for
    the figures given there).
    """

    def __init__(self) -> None:
        self.launched_s: list[float] = []    # per instance: when it was asked for (billing starts)
        self.joined_s: list[float] = []      # per instance: when it started serving
        self.left_s: list[float] = []        # per instance: when it stopped taking requests (inf: never)
        self.busy_until: list[float] = []    # per instance: finish of its last request
        self.routable: list[int] = []        # instance ids taking new requests, in join order
        self.out: list[int] = []             # per instance: requests routed to it and not yet answered
        self.pending = 0                     # instances launched but not yet serving

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
        """Per instance (launched, end): end is the horizon, or when a retired instance drained."""
        out = []
        for iid, t0 in enumerate(self.launched_s):
            if iid < len(self.left_s) and self.left_s[iid] != math.inf:
                end = max(self.left_s[iid], self.busy_until[iid])
            else:
                end = horizon_s
            out.append((min(t0, horizon_s), min(max(end, t0), horizon_s)))  # draining past the horizon is not billed
        return out

    def instance_seconds(self, horizon_s: float) -> float:
        """Billed instance-seconds up to the horizon (the sum of `billed_intervals`)."""
        return sum(t1 - t0 for t0, t1 in self.billed_intervals(horizon_s))

    def capacity(self, horizon_s: float) -> Timeline:
        """Instances in service over time: +1 at each join, -1 at each retirement, including instances that
        join after the horizon to drain queued work (means and maxima over the horizon clip it anyway)."""
        ups = list(self.joined_s)
        downs = [t for t in self.left_s if t != math.inf]
        return Timeline.from_deltas(np.array(ups + downs, float), np.r_[np.ones(len(ups)), -np.ones(len(downs))])
