"""The interval on a run's p99 and the horizon a decision needs (issue 16: short runs).

`sim.metrics.p99_interval_ms` cuts the run into 10 equal spans of arrival time and takes the p99 of all
served requests plus and minus t(0.975, 9) x the sd of the sections' p99s / sqrt(10) (sectioning).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitness.engine.horizon import precision_warnings
from fitness.engine.sized import sized
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.metrics import T_975_9, distribution_ms, p99_interval_ms, summary
from sim.model import ModelSpec
from sim.options import load_all
from sim.scenario import build_scenario
from tests.queueing import EXP_100MS, poisson_scenario

N = 200_000
SEED = 11
MM1_P99_MS = 1000.0 * math.log(100.0) / (10.0 - 8.0)
"""M/M/1 at lambda 8/s, mu 10/s: the sojourn is exponential with rate mu - lambda, so p99 = ln(100) / 2 s."""
P99_SD_MS = 88.2
"""The sd of the whole run's p99 over seeds 0..9 at that point (measured with this module's `_mm1`: mean
2259.5 ms, 1.9% under the closed form; mean sectioning half-width 236.7 ms, 1.19 x t x sd; 8 of the 10
intervals covered the closed form)."""


def _mm1(seed: int):
    sc = poisson_scenario(8.0, EXP_100MS, N, seed)
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model(instance_type="ml.c5.2xlarge", instance_count=1, workers_per_instance=1))
    return res, 0.05 * sc.horizon_s


@pytest.mark.statistical
def test_the_interval_covers_the_closed_form_and_is_as_wide_as_the_seeds_spread():
    """M/M/1 at rho 0.8, 200,000 requests, 5% warm-up. Seeds 0..9: the run's p99 has an sd of `P99_SD_MS`
    around the closed form's 2302.6 ms; sectioning should give a half-width of about t x that sd (its own
    sd estimate has 9 degrees of freedom, so within a factor of 2) and cover the closed form."""
    res, since = _mm1(SEED)
    lo, hi = p99_interval_ms(res.log, res.horizon_s, since)
    assert lo < MM1_P99_MS < hi
    half = (hi - lo) / 2
    assert 0.5 * T_975_9 * P99_SD_MS < half < 2.0 * T_975_9 * P99_SD_MS
    assert summary(res, since).p99_interval_ms == (lo, hi)


def test_nothing_random_gives_a_point_and_too_few_requests_give_none():
    model = ModelSpec(name="m", service_time=Constant(value_ms=100))
    cat = load_catalog()
    opt = load_all()["realtime"]
    cfg = opt.config_model(instance_type="ml.c5.large", instance_count=1, workers_per_instance=1)
    for n, expected in ((5000, (100.0, 100.0)), (500, None)):
        arr = np.arange(float(n))
        res = opt.simulate(build_scenario([model], arr, np.zeros(n, np.int32), float(n), cat, 0), cfg)
        iv = p99_interval_ms(res.log, res.horizon_s)
        assert iv == (pytest.approx(expected) if expected else None)


def test_a_p99_whose_interval_straddles_the_slo_names_the_horizon_that_would_tell():
    """p99 90 ms under a 100 ms SLO with an interval reaching 120 ms: the half-width (30 ms) must shrink to the
    10 ms margin, 9 x the horizon (half-widths fall as 1 / sqrt(horizon)): 10 min x 9 = 1.5 h, rounded up to 2 h."""
    wl = parse_workload({"name": "p", "seed": 1, "horizon": "10m", "replications": 1, "sensitivity": False,
                         "models": [{"name": "m", "service_time": {"dist": "constant", "value_ms": 20}}],
                         "traffic": {"pattern": "poisson", "rate_rps": 5}, "slo": {"p99_ms": 100},
                         "options": {"realtime": {"instance_type": "ml.c5.large", "instance_count": 2}}})
    rec = sized(wl, only=("realtime",))[0]
    best = rec.options[0]
    lat = dataclasses.replace(best.latency_ms, p99=90.0)
    made = dataclasses.replace(rec, options=(dataclasses.replace(best, latency_ms=lat, p99_interval_ms=(60.0, 120.0)),))
    [warning] = precision_warnings(wl, made)
    assert "reaches 120 ms" in warning and "Simulate about 2 h" in warning
    inside = dataclasses.replace(made, options=(dataclasses.replace(made.options[0], p99_interval_ms=(80.0, 99.0)),))
    assert precision_warnings(wl, inside) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1e4, allow_nan=False, allow_infinity=False), min_size=1, max_size=500),
       st.integers(0, 3))
def test_the_latency_percentiles_are_numpys_to_the_bit(values, ties):
    """`distribution_ms` takes its percentiles on a sorted copy (faster): the same values, bit for bit, as numpy's
    on the values in arrival order, ties and single values included."""
    x = np.round(np.array(values), ties) if ties else np.array(values)  # rounding makes ties
    d = distribution_ms(x / 1000.0)
    ms = x / 1000.0 * 1000.0
    assert (d.p50, d.p95, d.p99) == tuple(float(v) for v in np.percentile(ms, [50, 95, 99]))
    assert d.mean == float(ms.mean()) and d.max == float(ms.max())
