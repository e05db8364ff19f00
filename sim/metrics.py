"""Metrics of a simulated option: pure functions of the result, units in the names.

`summary` assembles the result object of DESIGN §3 (the `simulate --format json` contract).
"""

from __future__ import annotations

import math

import numpy as np

from sim.cost import monthly_usd, per_million_usd
from sim.results import FAILED, SERVED, THROTTLED, RequestLog, SimResult

PERCENTILES = (50, 95, 99)


def _window(log: RequestLog, since_s: float) -> np.ndarray:
    """Mask of requests arriving at or after `since_s` (warm-up removal)."""
    return log.arrival_s >= since_s


def request_counts(log: RequestLog, since_s: float = 0.0) -> dict[str, int]:
    """Offered, served, throttled and failed request counts; offered = served + throttled + failed."""
    st = log.status[_window(log, since_s)]
    return {"offered": int(st.size), "served": int(np.sum(st == SERVED)),
            "throttled": int(np.sum(st == THROTTLED)), "failed": int(np.sum(st == FAILED))}


def latency_s(log: RequestLog, since_s: float = 0.0) -> np.ndarray:
    """End-to-end latency of served requests: finish_s - arrival_s, seconds."""
    m = _window(log, since_s) & (log.status == SERVED)
    return log.finish_s[m] - log.arrival_s[m]


def queue_wait_s(log: RequestLog, since_s: float = 0.0) -> np.ndarray:
    """Wait before service starts for served requests: start_s - arrival_s, seconds (cold starts included)."""
    m = _window(log, since_s) & (log.status == SERVED)
    return log.start_s[m] - log.arrival_s[m]


def distribution_ms(values_s: np.ndarray, with_max: bool = True) -> dict[str, float | None]:
    """mean, p50, p95, p99 (and max) of seconds, reported in milliseconds; None when empty."""
    keys = ["mean", *(f"p{p}" for p in PERCENTILES)] + (["max"] if with_max else [])
    if values_s.size == 0:
        return dict.fromkeys(keys)
    ms = values_s * 1000.0
    out = {"mean": float(ms.mean())}
    out.update({f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(ms, PERCENTILES), strict=True)})
    if with_max:
        out["max"] = float(ms.max())
    return out


def cold_starts(log: RequestLog, since_s: float = 0.0) -> dict[str, float]:
    """Cold starts met by served requests: count, and fraction = count / served."""
    m = _window(log, since_s) & (log.status == SERVED)
    count = int(np.sum(log.cold[m]))
    served = int(np.sum(m))
    return {"count": count, "fraction": count / served if served else 0.0}


def cost_summary(result: SimResult, served: int) -> dict:
    """Total over the horizon, monthly projection (730 h), per million served, and the breakdown; USD."""
    total = float(sum(result.cost_usd.values()))
    return {"total": total, "monthly": monthly_usd(total, result.horizon_s),
            "per_million": per_million_usd(total, served),
            "breakdown": {k: float(v) for k, v in result.cost_usd.items()}}


def instances(result: SimResult, since_s: float = 0.0) -> dict[str, float]:
    """Mean and max instances (containers for serverless).

    Options billed per instance report `instance_seconds`: their mean is instance_seconds / horizon, the
    instances paid for on average (launching ones and a batch job run at the horizon included). Others
    use the time-average of the capacity timeline. The max covers the whole run.
    """
    cap = result.capacity
    peak = cap.max(math.inf) if cap is not None else 0.0
    if "instance_seconds" in result.extra and since_s == 0.0:
        return {"mean": result.extra["instance_seconds"] / result.horizon_s, "max": peak}
    return {"mean": cap.mean(result.horizon_s, since_s) if cap is not None else 0.0, "max": peak}


def summary(result: SimResult, since_s: float = 0.0) -> dict:
    """The DESIGN §3 result object of one option (JSON-safe; NaN and None where nothing was measured).

    `utilization` (an addition to the contract) is busy worker-seconds / paid worker-seconds over the
    whole horizon: the share of capacity paid for that did work.
    """
    out = {"option": result.option, "feasible": result.feasible, "reasons": list(result.reasons),
           "config": result.config}
    if not result.feasible or result.log is None:
        return out
    log = result.log
    counts = request_counts(log, since_s)
    out.update({
        "requests": counts,
        "latency_ms": distribution_ms(latency_s(log, since_s)),
        "queue_wait_ms": distribution_ms(queue_wait_s(log, since_s), with_max=False),
        "cold_starts": cold_starts(log, since_s),
        "instances": instances(result, since_s),
        "cost_usd": cost_summary(result, counts["served"]),
        "utilization": result.extra.get("utilization"),
    })
    if result.cache is not None:
        out["cache"] = result.cache
    backlog = result.extra.get("backlog")
    if backlog is not None:  # options with a queue: requests waiting or in process over time
        out["backlog"] = {"mean": backlog.mean(result.horizon_s, since_s), "max": backlog.max(result.horizon_s)}
    if "jobs" in result.extra:  # batch: one record per job
        out["jobs"] = result.extra["jobs"]
    return out
