"""Serverless endpoints on small cases worked by hand: cold start, keep-alive, which container, provisioned.

Every case uses one model and constant 1 s service at 2048 MB (a full vCPU), keep-alive 100 s and a
catalog whose model download rate is set to 50 MB/s, so the cold start is, by hand,
    container start 2 s + download 300 MB / 50 MB/s = 6 s + load 5 s = 13 s,
paid before the service begins. A request that finds a warm container starts on arrival. The other
serverless tests (Erlang B, invariants, the Lambda validation, cost, right-sizing, decisions) do not pin
these numbers: a cold start of half its length, or reusing the oldest idle container instead of the
newest, passes every one of them; each fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.catalog import load_catalog
from sim.components.containers import OnDemandContainers
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options.serverless import ServerlessConfig, simulate, speed
from sim.results import SERVED, RequestLog, SimResult
from sim.scenario import build_scenario

BASE = load_catalog()
DOWNLOAD_MB_PER_S = 50.0
CAT = BASE.model_copy(update={"network": BASE.network.model_copy(update={
    "model_download_mb_per_s": BASE.network.model_download_mb_per_s.model_copy(update={"value": DOWNLOAD_MB_PER_S})})})
MODEL = ModelSpec(name="m", size_mb=300, container_start_s=2, load_s=5, service_time=Constant(value_ms=1000))
COLD_S = 13.0  # 2 + 300 / 50 + 5, worked out above
MEMORY_MB, KEEP_ALIVE_S, HORIZON_S = 2048, 100.0, 1000.0
GB = MEMORY_MB / 1024


def _run(arrivals_s: list[float], **cfg) -> SimResult:
    """The serverless option on these arrivals, started cold (no warm container at t = 0)."""
    assert speed(MEMORY_MB, CAT) == 1.0, "the cases assume a full vCPU, so service stays 1 s"
    arr = np.array(arrivals_s)
    sc = build_scenario([MODEL], arr, np.zeros(arr.size, np.int32), HORIZON_S, CAT, 0)
    res = simulate(sc, ServerlessConfig(memory_mb=MEMORY_MB, max_concurrency=5, keep_alive_s=KEEP_ALIVE_S,
                                        initial_warm=0, **cfg))
    assert res.feasible and np.all(res.log.status == SERVED)
    return res


def _capacity(res: SimResult) -> list[tuple[float, float]]:
    """(time, containers alive from then on) at each change."""
    return [(round(float(t), 9), float(v)) for t, v in zip(res.capacity.times_s, res.capacity.values, strict=True)]


def test_cold_start_is_container_start_plus_download_plus_load_then_the_service():
    """0 s: no container, so one is created: it serves from 0 + 13 = 13 s and answers at 14 s (latency 14 s,
    of which 1 s is billed). 20 s: the container is idle since 14 s (alive until 114 s), so the request is
    warm: 20 -> 21 s, latency 1 s. Billed: 2 x 1 s x 2 GB x the GB-second price; the cold start is not."""
    assert MODEL.cold_start_s(DOWNLOAD_MB_PER_S) == COLD_S
    assert MODEL.cold_start_s(100.0) == 2 + 3 + 5  # 300 MB at 100 MB/s: the download is what changes
    res = _run([0.0, 20.0])
    assert res.log.cold.tolist() == [True, False]
    assert res.log.start_s.tolist() == [13.0, 20.0]
    assert res.log.finish_s.tolist() == [14.0, 21.0]
    assert res.figures.details["containers_created"] == 1 and res.figures.details["busy_seconds"] == 2.0
    assert res.cost_usd["compute"] == pytest.approx(2 * 1.0 * GB * CAT.serverless.price_per_gb_second.value,
                                                    rel=1e-12)


def test_keep_alive_counts_from_the_end_of_the_last_request():
    """Keep-alive 100 s after the container's last request ends:
    - 0 s: cold, 13 -> 14 s; idle from 14 s, so it expires at 114 s.
    - 113.99 s: 0.01 s before expiry: warm, 113.99 -> 114.99 s; now it expires at 214.99 s.
    - 214.98 s: 0.01 s before the new expiry (counted from creation or from the last start it would be
      gone): warm, 214.98 -> 215.98 s; it expires at 315.98 s.
    - 316 s: 0.02 s after expiry: cold on a new container, 316 + 13 = 329 -> 330 s; it expires at 430 s.
    Containers alive: 1 from 0 s, 0 from 315.98 s, 1 from 316 s, 0 from 430 s."""
    res = _run([0.0, 113.99, 214.98, 316.0])
    assert res.log.cold.tolist() == [True, False, False, True]
    np.testing.assert_allclose(res.log.start_s, [13.0, 113.99, 214.98, 329.0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.log.finish_s, [14.0, 114.99, 215.98, 330.0], rtol=0, atol=1e-9)
    assert res.figures.details["containers_created"] == 2
    assert _capacity(res) == [(0.0, 1.0), (315.98, 0.0), (316.0, 1.0), (430.0, 0.0)]


def test_the_newest_idle_container_is_reused_so_older_ones_expire():
    """As SimFaaS does, a request takes the most recently created idle container:
    - 0 s: cold on A, 13 -> 14 s. 1 s: A is busy, cold on B, 14 -> 15 s.
    - 60 s: A (idle since 14 s) and B (idle since 15 s) are both warm; B is newer: 60 -> 61 s. A stays idle
      and expires at 114 s; B now expires at 161 s.
    - 114.5 s: A is gone, B is warm: 114.5 -> 115.5 s (B now expires at 215.5 s).
    - 114.6 s: B is busy and A is gone: cold on C, 114.6 + 13 = 127.6 -> 128.6 s (expires at 228.6 s).
    Reusing the oldest instead would send 60 s and 114.5 s to A, keep B until 115 s and make 114.6 s warm."""
    res = _run([0.0, 1.0, 60.0, 114.5, 114.6])
    assert res.log.cold.tolist() == [True, True, False, False, True]
    np.testing.assert_allclose(res.log.start_s, [13.0, 14.0, 60.0, 114.5, 127.6], rtol=0, atol=1e-9)
    assert res.figures.details["containers_created"] == 3
    assert _capacity(res) == [(0.0, 1.0), (1.0, 2.0), (114.0, 1.0), (114.6, 2.0), (215.5, 1.0), (228.6, 0.0)]


def test_newest_means_last_created_not_last_idle():
    """On the data plane, with per-request service times (cold start 13 s, keep-alive 100 s):
    - 0 s, 50 s of work: cold on A (id 0), 13 -> 63 s. 1 s, 1 s of work: cold on B (id 1), 14 -> 15 s.
    - 100 s: A has been idle since 63 s, B since 15 s. B was created last, so B serves it warm, 100 -> 101 s,
      though A went idle more recently. A expires at 63 + 100 = 163 s, B at 101 + 100 = 201 s.
    (Taking the oldest container, or the one idle the shortest time, would pick A: A until 201 s, B until 115 s.)"""
    arr = np.array([0.0, 1.0, 100.0])
    log = RequestLog.empty(arr, np.zeros(arr.size, np.int32))
    fleet = OnDemandContainers(log, None, np.array([50.0, 1.0, 1.0]), COLD_S, max_concurrency=5,
                               keep_alive_s=KEEP_ALIVE_S)
    fleet.advance(math.inf)
    assert log.cold.tolist() == [True, True, False]
    assert log.start_s.tolist() == [13.0, 14.0, 100.0]
    created, died = fleet.lifetimes(HORIZON_S)
    assert created.tolist() == [0.0, 1.0] and died.tolist() == [163.0, 201.0]


def test_provisioned_concurrency_is_taken_first_always_warm_and_billed_all_the_time():
    """One provisioned container P, no on-demand container warm at the start:
    - 0 s: P is free: warm, 0 -> 1 s (a cold endpoint without P would wait 13 s).
    - 0.5 s: P is busy: cold on an on-demand container D, 0.5 + 13 = 13.5 -> 14.5 s; D expires at 114.5 s.
    - 20 s: P (idle since 1 s) and D (idle since 14.5 s) are both warm; P is taken first: 20 -> 21 s, so D
      stays idle and still expires at 114.5 s (it would live until 121 s had it served this request).
    - 500 s: D is long gone, P never expires: warm, 500 -> 501 s.
    Containers alive: 1 (P) from 0 s, 2 from 0.5 s, 1 from 114.5 s. Billed: the request on D, 1 s x 2 GB at the
    GB-second price; the 3 requests on P, 3 s x 2 GB at the provisioned inference price; and P for the whole
    1000 s horizon x 2 GB at the provisioned price, busy or not (paid container-seconds: 1 + 1000)."""
    res = _run([0.0, 0.5, 20.0, 500.0], provisioned_concurrency=1)
    assert res.log.cold.tolist() == [False, True, False, False]
    assert res.log.start_s.tolist() == [0.0, 13.5, 20.0, 500.0]
    assert res.figures.details["containers_created"] == 1
    assert _capacity(res) == [(0.0, 1.0), (0.5, 2.0), (114.5, 1.0)]
    s = CAT.serverless
    assert res.cost_usd["compute"] == pytest.approx(1 * 1.0 * GB * s.price_per_gb_second.value, rel=1e-12)
    assert res.cost_usd["provisioned_compute"] == pytest.approx(
        3 * 1.0 * GB * s.provisioned_inference_price_per_gb_second.value, rel=1e-12)
    assert res.cost_usd["provisioned_concurrency"] == pytest.approx(
        HORIZON_S * 1 * GB * s.provisioned_price_per_gb_second.value, rel=1e-12)
    assert res.figures.details["paid_seconds"] == 1.0 + HORIZON_S
    assert res.figures.details["busy_seconds"] == 4.0
    assert res.figures.details["alive_seconds"] == pytest.approx((114.5 - 0.5) + HORIZON_S, abs=1e-9)
