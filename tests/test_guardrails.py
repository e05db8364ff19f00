"""Production guardrails and the fit rules an architecture review applies, each on a small workload.

Every test here fails without its rule: a single instance in production, a type whose next size up was
never tried, a GPU model fitted against host memory, five frameworks on one multi-model container, a model
whose own p99 hides in the pooled one, a diurnal day cut to its first hour.
"""

from __future__ import annotations

import pytest

from fitness.engine.constraints import binding, constraint_reasons
from fitness.engine.functions.base import Context
from fitness.engine.functions.complexity import raw as complexity
from fitness.engine.horizon import horizon_warnings, needed_horizon_s
from fitness.engine.ranking import rank
from fitness.engine.run import simulate
from fitness.engine.windows import right_size
from fitness.workload.scenario import assumed, build
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog

CAT = load_catalog()
FLEETS = ["realtime", "multi-model", "multi-container", "triton"]


def workload(models=None, **kw):
    """Ten minutes of Poisson traffic at 5 req/s on one 100 ms CPU model, p99 within 2 s."""
    data = {"name": "t", "horizon": "10m", "seed": 1, "replications": 1, "sensitivity": False,
            "models": models or [{"name": "m", "memory_mb": 100,
                                  "service_time": {"dist": "exponential", "mean_ms": 100}}],
            "traffic": {"pattern": "poisson", "rate_rps": 5}, "slo": {"p99_ms": 2000, "max_error_rate": 0.001}}
    return parse_workload({**data, **kw})


def least_instances(config: dict) -> int:
    """The fewest instances a chosen configuration runs."""
    return config.get("instance_count") or config["autoscaling"]["min"]


@pytest.mark.parametrize("option", FLEETS)
def test_production_runs_at_least_two_instances(option):
    """0.3 vCPU of work (3 req/s x 100 ms) fits one instance of anything, even one burstable ml.t3.medium under
    its 20% baseline (15% of 2 vCPUs), so only the guardrail asks for a second; `dev` lifts it."""
    light = {"traffic": {"pattern": "poisson", "rate_rps": 3}}
    prod, dev = workload(**light), workload(environment="dev", **light)
    chosen = right_size(prod, build(prod), option).chosen
    assert least_instances(chosen) == 2
    assert least_instances(right_size(dev, build(dev), option).chosen) == 1


def test_a_single_instance_pinned_in_production_is_refused_with_the_reason():
    wl = workload(options={"realtime": {"instance_type": "ml.c5.large", "instance_count": 1}})
    sz = right_size(wl, build(wl), "realtime")
    assert sz.chosen is None and not sz.run.summary.feasible
    assert "production needs at least 2 across Availability Zones" in sz.run.summary.reasons[0]
    dev = workload(environment="dev", options={"realtime": {"instance_type": "ml.c5.large", "instance_count": 1}})
    assert right_size(dev, build(dev), "realtime").chosen is not None


def test_silence_on_the_environment_is_stated_as_an_assumption():
    assert any(a.startswith("environment: production") for a in assumed(workload()))
    assert not any(a.startswith("environment") for a in assumed(workload(environment="production")))


def test_the_next_size_up_is_tried():
    """2 x ml.t3.medium (the cheapest) fail the drill: a lone T3 starts with no CPU credits, and 0.5 vCPU of work
    is above its 0.4 vCPU baseline. 2 x ml.t2.medium (60 launch credits each) pass. ml.t2.medium has no bigger
    size in its family: the next size up is the cheapest type with more vCPUs, ml.c5.xlarge (0.204 USD/h,
    4 vCPUs), and it appears among the trials."""
    wl = workload()
    tried = [t.config["instance_type"] for t in right_size(wl, build(wl), "realtime").tried]
    assert tried[:3] == ["ml.t3.medium", "ml.t2.medium", "ml.c5.xlarge"]


