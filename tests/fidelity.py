"""Print the current error of every statistical check, at the seed its test uses (docs/fidelity.md).

Run: `python -m tests.fidelity` (about 10 s). Each line: the check, the closed form (or bound), the value the
test sees, the error, and the test's tolerance. The run-to-run spread behind the tolerances is printed by
`python -m tests.spread`, `python -m tests.test_multi_model`, `python -m tests.test_multi_container` and
`python -m tests.test_triton`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.application import Application
from sim.distributions import Exponential, Lognormal
from sim.metrics import latency_s, queue_wait_s
from sim.model import ModelSpec
from tests.queueing import (
    CONST_100MS,
    EXP_100MS,
    erlang_b,
    erlang_c,
    poisson_scenario,
    pollaczek_khinchine_wq,
    realtime_waits,
    serverless_blocking,
)

N, SEED = 200_000, 11
Line = tuple[str, float, float, str, str]
"""(check, theory, simulated, error kind 'rel' or 'abs', tolerance in words)."""


def queueing() -> list[Line]:
    """tests/test_statistical.py: Erlang C, Pollaczek-Khinchine, Erlang B."""
    out: list[Line] = []
    for lam, c, tw, tp in ((30.0, 4, 0.028, 0.0040), (16.0, 2, 0.026, 0.0032), (60.0, 8, 0.035, 0.0043)):
        pw, wq = erlang_c(lam, 10.0, c)
        w = realtime_waits(lam, EXP_100MS, c, N, SEED)
        out += [(f"M/M/{c} rho {lam / 10 / c:g} mean wait (s)", wq, w.mean(), "rel", f"4 x {tw}"),
                (f"M/M/{c} rho {lam / 10 / c:g} P(wait)", pw, (w > 0).mean(), "abs", f"4 x {tp}")]
    w = realtime_waits(8.0, CONST_100MS, 1, N, SEED)
    out += [("M/D/1 rho 0.8 mean wait (s)", pollaczek_khinchine_wq(8.0, 0.1, 0.0), w.mean(), "rel", "4 x 0.022"),
            ("M/D/1 rho 0.8 P(wait)", 0.8, (w > 0).mean(), "abs", "4 x 0.0029")]
    svc = Lognormal(p50_ms=80, p99_ms=400)
    mean_s, var_s2 = svc.expected_ms / 1000, svc.variance_ms2 / 1e6
    w = realtime_waits(0.7 / mean_s, svc, 1, N, SEED)
    out.append(("M/G/1 lognormal rho 0.7 mean wait (s)", pollaczek_khinchine_wq(0.7 / mean_s, mean_s, var_s2),
                w.mean(), "rel", "4 x 0.023"))
    for name, s in (("exponential", EXP_100MS), ("constant", CONST_100MS)):
        for lam, c, tol in ((40.0, 5, "4 x 0.006"), (80.0, 10, "4 x 0.012")):
            out.append((f"Erlang B c {c}, a {lam / 10:g}, {name} service", erlang_b(lam * 0.1, c),
                        serverless_blocking(lam, s, c, N, SEED), "rel", tol))
    return out


def async_queue() -> list[Line]:
    """tests/test_async.py: one shared queue over 1 x 4 and 2 x 2 workers is M/M/4."""
    from sim.options.async_inference import AsyncConfig, simulate

    pw, wq = erlang_c(30.0, 10.0, 4)
    out: list[Line] = []
    for inst, workers in ((1, 4), (2, 2)):
        sc = poisson_scenario(30.0, EXP_100MS, N, SEED)
        cfg = AsyncConfig(instance_type="ml.c5.xlarge", instance_count=inst, workers_per_instance=workers,
                          s3_latency_ms=0)
        w = queue_wait_s(simulate(sc, cfg).log, since_s=0.05 * sc.horizon_s)
        out += [(f"async {inst} x {workers} workers mean wait (s)", wq, w.mean(), "rel", "4 x 0.028"),
                (f"async {inst} x {workers} workers P(wait)", pw, (w > 0).mean(), "abs", "4 x 0.0040")]
    return out


def sharing() -> list[Line]:
    """tests/test_multi_container.py: processor sharing and scatter-gather; tests/test_patterns.py."""
    from sim.options.realtime import simulate
    from tests.test_multi_container import NET_S, option_sojourn, ps_sojourn, scatter_gather_mean
    from tests.test_patterns import HOP_S, PINNED, _scenario

    out: list[Line] = []
    for name, s, sds in (("M", EXP_100MS, (0.0075, 0.0191, 0.0109)), ("D", CONST_100MS, (0.0049, 0.0173, 0.0085))):
        for lam, sd in ((5.0, sds[0]), (8.0, sds[1])):
            out.append((f"M/{name}/1-PS rho {lam / 10:g} mean sojourn (s)", 1 / (10 - lam), ps_sojourn(lam, s, SEED),
                        "rel", f"4 x {sd}"))
        out.append((f"M/{name}/2-PS rho 0.7, ml.c5.large (s)", erlang_c(14.0, 10.0, 2)[1] + 0.1,
                    option_sojourn(14.0, s, SEED), "rel", f"4 x {sds[2]}"))
    for k, sd in ((2, 0.0050), (3, 0.0042), (5, 0.0031)):
        harmonic = 0.050 * sum(1 / i for i in range(1, k + 1))
        out.append((f"MCE scatter-gather K {k} mean latency (s)", harmonic + NET_S, scatter_gather_mean(k, SEED),
                    "rel", f"4 x {sd}"))
        models = [ModelSpec(name=f"b{i}", service_time=Exponential(mean_ms=50)) for i in range(k)]
        res = simulate(_scenario(models, Application("scatter-gather", branches=tuple(range(k))), 0.5, 20_000),
                       PINNED)
        out.append((f"realtime scatter-gather K {k} mean latency (s)", harmonic + HOP_S,
                    float(latency_s(res.log).mean()), "rel", "0.03"))
    return out


def caches_and_batching() -> list[Line]:
    """tests/test_multi_model.py (Che) and tests/test_triton.py (dynamic batching bounds)."""
    from tests.test_multi_model import CHE_ERROR, cache_hit_ratio, che_hit_ratio, option_hit_ratio
    from tests.test_triton import light_load, served_rate

    out: list[Line] = []
    for (n, c, a), sd in (((1000, 100, 0.8), 0.00130), ((200, 20, 1.0), 0.00179), ((100, 30, 0.6), 0.00133)):
        out.append((f"LRU hit ratio N {n}, C {c}, Zipf {a} (ModelCache)", che_hit_ratio(n, c, a),
                    cache_hit_ratio(n, c, a, SEED), "abs", f"4 x {sd} + {CHE_ERROR}"))
    out.append(("LRU hit ratio N 200, C 20, Zipf 1.0 (the option)", che_hit_ratio(200, 20, 1.0),
                option_hit_ratio(200, 20, 1.0, SEED), "abs", f"4 x 0.00126 + {CHE_ERROR}"))
    for label, kw, bound in (("B 8, 1 instance per model", {"instance_count": 1}, 8 / 0.060),
                             ("B 8, 2 instances per model", {"instance_count": 1, "instances_per_model": 2}, 8 / 0.060),
                             ("B 1, 3 instances", {"instance_count": 3, "max_batch_size": 1}, 3 / 0.025)):
        out.append((f"Triton saturated rate, {label} (req/s)", bound, served_rate(300.0, 30.0, SEED, **kw)[0],
                    "abs", "4 x 0.22"))
    batch, lat, _ = light_load(SEED)
    out += [("Triton light load mean batch size (10-seed mean)", 1.0050, batch, "abs", "4 x 0.0013"),
            ("Triton light load mean latency (s) vs T(1) + delay", 0.030, float(lat.mean()), "abs",
             "regression: 4 x 0.000036 around 0.030237")]
    return out


def headroom() -> list[Line]:
    """tests/test_rightsizing.py: simulated headroom of one M/M/1 worker against its closed form."""
    from tests.test_rightsizing import _mm1_headroom

    m_star = (100.0 - math.log(100.0) / 0.1) / 20.0
    return [("headroom of M/M/1, p99 100 ms (multiple)", m_star, _mm1_headroom(seed=2), "rel",
             "m*/1.1 x (1 - 4 x 0.016) .. m* x (1 + 4 x 0.016)")]


GROUPS: tuple[Callable[[], list[Line]], ...] = (queueing, async_queue, sharing, caches_and_batching, headroom)


def main() -> None:
    """Print one Markdown row per check: closed form, simulated at the test's seed, error, tolerance."""
    print("| check | closed form | simulated | error | tolerance |")
    print("| --- | --- | --- | --- | --- |")
    for group in GROUPS:
        for name, theory, sim, kind, tol in group():
            err = f"{sim / theory - 1:+.2%}" if kind == "rel" else f"{sim - theory:+.5f}"
            print(f"| {name} | {theory:.5g} | {sim:.5g} | {err} | {tol} |")


if __name__ == "__main__":
    main()
