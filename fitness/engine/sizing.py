"""Right-sizing: the cheapest configuration of an option that meets the workload's constraints, by search.

The search machinery every option's search (in its unit, `fitness.options.<option>`) builds on. An option
the workload pins (`OptionUnit.is_pinned`) is simulated once as given. Otherwise its unset knobs are
searched the way Inference Recommender, Lambda Power Tuning and Triton's Model Analyzer do on real
hardware, but on the simulator: candidate configurations run on the SAME scenario (same arrivals and
service draws: common random numbers), cheapest first, and the search stops at the first that meets
every constraint (`fitness.engine.constraints.constraint_reasons`: SLO, error rate, budget, deadline). Knobs the
workload sets are kept. Closed forms (`fitness.engine.queueing`) choose where to start, so a search costs a
handful of simulations, not a grid:
- a fleet count starts one instance below what Erlang C says meets the latency targets (never below
  stability), so the trials show the boundary: the count below the one chosen failed;
- a trial that breaks the budget ends the search (every later candidate costs more), and so does one the
  option cannot serve at all (payload, delivery, pattern: no knob searched changes those); when the
  work alone breaks the latency targets, one trial shows it.
The search of each option is in its unit, documented on its function; the fleet searches the options on
instances share are `fitness.engine.fleets`. `fitness.engine.windows.right_size` is the entry point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from pydantic import BaseModel

from fitness.engine.constraints import constrained
from fitness.engine.drill import Drill, drill
from fitness.engine.run import OptionRun, completed_run, run_option
from fitness.workload.spec import Budget, Workload
from sim.scenario import Scenario
from sim.summary import Summary


@dataclass(frozen=True)
class Trial:
    """One configuration simulated: its knobs, whether it met every constraint, its cost, p99 and why not;
    `meets_slo`: whether it met every constraint but the budget (a cheaper way to scale may still pass)."""

    config: dict
    feasible: bool
    monthly_usd: float | None
    p99_ms: float | None
    reasons: list[str]
    meets_slo: bool = False
    drill: Drill | None = None
    screened: bool = False
    """Refused without a run: a closed form or a catalog fact rules it out, or it would simulate as a cheaper one."""

    def to_dict(self) -> dict:
        """Flat row for reports: the knobs (nested ones as `a.b`) then feasible, monthly_usd, p99_ms, reasons,
        screened (and `failure_drill` when the trial was drilled)."""
        row = {**flat(self.config), "feasible": self.feasible, "monthly_usd": self.monthly_usd,
               "p99_ms": self.p99_ms, "reasons": list(self.reasons), "screened": self.screened}
        return {**row, "failure_drill": self.drill.to_dict()} if self.drill is not None else row


@dataclass(frozen=True)
class Sizing:
    """An option right-sized: the trials in the order simulated, the one chosen and its run.

    `chosen` is the config of the cheapest feasible trial (None when nothing met the constraints). `run`
    is the chosen trial's run; when nothing met them, the last trial's (the most capacity tried, or the
    one that broke the budget), so a report can still say why the option fails.
    """

    option: str
    pinned: bool
    chosen: dict | None
    run: OptionRun
    tried: list[Trial] = field(default_factory=list)

    def to_dict(self) -> dict:
        """`{"pinned", "chosen", "tried"}` with flat knobs, and the chosen trial's `failure_drill` when it was
        drilled, for the report and the JSON output."""
        out = {"pinned": self.pinned, "chosen": flat(self.chosen) if self.chosen is not None else None,
               "tried": [t.to_dict() for t in self.tried]}
        drilled = next((t.drill for t in self.tried if t.config == self.chosen and t.drill is not None), None)
        return {**out, "failure_drill": drilled.to_dict()} if drilled is not None else out


def capacity_floor(cfg: BaseModel) -> int | None:
    """Fewest instances a fleet configuration runs: its pinned count, its autoscaling minimum, or the minimum
    of the policy the simulator sizes (None for an option not on instances)."""
    if getattr(cfg, "instance_count", None) is not None:
        return cfg.instance_count
    if getattr(cfg, "autoscaling", None) is not None:
        return cfg.autoscaling.min
    return getattr(cfg, "min_instances", None)


def flat(config: dict, prefix: str = "") -> dict:
    """Nested knobs flattened to dotted keys: {"autoscaling": {"max": 3}} -> {"autoscaling.max": 3}."""
    out: dict = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class Runner:
    """Simulates configurations of one option on one scenario; keeps the trials, the best run and the last.

    `floor`: the fewest instances a configuration may run (production: 2 for an endpoint on instances, 0
    for none), read from configurations of `config_model`; a configuration below it is judged infeasible.
    After a trial that breaks the budget, pinned candidates only cost more (`left` is False), but one that
    scales with the traffic may still pass (`run` with `cheaper=True`).
    """

    def __init__(self, wl: Workload, scenario: Scenario, option: str, max_trials: int, since_s: float = 0.0,
                 floor: int = 0, config_model: type[BaseModel] | None = None) -> None:
        self.wl, self.scenario, self.option, self.max_trials = wl, scenario, option, max_trials
        self.since_s, self.floor, self.config_model = since_s, floor, config_model
        self.trials: list[Trial] = []
        self.simulated = 0        # trials simulated (screened ones are listed but cost no run)
        self.best: tuple[Trial, OptionRun] | None = None
        self.last: OptionRun | None = None
        self.stopped = False      # the option cannot serve the workload: no knob searched changes that
        self.over_budget = False  # a trial broke the budget
        self.hopeless = False     # the work alone breaks the latency targets: no configuration can meet them
        self._unbudgeted = wl.model_copy(update={"budget": Budget()})
        self._seen: dict[str, Trial] = {}

    @property
    def left(self) -> bool:
        """True while another candidate that costs more than the last is worth simulating."""
        return not self.stopped and not self.over_budget and self.simulated < self.max_trials

    def run(self, config: dict, cheaper: bool = False,
            force: bool = False) -> tuple[Trial, OptionRun | None] | None:
        """Simulate `config` (None when no trial is left; a config already tried returns its trial, no run).
        `cheaper`: the candidate may cost less than one that broke the budget; `force`: simulate it even past
        the trial limit (the option's own defaults, the last resort)."""
        key = json.dumps(config, sort_keys=True, default=str)
        if key in self._seen:
            return self._seen[key], None
        allowed = force or (not self.stopped and self.simulated < self.max_trials
                            and (cheaper or not self.over_budget))
        if not allowed:
            return None
        wl2 = self.wl.model_copy(update={"options": {**self.wl.options, self.option: config}})
        # since: a window judged after its lead; brief: the run reported is completed (`sizing`)
        run = run_option(wl2, self.scenario, self.option, self.since_s, brief=True)
        self.simulated += 1
        trial = self._judge(config, run)
        self.trials.append(trial)
        self._seen[key] = trial
        self.last = run
        if trial.feasible and (self.best is None or trial.monthly_usd < self.best[0].monthly_usd):
            self.best = (trial, run)
        budget = self.wl.budget.monthly_usd
        # no knob searched fixes what the option cannot do; a candidate over budget ends the pinned ones
        self.stopped = self.stopped or not run.summary.feasible
        self.over_budget = self.over_budget or (budget is not None and trial.monthly_usd is not None
                                                and trial.monthly_usd > budget)
        return trial, run

    def screen(self, config: dict, reason: str) -> None:
        """List `config` as tried and refused without simulating it (a closed form rules it out)."""
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in self._seen:
            trial = Trial(config, False, None, None, [f"{reason} (screened, not simulated)"], screened=True)
            self._seen[key] = trial
            self.trials.append(trial)

    def _judge(self, config: dict, run: OptionRun) -> Trial:
        """The trial of `config`: the workload's constraints, the production rules (floor, burstable types
        under sustained load, the failure drill), and the budget apart."""
        s = run.summary
        judged = constrained(self.wl, s)
        # an option that cannot serve says only why
        rules = self.floor_reasons(config) + burstable_reasons(s, self.scenario.catalog) if s.feasible else []
        ran, slo_kept = None, s.feasible and constrained(self._unbudgeted, s).feasible
        if self.floor and slo_kept and not rules:
            # the budget is judged on the trial itself: the drill asks only whether the SLO survives a failure
            ran = drill(self._unbudgeted, self.scenario, self.option, config, self.since_s, run.result.log)
            rules += list(ran.reasons)
        meets = slo_kept and not rules
        return Trial(config, judged.feasible and not rules, s.cost_usd.monthly if s.feasible else None,
                     s.latency_ms.p99 if s.feasible else None, list(judged.reasons) + rules, meets, ran)

    def floor_reasons(self, config: dict) -> list[str]:
        """Why `config` runs fewer instances than production allows (empty when it does not)."""
        if not self.floor or self.config_model is None:
            return []
        least = capacity_floor(self.config_model(**config))
        if least is None or least >= self.floor:
            return []
        return [f"runs {least} instance{'s' if least != 1 else ''} at times and production needs at least "
                f"{self.floor} across Availability Zones (set `environment: dev` for a test deployment)"]

    def sizing(self, pinned: bool) -> Sizing:
        """The outcome: the cheapest feasible trial, or none."""
        if self.best is not None:
            return Sizing(self.option, pinned, self.best[0].config, completed_run(self.best[1], self.since_s),
                          list(self.trials))
        # the trial of the last run (screened trials after it were not simulated)
        last, trial = self.last, next((t for t in reversed(self.trials) if not t.screened), None)
        last = completed_run(last, self.since_s) if last is not None else None
        if last is not None and trial is not None and last.summary.feasible:
            # the run met the simulator's limits but not a rule of the product (production floor, failure drill)
            last = replace(last, summary=replace(last.summary, feasible=False, reasons=tuple(trial.reasons)))
        return Sizing(self.option, pinned, None, last, list(self.trials))



def burstable_reasons(s: Summary, cat) -> list[str]:
    """Why a burstable (T) type in `s`'s configuration cannot carry its load for good: busy worker-seconds
    over paid ones (`utilization`, one vCPU per worker) above the type's baseline share means the instance
    spends credits faster than it earns them, so sustained load drains them whatever the horizon shows."""
    names = {v for v in s.config.values() if isinstance(v, str) and v in cat.instances}
    out = []
    for it in (cat.instances[n] for n in sorted(names)):
        b = it.burstable
        if b is not None and s.utilization is not None and s.utilization > b.baseline_share_per_vcpu.value:
            out.append(f"{it.name} is burstable and runs at {s.utilization:.0%} CPU on average, above its "
                       f"{b.baseline_share_per_vcpu.value:.0%} baseline: sustained load would drain its CPU "
                       "credits and throttle it to the baseline")
    return out


def defaults(raw: dict, floor: int, config_model) -> dict:
    """The option's own defaults with the user's knobs, its sized autoscaling kept at `floor` instances or
    more when the option has such a knob."""
    if floor and "min_instances" in config_model.model_fields:
        return {**raw, "min_instances": max(floor, raw.get("min_instances") or 0)}
    return raw