def test_a_gpu_model_fits_against_the_memory_of_one_gpu():
    """16,000 MB of weights: a 16 GiB V100 or T4 keeps part of its memory for the CUDA context, so only a
    24 GiB GPU holds it, although every GPU type has far more host RAM than that: the cheapest is the L4 of
    ml.g6.2xlarge (1.222 USD/h, below the A10G of ml.g5.xlarge at 1.408)."""
    models = [{"name": "llm", "memory_mb": 16000, "accelerator": "gpu",
               "service_time": {"dist": "constant", "value_ms": 50}}]
    wl = workload(models=models, environment="dev")
    for option in ("realtime", "triton"):
        assert right_size(wl, build(wl), option).chosen["instance_type"] == "ml.g6.2xlarge"
    v100 = workload(models=models, options={"realtime": {"instance_type": "ml.p3.2xlarge", "instance_count": 2}})
    reasons = simulate(v100, "realtime").summary.reasons
    assert any("needs 16,000 MB of GPU memory and a GPU of ml.p3.2xlarge leaves" in r for r in reasons)


def test_a_multi_model_endpoint_needs_one_container_for_all_its_models():
    frameworks = ["xgboost", "pytorch", "tensorflow", "sklearn", "onnx"]
    models = [{"name": f"m{i}", "memory_mb": 100, "container": c,
               "service_time": {"dist": "exponential", "mean_ms": 50}} for i, c in enumerate(frameworks)]
    wl = workload(models=models)
    mme = simulate(wl, "multi-model").summary
    assert not mme.feasible and any("one container" in r for r in mme.reasons), mme.reasons
    assert simulate(wl, "multi-container").summary.feasible  # one container per model is what it is for
    same = workload(models=[{**m, "container": "xgboost"} for m in models])
    assert simulate(same, "multi-model").summary.feasible


