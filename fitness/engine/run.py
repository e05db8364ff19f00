"""Running one option: a registered simulation on a built scenario, and the run object it returns.

The low layer of the decision engine: right-sizing, ranking, headroom and replications all simulate
through `run_option`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fitness.errors import UserError, from_input_error
from fitness.workload.scenario import build
from fitness.workload.spec import Workload
from sim.errors import InputError
from sim.metrics import completed, distribution_ms, summary
from sim.options import option_def
from sim.results import SERVED, SimResult
from sim.scenario import Scenario
from sim.summary import Latency, Summary

DELIVERY_WORDS = {"sync": "a synchronous answer to a waiting caller",
                  "async": "per-request results that the caller polls for or is notified of",
                  "offline": "results in bulk by a deadline"}
"""How each `slo.delivery` mode reaches the caller, in words for reasons and reports."""


@dataclass(frozen=True)
class OptionRun:
    """One option simulated for one workload: the raw result and its DESIGN §3 summary."""

    result: SimResult
    summary: Summary

    def to_frame(self):
        """The request log as a pandas DataFrame: arrival, start, finish (s), latency (ms), status, cold."""
        import pandas as pd  # lazy: simulating needs no pandas (start-up time)

        log = self.result.log
        if log is None:
            return pd.DataFrame(columns=["arrival_s", "start_s", "finish_s", "latency_ms", "status", "cold"])
        return pd.DataFrame({"arrival_s": log.arrival_s, "start_s": log.start_s, "finish_s": log.finish_s,
                             "latency_ms": (log.finish_s - log.arrival_s) * 1000.0,
                             "status": pd.Categorical.from_codes(log.status, ["served", "throttled", "failed"]),
                             "cold": log.cold, "model_idx": log.model_idx})


def run_option(wl: Workload, scenario: Scenario, option_id: str, since_s: float = 0.0,
               brief: bool = False) -> OptionRun:
    """Simulate one registered option on a built scenario; its summary covers the requests arriving from
    `since_s` on (a window cut with a lead judges the window alone). `brief`: a summary without what only a
    reported run needs (`sim.metrics.summary`; `completed_run` adds it)."""
    try:
        opt = option_def(option_id)
    except InputError as e:
        raise UserError(e.describe()) from e
    cfg = wl.option_config(option_id)
    if (reason := cannot_serve(wl, scenario, option_id)) is not None:
        res = SimResult.infeasible(option_id, [reason], scenario.horizon_s)
    else:
        try:
            res = opt.simulate(scenario, cfg)
        except InputError as e:
            raise from_input_error(e, wl.source) from e
    s = summary(res, since_s, brief)
    by_model = model_latencies(wl, scenario, res, since_s)
    return OptionRun(res, replace(s, latency_by_model_ms=by_model) if by_model else s)


def cannot_serve(wl: Workload, scenario: Scenario, option_id: str) -> str | None:
    """Why `option_id` cannot serve the workload whatever its configuration (the delivery the SLO asks for,
    the application's pattern), or None."""
    opt, delivery = option_def(option_id), wl.slo.delivery
    if delivery not in opt.delivers:
        return (f"{option_id} cannot deliver {DELIVERY_WORDS[delivery]} (slo.delivery: {delivery}); it "
                f"delivers {' or '.join(DELIVERY_WORDS[d] for d in sorted(opt.delivers))}")
    if (app := scenario.application) is not None and not app.routed and app.pattern not in opt.patterns:
        hosts = opt.patterns
        can = f"it hosts {', '.join(sorted(hosts))} patterns" if hosts else "it hosts one model per request only"
        return f"{option_id} cannot host the {app.pattern} pattern; {can}"
    return None


def completed_run(run: OptionRun, since_s: float = 0.0) -> OptionRun:
    """`run` with the complete summary of its requests arriving from `since_s` on (`sim.metrics.completed`)."""
    return replace(run, summary=completed(run.summary, run.result, since_s))


def model_latencies(wl: Workload, scenario: Scenario, result: SimResult, since_s: float = 0.0) -> dict[str, Latency]:
    """End-to-end latency of each model with an SLO of its own, over its served requests arriving from
    `since_s` on (the workload's patterns with such SLOs send each request to one model)."""
    slos, log = wl.model_slos, result.log
    if not slos or log is None or not result.feasible:
        return {}
    out = {}
    for i, m in enumerate(scenario.models):
        if m.name in slos:
            idx = scenario.for_model(i)
            ok = idx[(log.status[idx] == SERVED) & (log.arrival_s[idx] >= since_s)]
            out[m.name] = distribution_ms(log.finish_s[ok] - log.arrival_s[ok])
    return out


def simulate(wl: Workload, option_id: str) -> OptionRun:
    """Build the workload's scenario and simulate one option on it."""
    return run_option(wl, build(wl), option_id)


