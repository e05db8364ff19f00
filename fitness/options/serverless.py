"""The `serverless` option as the product knows it: its sizing search, export, rubric entry and docs.

The simulation is `sim/options/serverless.py`; this unit adds what the decision engine needs of it.
"""

from __future__ import annotations

import numpy as np

from fitness.engine.queueing import allowance, blocked_share, busy_share, endpoints, limit_for, smallest, targets
from fitness.engine.run import OptionRun
from fitness.engine.sizing import Runner
from fitness.export.aws import VARIANT, EndpointSet, ExportPlan
from fitness.export.hosting import hosted, separate
from fitness.options import OptionUnit, register
from fitness.workload.spec import Workload
from sim.options.serverless import ServerlessConfig, speed
from sim.results import SERVED, THROTTLED
from sim.scenario import Scenario

DOCS = """\
`sim/options/serverless.py`, data plane `OnDemandContainers` (`sim/components/containers.py`). Delivers
sync, async and offline; hosts serial, scatter-gather and aggregate as separate endpoints the caller chains
(never as one pipeline: a serverless endpoint holds one container). The result says so (`hosting`), each
call pays `co_hosting.endpoint_hop_ms`, and the complexity score grows with the endpoints and hops.

- **Mechanics.** One endpoint per model. A request takes an idle provisioned container if there is one, else
  the newest idle on-demand container, the one created last (as SimFaaS does: older idle containers are left
  to expire; not the most recently used one), else a new container that first pays the cold start
  (`container_start_s`, or one draw of `container_start` per container created, + `size_mb` /
  `network.model_download_mb_per_s` + `load_s`), unless `max_concurrency`
  requests are already in service: then it is throttled (no queue). An idle on-demand container dies
  `keep_alive_s` after its last request (default `serverless.keep_alive_s`, 600 s, an assumption: AWS does not
  document it).
- **vCPU share.** A container at `memory_mb` gets min(1, memory_mb / `serverless.memory_mb_per_vcpu`)
  of a vCPU (1769 MB per vCPU, Lambda's figure, an assumption); service times are divided by that
  share. Above one vCPU a request is no faster (one request uses one vCPU).
- **Defaults.** `memory_mb`: the smallest allowed size that holds the model and gives a full vCPU.
  `max_concurrency` 20. `initial_warm` unset: the endpoint starts with the containers a steady state
  keeps warm (mean number in service over the first 10 minutes + 3 standard deviations of a Poisson
  count, at most the concurrency left after provisioned concurrency); 0 starts it cold.
- **Provisioned concurrency.** That many containers always warm and taken first; they count within
  `max_concurrency`.
- **Limits.** GPU models are infeasible; the model's `memory_mb` must fit the chosen memory; memory must
  be `serverless.memory_mb_min`..`memory_mb_max` in steps of `memory_mb_step`; `max_concurrency` at most
  `max_concurrency_max`; endpoints x `max_concurrency` at most `account_concurrency`; payload
  `payload_limit_mb` (4 MB); answers within `timeout_s` (60 s) counted from arrival, cold start included.
- **Billing.** Compute: each request's time in service (start to finish, the cold start excluded) rounded
  up to `billing_granularity_ms`, x memory in GB x `price_per_gb_second`. Data: (payload_kb +
  response_kb) of every served request / 1024^2 x `data_price_per_gb`. Provisioned concurrency: horizon x
  count x memory in GB x `provisioned_price_per_gb_second` (an assumption: Lambda's price, SageMaker's
  was not found), and the requests served on provisioned containers at
  `provisioned_inference_price_per_gb_second` instead of the on-demand rate (also an assumption). The free
  tier (`free_tier_seconds_per_month`) is not applied.
- **Reported.** Instances = containers alive (provisioned included); cold starts = served requests that
  waited for a container start.
- **Checked by** `tests/test_statistical.py` (Erlang B, exponential and constant service),
  `tests/test_lambda_validation.py` (real AWS Lambda measurements), `tests/test_cost.py`.
"""
"""This option's section of docs/options.md (generated from it)."""


# --- right-sizing -----------------------------------------------------------------------------------


def _cold_breaks(run: OptionRun, wl: Workload) -> bool:
    """True when the warm requests alone meet every latency target and the served ones with cold starts
    do not: only always-warm capacity can help."""
    log = run.result.log
    served = log.status == SERVED
    warm, lat = served & ~log.cold, log.finish_s - log.arrival_s
    if not warm.any() or warm.sum() == served.sum():
        return False
    meets = [(np.quantile(lat[warm], 1 - s) <= t, np.quantile(lat[served], 1 - s) <= t) for s, t in targets(wl)]
    return all(w for w, _ in meets) and not all(a for _, a in meets)


def _cold_throttles(run: OptionRun, cold_s: float) -> int:
    """Requests throttled within `cold_s` (the longest cold start) of a container's creation: refused while
    a slot was held by a start-up (read off the containers-alive timeline, so any pattern works)."""
    cap = run.result.capacity
    born = np.r_[0.0, cap.times_s[1:][np.diff(cap.values) > 0]]
    t = run.result.log.arrival_s[run.result.log.status == THROTTLED]
    return int(np.sum(np.searchsorted(born, t, "right") > np.searchsorted(born, t - cold_s, "right")))