def test_a_model_with_its_own_slo_is_checked_on_its_own_requests():
    """A slow model (300 ms) takes 1 request in 20: the pooled p99 (about 2.3 x 300 ms hidden in the top
    5%) can pass a 1 s SLO while the slow model's own p99 breaks its 500 ms SLO."""
    models = [{"name": "fast", "memory_mb": 100, "service_time": {"dist": "constant", "value_ms": 10}},
              {"name": "slow", "memory_mb": 100, "service_time": {"dist": "constant", "value_ms": 600},
               "slo": {"p99_ms": 500}}]
    wl = workload(models=models, environment="dev", slo={"p99_ms": 1000, "max_error_rate": 0.001},
                  traffic={"pattern": "poisson", "rate_rps": 5, "popularity": {"weights": {"fast": 19, "slow": 1}}},
                  options={"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 1}})
    s = simulate(wl, "realtime").summary
    assert s.latency_ms.p99 < 1000
    assert constraint_reasons(wl, s) == [f"model slow's p99 latency {s.latency_by_model_ms['slow'].p99:.0f} ms "
                                         "exceeds its SLO of 500 ms"]
    assert binding(wl, s)[0] == "slow"


def test_a_diurnal_day_without_a_horizon_is_simulated_whole():
    wl = workload(horizon=None, traffic={"pattern": "diurnal", "trough_rps": 0.01, "peak_rps": 0.05})
    assert build(wl).horizon_s == 86400
    assert any(a.startswith("horizon: 24 h, one full period") for a in assumed(wl))


def test_a_chain_of_serverless_endpoints_is_labelled_and_pays_for_its_hops():
    """A serial application on serverless is three endpoints the caller chains: it says so, and it rates
    as more complex than one endpoint (2 endpoints and 2 hops beyond the first call, weighted by the rubric)."""
    models = [{"name": n, "memory_mb": 100, "service_time": {"dist": "constant", "value_ms": 20}}
              for n in ("a", "b", "c")]
    chain = workload(models=models, application={"pattern": "serial", "steps": ["a", "b", "c"]})
    one = workload()
    run, single = simulate(chain, "serverless"), simulate(one, "serverless")
    assert "3 separate serverless endpoints" in run.summary.config.option["hosting"]
    assert complexity(run.summary, Context(chain)) > complexity(single.summary, Context(one))


def test_production_keeps_the_slo_when_one_instance_fails_at_the_busiest_minute():
    """One worker per instance, exponential 100 ms, 12 req/s: two instances run at 60% and meet a 2 s p99
    (M/M/1 each: ln(100) / (10 - 6) = 1.15 s). When one fails, the survivor gets 12 req/s against 10 it can
    serve for the launch delay (minutes): its queue grows by 2 requests a second, the waits reach tens of
    seconds and the drill fails. Three instances leave two survivors at 60%: the drill passes. `dev`, with
    neither floor nor drill, keeps two."""
    kw = {"traffic": {"pattern": "poisson", "rate_rps": 12}, "horizon": "30m",
          "options": {"realtime": {"instance_type": "ml.c5.large", "workers_per_instance": 1}}}
    prod = workload(**kw)
    sz = right_size(prod, build(prod), "realtime")
    assert sz.chosen["instance_count"] == 3
    two = next(t for t in sz.tried if t.config.get("instance_count") == 2)
    assert not two.feasible and two.drill is not None and not two.drill.keeps_slo
    assert any("while one instance is replaced" in r for r in two.reasons)
    assert two.drill.p99_ms > 2000 and two.drill.lost_requests >= 1
    record = sz.to_dict()["failure_drill"]
    assert record["keeps_slo"] and record["p99_ms"] <= 2000
    launch_s = CAT.realtime.instance_launch_s.value
    assert record["replacement_serving_s"] == pytest.approx(record["at_s"] + launch_s, abs=1e-9)
    dev = workload(environment="dev", **kw)
    assert right_size(dev, build(dev), "realtime").chosen["instance_count"] == 2


def test_an_option_whose_defaults_meet_the_constraints_is_never_infeasible():
    """With no search left (no trial allowed), the option's own defaults are still simulated, at the
    production floor, and chosen when they pass (3 req/s: the default type, the cheapest, ml.t3.medium, keeps
    the SLO on one instance during the drill)."""
    wl = workload(traffic={"pattern": "poisson", "rate_rps": 3})
    sz = right_size(wl, build(wl), "realtime", max_trials=0)
    assert sz.chosen == {"min_instances": 2} and sz.run.summary.feasible


def test_a_busy_run_that_has_not_settled_is_warned_about_with_the_horizon_it_needs():
    """One exponential 100 ms worker at 95% load for 10 minutes: the queue is still building, so the p99 of
    the second half is far above the first's. The warning asks for 50 relaxation times at the measured
    utilisation: at exactly 95%, 0.1 / (1 - sqrt(0.95))^2 = 156 s, and 50 of them are 7,800 s, 3 h in whole
    hours; this run measured 94% (108 s, 5,390 s: 2 h)."""
    wl = workload(environment="dev", traffic={"pattern": "poisson", "rate_rps": 9.5}, slo={"p99_ms": 60000},
                  options={"realtime": {"instance_type": "ml.c5.large", "instance_count": 1,
                                        "workers_per_instance": 1}})
    sc = build(wl)
    rec = rank(wl, sc, [simulate(wl, "realtime")])
    warned = horizon_warnings(wl, sc, rec)
    util = rec.options[0].utilization
    need_h = needed_horizon_s(600.0, float(sc.service_s.mean()), util) / 3600
    assert len(warned) == 1 and warned[0].startswith(f"realtime: at {util:.0%} utilisation")
    assert need_h == 2 and "10 min run" in warned[0] and f"Simulate at least {need_h:g} h" in warned[0]
    assert needed_horizon_s(600.0, 0.1, 0.95) == 3 * 3600
    calm = workload(environment="dev", options=wl.options)  # 5 req/s: 50%, under the rule's utilisation
    assert horizon_warnings(calm, build(calm), rank(calm, build(calm), [simulate(calm, "realtime")])) == []
