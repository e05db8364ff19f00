"""The `realtime` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/realtime.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

from fitness.engine.fleets import (
    FLEET_PINS,
    Hourly,
    fleet_search,
    per_model_plans,
    pinned_config,
    screen_defaults,
    tracked_config,
)
from fitness.engine.sizing import Runner
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.export.hosting import hosted, separate
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.options.realtime import endpoint_type
from sim.scenario import Scenario

DOCS = """\
`sim/options/realtime.py`, data plane `InstancePool` (`sim/components/pool.py`). Delivers sync, async
and offline; hosts serial, scatter-gather and aggregate patterns as separate endpoints.

- **Mechanics.** One endpoint per model (a multi-tenant workload gets as many endpoints as models, each
  with its own instances, idle or not). Each endpoint is a fleet as above: FIFO queue per instance,
  pinned or target-tracking autoscaling.
- **Routing** (`routing`, the variant's `RoutingConfig`): `least_outstanding` (default; the export sets
  `LEAST_OUTSTANDING_REQUESTS`) sends each request to the instance with the fewest requests in flight;
  `random` sends it to an instance chosen uniformly at random (`RANDOM`, what SageMaker does when an endpoint
  sets no RoutingConfig: "By default, SageMaker endpoints have a random routing strategy", AWS Machine
  Learning Blog, 2023-11-30, "Minimize real-time inference latency by using Amazon SageMaker routing
  strategies"). Each endpoint draws its uniforms from its own seeded stream (`routing/<model>`). At 3
  instances x 2 workers and rho 0.7, random routing waits about 4 x as long as least outstanding
  (`tests/test_statistical.py`).
- **Sizing defaults.** Instance type: the cheapest CPU (GPU, for a GPU model) type on which one worker
  fits (a GPU model against one GPU's memory less `triton.gpu_memory_overhead_mb`); Inferentia types are
  never chosen. Workers: as many as vCPUs (GPUs) and memory allow.
- **Burstable types.** On `ml.t2.*` and `ml.t3.*` each instance keeps a CPU-credit balance (`BurstablePool`,
  [mechanics.md](mechanics.md#burstable-instances)); with none left its requests run at the baseline.
- **Limits.** Payload and response `realtime.payload_limit_mb` (6 MB); answer within
  `realtime.timeout_s` (60 s), later answers fail.
- **Billing.** Instance-seconds x the type's price per hour / 3600 and the ML storage volume of each instance
  (`realtime.storage_price_per_gb_month`; none on NVMe types), summed over endpoints, plus the data each
  endpoint processes in and out (`realtime.data_price_per_gb`, per GB of payload and response).
- **Catalog facts.** `instances.*.price_per_hour`; `realtime.payload_limit_mb`, `timeout_s`,
  `instance_launch_s`, `memory_overhead_mb`; `autoscaling.*`; `network.model_download_mb_per_s`;
  `co_hosting.endpoint_hop_ms` (patterns).
- **Checked by** `tests/test_statistical.py` (Erlang C, Pollaczek-Khinchine), `tests/test_autoscaling.py`
  (the alarm arithmetic on a traffic step, worked by hand), `tests/test_patterns.py`, `tests/test_cost.py`,
  `tests/test_invariants.py`; see [fidelity.md](fidelity.md).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def search_realtime(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """realtime: instance type (every type that fits every model) x pinned count, cheapest first, from one
    below the Erlang C count per endpoint at the metric-period rates; then target tracking (min 1, max the
    count, target the per-instance rate that count carried at the peak) if the traffic leaves room to save.
    Policies and defaults whose instances alone break the budget are screened (`budget_floor`)."""
    hourly = endpoints_hourly(r)
    fleet_search(r, per_model_plans(r, raw), pinned_config(raw), tracked_config(r, raw), hourly=hourly)
    screen_defaults(r, raw, hourly)


def endpoints_hourly(r: Runner) -> Hourly:
    """`Hourly` of realtime: one instance on every model's endpoint, each on the type the simulation gives it
    (`sim.options.realtime.endpoint_type`); None when a model fits no type."""
    cat, models = r.scenario.catalog, r.scenario.models

    def hourly(cfg: dict) -> float | None:
        knobs = r.config_model(**cfg)
        types = [endpoint_type(m, knobs, cat) for m in models]
        return None if any(t is None for t in types) else float(sum(t.price_per_hour.value for t in types))
    return hourly


# --- export -----------------------------------------------------------------------------------------


def build_realtime(plan: ExportPlan) -> list[EndpointSet]:
    """realtime: one endpoint per model on its instance type, pinned or target-tracked."""
    sets = []
    for m in hosted(plan, "initial_count"):
        knobs = plan.config.model(m.name)
        model = {"PrimaryContainer": plan.container(m, knobs["workers_per_instance"])}
        variant = plan.variant(knobs["instance_type"], knobs["initial_count"], plan.cfg.routing)
        sets.append(EndpointSet(m.name, model, variant, scaling=plan.fleet_scaling(m.name)))
    separate(plan, len(sets), "real-time")
    return sets


UNIT = register(OptionUnit(
    "realtime", "real-time endpoints",
    pins=FLEET_PINS, search=search_realtime, export=build_realtime, rubric="realtime",
    docs=DOCS, production_instances=2))
"""The `realtime` unit, registered once."""
