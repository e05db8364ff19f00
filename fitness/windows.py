"""Long scenarios: right-size and replicate on the busiest day, confirm on the whole horizon.

A week of traffic is millions of requests per run, and right-sizing and replications multiply the runs.
Daily cycles repeat, so a search over candidate configurations learns what it needs from the busiest day
(the most arrivals in any 24 h): the day that is hardest on latency and on the error rate. When a
scenario is at least two days long and holds more than `WINDOW_MIN_REQUESTS` requests:
- each option is right-sized on that day, after a lead of the traffic before it (the fleets' early
  window, so fleets, caches and containers start warm as they would be) and judged on the day alone;
- the configuration chosen is then simulated once over the whole horizon, and that run is the one
  reported; if it breaks a constraint there, the option is right-sized again on the whole horizon;
- replications (other seeds) simulate the busiest day of each seed's traffic, and the first replication
  is the chosen trial on the day: the intervals and ties measure seed noise over one busy day.
Shorter scenarios are simulated whole, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fitness import digest
from fitness.parallel import fork_map
from fitness.workload import Workload
from sim.scenario import Scenario

DAY_S = 86400.0
"""Window length: one daily cycle."""
WINDOW_MIN_REQUESTS = 500_000
"""Scenarios above this many requests (and two days or more) are right-sized and replicated on a window."""


@dataclass(frozen=True)
class Window:
    """The busiest day of a scenario cut as a scenario of its own: `scenario` starts `lead_s` before the day."""

    scenario: Scenario
    start_s: float
    lead_s: float

    def to_dict(self) -> dict:
        """Where the window lies on the full horizon (s), for the JSON output."""
        return {"start_s": self.start_s, "length_s": self.scenario.horizon_s - self.lead_s, "lead_s": self.lead_s,
                "requests": self.scenario.n}


def window_of(sc: Scenario) -> Window | None:
    """The busiest day of `sc` with its lead, or None when `sc` is short enough to simulate whole."""
    from fitness.headroom import busiest_start, cut
    from sim.options._fleet import EARLY_WINDOW_S

    if sc.n <= WINDOW_MIN_REQUESTS or sc.horizon_s < 2 * DAY_S:
        return None
    t0 = busiest_start(sc, DAY_S, EARLY_WINDOW_S)
    if t0 is None:
        return None
    return Window(cut(sc, t0, EARLY_WINDOW_S + DAY_S), t0 + EARLY_WINDOW_S, EARLY_WINDOW_S)


@dataclass(frozen=True)
class Sized:
    """One option right-sized: its sizing record, the run to report, the chosen config, the window run."""

    record: dict
    run: object
    chosen: dict | None
    window_run: object | None


def size_option(wl: Workload, scenario: Scenario, window: Window | None, option: str, basis) -> Sized:
    """Right-size `option` (on the window when there is one), confirm the choice on the whole horizon, and
    return light runs (request logs replaced by their digests)."""
    from fitness.api import run_option
    from fitness.ranking import constraint_reasons
    from fitness.rightsizing import right_size

    def light(run):
        return replace(run, result=digest.light(run.result, basis))

    if window is None:
        sz = right_size(wl, scenario, option)
        run = sz.run if sz.run is not None else run_option(wl, scenario, option)
        return Sized(sz.to_dict(), light(run), sz.chosen, None)
    sz = right_size(wl, window.scenario, option, since_s=window.lead_s)
    record = {**sz.to_dict(), "window": window.to_dict()}
    if sz.chosen is None:  # fails on its busiest day: the last trial says why
        return Sized(record, light(sz.run), None, None)
    full = run_option(wl.model_copy(update={"options": {**wl.options, option: sz.chosen}}), scenario, option)
    broken = list(full.summary["reasons"]) if not full.summary["feasible"] else constraint_reasons(wl, full.summary)
    if not broken:
        return Sized({**record, "confirmed": True}, light(full), sz.chosen, light(sz.run))
    again = right_size(wl, scenario, option)
    run = again.run if again.run is not None else full
    record = {**again.to_dict(), "window": window.to_dict(), "confirmed": False,
              "window_choice": {"config": sz.chosen, "broke": broken}}
    return Sized(record, light(run), again.chosen, None)


def size_all(wl: Workload, scenario: Scenario, window: Window | None, options: list[str], basis,
             progress=None) -> dict[str, Sized]:
    """`size_option` for every option, in order; a long scenario (one with a window) on every core
    (`fitness.parallel`: each option's result does not depend on where it ran)."""
    if window is None:
        out = {}
        for oid in options:
            if progress:
                progress(f"right-sizing {oid}")
            out[oid] = size_option(wl, scenario, window, oid, basis)
        return out

    def done(oid: str, k: int) -> None:
        if progress:
            progress(f"right-sized {oid} ({k} of {len(options)})")

    sized = fork_map(lambda oid: size_option(wl, scenario, window, oid, basis), options, done)
    return dict(zip(options, sized, strict=True))


def replication_scenario(sc: Scenario) -> tuple[Scenario, float]:
    """What a replication simulates: the busiest day of a long scenario (with the lead to skip), or all."""
    w = window_of(sc)
    return (sc, 0.0) if w is None else (w.scenario, w.lead_s)
