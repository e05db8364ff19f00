"""Honest horizons: whether a run was long enough for its load to reach steady state, and if not, how long
it should be.

A busy queue takes long to settle: its p99 drifts while the backlog builds. A run whose p99 in the second
half of its horizon differs much from the first half's, at a high utilisation, has not settled; the report
warns and names a horizon of enough relaxation times (thresholds: `catalogs/rubrics/fitness.yaml`
`steady_state`).
"""

from __future__ import annotations

import math

import catalogs
from fitness.engine import digest
from fitness.engine.result import Recommendation
from fitness.text import span_text
from fitness.workload.spec import Workload
from sim.scenario import Scenario


def relaxation_s(mean_service_s: float, utilization: float) -> float:
    """Relaxation time of one server at utilisation rho (Morse, M/M/1): E[S] / (1 - sqrt(rho))^2, seconds."""
    rho = min(max(utilization, 0.0), 0.999)
    return mean_service_s / (1.0 - math.sqrt(rho)) ** 2


def needed_horizon_s(horizon_s: float, mean_service_s: float, utilization: float) -> float:
    """The horizon a busy run should have: the rubric's relaxation times, or twice the run, in whole hours."""
    times = float(catalogs.rubric("fitness")["steady_state"]["relaxation_times"])
    need = max(2.0 * horizon_s, times * relaxation_s(mean_service_s, utilization))
    return math.ceil(need / 3600.0) * 3600.0


def precision_warnings(wl: Workload, rec: Recommendation) -> list[str]:
    """One warning per feasible option whose p99 is inside the p99 SLO while its 95% interval over sections
    of the run (`sim.metrics.p99_interval_ms`) reaches beyond it: the run cannot tell whether the SLO holds.
    The horizon named shrinks the interval's half-width to the margin, half-widths falling as 1 / sqrt(horizon)."""
    limit = wl.slo.p99_ms
    out = []
    for o in rec.options:
        iv, p99 = o.p99_interval_ms, o.latency_ms.p99 if o.latency_ms else None
        if limit is None or not o.feasible or iv is None or p99 is None or iv[1] <= limit:
            continue
        margin = max(limit - p99, 1e-9)
        need = math.ceil(rec.horizon_s * ((iv[1] - p99) / margin) ** 2 / 3600.0) * 3600.0
        out.append(f"{o.option}: its p99 of {p99:,.0f} ms is inside the {limit:g} ms SLO, but the 95% interval over "
                   f"sections of the {span_text(rec.horizon_s)} run reaches {iv[1]:,.0f} ms: the run cannot tell "
                   f"whether the SLO holds. Simulate about {need / 3600:g} h (`horizon:`) to tell.")
    return out


def horizon_warnings(wl: Workload, scenario: Scenario, rec: Recommendation) -> list[str]:
    """One warning per feasible option whose run has not reached steady state (see the module docstring), and
    per option whose p99 interval straddles the SLO (`precision_warnings`); none for offline delivery, whose
    latency is set by when jobs run."""
    if wl.slo.delivery == "offline":  # results judged by a deadline: job schedules, not queues, set latency
        return []
    rule = catalogs.rubric("fitness")["steady_state"]
    basis, mean_s = digest.basis_for(wl.slo), float(scenario.service_s.mean()) if scenario.n else 0.0
    out = []
    for o in rec.options:
        d = digest.of(rec.runs.get(o.option), basis) if o.feasible else None
        util = o.utilization
        if d is None or util is None or util < rule["utilization"] or None in d.p99_halves_ms:
            continue
        first, second = d.p99_halves_ms
        if first > 0 and abs(second - first) / first > rule["drift"]:
            need = needed_horizon_s(rec.horizon_s, mean_s, util)
            out.append(f"{o.option}: at {util:.0%} utilisation its p99 moved from {first:,.0f} ms in the first "
                       f"half of the {span_text(rec.horizon_s)} run to {second:,.0f} ms in the second: the load "
                       f"has not settled. Simulate at least {need / 3600:g} h (`horizon:`) before trusting this "
                       "p99.")
    return out + precision_warnings(wl, rec)
