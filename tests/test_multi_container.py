"""Multi-container endpoints: processor sharing held to queueing theory, layouts, limits and invariants.

Statistical points (fixed seed 11, first 5% of the horizon removed as warm-up; scatter-gather at light
load has no warm-up to remove). Tolerances are 4 x the relative run-to-run standard deviation of the
mean, measured over seeds 0..9 (`python -m tests.test_multi_container` reproduces the table); the
10-seed means agreed with the closed forms within 0.5%, so the tolerances cover noise, not bias.

| point (N requests)                                   | closed form             | 10-seed bias | rel. sd |
| M/M/1-PS, rho 0.5, data plane, 1 vCPU (200,000)      | 1 / (mu - lambda)       | +0.11%       | 0.0075  |
| M/M/1-PS, rho 0.8                                    | 1 / (mu - lambda)       | -0.42%       | 0.0191  |
| M/D/1-PS, rho 0.5 (insensitivity)                    | E[S] / (1 - rho)        | +0.11%       | 0.0049  |
| M/D/1-PS, rho 0.8                                    | E[S] / (1 - rho)        | +0.09%       | 0.0173  |
| M/M/2-PS, rho 0.7, option on ml.c5.large (200,000)   | Erlang C Wq + E[S]      | -0.24%       | 0.0109  |
| M/D/2-PS, rho 0.7, option on ml.c5.large             | Erlang C Wq + E[S]      | +0.16%       | 0.0085  |
| scatter-gather K = 2, exp. 50 ms, ml.c5.2xlarge (20,000) | 50 ms x H_K + hop   | -0.01%       | 0.0050  |
| scatter-gather K = 3                                 | 50 ms x H_K + hop       | -0.06%       | 0.0042  |
| scatter-gather K = 5                                 | 50 ms x H_K + hop       | -0.12%       | 0.0031  |

Processor sharing with C vCPUs (rate min(1, C / n) per job) is a symmetric queue: the number in
system has the M/M/C law whatever the service distribution, so the mean sojourn is the M/M/C one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.application import Application
from sim.catalog import load_catalog
from sim.components.sharing import sharing_pool
from sim.distributions import Constant, Exponential
from sim.metrics import latency_s, request_counts, summary
from sim.model import ModelSpec
from sim.options import load_all
from sim.options.multi_container import MultiContainerConfig, layout, simulate
from sim.results import SERVED, RequestLog
from sim.scenario import build_scenario, stream
from tests.invariants import check_common, explained
from tests.queueing import CONST_100MS, EXP_100MS, erlang_c, poisson_scenario

CAT = load_catalog()
N, SEED = 200_000, 11
NET_S = CAT.co_hosting.endpoint_hop_ms.value / 1000.0
PIPE_S = CAT.co_hosting.pipeline_hop_ms.value / 1000.0


def ps_sojourn(lam: float, service, seed: int, vcpus: int = 1, n: int = N) -> float:
    """Mean sojourn (s) of one processor-sharing instance of `vcpus` vCPUs, Poisson arrivals, warm-up removed."""
    sc = poisson_scenario(lam, service, n, seed)
    log = RequestLog.empty(sc.arrivals_s, sc.model_idx)
    pool = sharing_pool(log, np.arange(sc.n), sc.service_s, ((0,),), vcpus)
    pool.join(0.0)
    pool.advance(math.inf)
    return float(latency_s(log, since_s=0.05 * sc.horizon_s).mean())


def option_sojourn(lam: float, service, seed: int, n: int = N) -> float:
    """Mean sojourn (s) of a pinned one-instance multi-container endpoint on ml.c5.large (2 vCPUs)."""
    sc = poisson_scenario(lam, service, n, seed)
    res = simulate(sc, MultiContainerConfig(instance_type="ml.c5.large", instance_count=1))
    return float(latency_s(res.log, since_s=0.05 * sc.horizon_s).mean())


def _app_scenario(models, app, rate, n, seed=3, arrivals=None):
    arr = np.cumsum(stream(seed, "mc-arrivals").exponential(1 / rate, n)) if arrivals is None else arrivals
    return build_scenario(models, arr, np.zeros(arr.size, np.int32), float(arr[-1]) + 1, CAT, seed,
                          application=app)


def scatter_gather_mean(k: int, seed: int, n: int = 20_000) -> float:
    """Mean latency (s) of K exponential 50 ms branches at 0.5 request/s on one ml.c5.2xlarge (8 vCPUs)."""
    models = [ModelSpec(name=f"b{i}", service_time=Exponential(mean_ms=50)) for i in range(k)]
    sc = _app_scenario(models, Application("scatter-gather", branches=tuple(range(k))), 0.5, n, seed)
    res = simulate(sc, MultiContainerConfig(instance_type="ml.c5.2xlarge", instance_count=1))
    return float(latency_s(res.log).mean())


@pytest.mark.statistical
@pytest.mark.parametrize("service", [EXP_100MS, CONST_100MS], ids=["exponential", "constant"])
@pytest.mark.parametrize(("lam", "tol"), [(5.0, {"exponential": 0.0075, "constant": 0.0049}),
                                          (8.0, {"exponential": 0.0191, "constant": 0.0173})])
def test_processor_sharing_matches_mg1_ps(service, lam, tol):
    """One vCPU, mean service 100 ms: mean sojourn 1 / (mu - lambda), exponential or constant (insensitivity)."""
    rel = 4 * tol["exponential" if service is EXP_100MS else "constant"]
    assert ps_sojourn(lam, service, SEED) == pytest.approx(1 / (10.0 - lam), rel=rel)


@pytest.mark.statistical
@pytest.mark.parametrize(("service", "sd"), [(EXP_100MS, 0.0109), (CONST_100MS, 0.0085)], ids=["exp", "const"])
def test_option_on_two_vcpus_matches_mmc_sojourn(service, sd):
    """The option on ml.c5.large (2 vCPUs) at rho 0.7: the M/M/2 mean sojourn, whatever the distribution."""
    expected = erlang_c(14.0, 10.0, 2)[1] + 0.1
    assert option_sojourn(14.0, service, SEED) == pytest.approx(expected, rel=4 * sd)


@pytest.mark.statistical
@pytest.mark.parametrize(("k", "sd"), [(2, 0.0050), (3, 0.0042), (5, 0.0031)])
def test_scatter_gather_latency_is_the_expected_max_of_the_branches(k, sd):
    """Branches in parallel on 8 vCPUs at light load: E[max of K exp(50 ms)] = 50 ms x H_K, plus the one
    call the caller makes (direct mode pays a network hop per call)."""
    expected = 0.050 * sum(1 / i for i in range(1, k + 1)) + NET_S
    assert scatter_gather_mean(k, SEED) == pytest.approx(expected, rel=4 * sd)


def _pool(works, arrivals, vcpus, instances=1, stages=((0,),), hops=None):
    arr = np.asarray(arrivals, float)
    log = RequestLog.empty(arr, np.zeros(arr.size, np.int32))
    pool = sharing_pool(log, np.arange(arr.size), np.asarray(works, float), stages, vcpus, hops)
    for _ in range(instances):
        pool.join(0.0)
    pool.advance(math.inf)
    return log


def test_processor_sharing_by_hand():
    # 1 vCPU, 1 s and 2 s at t = 0: both at rate 1/2, the first done at 2 s; the second then has 1 s left
    assert _pool([1.0, 2.0], [0.0, 0.0], 1).finish_s.tolist() == [2.0, 3.0]
    # 2 vCPUs, three 1 s jobs at t = 0: each at rate 2/3, all done at 1.5 s
    assert _pool([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 2).finish_s == pytest.approx([1.5] * 3)
    # 1 vCPU: 2 s at 0 runs alone until 1 s joins at 1 (1 s left each), then both at 1/2: both done at 3
    assert _pool([2.0, 1.0], [0.0, 1.0], 1).finish_s == pytest.approx([3.0, 3.0])
    # two instances: least outstanding routing puts the two requests on different instances
    assert _pool([1.0, 1.0], [0.0, 0.0], 1, instances=2).finish_s.tolist() == [1.0, 1.0]


def test_fast_path_agrees_with_the_staged_path():
    """One job per request takes an inlined path; the staged path must give the same answers."""
    rng = stream(5, "agree")
    arr, work = np.cumsum(rng.exponential(0.01, 20_000)), rng.exponential(0.035, 20_000)  # rho 0.875 on 2 x 2
    fast = _pool(work, arr, 2, instances=2)
    staged = _pool(np.column_stack([np.zeros_like(work), work]), arr, 2, instances=2, stages=((1,),))
    assert staged.finish_s == pytest.approx(fast.finish_s, abs=1e-9)
    assert np.ptp(fast.finish_s - arr) > 0.5  # requests did share instances


def test_stages_and_hops_on_one_instance():
    works = [[0.1, 0.2, 0.3]]
    serial = _pool(works, [0.0], 1, stages=((0,), (1,), (2,)), hops=(0.0, 0.001, 0.001))
    assert serial.finish_s[0] == pytest.approx(0.602)
    # branches 0 and 1 at once on 1 vCPU share it: 0.1 s each at 1/2 -> 0.2; the 0.2 s one ends at 0.3;
    # then the aggregator (column 2) 0.3 s after a 0.01 s hop
    fan = _pool(works, [0.0], 1, stages=((0, 1), (2,)), hops=(0.0, 0.01))
    assert fan.finish_s[0] == pytest.approx(0.3 + 0.01 + 0.3)
    assert fan.start_s[0] == 0.0


def _constant(name, ms, memory_mb=100.0, **kw):
    return ModelSpec(name=name, service_time=Constant(value_ms=ms), memory_mb=memory_mb, **kw)


PINNED = MultiContainerConfig(instance_type="ml.c5.xlarge", instance_count=1)
STEPS = [_constant("pre", 5, kind="logic"), _constant("m", 20), _constant("post", 3, kind="logic")]


def test_serial_mode_is_the_sum_of_steps_plus_in_host_hops():
    res = simulate(_app_scenario(STEPS, Application("serial", steps=(0, 1, 2)), 1.0, 2000), PINNED)
    assert res.feasible and res.config.option["mode"] == "serial"
    assert latency_s(res.log) == pytest.approx(np.full(2000, 0.028 + 2 * PIPE_S), abs=1e-9)
    # with no application, serial mode runs every model in order
    plain = build_scenario(STEPS, np.arange(100.0), np.zeros(100, np.int32), 100.0, CAT, 0)
    res = simulate(plain, PINNED.model_copy(update={"mode": "serial"}))
    assert latency_s(res.log) == pytest.approx(np.full(100, 0.028 + 2 * PIPE_S), abs=1e-9)


def test_direct_mode_pays_a_network_hop_per_call():
    res = simulate(_app_scenario(STEPS, Application("serial", steps=(0, 1, 2)), 1.0, 500),
                   PINNED.model_copy(update={"mode": "direct"}))
    assert latency_s(res.log) == pytest.approx(np.full(500, 0.028 + 3 * NET_S), abs=1e-9)
    vote = [_constant("a", 10), _constant("b", 30), _constant("vote", 2, kind="logic")]
    res = simulate(_app_scenario(vote, Application("aggregate", branches=(0, 1), aggregator=2), 1.0, 500), PINNED)
    assert res.config.option["mode"] == "direct"
    assert latency_s(res.log) == pytest.approx(np.full(500, 0.030 + 0.002 + 2 * NET_S), abs=1e-9)


def test_one_model_per_request_goes_to_its_container():
    models = [_constant("a", 10), _constant("b", 50)]
    idx = np.arange(200) % 2
    sc = build_scenario(models, np.arange(200.0), idx, 200.0, CAT, 0)
    res = simulate(sc, PINNED)
    assert res.config.option["mode"] == "direct" and res.config.option["containers"] == 2
    assert latency_s(res.log) == pytest.approx(np.where(idx == 0, 0.010, 0.050), abs=1e-9)
    assert summary(res).cold_starts.count == 0  # every container is always loaded


def _many(k, memory_mb=10.0):
    return build_scenario([_constant(f"m{i}", 5, memory_mb) for i in range(k)], np.arange(30.0),
                          np.arange(30) % k, 30.0, CAT, 0)


def test_limits_are_named():
    assert simulate(_many(15), MultiContainerConfig()).feasible
    res = simulate(_many(16), MultiContainerConfig())
    assert not res.feasible and "16 containers exceed the 15-container limit of multi-container endpoints" \
        in res.reasons
    gpu = build_scenario([_constant("g", 5, accelerator="gpu")], np.arange(5.0), np.zeros(5, np.int32), 5.0, CAT, 0)
    assert "multi-container endpoints have no GPU (model g needs one)" in simulate(gpu, MultiContainerConfig()).reasons
    res = simulate(_many(3, 2000.0), MultiContainerConfig(instance_type="ml.c5.large"))
    assert not res.feasible and "need 6,000 MB together and ml.c5.large leaves 3,072 MB" in res.reasons[0]
    res = simulate(_many(2), MultiContainerConfig(instance_type="ml.g4dn.xlarge"))
    assert not res.feasible and "CPU instance types" in res.reasons[0]
    fan = _app_scenario(STEPS, Application("scatter-gather", branches=(0, 1)), 1.0, 10)
    res = simulate(fan, MultiContainerConfig(mode="serial"))
    assert not res.feasible and "cannot fan out" in res.reasons[0]


def test_default_instance_holds_every_container_and_a_vcpu_per_branch():
    res = simulate(_many(3, 2000.0), MultiContainerConfig(instance_count=1))
    assert res.config.option["instance_type"] == "ml.m5.large"  # cheapest CPU type with 6,000 MB free (8 GiB - 1 GiB)
    models = [_constant(f"b{i}", 5) for i in range(5)]
    res = simulate(_app_scenario(models, Application("scatter-gather", branches=tuple(range(5))), 1.0, 10),
                   MultiContainerConfig(instance_count=1))
    assert res.config.option["instance_type"] == "ml.c5.2xlarge"  # the cheapest with 5 vCPUs or more


def test_pinned_cost_is_instance_seconds_times_price():
    res = simulate(_many(2), MultiContainerConfig(instance_type="ml.c5.large", instance_count=2))
    assert res.cost_usd["instances"] == pytest.approx(2 * 30.0 * 0.102 / 3600, abs=1e-12)
    assert res.figures.instance_seconds == 60.0
    assert res.capacity.values.tolist() == [2]


def test_autoscaler_drives_the_sharing_pool():
    """The traffic step of test_autoscaling (10 -> 100 -> 10 req/s, 100 ms work, target 600/min): the same
    alarm arithmetic asks for 10 instances at 1980 s, serving 300 s later, and back to 1 at 6300 s."""
    arr = np.concatenate([np.arange(0, 1800, 0.1), np.arange(1800, 5400, 0.01), np.arange(5400, 7200, 0.1)])
    sc = build_scenario([_constant("m", 100)], arr, np.zeros(arr.size, np.int32), 7200.0, CAT, 0)
    res = simulate(sc, MultiContainerConfig(instance_type="ml.c5.large", initial_count=1, autoscaling={
        "min": 1, "max": 20, "target_invocations_per_instance": 600}))
    assert res.capacity.at(np.array([1000.0, 2279.0, 2281.0, 6299.0, 6301.0])).tolist() == [1, 1, 10, 10, 1]
    assert res.figures.instance_seconds == pytest.approx(7200 + 9 * (6300 - 1980), abs=9 * 0.2)
    assert request_counts(res.log).served + request_counts(res.log).failed == sc.n


@st.composite
def app_scenarios(draw):
    """1..4 models (constant, exponential or lognormal work), Poisson arrivals, and an application or none."""
    k = draw(st.integers(1, 4))
    svc = st.one_of(st.builds(lambda v: Constant(value_ms=v), st.floats(1, 2000)),
                    st.builds(lambda v: Exponential(mean_ms=v), st.floats(1, 2000)))
    models = [ModelSpec(name=f"m{i}", service_time=draw(svc), memory_mb=draw(st.floats(0, 1500))) for i in range(k)]
    pattern = draw(st.sampled_from([None, "serial", "scatter-gather", "aggregate"]))
    app = None if pattern is None or (pattern == "aggregate" and k < 2) else (
        Application("serial", steps=tuple(range(k))) if pattern == "serial" else
        Application(pattern, branches=tuple(range(k - (pattern == "aggregate"))),
                    aggregator=k - 1 if pattern == "aggregate" else None))
    rate, horizon, seed = draw(st.floats(0.05, 20)), draw(st.floats(10, 600)), draw(st.integers(0, 2**31))
    n = min(400, max(1, int(rate * horizon)))
    rng = stream(seed, "arrivals")
    arr = np.sort(rng.uniform(0, horizon, n))
    return build_scenario(models, arr, rng.integers(0, k, n).astype(np.int32), horizon, CAT, seed, application=app)


def _work_in_windows_fits(arr, fin, work, vcpus):
    """Work of the requests inside any window [arrival_i, finish_j] <= vcpus x its length."""
    for a0 in arr:
        inside = arr >= a0
        order = np.argsort(fin[inside])
        done = np.cumsum(work[inside][order])
        if np.any(done > vcpus * (fin[inside][order] - a0) + 1e-7):
            return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(app_scenarios(), st.sampled_from(["ml.c5.large", "ml.c5.xlarge", "ml.m5.2xlarge", None]),
       st.sampled_from([None, "direct", "serial"]))
def test_invariants(sc, instance_type, mode):
    """Nothing finishes before it arrives; offered = served + throttled + failed; cost >= 0; a job never runs
    faster than one vCPU and an instance never does more than vcpus seconds of work per second."""
    opt = load_all()["multi-container"]
    res = opt.simulate(sc, opt.config_model(instance_type=instance_type, instance_count=1, mode=mode))
    if not explained(res):
        return
    check_common(res, sc)
    log = res.log
    lay, _ = layout(sc, mode)
    work = lay.work_s(sc)
    total = sum(work[:, c] for stage in lay.stages for c in stage)
    path = sum(np.max(work[:, list(stage)], axis=1) for stage in lay.stages) + sum(lay.hops_s)
    ok = log.status == SERVED
    assert np.all(log.finish_s[ok] - log.arrival_s[ok] >= path[ok] - 1e-9)
    assert _work_in_windows_fits(log.arrival_s[ok], log.finish_s[ok], total[ok], res.config.option["vcpu"])


def main() -> None:
    """Print the 10-seed mean, bias and relative spread behind the tolerances above (about half a minute)."""
    points = {"M/M/1-PS rho .5": (ps_sojourn, 5.0, EXP_100MS, 0.2),
              "M/M/1-PS rho .8": (ps_sojourn, 8.0, EXP_100MS, 0.5),
              "M/D/1-PS rho .5": (ps_sojourn, 5.0, CONST_100MS, 0.2),
              "M/D/1-PS rho .8": (ps_sojourn, 8.0, CONST_100MS, 0.5),
              "M/M/2-PS rho .7": (option_sojourn, 14.0, EXP_100MS, erlang_c(14.0, 10.0, 2)[1] + 0.1),
              "M/D/2-PS rho .7": (option_sojourn, 14.0, CONST_100MS, erlang_c(14.0, 10.0, 2)[1] + 0.1)}
    for name, (fn, lam, svc, theory) in points.items():
        v = np.array([fn(lam, svc, s) for s in range(10)])
        print(f"{name}: {v.mean():.5f} s vs {theory:.5f}, bias {v.mean() / theory - 1:+.4f}, "
              f"rel sd {v.std(ddof=1) / v.mean():.4f}")
    for k in (2, 3, 5):
        v = np.array([scatter_gather_mean(k, s) for s in range(10)])
        theory = 0.050 * sum(1 / i for i in range(1, k + 1)) + NET_S
        print(f"scatter-gather K={k}: {v.mean():.5f} s vs {theory:.5f}, bias {v.mean() / theory - 1:+.4f}, "
              f"rel sd {v.std(ddof=1) / v.mean():.4f}")


if __name__ == "__main__":
    main()
