"""Closed forms of queueing theory and helpers to run options on synthetic Poisson scenarios (tests)."""

from __future__ import annotations

import math

import numpy as np

from sim.catalog import load_catalog
from sim.distributions import Constant, Exponential
from sim.metrics import queue_wait_s, request_counts
from sim.model import ModelSpec
from sim.options import load_all
from sim.scenario import build_scenario, stream


def erlang_c(lam: float, mu: float, c: int) -> tuple[float, float]:
    """M/M/c: (P(wait), mean wait Wq in s) by the Erlang C formula."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    pw = tail / (head + tail)
    return pw, pw / (c * mu - lam)


def erlang_b(a: float, c: int) -> float:
    """Blocking probability of M/G/c/c with offered load a (Erlang B recursion)."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def pollaczek_khinchine_wq(lam: float, mean_s: float, var_s2: float) -> float:
    """M/G/1 mean wait: lam * E[S^2] / (2 (1 - rho)), seconds."""
    rho = lam * mean_s
    return lam * (var_s2 + mean_s**2) / (2 * (1 - rho))


def poisson_scenario(lam: float, service, n: int, seed: int, cold_s: float = 0.0):
    """n Poisson(lam) arrivals of one model with the given service distribution."""
    model = ModelSpec(name="m", service_time=service, container_start_s=cold_s)
    arr = np.cumsum(stream(seed, "test-arrivals").exponential(1 / lam, n))
    return build_scenario([model], arr, np.zeros(n, np.int32), float(arr[-1]) + 1e-9, load_catalog(), seed)


def realtime_waits(lam: float, service, c: int, n: int, seed: int, warmup: float = 0.05) -> np.ndarray:
    """Queue waits (s) of a pinned one-instance realtime endpoint with c workers, warm-up removed."""
    sc = poisson_scenario(lam, service, n, seed)
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model(instance_type="ml.c5.2xlarge", instance_count=1, workers_per_instance=c))
    return queue_wait_s(res.log, since_s=warmup * sc.horizon_s)


def routed_waits(lam: float, service, instances: int, workers: int, n: int, seed: int, routing: str,
                 warmup: float = 0.05) -> np.ndarray:
    """Queue waits (s) of a pinned realtime endpoint of `instances` x `workers` routed by `routing`
    ("random" or "least_outstanding"), warm-up removed."""
    sc = poisson_scenario(lam, service, n, seed)
    opt = load_all()["realtime"]
    res = opt.simulate(sc, opt.config_model(instance_type="ml.c5.2xlarge", instance_count=instances,
                                            workers_per_instance=workers, routing=routing))
    return queue_wait_s(res.log, since_s=warmup * sc.horizon_s)


def serverless_blocking(lam: float, service, c: int, n: int, seed: int, warmup: float = 0.05) -> float:
    """Throttled fraction of a serverless endpoint with max_concurrency c and no cold start."""
    sc = poisson_scenario(lam, service, n, seed)
    opt = load_all()["serverless"]
    res = opt.simulate(sc, opt.config_model(memory_mb=2048, max_concurrency=c))
    counts = request_counts(res.log, since_s=warmup * sc.horizon_s)
    return counts.throttled / counts.offered


EXP_100MS = Exponential(mean_ms=100)
CONST_100MS = Constant(value_ms=100)
