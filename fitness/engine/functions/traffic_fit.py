"""Traffic fit: how well the option suits this trace (higher is better).

traffic fit = 1 - weighted mean of three exposures, each 0..1 (weights are rubric data):
- idle capacity: paid capacity that did no work, 1 - paid utilisation (busy over paid time; for
  serverless only provisioned concurrency is paid while idle);
- cold-start exposure: served requests that met a cold start;
- burst loss: requests arriving in the peak minutes (per-minute rate at or above its p99) that were
  refused (throttled or failed) or missed the p99 latency SLO.
"""

from __future__ import annotations

from fitness.engine import digest
from sim.summary import Summary

NAME = "traffic_fit"
HIGHER_IS_BETTER = True


def exposures(s: Summary, ctx) -> dict[str, float]:
    """The three exposures of one option (0..1 each)."""
    run = ctx.runs.get(s.option)
    f = run.figures if run is not None else None
    util = (f.paid_utilization if f.paid_utilization is not None else f.utilization) if f is not None else \
        s.utilization
    out = {"idle_capacity": 1.0 - min(1.0, util) if util is not None else 0.0,
           "cold_start_exposure": s.cold_starts.fraction, "burst_loss": 0.0}
    d = digest.of(run, digest.Basis.of(ctx.workload.slo, ctx.fitness_rubric))
    if d is not None:
        out["burst_loss"] = d.burst_loss
    return out


def raw(s: Summary, ctx) -> float:
    """1 - the weighted mean of the exposures."""
    w = ctx.fitness_rubric["traffic_fit"]
    e = exposures(s, ctx)
    return 1.0 - sum(w[k] * e[k] for k in w) / sum(w.values())


def explain(s: Summary, value: float, ctx, best: Summary | None) -> str:
    """One sentence: the three exposures."""
    e = exposures(s, ctx)
    return (f"{s.option} leaves {e['idle_capacity']:.0%} of the capacity it pays for idle, "
            f"{e['cold_start_exposure']:.2%} of requests meet a cold start, and {e['burst_loss']:.2%} of "
            f"requests in the peak minutes are refused or late (fit {value:.2f}).")
