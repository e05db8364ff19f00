"""Placement: copies of models on shared instances by the resources each copy reserves, with the instances
added and released under them (SageMaker inference components and managed instance scaling).

An instance offers `capacity` (CPU cores, memory MB, accelerators); a copy reserves `need` of each for as long
as it is placed. A copy asked for at t goes to an instance (in service or still launching) with room for it:
under `spread` the one with the most room left in its scarcest resource (copies evenly across instances, for
resilience), under `binpack` the one with the least (fewer instances busy). With none, and fewer than
`max_instances`, an instance is launched (serving `launch_s` later, billed from t) and the copy waits for it.
With no room anywhere and no instance left to add, the copy is not placed (`place` returns None).

An instance left with no copies is released `release_after_s` after it emptied if still empty then, never
below `min_instances` (the IDLE_RELEASE scale-in strategy); releases are settled lazily, at the next placement
or at the end of the run, since nothing else can change an instance's copies in between.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.results import Timeline

Resources = tuple[float, float, float]
"""(CPU cores, memory MB, accelerator devices)."""


@dataclass
class Host:
    """One instance: when it was asked for, when it serves, when it stopped (inf: never), what is reserved."""

    launched_s: float
    ready_s: float
    copies: int = 0
    end_s: float = math.inf
    failed: bool = False
    empty_since: float | None = field(default=None)


class Placement:
    """Instances of one type holding the copies of several models (see the module docstring).

    Beside each `Host`, what it has reserved is kept as a row of one array and whether it is live as one flag, so
    choosing an instance for a copy is one vectorised pass, not a Python loop over hundreds of instances."""

    def __init__(self, capacity: Resources, min_instances: int, max_instances: int, launch_s: Callable[[], float],
                 release_after_s: float, strategy: str = "spread") -> None:
        self.capacity, self.min, self.max = tuple(float(c) for c in capacity), min_instances, max_instances
        self.launch_s, self.release_after_s, self.strategy = launch_s, release_after_s, strategy
        self.hosts: list[Host] = []
        self._due: list[tuple[float, int]] = []  # (release time, host) of hosts that emptied
        self._cap = np.array(self.capacity)
        self._used = np.zeros((8, 3))
        self._alive = np.zeros(8, bool)
        self.n_live = 0

    @property
    def live(self) -> list[int]:
        """Hosts neither released nor failed, in launch order."""
        return [int(i) for i in np.flatnonzero(self._alive[:len(self.hosts)])]

    def _add(self, host: Host) -> int:
        """Append a live host; returns its index."""
        i = len(self.hosts)
        if i == self._alive.size:
            self._used = np.concatenate([self._used, np.zeros_like(self._used)])
            self._alive = np.concatenate([self._alive, np.zeros_like(self._alive)])
        self.hosts.append(host)
        self._alive[i], self.n_live = True, self.n_live + 1
        return i

    def _end(self, i: int, t: float) -> None:
        """Host `i` stops at t (released or failed)."""
        self.hosts[i].end_s = t
        self._alive[i], self.n_live = False, self.n_live - 1

    def start(self, count: int) -> None:
        """`count` instances in service at t = 0 (the endpoint as deployed)."""
        for _ in range(count):
            i = self._add(Host(0.0, 0.0, empty_since=0.0))
            heapq.heappush(self._due, (self.release_after_s, i))

    def used(self, i: int) -> tuple[float, float, float]:
        """What host `i` has reserved (cores, memory MB, accelerators)."""
        return tuple(float(u) for u in self._used[i])

    def _pick(self, need: Resources) -> int | None:
        """The live host `need` goes to under the strategy (ties: the first launched), or None if none has room.
        Room is the share of its scarcest resource a host would have left."""
        n = len(self.hosts)
        after = self._used[:n] + np.array(need)
        ok = self._alive[:n] & np.all(after <= self._cap + 1e-9, axis=1)
        if not ok.any():
            return None
        offered = self._cap > 0
        room = np.min((self._cap[offered] - after[:, offered]) / self._cap[offered], axis=1)
        if self.strategy == "spread":
            return int(np.argmax(np.where(ok, room, -np.inf)))  # argmax/argmin take the first of equals
        return int(np.argmin(np.where(ok, room, np.inf)))

    def place(self, t: float, need: Resources, deployed: bool = False) -> tuple[int, float] | None:
        """Reserve `need` for a copy asked for at t; (host, when the host serves), or None when no host has room
        and none can be added. `deployed`: part of the endpoint as deployed, so an instance added for it serves
        at t."""
        self.settle(t)
        i = self._pick(need)
        if i is None:
            if self.n_live >= self.max or np.any(np.array(need) > self._cap + 1e-9):
                return None
            i = self._add(Host(t, t if deployed else t + self.launch_s()))
        h = self.hosts[i]
        self._used[i] += need
        h.copies += 1
        h.empty_since = None
        return i, max(t, h.ready_s)

    def free(self, i: int, need: Resources, t: float) -> None:
        """A copy of host `i` is gone at t: its reservation returns; an emptied host is due for release."""
        h = self.hosts[i]
        if h.end_s != math.inf:
            return
        self._used[i] = np.maximum(0.0, self._used[i] - need)
        h.copies -= 1
        if h.copies == 0:
            h.empty_since = t
            heapq.heappush(self._due, (t + self.release_after_s, i))

    def fail(self, i: int, t: float) -> None:
        """Host `i` fails at t: gone at once with its copies (their pools drop what they held); below `min`
        live instances a replacement is launched at once (it serves `launch_s` later)."""
        h = self.hosts[i]
        self._end(i, t)
        h.failed, h.copies = True, 0
        self._used[i] = 0.0
        if self.n_live < self.min:
            ready = t + self.launch_s()
            j = self._add(Host(t, ready, empty_since=ready))
            heapq.heappush(self._due, (ready + self.release_after_s, j))

    def settle(self, t: float) -> None:
        """Release, in time order, every host due by t that is still empty, while more than `min` are live."""
        while self._due and self._due[0][0] <= t:
            at, i = heapq.heappop(self._due)
            h = self.hosts[i]
            if h.end_s == math.inf and h.copies == 0 and h.empty_since is not None \
                    and h.empty_since + self.release_after_s == at and self.n_live > self.min:
                self._end(i, at)

    def intervals(self, horizon_s: float) -> list[tuple[float, float]]:
        """Per host (launched, end) clipped to the horizon: the instance time billed."""
        self.settle(horizon_s)
        return [(min(h.launched_s, horizon_s), min(max(h.end_s, h.launched_s), horizon_s)) for h in self.hosts]

    def instance_seconds(self, horizon_s: float) -> float:
        """Billed instance-seconds up to the horizon."""
        return sum(b - a for a, b in self.intervals(horizon_s))

    def reserved_share(self, horizon_s: float, reserved_s: np.ndarray) -> float:
        """`reserved_s` (per resource, the copy-seconds each reserved) over what the billed instances offered, by
        the instances' scarcest resource: the share of the paid capacity the copies held."""
        offered = self.instance_seconds(horizon_s) * np.array(self.capacity)
        shares = [r / o for r, o in zip(reserved_s, offered, strict=True) if o > 0]
        return float(max(shares)) if shares else 0.0

    def timeline(self, horizon_s: float) -> Timeline:
        """Instances serving over time: +1 when a host serves, -1 when it is released or fails."""
        self.settle(horizon_s)
        ups = [h.ready_s for h in self.hosts]
        downs = [h.end_s for h in self.hosts if h.end_s != math.inf]
        return Timeline.from_deltas(np.array(ups + downs, float), np.r_[np.ones(len(ups)), -np.ones(len(downs))])
