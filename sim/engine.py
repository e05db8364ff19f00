"""The engine: a SimPy environment for the control plane that drives fast data planes.

Per-request work (routing, queueing, service) is computed by data planes in plain loops over arrival
arrays, never by generator processes. Control-plane processes (autoscaler ticks, instance launches,
expiries) are SimPy processes. Before each control event at time t the engine lets every data plane
serve the arrivals before t, so control decisions see the state as of t and the data plane sees the
capacity the control plane set. This is the engine's single hook: `step`.
"""

from __future__ import annotations

import math
from typing import Protocol

import simpy

DRAIN_LIMIT_S = 30 * 86400.0
"""How long past the horizon the control plane may run to drain queued work (a guard against policies
that never bring capacity back, not a property of any platform)."""


class DataPlane(Protocol):
    """Serves arrivals in time order; `advance(until)` serves every arrival strictly before `until`."""

    @property
    def idle(self) -> bool:
        """True once every arrival has been served (or refused)."""

    def advance(self, until: float) -> None:
        """Serve the arrivals before `until` (seconds)."""


class Engine(simpy.Environment):
    """A SimPy environment that advances its data planes before each control-plane event."""

    def __init__(self) -> None:
        super().__init__()
        self.planes: list[DataPlane] = []

    def attach(self, plane: DataPlane) -> DataPlane:
        """Register a data plane; returns it for chaining."""
        self.planes.append(plane)
        return plane

    def step(self) -> None:
        """Serve arrivals up to the next event's time, then process that event."""
        t = self.peek()
        for plane in self.planes:
            plane.advance(t)
        super().step()

    def run_until(self, horizon_s: float) -> None:
        """Run the control plane to the horizon, then on until queued work is served (none is dropped).

        A queue can hold work at the horizon with no capacity to serve it (an endpoint scaled to zero);
        its control plane keeps running, so the work is served as the platform would serve it.
        """
        self.run(until=horizon_s)
        while any(not p.idle for p in self.planes) and self.peek() < horizon_s + DRAIN_LIMIT_S:
            self.step()
        for plane in self.planes:
            plane.advance(math.inf)
        # The run is over. Each control process still waiting is in a reference cycle with the event it
        # waits on (event -> callbacks -> process -> event), and its frame holds the data plane: cutting the
        # cycles returns a week's arrays (hundreds of MB) now, not at the next full garbage collection.
        for *_, event in self._queue:
            event.callbacks = None
        self._queue.clear()
        self.planes.clear()