def _memory_sizes(sc: Scenario, raw: dict, work_s: float) -> list[int]:
    """The user's size, or every size holding the largest model in order of compute cost (work / vCPU share
    x memory: flat below one vCPU, rising above), the larger (faster) first at equal cost."""
    if raw.get("memory_mb"):
        return [raw["memory_mb"]]
    largest = max(m.memory_mb for m in sc.models)
    sizes = [mb for mb in sc.catalog.serverless.memory_sizes_mb() if mb >= largest]
    return sorted(sizes, key=lambda mb: (work_s / speed(mb, sc.catalog) * mb, -mb))


def _warmer(prov: int, hold: list, wl: Workload, cap: int) -> int:
    """Next provisioned concurrency: one below the fewest always-warm containers that leave at most the
    allowed share of requests arriving with all of them busy (M/G/infinity), then one more each time."""
    if prov:
        return prov + 1
    warm = smallest(lambda p: all(busy_share(d, p, h) <= allowance(wl) for d, h in hold), limit=cap) or cap
    return max(1, warm - 1)


FREE_CONCURRENCY = ServerlessConfig.model_fields["max_concurrency"].default
"""The serverless max_concurrency a search never goes below (the config's default, AWS's default of 20)."""


def _serverless_size(r: Runner, raw: dict, mb: int, hold: list, cap: int, prov: int) -> int | None:
    """Trials at one memory size; None when the search is over, else the provisioned concurrency the next
    size starts from. Throttling mostly during cold starts -> provisioned concurrency; other throttling ->
    the concurrency Erlang B gives once calibrated on the throttling seen; cold starts alone breaking the
    latency targets -> provisioned concurrency; warm requests too slow -> the next size."""
    err, sc = r.wl.slo.max_error_rate, r.scenario
    cold_s = max(m.cold_start_s(sc.catalog.network.model_download_mb_per_s.value) for m in sc.models)
    least = smallest(lambda c: all(blocked_share(d, c, h) <= err for d, h in hold), limit=cap) or cap
    # concurrency costs nothing: never below the platform's default (headroom for free), search above it
    c = raw.get("max_concurrency") or min(cap, max(FREE_CONCURRENCY, least - 1))
    while True:
        out = r.run({**raw, "memory_mb": mb, "max_concurrency": max(c, prov), "provisioned_concurrency": prov})
        if out is None or out[0].feasible or not r.left or out[1] is None:
            return None
        run, req = out[1], out[1].summary.requests
        more_c, more_p = "max_concurrency" not in raw and c < cap, "provisioned_concurrency" not in raw and prov < cap
        if req.throttled > err * req.offered:
            if more_p and _cold_throttles(run, cold_s) > err * req.offered:
                prov = _warmer(prov, hold, r.wl, cap)
            elif more_c:
                c = max(c + 1, limit_for(req.throttled / req.offered, max(c, prov), err, cap))
            else:
                return prov
        elif more_p and _cold_breaks(run, r.wl):
            prov = _warmer(prov, hold, r.wl, cap)
        else:
            return prov


def search_serverless(r: Runner, wl: Workload, sc: Scenario, raw: dict) -> None:
    """serverless: memory_mb x max_concurrency x provisioned_concurrency, each unless the workload sets it.

    Memory sizes that hold the largest model, cheapest compute first (`_memory_sizes`). At each size,
    max_concurrency starts one below the smallest whose Erlang B throttling at the window rates (weighted
    by requests) is within slo.max_error_rate, but never below the config's default (`FREE_CONCURRENCY`):
    concurrency is not billed, so the minimum that passes on one seed would only throw away headroom;
    provisioned_concurrency stays 0 unless cold starts are to blame (`_serverless_size`). Endpoints x
    max_concurrency stay within the account's concurrency.
    """
    s = sc.catalog.serverless
    demands = [d for _, d, _ in endpoints(wl, sc, sc.catalog.co_hosting.endpoint_hop_ms.value / 1000.0)]
    cap = max(1, int(min(s.max_concurrency_max.value, s.account_concurrency.value // len(sc.models))))
    prov = raw.get("provisioned_concurrency") or 0
    for mb in _memory_sizes(sc, raw, sum(d.mean_s * d.arrivals_s.size for d in demands)):
        out = _serverless_size(r, raw, mb, [(d, d.mean_s / speed(mb, sc.catalog)) for d in demands], cap, prov)
        if out is None:
            return
        prov = out


# --- export -----------------------------------------------------------------------------------------


def build_serverless(plan: ExportPlan) -> list[EndpointSet]:
    """serverless: one endpoint per model with the simulated memory, max and provisioned concurrency."""
    cfg, sets = plan.cfg, []
    for m in hosted(plan, "memory_mb"):
        sc = {"MemorySizeInMB": int(plan.config.model(m.name)["memory_mb"]), "MaxConcurrency": int(cfg.max_concurrency)}
        if cfg.provisioned_concurrency:
            sc["ProvisionedConcurrency"] = int(cfg.provisioned_concurrency)
        variant = {"VariantName": VARIANT, "InitialVariantWeight": 1.0, "ServerlessConfig": sc}
        sets.append(EndpointSet(m.name, {"PrimaryContainer": plan.container(m)}, variant))
    keep = plan.config.option.get("keep_alive_s")
    if keep is not None:
        plan.notes.add(f"The simulation kept an idle serverless container warm for {keep:g} s (keep_alive_s): "
                       "SageMaker decides this itself, nothing to configure.")
    separate(plan, len(sets), "serverless")
    return sets


UNIT = register(OptionUnit(
    "serverless", "serverless inference",
    pins=("memory_mb", "max_concurrency"), pins_all=True, search=search_serverless, export=build_serverless,
    rubric="serverless", docs=DOCS))
"""The `serverless` unit, registered once."""
