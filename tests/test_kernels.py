"""The compiled data planes (`sim.jit`) against the interpreted loops they replaced, request for request.

The kernels must give the same outcome, start and finish for every request, the same containers and the
same bills: the same operations in the same order, so the same bits. The Triton one-model host is held
to the general host in tests/test_triton.py; the serverless containers to the interpreted version of
commit b40b70c here (tests/reference_containers.py).
"""

from __future__ import annotations

import math
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import jit
from sim.catalog import load_catalog
from sim.components import (
    containers,
    mme_kernel,
    mme_pool,
    pool,
    queue,
    sharing,
    sharing_kernel,
    sharing_single,
    tandem,
    tandem_kernel,
)
from sim.components.cache import Footprints
from sim.components.credits import CreditBook
from sim.components.sharing import sharing_pool
from sim.results import RequestLog
from sim.traffic_stats import window_index
from tests.reference_containers import OnDemandContainers as Reference
from tests.reference_mme import ModelAwarePool as ReferenceMME
from tests.reference_pool import BurstablePool as ReferenceBurstable
from tests.reference_pool import InstancePool as ReferencePool
from tests.reference_queue import SharedQueue as ReferenceQueue
from tests.reference_sharing import SharingPool as ReferenceSharing
from tests.reference_tandem import BurstableTandemPool as ReferenceBurstableTandem
from tests.reference_tandem import TandemPool as ReferenceTandem
from tests.test_triton import scenarios as triton_scenarios
from tests.test_triton import triton_cfg

settings_ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(cls, arrivals, service, cold_s, cap, ka, prov, timeout, warm, cuts):
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    fleet = cls(log, None, service, cold_s, cap, ka, prov, timeout, warm=warm)
    for t in [*cuts, math.inf]:  # the control plane's events split the arrivals into stretches
        fleet.advance(t)
    return log, fleet


@settings_
@given(st.integers(0, 2**31), st.integers(1, 600), st.floats(0.1, 200), st.floats(0, 3), st.integers(1, 12),
       st.floats(0.5, 120), st.integers(0, 3), st.sampled_from([math.inf, 0.8, 5.0]), st.integers(0, 6),
       st.lists(st.floats(0, 60), max_size=3))
def test_compiled_containers_match_the_interpreted_ones(seed, n, rate, cold_s, cap, ka, prov, timeout, warm, cuts):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.lognormal(np.log(0.05), 1.0, n)
    warm = min(warm, cap)
    a_log, a = _run(containers.OnDemandContainers, arrivals, service, cold_s, cap, ka, prov, timeout, warm,
                    sorted(cuts))
    b_log, b = _run(Reference, arrivals, service, cold_s, cap, ka, prov, timeout, warm, sorted(cuts))
    for field in ("status", "cold", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=field.endswith("_s")), field
    assert np.array_equal(a.billed_s, np.frombuffer(b.billed_s))
    assert np.array_equal(a.provisioned_billed_s, np.frombuffer(b.provisioned_billed_s))
    horizon = float(arrivals[-1]) + 10.0
    for x, y in zip(a.lifetimes(horizon), b.lifetimes(horizon), strict=True):
        assert np.array_equal(x, y)


def test_the_containers_run_compiled():
    """A plain-Python loop would pass the comparison above too, only slower: the kernel is numba's."""
    from numba.core.registry import CPUDispatcher

    jit.warm()
    assert jit.compiled() and isinstance(containers._advance, CPUDispatcher)


