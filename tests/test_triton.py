"""Triton on GPU instances: dynamic batching, GPU sharing, GPU memory, ensembles, invariants.

Test model: a constant batch curve of 20 ms + 5 ms per request (T(1) = 25 ms, T(8) = 60 ms), so one GPU
with max_batch_size 8 serves at most 8 / 0.060 = 133.3 req/s, and 1 / 0.025 = 40 req/s unbatched.

Spread behind the statistical tolerances (`python -m tests.test_triton`, seeds 0..9):
| point                                                    | 10-seed mean  | sd            |
| served rate, 300 req/s for 30 s, B 8, 1 instance         | 133.41 req/s  | 0.10          |
| same with instances_per_model 2 (GPU shared, see gpu.py) | 133.34 req/s  | 0.22          |
| served rate, 300 req/s, B 1, 3 instances (3 x 40)        | 120.00 req/s  | 0.0           |
| light load 1 req/s for 1 h, delay 5 ms: mean batch size  | 1.0050        | 0.0013        |
| same: mean latency after 5% warm-up (T(1) + delay = 30)  | 30.237 ms     | 0.036 ms      |
Served rates are counted over [5 s, 30 s) of a saturated GPU, so they sit within one batch (8 requests
/ 25 s = 0.32 req/s) of the bound; each tolerance is 4 sd of its own point.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.application import Application
from sim.catalog import load_catalog
from sim.components.gpu import gpu_budget_mb, gpu_demand_mb, gpu_memory_reasons
from sim.distributions import Constant, Exponential
from sim.metrics import latency_s, summary
from sim.model import BatchLatency, ModelSpec
from sim.options import load_all
from sim.options.triton import TritonConfig, simulate
from sim.results import FAILED, SERVED
from sim.scenario import build_scenario, stream
from tests.invariants import check_common, explained

CAT = load_catalog()
CURVE = BatchLatency(fixed_ms=20, per_item_ms=5)
GPU = "ml.g4dn.xlarge"


def _model(name="m", curve=CURVE, service_ms=25.0, memory_mb=1000.0, kind="model"):
    return ModelSpec(name=name, kind=kind, service_time=Constant(value_ms=service_ms), memory_mb=memory_mb,
                     accelerator="cpu" if kind == "logic" else "gpu", batch_latency=curve)


def _scenario(arrivals, horizon_s, models=None, application=None, seed=0):
    arr = np.asarray(arrivals, float)
    return build_scenario(models or [_model()], arr, np.zeros(arr.size, np.int32), horizon_s, CAT, seed,
                          application=application)


def _poisson(lam, horizon_s, seed, models=None):
    arr = np.cumsum(stream(seed, "triton-arrivals").exponential(1 / lam, int(lam * horizon_s * 1.2) + 10))
    return _scenario(arr[arr < horizon_s], horizon_s, models, seed=seed)


def served_rate(lam, horizon_s, seed, since_s=5.0, **cfg):
    """Requests served per second over [since_s, horizon_s) (finishes counted), and the result."""
    res = simulate(_poisson(lam, horizon_s, seed), TritonConfig(instance_type=GPU, **cfg))
    f = res.log.finish_s[res.log.status == SERVED]
    return float(((f >= since_s) & (f < horizon_s)).sum() / (horizon_s - since_s)), res


def light_load(seed, delay_ms=5.0):
    """1 req/s for an hour on one instance, max_batch_size 8: (mean batch size, latencies s after the
    first 5% of the hour, result)."""
    res = simulate(_poisson(1.0, 3600.0, seed), TritonConfig(instance_type=GPU, instance_count=1,
                                                             max_queue_delay_ms=delay_ms))
    return res.figures.details["mean_batch_size"], latency_s(res.log, since_s=180.0), res


# --- dynamic batching ------------------------------------------------------------------------------

@pytest.mark.statistical
@pytest.mark.parametrize("instances_per_model", [1, 2])
def test_saturated_gpu_serves_max_batch_over_batch_time(instances_per_model):
    """Offered 300 req/s, more than twice the bound: every batch is full and the GPU serves 8 / T(8).

    Two execution instances of the model share the one GPU (processor sharing), so the bound holds for both.
    """
    rate, res = served_rate(300.0, 30.0, 11, instance_count=1, instances_per_model=instances_per_model)
    sd = {1: 0.10, 2: 0.22}[instances_per_model]  # measured over seeds 0..9 (module docstring)
    assert rate == pytest.approx(8 / 0.060, abs=4 * sd)
    sizes = res.figures.details["batch_sizes"]["m"]
    assert max(sizes) == 8 and sizes[8] >= 0.99 * sum(sizes.values())
    assert res.figures.utilization == pytest.approx(1.0, abs=0.01)


@pytest.mark.statistical
def test_max_batch_size_one_matches_the_c_server_bound():
    """Unbatched, three instances saturate at 3 x 1 / T(1) = 120 req/s. Every instance ends a request every
    25 ms exactly (sd 0 over seeds 0..9), so the count over the 25 s window is off by at most one request
    per instance: 3 / 25 req/s."""
    rate, res = served_rate(300.0, 30.0, 11, instance_count=3, max_batch_size=1)
    assert rate == pytest.approx(3 / 0.025, abs=3 / 25)
    assert res.figures.details["batch_sizes"]["m"].keys() == {1}


def test_max_batch_size_one_is_the_realtime_fifo_queue_exactly():
    """Batch 1, no delay, default curve: a batch of one takes its request's own sample, so Triton is the
    realtime pool (c instances of one worker, FIFO, least-outstanding routing) request for request."""
    model = ModelSpec(name="m", service_time=Exponential(mean_ms=100), memory_mb=1000, accelerator="gpu")
    sc = _poisson(25.0, 2000.0, 3, models=[model])
    tri = simulate(sc, TritonConfig(instance_type=GPU, instance_count=3, max_batch_size=1, max_queue_delay_ms=0))
    opt = load_all()["realtime"]
    rt = opt.simulate(sc, opt.config_model(instance_type=GPU, instance_count=3, workers_per_instance=1))
    np.testing.assert_allclose(tri.log.start_s, rt.log.start_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tri.log.finish_s, rt.log.finish_s, rtol=0, atol=1e-9)
    assert tri.cost_usd == pytest.approx(rt.cost_usd)


@pytest.mark.statistical
def test_light_load_batches_are_small_and_latency_is_one_request_plus_the_delay():
    """At 1 req/s almost every request is alone: it waits the 5 ms delay and runs T(1) = 25 ms."""
    mean_batch, lat, res = light_load(11)
    assert mean_batch == pytest.approx(1.0050, abs=4 * 0.0013)
    assert np.median(lat) == pytest.approx(0.030, abs=1e-9)
    assert lat.mean() == pytest.approx(0.030237, abs=4 * 0.000036)
    assert lat.min() >= 0.030 - 1e-9  # alone: the full delay + T(1); joined: less delay but T(2) = 30 ms or more
    assert summary(res).queue_wait_ms.p50 == pytest.approx(5.0, abs=1e-6)


def test_a_lone_request_waits_exactly_the_queue_delay():
    res = simulate(_scenario([0.0, 10.0, 20.0], 30.0), TritonConfig(instance_type=GPU, instance_count=1,
                                                                  max_queue_delay_ms=7))
    np.testing.assert_allclose(res.log.start_s - res.log.arrival_s, 0.007, atol=1e-12)
    np.testing.assert_allclose(res.log.finish_s - res.log.arrival_s, 0.007 + 0.025, atol=1e-12)


def test_requests_within_the_delay_share_a_batch_and_a_full_batch_goes_at_once():
    """t = 0 and 3 ms wait together until the first's delay ends (5 ms), then run as a batch of 2 (30 ms);
    8 requests at 1 s fill a batch and go without waiting; with no delay each request goes at once."""
    arr = [0.0, 0.003] + [1.0] * 8
    res = simulate(_scenario(arr, 2.0), TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=5))
    np.testing.assert_allclose(res.log.start_s, [0.005, 0.005] + [1.0] * 8, atol=1e-12)
    np.testing.assert_allclose(res.log.finish_s, [0.035, 0.035] + [1.06] * 8, atol=1e-12)
    assert res.figures.details["batch_sizes"] == {"m": {2: 1, 8: 1}}
    res = simulate(_scenario([0.0, 0.003], 1.0), TritonConfig(instance_type=GPU, instance_count=1,
                                                             max_queue_delay_ms=0))
    np.testing.assert_allclose(res.log.start_s, [0.0, 0.025], atol=1e-12)  # the second waits for the slot


def test_preferred_batch_size_goes_without_waiting_for_the_delay():
    res = simulate(_scenario([0.0] * 5, 1.0), TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=50,
                                                          preferred_batch_sizes=(4,)))
    assert res.figures.details["batch_sizes"] == {"m": {1: 1, 4: 1}}
    np.testing.assert_allclose(np.sort(res.log.start_s), [0.0] * 4 + [0.050], atol=1e-12)


def test_the_autoscaler_drives_the_triton_pool_and_billing_follows():
    """20 req/s, then 200 req/s over [1800, 5400), then 20 again; target 3600 invocations/instance/min.

    By hand: the step breaches at 1860, 1920, 1980 -> ceil(12000 / 3600) = 4 instances asked at 1980,
    serving after the catalog's 300 s launch (no cold start) at 2280. At 4 x 3000/min the metric is
    already under 0.9 x target, so the scale-in alarm has its 15 datapoints when traffic drops: 1 instance
    at 5460. Billed: 7200 + 3 x (5460 - 1980) instance-s. Meanwhile one GPU (133 req/s) faces 200 req/s:
    the backlog outlives the 60 s timeout, and timed-out requests end at arrival + 60 s.
    """
    arr = np.concatenate([np.arange(0, 1800, 0.05), np.arange(1800, 5400, 0.005), np.arange(5400, 7200, 0.05)])
    res = simulate(_scenario(arr, 7200.0), TritonConfig(instance_type=GPU, initial_count=1, autoscaling={
        "min": 1, "max": 10, "target_invocations_per_instance": 3600}))
    assert res.capacity.times_s.tolist() == [0, 2280, 5460] and res.capacity.values.tolist() == [1, 4, 1]
    assert res.figures.instance_seconds == pytest.approx(7200 + 3 * (5460 - 1980))
    assert res.cost_usd["instances"] == pytest.approx(17640 * CAT.instance(GPU).price_per_hour.value / 3600)
    failed = res.log.status == FAILED
    assert failed.any() and not failed[(res.log.arrival_s < 1800) | (res.log.arrival_s > 2400)].any()
    np.testing.assert_allclose(res.log.finish_s[failed] - res.log.arrival_s[failed], 60.0)


# --- GPU memory ------------------------------------------------------------------------------------

def test_models_over_the_gpu_memory_are_infeasible_with_the_figures():
    big = [_model("a", memory_mb=9000), _model("b", memory_mb=9000)]
    sc = _scenario([0.0], 1.0, big)
    res = simulate(sc, TritonConfig(instance_type=GPU))
    assert not res.feasible
    assert "18,000 MB of GPU memory" in res.reasons[0] and "15,360 MB" in res.reasons[0]
    # the cheapest type with 24 GiB - 1 GiB >= 18,000 MB: ml.g6.2xlarge (L4 24 GB, 1.222 USD/h; ml.g5.xlarge 1.408)
    assert simulate(sc, TritonConfig()).config.option["instance_type"] == "ml.g6.2xlarge"
    huge = simulate(_scenario([0.0], 1.0, [_model("a", memory_mb=30000)]), TritonConfig())
    assert not huge.feasible and "GPU memory" in huge.reasons[0]
    cpu = simulate(sc, TritonConfig(instance_type="ml.c5.xlarge"))
    assert not cpu.feasible and "has no GPU" in cpu.reasons[0]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 12000), min_size=1, max_size=5), st.integers(1, 3), st.sampled_from([None, GPU]))
def test_gpu_memory_is_never_over_budget(mems, ipm, itype):
    models = [_model(f"m{i}", memory_mb=m) for i, m in enumerate(mems)]
    res = simulate(_scenario([0.0, 0.5], 1.0, models), TritonConfig(instance_type=itype, instances_per_model=ipm))
    fitting = [it for it in CAT.cheapest(lambda t: t.gpu_count > 0) if not gpu_memory_reasons(it, models, ipm, CAT)]
    if not res.feasible:
        assert "GPU memory" in res.reasons[0]
        assert not fitting if itype is None else GPU not in {it.name for it in fitting}
        return
    it = CAT.instance(res.config.option["instance_type"])
    assert gpu_demand_mb(models, ipm, it.gpu_count) == res.config.option["gpu_memory_used_mb"] <= gpu_budget_mb(it, CAT)
    assert itype is not None or it == fitting[0]  # the default is the cheapest type that holds them


# --- ensembles -------------------------------------------------------------------------------------

def _pipeline_models():
    return [_model("pre", curve=None, service_ms=2, memory_mb=0, kind="logic"),
            _model("net", curve=BatchLatency(fixed_ms=10, per_item_ms=2)),  # T(1) = 12 ms
            _model("post", curve=None, service_ms=8),                        # default curve: T(1) = 8 ms
            _model("agg", curve=None, service_ms=3, memory_mb=0, kind="logic")]


def test_serial_ensemble_at_light_load_sums_the_steps_and_the_delays():
    """pre (logic, 2 ms) -> net (5 ms delay + 12 ms) -> post (5 ms delay + 8 ms) = 32 ms, no hops."""
    app = Application("serial", steps=(0, 1, 2))
    res = simulate(_scenario(np.arange(0, 60.0, 1.0), 60.0, _pipeline_models(), app),
                   TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=5))
    np.testing.assert_allclose(res.log.finish_s - res.log.arrival_s, 0.032, atol=1e-12)
    np.testing.assert_allclose(res.log.start_s, res.log.arrival_s, atol=1e-12)  # the logic step starts at once
    assert res.config.option["models"] == 3 and res.config.option["gpu_memory_used_mb"] == 2000


def test_scatter_gather_branches_share_the_gpu_and_the_aggregator_waits_for_the_slowest():
    """net (12 ms) and post (8 ms) start together after the 5 ms delay and share the GPU: both run at half
    speed until post ends at 16 ms, net ends at 20 ms; then the 3 ms aggregator: 5 + 20 + 3 = 28 ms."""
    app = Application("scatter-gather", branches=(1, 2), aggregator=3)
    res = simulate(_scenario([0.0, 1.0], 2.0, _pipeline_models(), app),
                   TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=5))
    np.testing.assert_allclose(res.log.finish_s - res.log.arrival_s, 0.028, atol=1e-12)
    np.testing.assert_allclose(res.log.start_s - res.log.arrival_s, 0.005, atol=1e-12)


def test_registered_with_its_patterns():
    opt = load_all()["triton"]
    assert opt.patterns == {"serial", "scatter-gather", "aggregate"} and opt.config_model is TritonConfig


# --- invariants ------------------------------------------------------------------------------------

service = st.one_of(st.builds(lambda v: Constant(value_ms=v), st.floats(1, 500)),
                    st.builds(lambda v: Exponential(mean_ms=v), st.floats(1, 500)))
curve = st.none() | st.builds(lambda a, b: BatchLatency(fixed_ms=a, per_item_ms=b), st.floats(0, 200),
                              st.floats(0.1, 100))
models = st.builds(lambda svc, c, mem, logic, i: ModelSpec(
    name=f"m{i}", kind="logic" if logic else "model", service_time=svc, memory_mb=mem, batch_latency=c,
    accelerator="gpu"), service, curve, st.floats(0, 4000), st.booleans(), st.integers(0, 5))
pattern = st.sampled_from([None, "serial", "scatter-gather", "aggregate"])
counts = st.one_of(st.builds(lambda c: {"instance_count": c}, st.integers(1, 3)), st.just({}),
                   st.builds(lambda lo, extra, tgt: {"autoscaling": {
                       "min": lo, "max": lo + extra, "target_invocations_per_instance": tgt}},
                       st.integers(1, 2), st.integers(0, 3), st.floats(1, 5000)))
triton_cfg = st.builds(lambda b, d, ipm, count: {"max_batch_size": b, "max_queue_delay_ms": d,
                                                 "instances_per_model": ipm, **count},
                       st.integers(1, 16), st.floats(0, 50), st.integers(1, 3), counts)


@st.composite
def scenarios(draw):
    """1..4 models, an optional pattern over them, Poisson-like arrivals up to ~3000 requests."""
    ms = tuple({m.name: m for m in draw(st.lists(models, min_size=1, max_size=4))}.values())
    rate, horizon, seed = draw(st.floats(0.05, 60)), draw(st.floats(30, 3600)), draw(st.integers(0, 2**31))
    n = min(3000, max(1, int(rate * horizon)))
    rng = stream(seed, "arrivals")
    arr = np.sort(rng.uniform(0, horizon, n))
    kind, app, idx = draw(pattern), None, rng.integers(0, len(ms), n).astype(np.int32)
    if kind == "serial":
        app, idx = Application("serial", steps=tuple(draw(st.permutations(range(len(ms)))))), idx * 0
    elif kind is not None and len(ms) > 1:
        app, idx = Application(kind, branches=tuple(range(len(ms) - 1)), aggregator=len(ms) - 1), idx * 0
    return build_scenario(ms, arr, idx, horizon, CAT, seed, application=app)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), triton_cfg)
def test_triton_invariants(sc, raw):
    cfg = TritonConfig(**raw)
    res = simulate(sc, cfg)
    if not explained(res):
        return
    check_common(res, sc)
    log = res.log
    ok = log.status == SERVED  # a timed-out request ends at arrival + timeout, maybe before its late start
    assert np.all(log.finish_s[ok] >= log.start_s[ok])
    assert all(size <= cfg.max_batch_size for hist in res.figures.details["batch_sizes"].values() for size in hist)
    it = CAT.instance(res.config.option["instance_type"])
    assert res.config.option["gpu_memory_used_mb"] <= gpu_budget_mb(it, CAT)
    assert 0 <= res.figures.utilization <= 1


one_model = st.builds(lambda svc, c, mem: ModelSpec(name="m", service_time=svc, memory_mb=mem, batch_latency=c,
                                                     accelerator="gpu"), service, curve, st.floats(0, 4000))
single_cfg = st.builds(lambda b, d, pref, count: {"max_batch_size": b, "max_queue_delay_ms": d,
                                                  "preferred_batch_sizes": tuple(p for p in pref if p <= b), **count},
                       st.integers(1, 16), st.floats(0, 50), st.lists(st.integers(1, 16), max_size=3), counts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_model, st.floats(0.05, 80), st.floats(30, 3600), st.integers(0, 2**31), single_cfg)
def test_single_model_fast_path_matches_the_general_host(model, rate, horizon, seed, raw):
    """One model on no more slots than GPUs is served by the compiled `SingleBatchHosts`; it must give what the
    general host (stage maps, timer heap, processor-sharing GPU) gives: same outcomes, batches and times. Up to 80
    req/s of up to 500 ms a request overloads the GPU, so queues grow and requests time out."""
    from unittest import mock

    from sim.components import batcher

    n = min(3000, max(1, int(rate * horizon)))
    sc = _scenario(np.sort(stream(seed, "arrivals").uniform(0, horizon, n)), horizon, [model], seed=seed)
    built = []

    class Counted(batcher.SingleBatchHosts):
        def __init__(self, *a, **k):
            built.append(1)
            super().__init__(*a, **k)

    with mock.patch.object(batcher, "SingleBatchHosts", Counted):
        fast = simulate(sc, TritonConfig(**raw))
    with mock.patch.object(batcher, "single_model", lambda ens: None):
        general = simulate(sc, TritonConfig(**raw))
    if not fast.feasible:
        return
    assert built  # the fast path ran
    assert np.array_equal(fast.log.status, general.log.status)
    for f in ("start_s", "finish_s"):
        assert np.allclose(getattr(fast.log, f), getattr(general.log, f), rtol=1e-12, atol=1e-9, equal_nan=True)
    assert fast.figures.details["batch_sizes"] == general.figures.details["batch_sizes"]
    assert fast.figures.utilization == pytest.approx(general.figures.utilization, rel=1e-9)
    assert fast.cost_usd == pytest.approx(general.cost_usd, rel=1e-12)


def test_the_one_model_host_runs_compiled():
    """The fast path is numba-compiled once it has run (a plain-Python loop would be about 20x slower and
    still pass the comparison above)."""
    from numba.core.registry import CPUDispatcher

    from sim import jit
    from sim.components import batch_single

    jit.warm()
    assert jit.compiled() and isinstance(batch_single._serve, CPUDispatcher)


def main() -> None:
    """Print the run-to-run spread behind the tolerances above (seeds 0..9)."""
    for name, kw in {"B 8": {"instance_count": 1}, "B 8, 2 per model": {"instance_count": 1, "instances_per_model": 2},
                     "B 1, 3 instances": {"instance_count": 3, "max_batch_size": 1}}.items():
        rates = np.array([served_rate(300.0, 30.0, s, **kw)[0] for s in range(10)])
        print(f"served rate {name}: {rates.mean():.3f} req/s, sd {rates.std(ddof=1):.3f}")
    runs = [light_load(s) for s in range(10)]
    b, lat = np.array([r[0] for r in runs]), np.array([r[1].mean() * 1000 for r in runs])
    print(f"light load: mean batch {b.mean():.4f} sd {b.std(ddof=1):.4f}; "
          f"mean latency {lat.mean():.3f} ms sd {lat.std(ddof=1):.3f}")


if __name__ == "__main__":
    main()


def test_an_explicit_curve_keeps_each_requests_variation():
    """A lone request runs a batch of one: T(1) = 25 ms from the curve scaled by its own service sample over
    the model's mean, so with exponential service (mean 25 ms) the lone latencies spread like the samples
    (and average T(1)); with constant service every one is exactly T(1) + the 5 ms delay."""
    arr = np.arange(0.0, 2000.0, 2.0)  # alone every time: 2 s apart
    varied = _model().model_copy(update={"service_time": Exponential(mean_ms=25.0)})
    sc = _scenario(arr, 2002.0, models=[varied], seed=3)
    res = simulate(sc, TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=5))
    run_s = res.log.finish_s - res.log.start_s
    np.testing.assert_allclose(run_s, 0.025 * sc.service_s / 0.025, atol=1e-9)  # times of order 1e3 s
    assert run_s.std() > 0.01 and run_s.mean() == pytest.approx(0.025, rel=0.1)
    flat = simulate(_scenario(arr, 2002.0), TritonConfig(instance_type=GPU, instance_count=1, max_queue_delay_ms=5))
    np.testing.assert_allclose(flat.log.finish_s - flat.log.start_s, 0.025, atol=1e-12)
