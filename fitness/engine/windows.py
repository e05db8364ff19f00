"""Right-sizing each option (`right_size`), and long scenarios: right-size and replicate on the busiest day,
confirm on the whole horizon.

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

from fitness.engine import digest
from fitness.engine.constraints import constrained
from fitness.engine.parallel import fork_map
from fitness.engine.run import OptionRun, cannot_serve, run_option
from fitness.engine.sizing import Runner, Sizing, defaults
from fitness.options import unit
from fitness.workload.spec import Workload
from sim.options._fleet import EARLY_WINDOW_S
from sim.scenario import Scenario
from sim.traffic_stats import busiest_index

DAY_S = 86400.0
"""Window length: one daily cycle."""
WINDOW_MIN_REQUESTS = 500_000
"""Scenarios above this many requests (and two days or more) are right-sized and replicated on a window."""


def right_size(wl: Workload, scenario: Scenario, option_id: str, max_trials: int = 12,
               since_s: float = 0.0) -> Sizing:
    """The cheapest configuration of `option_id` meeting the workload's constraints, at most `max_trials`
    simulations on `scenario`, by the option's own search (`OptionUnit.search`); a pinned option is
    simulated once as given. In production no configuration runs fewer instances than the option's
    `production_instances`. When the search finds nothing, the option's own defaults (with the user's
    knobs) are simulated too: an option whose defaults meet the constraints is never infeasible.
    `since_s`: judge each trial on the requests arriving from then on (a window cut with a lead)."""
    u = unit(option_id)
    raw = {k: v for k, v in (wl.options.get(option_id) or {}).items() if v is not None}
    floor = u.production_instances if wl.production else 0
    r = Runner(wl, scenario, option_id, max_trials, since_s, floor, u.config_model)
    pinned = u.is_pinned(raw)
    if not pinned and cannot_serve(wl, scenario, option_id) is None:  # else one run says why: nothing to search
        u.search(r, wl, scenario, raw)
    if not r.simulated:  # pinned, or nothing to search (the simulation says why)
        r.run(raw)
    if r.best is None and not pinned and not r.stopped and not r.hopeless:
        r.run(defaults(raw, floor, u.config_model), force=True)
    return r.sizing(pinned)


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


def busiest_start(sc: Scenario, length_s: float, lead_s: float, noise_sd: float = 0.0) -> float | None:
    """Where the busiest `length_s` stretch of `sc` (most arrivals) starts, less `lead_s` of the traffic
    before it; None when `sc` is not longer than the two. With `noise_sd` > 0, the earliest stretch as busy
    as the busiest within that many Poisson standard deviations (sqrt of the count): a run that stops at its
    end then draws as little traffic as it can."""
    return busiest_start_of(sc.arrivals_s, sc.horizon_s, length_s, lead_s, noise_sd)


def busiest_start_of(arrivals_s, horizon_s: float, length_s: float, lead_s: float,
                     noise_sd: float = 0.0) -> float | None:
    """`busiest_start` of sorted arrival times over a horizon (s)."""
    if horizon_s <= length_s + lead_s or arrivals_s.size == 0:
        return None
    i = busiest_index(arrivals_s, length_s, horizon_s, noise_sd)
    return min(max(float(arrivals_s[i]), lead_s), horizon_s - length_s) - lead_s


def window_of(sc: Scenario) -> Window | None:
    """The busiest day of `sc` with its lead, or None when `sc` is short enough to simulate whole."""
    if sc.n <= WINDOW_MIN_REQUESTS or sc.horizon_s < 2 * DAY_S:
        return None
    t0 = busiest_start(sc, DAY_S, EARLY_WINDOW_S)
    if t0 is None:
        return None
    return Window(sc.cut(t0, EARLY_WINDOW_S + DAY_S), t0 + EARLY_WINDOW_S, EARLY_WINDOW_S)


@dataclass(frozen=True)
class Sized:
    """One option right-sized: its sizing record, the run to report, the chosen config, the window run."""

    record: dict
    run: OptionRun
    chosen: dict | None
    window_run: OptionRun | None


def size_option(wl: Workload, scenario: Scenario, window: Window | None, option: str, cdf: bool = True) -> Sized:
    """Right-size `option` (on the window when there is one), confirm the choice on the whole horizon, and
    return light runs (request logs replaced by their digests; `cdf`: with the latency CDF the report charts)."""
    basis = digest.basis_for(wl.slo)

    def light(run):
        return replace(run, result=digest.light(run.result, basis, cdf))

    if window is None:
        sz = right_size(wl, scenario, option)
        return Sized(sz.to_dict(), light(sz.run), sz.chosen, None)
    sz = right_size(wl, window.scenario, option, since_s=window.lead_s)
    record = {**sz.to_dict(), "window": window.to_dict()}
    if sz.chosen is None:  # fails on its busiest day: the last trial says why
        return Sized(record, light(sz.run), None, None)
    full = run_option(wl.model_copy(update={"options": {**wl.options, option: sz.chosen}}), scenario, option)
    judged = constrained(wl, full.summary)
    broken = [] if judged.feasible else list(judged.reasons)
    if not broken:
        return Sized({**record, "confirmed": True}, light(full), sz.chosen, light(sz.run))
    again = right_size(wl, scenario, option)
    record = {**again.to_dict(), "window": window.to_dict(), "confirmed": False,
              "window_choice": {"config": sz.chosen, "broke": broken}}
    return Sized(record, light(again.run), again.chosen, None)


def size_all(wl: Workload, scenario: Scenario, window: Window | None, options: list[str],
             progress=None, cdf: bool = True) -> dict[str, Sized]:
    """`size_option` for every option, on every core (`fitness.engine.parallel`: each option's result does
    not depend on where it ran)."""
    def done(oid: str, k: int) -> None:
        if progress:
            progress(f"right-sized {oid} ({k} of {len(options)})")

    sized = fork_map(lambda oid: size_option(wl, scenario, window, oid, cdf), options, done)
    return dict(zip(options, sized, strict=True))


def replication_scenario(sc: Scenario, long: bool) -> tuple[Scenario, float]:
    """What a replication simulates: the busiest day of a long scenario (with the lead to skip), or all. `long`
    is decided once, on the workload's own seed, so every replication covers the same span."""
    t0 = busiest_start(sc, DAY_S, EARLY_WINDOW_S) if long else None
    return (sc, 0.0) if t0 is None else (sc.cut(t0, EARLY_WINDOW_S + DAY_S), EARLY_WINDOW_S)
