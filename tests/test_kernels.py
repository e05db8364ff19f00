"""The compiled data planes (`sim.jit`) against the interpreted loops they replaced, request for request.

The kernels must give the same outcome, start and finish for every request, the same containers and the
same bills: the same operations in the same order, so the same bits. The Triton one-model host is held
to the general host in tests/test_triton.py; the serverless containers to the interpreted version of
commit b40b70c here (tests/reference_containers.py).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import jit
from sim.components import containers
from sim.results import RequestLog
from tests.reference_containers import OnDemandContainers as Reference

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
