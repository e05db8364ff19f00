"""The simulator held to queueing theory (DESIGN §4): Erlang C, M/D/1, M/G/1, Erlang B, Little's law.

Each point runs N = 200,000 Poisson requests with a fixed seed, the first 5% of the horizon removed as
warm-up. Tolerances are 4 x the run-to-run standard deviation measured over seeds 0..9 at that point
(`python -m tests.spread` reproduces the table below); the 10-seed means agreed with the closed forms
within 1%, so the tolerance covers noise, not bias.

| point                      | rel. sd of Wq | sd of P(wait) | rel. sd of blocking |
| M/M/4, rho 0.75            | 0.028         | 0.0040        |                     |
| M/M/2, rho 0.8             | 0.026         | 0.0032        |                     |
| M/M/8, rho 0.75            | 0.035         | 0.0043        |                     |
| M/D/1, rho 0.8             | 0.022         | 0.0029        |                     |
| M/G/1 lognormal, rho 0.7   | 0.023         | 0.0031        |                     |
| M/G/5/5, a = 4 (exp/const) |               |               | 0.006 / 0.006       |
| M/G/10/10, a = 8           |               |               | 0.010 / 0.012       |
| 3 x M/M/2 random, rho 0.7  | 0.025         |               |                     |

The Jackson-network point (two M/M/2 steps) gives its spread in its docstring.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.components.tandem import TandemPool
from sim.distributions import Lognormal
from sim.options import load_all
from sim.results import SERVED, RequestLog
from sim.scenario import stream
from tests.queueing import (
    CONST_100MS,
    EXP_100MS,
    erlang_b,
    erlang_c,
    poisson_scenario,
    pollaczek_khinchine_wq,
    realtime_waits,
    routed_waits,
    serverless_blocking,
)

N = 200_000
SEED = 11

pytestmark = pytest.mark.statistical


@pytest.mark.parametrize(("lam", "c", "wq_rel_tol", "pw_tol"), [
    (30.0, 4, 4 * 0.028, 4 * 0.0040),
    (16.0, 2, 4 * 0.026, 4 * 0.0032),
    (60.0, 8, 4 * 0.035, 4 * 0.0043),
])
def test_realtime_mmc_matches_erlang_c(lam, c, wq_rel_tol, pw_tol):
    """One pinned instance, c workers, exponential 100 ms service: mean wait and P(wait) of Erlang C."""
    pw, wq = erlang_c(lam, 10.0, c)
    waits = realtime_waits(lam, EXP_100MS, c, N, SEED)
    assert waits.mean() == pytest.approx(wq, rel=wq_rel_tol)
    assert (waits > 0).mean() == pytest.approx(pw, abs=pw_tol)


def test_random_routing_is_independent_queues_and_waits_longer_than_least_outstanding():
    """3 pinned instances x 2 workers, Poisson 42/s, exponential 100 ms. Routed at random (SageMaker's default),
    each instance sees Poisson 14/s, an M/M/2 at rho 0.7: Erlang C gives Wq 96.1 ms (seeds 0..9 averaged
    95.9 ms, rel. sd 0.025). Least outstanding routing at the same load averaged 23.0 ms (rel. sd 0.026):
    a quarter of the random wait."""
    _, wq = erlang_c(14.0, 10.0, 2)
    random = routed_waits(42.0, EXP_100MS, 3, 2, N, SEED, "random")
    least = routed_waits(42.0, EXP_100MS, 3, 2, N, SEED, "least_outstanding")
    assert random.mean() == pytest.approx(wq, rel=4 * 0.025)
    assert least.mean() < random.mean() / 3


def test_realtime_md1_matches_pollaczek_khinchine():
    """One worker, constant 100 ms service, rho 0.8: Wq = rho / (2 mu (1 - rho)) = 0.2 s."""
    waits = realtime_waits(8.0, CONST_100MS, 1, N, SEED)
    assert waits.mean() == pytest.approx(pollaczek_khinchine_wq(8.0, 0.1, 0.0), rel=4 * 0.022)
    assert (waits > 0).mean() == pytest.approx(0.8, abs=4 * 0.0029)


def test_realtime_mg1_lognormal_matches_pollaczek_khinchine():
    """One worker, lognormal service (p50 80 ms, p99 400 ms), rho 0.7: the P-K mean wait."""
    svc = Lognormal(p50_ms=80, p99_ms=400)
    mean_s, var_s2 = svc.expected_ms / 1000, svc.variance_ms2 / 1e6
    lam = 0.7 / mean_s
    waits = realtime_waits(lam, svc, 1, N, SEED)
    assert waits.mean() == pytest.approx(pollaczek_khinchine_wq(lam, mean_s, var_s2), rel=4 * 0.023)


@pytest.mark.parametrize("service", [EXP_100MS, CONST_100MS], ids=["exponential", "constant"])
@pytest.mark.parametrize(("lam", "c", "rel_tol"), [(40.0, 5, 4 * 0.006), (80.0, 10, 4 * 0.012)])
def test_serverless_concurrency_limit_matches_erlang_b(service, lam, c, rel_tol):
    """max_concurrency c, no cold start: throttled fraction = Erlang B, whatever the service distribution."""
    blocked = serverless_blocking(lam, service, c, N, SEED)
    assert blocked == pytest.approx(erlang_b(lam * 0.1, c), rel=rel_tol)


def test_littles_law_holds_on_the_time_average_number_in_the_system():
    """Little's law, L = lambda x W, on M/M/4 at rho 0.75 (lambda 30/s, mean service 100 ms). L is measured
    as a time average, the area under the number-in-system step function over the horizon after warm-up
    (each request's time inside the window, clipped), independent of the per-request mean W of the requests
    arriving in that window. Seeds 0..9: the two sides differ by at most 7.8e-5 (edge effects of the
    window; tolerance 1e-3), and L has a relative sd of 0.0115 over seeds around Erlang C's
    L = 30 x (0.0509 + 0.1) = 4.528 (tolerance 4 sd)."""
    sc = poisson_scenario(30.0, EXP_100MS, N, SEED)
    opt = load_all()["realtime"]
    log = opt.simulate(sc, opt.config_model(instance_type="ml.c5.2xlarge", instance_count=1,
                                            workers_per_instance=4)).log
    t0, t1 = 0.05 * sc.horizon_s, sc.horizon_s
    area = np.clip(np.minimum(log.finish_s, t1) - np.maximum(log.arrival_s, t0), 0, None).sum()
    time_average_l = area / (t1 - t0)
    inside = (log.arrival_s >= t0) & (log.status == SERVED)
    lam_w = inside.sum() / (t1 - t0) * float(np.mean(log.finish_s[inside] - log.arrival_s[inside]))
    assert time_average_l == pytest.approx(lam_w, rel=1e-3)
    _, wq = erlang_c(30.0, 10.0, 4)
    assert time_average_l == pytest.approx(30.0 * (wq + 0.1), rel=4 * 0.0115)


def test_a_pipeline_of_two_mm2_steps_is_a_jackson_network():
    """Two steps of 2 workers each, exponential 100 ms, Poisson 14/s, one instance, no hop. By Burke's
    theorem the first step's departures are Poisson 14/s, so each step is an M/M/2 at rho 0.7 (Erlang C:
    Wq 96.08 ms) and the mean sojourn is 2 x (96.08 + 100) = 392.16 ms. Seeds 0..9: sojourn 392.67 ms
    (rel. sd 0.0067), second step's mean wait 96.07 ms (rel. sd 0.018). Serving every step in arrival order
    instead (the recursion before issue 16) gave 427.9 ms and 131.3 ms: +9% and +37%."""
    arr = np.cumsum(stream(SEED, "test-arrivals").exponential(1 / 14.0, N))
    log = RequestLog.empty(arr, np.zeros(N, np.int32))
    pool = TandemPool(log, None, stream(SEED, "test-service").exponential(0.1, (N, 2)), 2)
    pool.join(0.0)
    pool.advance(math.inf)
    _, wq = erlang_c(14.0, 10.0, 2)
    keep = arr >= 0.05 * arr[-1]
    assert float(np.mean((log.finish_s - arr)[keep])) == pytest.approx(2 * (wq + 0.1), rel=4 * 0.0067)
    assert pool.wait_s[1] / N == pytest.approx(wq, rel=4 * 0.018)