def _pool_run(cls, arrivals, service, workers, elastic, script, credits=None, route_u=None):
    """Run a pool under a scripted control plane: ("join" | "retire" | "fail" | "tick", t) events in time order,
    the arrivals before each served first (as the engine does); `credits` for a burstable pool; `route_u` for
    random routing."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    pool = cls(log, None, service, workers, elastic, route_u) if credits is None else cls(
        log, None, service, workers, credits, elastic)
    drive(pool, script)
    return log, pool


def drive(pool, script) -> list[int]:
    """The scripted control plane: one instance at 0, then ("join" | "retire" | "fail" | "tick", t) events in
    time order, the arrivals before each served first (as the engine does); the requests held at each event."""
    pool.join(0.0)
    held = []
    for what, t in script:
        pool.advance(t)
        held.append(pool.held(t))
        if what == "tick" and hasattr(pool, "credit_tick"):
            pool.credit_tick(t)
        elif what == "join":
            pool.join(t)
        elif what == "retire" and pool.in_service > 1:
            pool.retire(t)
        elif what == "fail":
            pool.fail(t)
    pool.advance(math.inf)
    return held


@settings_
@given(st.integers(0, 2**31), st.integers(1, 500), st.floats(1, 300), st.integers(1, 4), st.booleans(),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "fail"]), st.floats(0, 30)), max_size=8),
       st.booleans())
def test_compiled_pool_matches_the_interpreted_one(seed, n, rate, workers, elastic, script, random_routing):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.lognormal(np.log(0.05), 1.0, n)
    route_u = rng.random(n) if random_routing else None
    script = sorted(script, key=lambda e: e[1]) if elastic else [e for e in script if e[0] == "fail"][:1]
    a_log, a = _pool_run(pool.InstancePool, arrivals, service, workers, elastic, script, route_u=route_u)
    b_log, b = _pool_run(ReferencePool, arrivals, service, workers, elastic, script, route_u=route_u)
    for field in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=True), field
    assert a.busy_until == b.busy_until and a.lost == b.lost and a.routable == b.routable
    assert a.billed_intervals(1e6) == b.billed_intervals(1e6)
    for iid in range(len(a.joined_s)):  # the worker rows hold what heapq kept, in the same places
        assert a._free[iid].tolist() == b._free[iid]


@settings_
@given(st.integers(0, 2**31), st.integers(1, 500), st.floats(5, 300), st.integers(1, 4), st.booleans(),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "fail", "tick", "tick"]), st.floats(0, 30)),
                max_size=12))
def test_compiled_burstable_pool_matches_the_interpreted_one(seed, n, rate, workers, elastic, script):
    """On a T type launched with no credits, so the factors go above 1 at the first tick with work done."""
    it = load_catalog().instances["ml.t2.medium"]
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.lognormal(np.log(0.2), 1.0, n)
    script = (sorted(script, key=lambda e: e[1]) if elastic
              else [e for e in sorted(script, key=lambda e: e[1]) if e[0] in ("tick", "fail")])
    horizon = float(arrivals[-1]) + 1.0
    a_log, a = _pool_run(pool.BurstablePool, arrivals, service, workers, elastic, script, _no_credits(it, workers,
                                                                                                       horizon))
    b_log, b = _pool_run(ReferenceBurstable, arrivals, service, workers, elastic, script, _no_credits(it, workers,
                                                                                                     horizon))
    for field in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=True), field
    assert a.credits.routed_s == b.credits.routed_s and a.credits.slow == b.credits.slow
    assert a.credits.figures() == b.credits.figures() and a.busy_until == b.busy_until


def _no_credits(it, workers: int, horizon: float) -> CreditBook:
    book = CreditBook(it, workers, horizon)
    book.launch = book.balance_min = 0.0
    return book


def test_the_burstable_comparison_throttles():
    """The comparison above sees factors above 1: a minute of full load on no credits throttles."""
    it = load_catalog().instances["ml.t2.medium"]
    arrivals = np.arange(600) * 0.1
    _, p = _pool_run(pool.BurstablePool, arrivals, np.full(600, 0.2), 2, True, [("tick", 10.0), ("tick", 20.0)],
                     _no_credits(it, 2, 100.0))
    assert p.credits.slow[0] > 1.0 and p.credits.throttled_s > 0


def test_the_pool_runs_compiled():
    """As for the containers: the comparison above would pass on a plain-Python loop."""
    from numba.core.registry import CPUDispatcher

    jit.warm()
    assert isinstance(pool._serve, CPUDispatcher) and isinstance(pool._serve_single, CPUDispatcher)


def _sharing_run(make, arrivals, work, vcpus, script):
    """A processor-sharing pool under the scripted control plane (`drive`)."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    p = make(log, work, vcpus)
    drive(p, script)
    return log, p


