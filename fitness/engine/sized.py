"""Every option right-sized on a workload's scenario and ranked: the first step of `recommend`, and of each
traffic what-if of the sensitivity (`fitness.engine.ahead` runs those option by option on the cores)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fitness.engine.caveats import burstable_warnings, no_capacity_warnings
from fitness.engine.diagnosis import root_causes
from fitness.engine.horizon import horizon_warnings
from fitness.engine.ranking import rank
from fitness.engine.windows import size_all, window_of
from fitness.options import option_ids
from fitness.workload.checks import unit_warnings
from fitness.workload.scenario import build
from fitness.workload.spec import Workload


def sized(wl: Workload, progress: Callable[[str], None] | None = None, only: tuple[str, ...] = (),
          cdf: bool = True):
    """Right-size every option on the workload's scenario and rank the chosen configurations.

    Returns (recommendation, the workload with every chosen configuration pinned in `options`, and per option
    its chosen trial's run on the busiest day when the scenario is long), so replications and sensitivity
    simulate the deployment that was chosen (`cdf`: the runs' digests with the latency CDF the report
    charts, which a what-if needs not). A long scenario is right-sized
    on its busiest day and confirmed on the whole horizon (`fitness.engine.windows`). Runs are kept light: each
    request log is replaced by its digest as soon as the option is done.
    """
    scenario, window = prepared(wl)
    return assembled(wl, scenario, window, size_all(wl, scenario, window, list(only or option_ids()), progress,
                                                    cdf))


def prepared(wl: Workload):
    """(scenario, busiest-day window or None) that `wl` is right-sized on."""
    scenario = build(wl)
    return scenario, window_of(scenario)


def assembled(wl: Workload, scenario, window, done: dict):
    """`sized`'s answer from every option right-sized (`done`: {option: `Sized`}, in the options' order)."""
    runs, sizing, chosen, first = [], {}, dict(wl.options), {}
    for oid, one in done.items():
        sizing[oid], chosen[oid] = one.record, one.chosen if one.chosen is not None else chosen.get(oid)
        runs.append(one.run)
        if one.window_run is not None:
            first[oid] = one.window_run
    rec = rank(wl, scenario, runs)
    rec = replace(rec, warnings=unit_warnings(wl, scenario.catalog) + horizon_warnings(wl, scenario, rec)
                  + burstable_warnings(rec, scenario.catalog) + no_capacity_warnings(rec))
    rec = replace(rec, sizing=sizing, window=window.to_dict() if window else None)
    return (replace(rec, root_causes=root_causes(wl, scenario, rec)),
            wl.model_copy(update={"options": {k: v for k, v in chosen.items() if v is not None}}), first)
