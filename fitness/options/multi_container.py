"""The `multi-container` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/multi_container.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

from fitness.engine.fleets import FLEET_PINS, distinct, fleet_search, pinned_config, tracked_config
from fitness.engine.queueing import Demand, plan, sizing_window_s
from fitness.engine.sizing import Runner
from fitness.export.aws import EndpointSet, ExportPlan
from fitness.export.hosting import containers, used
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.options.multi_container import instance_for, layout
from sim.scenario import Scenario

DOCS = """\
`sim/options/multi_container.py`, data plane `SharingPool` (`sim/components/sharing.py`). Delivers sync,
async and offline; hosts serial, scatter-gather and aggregate.

- **Processor sharing.** Every container is loaded on every instance all the time (no cold start after
  launch). The requests in service on an instance share its C vCPUs whatever container they run in:
  with n jobs each progresses at min(1, C / n) (egalitarian processor sharing; one job uses at most one
  vCPU; no switching overhead). A virtual clock per instance makes each arrival or departure O(log n).
- **Modes.** `direct`: the caller names the container. One model per request, or an application
  orchestrated by the caller: one call per stage, each paying `co_hosting.endpoint_hop_ms`, branches of
  a scatter-gather called at once, then the aggregator. `serial`: the endpoint chains the containers on
  the instance (the application's steps, or every model), `co_hosting.pipeline_hop_ms` between them;
  serial cannot fan out to branches. Default: serial for a serial application, direct otherwise.
- **Defaults.** Instance type: the cheapest CPU type with as many vCPUs as parallel branches whose usable
  memory holds every container. Autoscaling on requests per instance, as real-time.
- **Limits.** At most `co_hosting.multi_container_max` (15) containers; CPU only (no GPU or Inferentia
  type, no GPU model); 6 MB payload; mean processing per request within 60 s.
- **Billing.** Instance-seconds x price and the ML storage volume of each instance
  (`realtime.storage_price_per_gb_month`; none on NVMe types), plus the data processed in and out of the
  endpoint (`realtime.data_price_per_gb`). Never sized onto a burstable type: CPU credits are not simulated
  here.
- **Checked by** `tests/test_multi_container.py` (M/M/1-PS, M/D/1-PS, M/M/2 sojourn, expected maximum of
  K branches, processor sharing and hops worked by hand, the autoscaling step).
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def search_multi_container(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """multi-container: CPU instance type holding every container with a vCPU per parallel branch x count,
    the vCPUs as servers of each request's total work (processor sharing taken as M/M/k); then tracking."""
    lay, why = layout(sc, raw.get("mode"))
    used, cat = [sc.models[i] for i in lay.containers], sc.catalog
    if why or not sc.n:
        return
    d = Demand.of(sc.arrivals_s, lay.work_s(sc).sum(axis=1), sc.horizon_s, sizing_window_s(wl, sc))
    names = [raw["instance_type"]] if raw.get("instance_type") else [t.name for t in distinct(cat.cheapest())]
    fits = [cat.instance(n) for n in names if not instance_for(used, n, lay.width, cat)[1]]
    plans = [plan(wl, {"instance_type": t.name}, [(d, t.vcpu, sum(lay.hops_s))], t.price_per_hour.value)
             for t in fits]
    fleet_search(r, plans, pinned_config(raw), tracked_config(r, raw))


# --- export -----------------------------------------------------------------------------------------


def build_multi_container(plan: ExportPlan) -> list[EndpointSet]:
    """multi-container: one endpoint, every container always loaded, Direct or Serial invocation."""
    c = plan.config.option
    mode = str(c["mode"]).capitalize()
    model = {"Containers": containers(plan, used(plan)), "InferenceExecutionConfig": {"Mode": mode}}
    if mode == "Direct":
        plan.notes.add("Direct invocation: callers name the container with TargetContainerHostname=<hostname> on "
                       "InvokeEndpoint.")
        if plan.wl.application is not None and plan.wl.application.pattern != "dynamic-selection":
            plan.notes.add(f"The {plan.wl.application.pattern} application is orchestrated by your code, one call "
                           "per stage, as simulated.")
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, model, variant, scaling=plan.fleet_scaling())]


UNIT = register(OptionUnit(
    "multi-container", "multi-container endpoint (MCE)",
    pins=FLEET_PINS, search=search_multi_container, export=build_multi_container, rubric="multi-container",
    docs=DOCS, production_instances=2))
"""The `multi-container` unit, registered once."""
