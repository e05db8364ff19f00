"""Hypothesis invariants over random workloads and configurations (DEVELOPERS.md).

No request starts or finishes before it arrives; offered = served + throttled + failed; memory never
above capacity; concurrency never above its limit; cost >= 0; capacity never negative.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.catalog import load_catalog
from sim.components.sizing import usable_memory_mb
from sim.metrics import request_counts
from sim.model import ModelSpec
from sim.options import load_all
from sim.results import THROTTLED
from sim.scenario import build_scenario, stream
from tests.invariants import check_common, explained

CATALOG = load_catalog()
CPU_TYPES = sorted(n for n, it in CATALOG.instances.items() if it.accelerator == "cpu")

service = st.one_of(
    st.builds(lambda v: {"dist": "constant", "value_ms": v}, st.floats(1, 3000)),
    st.builds(lambda v: {"dist": "exponential", "mean_ms": v}, st.floats(1, 3000)),
    st.builds(lambda a, b: {"dist": "lognormal", "p50_ms": a, "p99_ms": a * b}, st.floats(1, 1000), st.floats(1.1, 20)),
    st.builds(lambda m, c: {"dist": "gamma", "mean_ms": m, "cv": c}, st.floats(1, 2000), st.floats(0.1, 3)),
)

# a container start is a constant (s) or, drawn per container or instance started, a distribution (ms)
models = st.builds(lambda svc, mem, start, load, i: ModelSpec(
    name=f"m{i}", service_time=svc, memory_mb=mem, load_s=load,
    **({"container_start_s": start} if isinstance(start, float) else {"container_start": start})),
    service, st.floats(0, 3000), st.floats(0, 30) | service, st.floats(0, 30), st.integers(0, 3))


@st.composite
def scenarios(draw):
    """1..3 models, Poisson arrivals up to ~3000 requests over up to 2 h."""
    ms = {m.name: m for m in draw(st.lists(models, min_size=1, max_size=3))}
    ms = tuple(ms.values())
    rate, horizon, seed = draw(st.floats(0.01, 30)), draw(st.floats(60, 7200)), draw(st.integers(0, 2**31))
    n = min(3000, max(1, int(rate * horizon)))
    rng = stream(seed, "arrivals")
    arr = np.sort(rng.uniform(0, horizon, n))
    idx = rng.integers(0, len(ms), n).astype(np.int32)
    return build_scenario(ms, arr, idx, horizon, CATALOG, seed)


realtime_cfg = st.one_of(
    st.builds(dict, instance_type=st.sampled_from(CPU_TYPES), instance_count=st.integers(1, 4),
              workers_per_instance=st.none() | st.integers(1, 8)),
    st.builds(lambda lo, extra, tgt, it: {"instance_type": it, "autoscaling": {
        "min": lo, "max": lo + extra, "target_invocations_per_instance": tgt}},
        st.integers(1, 3), st.integers(0, 5), st.floats(1, 5000), st.sampled_from(CPU_TYPES)),
    st.just({}),
)
serverless_cfg = st.builds(lambda mem, mc, pc, ka: {"memory_mb": mem, "max_concurrency": mc,
                                                    "provisioned_concurrency": min(pc, mc), "keep_alive_s": ka},
                           st.sampled_from([1024, 2048, 4096, 6144]), st.integers(1, 50), st.integers(0, 3),
                           st.floats(1, 3600))


def _max_in_flight(start: np.ndarray, end: np.ndarray) -> int:
    """Largest number of intervals [start, end) overlapping at one time."""
    t = np.r_[start, end]
    d = np.r_[np.ones(start.size), -np.ones(end.size)]
    order = np.lexsort((d, t))  # ends before starts at equal times
    return int(np.max(np.cumsum(d[order]), initial=0))


def _ever_joined(capacity) -> int:
    """Instances that ever joined: the first count plus every step up. A retired instance is out of the
    capacity timeline but still works off the queue it holds (a throttled ml.t3.medium retired at 30 min
    was seen serving its backlog at 56 min), so the routable peak is no bound on the instances serving."""
    v = np.asarray(capacity.values, dtype=float)
    return int(v[0] + np.clip(np.diff(v), 0, None).sum()) if v.size else 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), realtime_cfg)
def test_realtime_invariants(sc, raw):
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model(**raw))
    if not explained(res):
        return
    check_common(res, sc)
    for m in sc.models:  # every worker holds its own copy: memory never above the instance's
        it = CATALOG.instance(res.config.model(m.name)["instance_type"])
        assert res.config.model(m.name)["workers_per_instance"] * m.memory_mb <= usable_memory_mb(it, CATALOG)
    log = res.log
    for i, m in enumerate(sc.models):  # no more requests in service than workers in service
        busy = (log.model_idx == i) & (log.status != THROTTLED)
        in_service = _max_in_flight(log.start_s[busy], log.start_s[busy] + sc.service_s[busy])
        assert in_service <= res.config.model(m.name)["workers_per_instance"] * _ever_joined(res.capacity)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), serverless_cfg)
def test_serverless_invariants(sc, raw):
    opt = load_all()["serverless"]
    cfg = opt.config_model(**raw)
    res = opt.simulate(sc, cfg)
    if not explained(res):
        return
    check_common(res, sc)
    assert all(m.memory_mb <= cfg.memory_mb for m in sc.models)
    log = res.log
    for i in range(len(sc.models)):  # a container is held from arrival (cold start) to the end of work
        held = (log.model_idx == i) & (log.status != THROTTLED)
        assert _max_in_flight(log.arrival_s[held], log.finish_s[held]) <= cfg.max_concurrency
    assert not np.any(log.cold & (log.status == THROTTLED))


async_cfg = st.one_of(
    st.builds(lambda n, w, to: {"instance_type": "ml.c5.xlarge", "instance_count": n, "workers_per_instance": w,
                                "timeout_s": to}, st.integers(1, 3), st.integers(1, 4), st.floats(1, 3600)),
    st.builds(lambda lo, extra, tgt, init: {"instance_type": "ml.c5.xlarge", "initial_count": init, "autoscaling": {
        "min": lo, "max": lo + extra + 1, "target_backlog_per_instance": tgt}},
        st.integers(0, 2), st.integers(0, 3), st.floats(0.5, 50), st.integers(0, 2)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), async_cfg)
def test_async_invariants(sc, raw):
    """The internal queue never drops: offered = served + failed; workers never oversubscribed."""
    opt = load_all()["async"]
    cfg = opt.config_model(**raw)
    res = opt.simulate(sc, cfg)
    if not explained(res):
        return
    check_common(res, sc)
    log = res.log
    assert request_counts(log).throttled == 0
    assert np.all(np.isfinite(log.finish_s))  # every request is answered, late or failed, never lost
    for i, m in enumerate(sc.models):
        mine = log.model_idx == i
        in_service = _max_in_flight(log.start_s[mine], log.finish_s[mine])
        assert in_service <= res.config.model(m.name)["workers_per_instance"] * max(res.capacity.max(np.inf), 1)


def test_a_retired_throttled_instance_keeps_working_off_its_queue():
    """The example hypothesis found: 3,000 requests of 2.323 s over 48 min on the default real-time fleet
    (ml.t3.medium, 2 workers, scaling 1..6; T3s start with no credits, so they run throttled). The fleet
    scales in to 2 at 30 min and out to 3 at 47 min; the instance retired at 30 min still serves its
    queue then, so 7 requests are in service at once, more than the 3 x 2 workers the routable peak has
    and within the 4 instances that ever joined."""
    m = ModelSpec(name="m0", service_time={"dist": "constant", "value_ms": 2323.0})
    rng = stream(204, "arrivals")
    arr, idx = np.sort(rng.uniform(0, 2883.0, 3000)), rng.integers(0, 1, 3000).astype(np.int32)
    sc = build_scenario((m,), arr, idx, 2883.0, CATALOG, 204)
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model())
    assert res.config.model("m0")["instance_type"] == "ml.t3.medium"
    busy = res.log.status != THROTTLED
    in_service = _max_in_flight(res.log.start_s[busy], res.log.start_s[busy] + sc.service_s[busy])
    assert 2 * res.capacity.max(sc.horizon_s) < in_service == 7 <= 2 * _ever_joined(res.capacity)