@settings_
@given(st.integers(0, 2**31), st.integers(1, 600), st.floats(1, 400), st.integers(1, 4),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "fail"]), st.floats(0, 30)), max_size=8))
def test_compiled_sharing_pool_matches_the_interpreted_one(seed, n, rate, vcpus, script):
    """One job per request on processor-sharing instances; loads up to overload, so heaps outgrow their room."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    work = rng.lognormal(np.log(0.05), 1.0, n)
    script = sorted(script, key=lambda e: e[1])
    a_log, a = _sharing_run(lambda log, w, c: sharing_single.OneJobSharingPool(log, None, w, c), arrivals, work,
                            vcpus, script)
    b_log, b = _sharing_run(lambda log, w, c: ReferenceSharing(log, None, w, ((0,),), c), arrivals, work, vcpus,
                            script)
    for field in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=True), field
    assert a.busy_until == b.busy_until and a.lost == b.lost and a.work_s == b.work_s
    assert a.billed_intervals(1e6) == b.billed_intervals(1e6)


LAYOUTS = (((0,), (1,)), ((0,), (1, 2), (3,)), ((0, 1, 2),), ((0,),))
"""Stages of the compiled pool with stages: serial, scatter-gather between two steps, one fan-out, one job."""


@settings_
@given(st.integers(0, 2**31), st.integers(1, 500), st.floats(1, 300), st.integers(1, 4), st.sampled_from(LAYOUTS),
       st.booleans(), st.lists(st.tuples(st.sampled_from(["join", "retire", "fail"]), st.floats(0, 30)), max_size=8))
def test_compiled_staged_sharing_pool_matches_the_interpreted_one(seed, n, rate, vcpus, stages, hop, script):
    """Stages, branches and hops between them, up to overload, so the heaps outgrow their room."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    work = rng.lognormal(np.log(0.02), 1.0, (n, 4))
    hops = tuple(rng.uniform(0, 0.01, len(stages)) * hop)
    script = sorted(script, key=lambda e: e[1])
    a_log, a = _sharing_run(lambda log, w, c: sharing.SharingPool(log, None, w, stages, c, hops), arrivals, work,
                            vcpus, script)
    b_log, b = _sharing_run(lambda log, w, c: _general(ReferenceSharing(log, None, w, stages, c, hops)), arrivals,
                            work, vcpus, script)
    for field in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=True), field
    assert a.busy_until == b.busy_until and a.lost == b.lost and a.work_s == b.work_s
    assert a.billed_intervals(1e6) == b.billed_intervals(1e6)


def _general(ref: ReferenceSharing) -> ReferenceSharing:
    """The reference on its general path even for one job with no hop (which production serves on
    `OneJobSharingPool`), so the compiled pool with stages is held to the same arithmetic there too."""
    ref._single = False
    return ref


def test_the_sharing_pool_runs_compiled():
    from numba.core.registry import CPUDispatcher

    jit.warm()
    assert isinstance(sharing_single._route, CPUDispatcher) and isinstance(sharing_kernel.serve, CPUDispatcher)
    assert isinstance(sharing_pool(RequestLog.empty(np.zeros(1), np.zeros(1, np.int32)), None, np.ones(1), ((0,),),
                                   1), sharing_single.OneJobSharingPool)


def _mme_run(cls, log, service, workers, fp, mem_mb, disk_mb, script, track):
    """A multi-model pool under the scripted control plane (`drive`)."""
    pool = cls(log, None, service, workers, fp, mem_mb, disk_mb, track=track)
    return pool, drive(pool, script)


@settings_
@given(st.integers(0, 2**31), st.integers(1, 600), st.floats(1, 300), st.integers(1, 4), st.integers(1, 12),
       st.floats(1, 4), st.floats(1, 4), st.floats(0, 2),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "fail"]), st.floats(0, 30)), max_size=8))
def test_compiled_multi_model_pool_matches_the_interpreted_one(seed, n, rate, workers, models, mem_x, disk_x,
                                                               load_s, script):
    """Models of random sizes under a memory budget `mem_x` times the largest and a disk budget `disk_x`
    times the largest artifact: evictions from both tiers, loads of random length, delayed hits."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.lognormal(np.log(0.05), 1.0, n)
    mem, size = rng.uniform(1, 100, models).round(1), rng.uniform(0, 50, models).round(1)
    fp = Footprints(mem.tolist(), size.tolist(), (rng.uniform(0, 1, models) * load_s).tolist(),
                    (rng.uniform(0, 3, models) * load_s).tolist())
    model_idx = rng.zipf(1.5, n).clip(max=models).astype(np.int32) - 1
    script = sorted(script, key=lambda e: e[1])
    runs = []
    for cls in (mme_pool.ModelAwarePool, ReferenceMME):
        log = RequestLog.empty(arrivals, model_idx)
        runs.append((log, *_mme_run(cls, log, service, workers, fp, mem.max() * mem_x, size.max() * disk_x + 1,
                                    script, track=True)))
    (a_log, a, a_held), (b_log, b, b_held) = runs
    for field in ("status", "cold", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=field.endswith("_s")), field
    assert a_held == b_held and a.counters() == b.counters() and a.waited == b.waited
    assert a.busy_until == b.busy_until and a.lost == b.lost and a.routable == b.routable
    assert a.billed_intervals(1e6) == b.billed_intervals(1e6)
    for x, y in zip(a.caches, b.caches, strict=True):
        assert x.counters() == y.counters() and list(x.mem) == list(y.mem)
        assert (x.used_mb, x.peak_mb, x.disk_used_mb) == (y.used_mb, y.peak_mb, y.disk_used_mb)


def test_the_multi_model_pool_runs_compiled():
    from numba.core.registry import CPUDispatcher

    jit.warm()
    assert isinstance(mme_kernel.serve, CPUDispatcher)


def test_a_kernel_borrowed_from_another_module_compiles_first_and_cold(tmp_path):
    """The multi-model kernel calls the pool's heap kernels: compiled first, in a process whose numba cache is
    empty (a fresh clone, a Dask worker), they still compile with the pool's own kernels they call."""
    import subprocess
    import sys

    code = ("from sim import jit\nfrom sim.components import mme_kernel, mme_pool, pool\n"
            "jit._compile(mme_kernel)\nmme_pool._warm()\nassert mme_kernel._push is pool._push\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_an_empty_cache_is_filled_by_forked_compilers_and_a_full_one_is_only_loaded(tmp_path):
    """A fresh install compiles the kernels in `jit.COMPILERS` forked processes, which write the disk cache;
    the process then loads them from it (the same kernels, the same types). A later process finds the cache
    and forks nothing."""
    import subprocess
    import sys

    code = ("from sim import jit, options\nimport sim.traffic_stats\noptions.load_all()\nforked = jit.warm()\n"
            "from sim.components import pool\nassert len(pool._serve.signatures) >= 1\nprint(forked)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-2000:] for r in runs]
    assert [r.stdout.split()[-1] for r in runs] == ["True", "False"]


def test_the_helpers_of_a_per_request_loop_are_compiled_into_it_and_its_entry_points_are_not():
    """`sim.jit.inlined` helpers compile with numba's inline="always" (a call per request would cost a reference
    count on every array), entry points called from Python with "never" (inlining them would only grow the
    compile); both stay callable, and the comparisons above hold either to the interpreted loops."""
    from sim.components import batch_single

    jit.warm()
    assert batch_single._arrive.targetoptions["inline"] == "always"
    assert pool._push.targetoptions["inline"] == "always" and mme_kernel._push is pool._push
    assert batch_single._serve.targetoptions["inline"] == "never"
    assert mme_kernel.serve.targetoptions["inline"] == "never"


def test_kernels_run_without_reference_counting_except_the_ones_that_create_arrays():
    """Every compiled kernel of the data planes is built without numba's runtime (`_nrt=False`: no atomic count on
    each array bound to a name, two thirds of the processor-sharing loop's time with it), except those declared
    `allocating`, which return new arrays and run once per call from Python, never per request."""
    import sim.traffic_stats
    from sim.components import sharing_kernel, tandem_kernel, triton_kernel

    jit.warm()
    kernels = {f"{m.__name__}.{name}": v for m in (pool, mme_kernel, sharing_kernel, tandem_kernel, triton_kernel,
                                                    sim.traffic_stats)
               for name, v in vars(m).items() if hasattr(v, "targetoptions") and v.py_func.__module__ == m.__name__}
    counted = sorted(name for name, v in kernels.items() if v.targetoptions.get("_nrt", True))
    assert counted == ["sim.components.triton_kernel.in_flight", "sim.traffic_stats._scaled_gaps",
                       "sim.traffic_stats._window_index"]
    assert len(kernels) > 20


def test_the_disk_cache_keeps_code_compiled_with_other_options_apart():
    """Numba keys its cache by bytecode and file stamp: the code of a kernel compiled with reference counting would
    be loaded for the same function compiled without. `sim.jit` adds the options to the key."""
    from numba import njit
    from numba.core.caching import FunctionCache

    def fn(a):
        return a[0]

    def key(pending):
        dispatcher = jit._cached_njit(njit, pending)
        return dispatcher._cache._index_key("sig", dispatcher.targetdescr.target_context.codegen())

    plain = FunctionCache(fn)._index_key("sig", njit(fn).targetdescr.target_context.codegen())
    lean, counted, inline = key(jit._Pending(fn)), key(jit._Pending(fn, counted=True)), key(jit._Pending(fn, True))
    assert lean[:len(plain)] == counted[:len(plain)] == plain
    assert len({lean, counted, inline}) == 3


def _tandem_run(make, arrivals, script):
    """A tandem pool under the scripted control plane (`drive`), credit ticks on a burstable one."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    p = make(log)
    return log, p, drive(p, script)


@settings_
@given(st.integers(0, 2**31), st.integers(1, 500), st.floats(1, 300), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from([None, 1, 2, 4]), st.booleans(), st.floats(0, 0.01),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "fail", "tick"]), st.floats(0, 30)), max_size=10))
def test_compiled_tandem_pools_match_the_interpreted_ones(seed, n, rate, steps, workers, vcpus, burstable, hop,
                                                          script):
    """FIFO per step (no vCPUs shared), the vCPU-sharing loop, and the burstable one on a T type launched
    with no credits (factors above 1 from the first tick with work done)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = rng.lognormal(np.log(0.02), 1.0, (n, steps))
    cpu = tuple(bool(b) for b in rng.integers(0, 2, steps))
    script = sorted(script, key=lambda e: e[1])
    it = load_catalog().instances["ml.t2.medium"]
    horizon = float(arrivals[-1]) + 1.0

    def make(cls, burst_cls):
        if burstable:
            return lambda log: burst_cls(log, None, service, workers, _no_credits(it, steps * workers, horizon), hop,
                                         vcpus, cpu)
        return lambda log: cls(log, None, service, workers, hop, vcpus, cpu)

    a_log, a, a_held = _tandem_run(make(tandem.TandemPool, tandem.BurstableTandemPool), arrivals, script)
    b_log, b, b_held = _tandem_run(make(ReferenceTandem, ReferenceBurstableTandem), arrivals, script)
    for field in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(a_log, field), getattr(b_log, field), equal_nan=True), field
    assert a_held == b_held and a.wait_s == b.wait_s and a.max_wait_s == b.max_wait_s
    assert a.busy_until == b.busy_until and a.lost == b.lost
    assert a.billed_intervals(1e6) == b.billed_intervals(1e6)
    if burstable:
        assert a.credits.routed_s == b.credits.routed_s and a.credits.figures() == b.credits.figures()


def test_the_tandem_pool_runs_compiled():
    from numba.core.registry import CPUDispatcher

    jit.warm()
    assert isinstance(tandem_kernel.serve_fifo, CPUDispatcher) and isinstance(tandem_kernel.serve_shared,
                                                                              CPUDispatcher)


@settings_
@given(st.lists(st.floats(0, 2e4), max_size=300), st.sampled_from([60.0, 0.1, 1.7, 3600.0]),
       st.integers(1, 400), st.booleans(), st.integers(0, 2**31))
def test_window_index_is_numpys_floor_division(values, window_s, bins, shuffle, seed):
    """Sorted (bisected) or not (one by one), every arrival's window is numpy's floor(a // w), capped at the
    last window; arrivals on and one ulp either side of window edges included."""
    edges = np.arange(1, 40) * window_s
    a = np.sort(np.r_[values, edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)])
    if shuffle:
        np.random.default_rng(seed).shuffle(a)
    assert np.array_equal(window_index(a, window_s, bins), np.minimum((a // window_s).astype(np.int64), bins - 1))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triton_scenarios(), triton_cfg, st.booleans(), st.floats(0, 1), st.booleans())
def test_compiled_triton_host_matches_the_interpreted_one(sc, raw, fail, at, general):
    """Any ensemble (1-4 models, logic steps, serial or parallel patterns, explicit or default batch curves),
    pinned or autoscaled, with or without an instance failing: the compiled general host
    (sim/components/triton_kernel.py) gives the interpreted one's outcomes, times, batches and bill exactly.
    `general`: a one-model ensemble goes to the general host too, not to its fast path."""
    from unittest import mock

    from sim.components import batcher
    from sim.faults import InstanceFailure
    from sim.options.triton import TritonConfig
    from sim.options.triton import simulate as triton_simulate
    from tests.reference_triton import ReferenceHosts

    if fail:
        sc = sc.with_faults(InstanceFailure(at * sc.horizon_s, None))
    single = (lambda ens: None) if general else batcher.single_model
    with mock.patch.object(batcher, "single_model", single):
        fast = triton_simulate(sc, TritonConfig(**raw))
        with mock.patch.object(batcher, "TritonHosts", ReferenceHosts):
            slow = triton_simulate(sc, TritonConfig(**raw))
    assert fast.feasible == slow.feasible
    if not fast.feasible:
        return
    for f in ("status", "start_s", "finish_s"):
        assert np.array_equal(getattr(fast.log, f), getattr(slow.log, f), equal_nan=True), f
    assert fast.figures.details == slow.figures.details
    assert fast.figures.utilization == slow.figures.utilization and fast.cost_usd == slow.cost_usd


def test_the_triton_host_runs_compiled():
    from numba.core.registry import CPUDispatcher

    from sim.components import triton_kernel

    jit.warm()
    assert isinstance(triton_kernel.serve, CPUDispatcher)


def _queue_run(make, arrivals, work, workers, script, timeout_s):
    """A shared queue under a scripted control plane (instances joining and retiring), the backlog read at each
    event; (log, backlogs)."""
    log = RequestLog.empty(arrivals, np.zeros(arrivals.size, np.int32))
    q = make(log, np.arange(arrivals.size), work, workers, timeout_s)
    q.join(0.0)
    backlogs = []
    for what, t in script:
        q.advance(t)
        backlogs.append(q.backlog(t))
        if what == "join":
            q.join(t)
        elif what == "retire" and q.in_service > 0:
            q.retire(t)
    q.advance(math.inf)
    return log, backlogs, q


@settings_
@given(st.integers(0, 2**31), st.integers(1, 400), st.floats(1, 300), st.integers(1, 4),
       st.lists(st.tuples(st.sampled_from(["join", "retire", "tick"]), st.floats(0, 30)), max_size=10),
       st.sampled_from([math.inf, 0.2]))
def test_compiled_shared_queue_matches_the_interpreted_one(seed, n, rate, workers, script, timeout_s):
    """The asynchronous queue's kernels against the heapq loop they replaced: the same start, finish and status
    of every request, the same backlog at every event, the same busy times (instances may retire to zero and
    requests wait for the next one)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    work = rng.lognormal(np.log(0.05), 1.0, n)
    script = sorted(script, key=lambda e: e[1])
    a_log, a_back, a = _queue_run(queue.SharedQueue, arrivals, work, workers, script, timeout_s)
    b_log, b_back, b = _queue_run(ReferenceQueue, arrivals, work, workers, script, timeout_s)
    assert a_back == b_back
    np.testing.assert_array_equal(a_log.start_s, b_log.start_s)
    np.testing.assert_array_equal(a_log.finish_s, b_log.finish_s)
    np.testing.assert_array_equal(a_log.status, b_log.status)
    assert a.busy_until == b.busy_until and a.idle == b.idle
