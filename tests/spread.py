"""Measure the run-to-run spread behind the tolerances of test_statistical.py.

Run: `python -m tests.spread` (seeds 0..9, N = 200,000 each; about a minute), and the spread behind
test_cold_start_distribution's P99_SD (seeds 0..7).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sim.distributions import Lognormal
from tests.queueing import CONST_100MS, EXP_100MS, realtime_waits, routed_waits, serverless_blocking
from tests.test_cold_start_distribution import cold_p99_errors

N = 200_000
LOGNORMAL = Lognormal(p50_ms=80, p99_ms=400)


def main() -> None:
    """Print the mean and spread of mean wait, P(wait) and blocking at each test point."""
    points = {
        "M/M/4 rho .75": (30, EXP_100MS, 4), "M/M/2 rho .8": (16, EXP_100MS, 2),
        "M/M/8 rho .75": (60, EXP_100MS, 8), "M/D/1 rho .8": (8, CONST_100MS, 1),
        "M/G/1 lognormal rho .7": (0.7 / LOGNORMAL.expected_ms * 1000, LOGNORMAL, 1),
    }
    for name, (lam, svc, c) in points.items():
        runs = [realtime_waits(lam, svc, c, N, s) for s in range(10)]
        wq = np.array([w.mean() for w in runs])
        pw = np.array([(w > 0).mean() for w in runs])
        print(f"{name}: Wq {wq.mean():.5f} s, rel sd {wq.std(ddof=1) / wq.mean():.4f}; "
              f"P(wait) {pw.mean():.5f}, sd {pw.std(ddof=1):.5f}")
    for routing in ("random", "least_outstanding"):  # 3 x 2 workers at rho 0.7: per instance M/M/2 when random
        wq = np.array([routed_waits(42.0, EXP_100MS, 3, 2, N, s, routing).mean() for s in range(10)])
        print(f"3 x M/M/2 {routing} rho .7: Wq {wq.mean():.5f} s, rel sd {wq.std(ddof=1) / wq.mean():.4f}")
    for name, (lam, svc, c) in {"M/M/5/5": (40, EXP_100MS, 5), "M/D/5/5": (40, CONST_100MS, 5),
                                "M/M/10/10": (80, EXP_100MS, 10), "M/D/10/10": (80, CONST_100MS, 10)}.items():
        b = np.array([serverless_blocking(lam, svc, c, N, s) for s in range(10)])
        print(f"{name}: blocking {b.mean():.5f}, rel sd {b.std(ddof=1) / b.mean():.4f}")
    with tempfile.TemporaryDirectory() as folder:  # test_cold_start_distribution's p99 of cold requests
        errors = [cold_p99_errors(Path(folder), s) for s in range(8)]
    for name in ("law", "constant"):
        e = np.array([x[name] for x in errors])
        print(f"cold p99, container start {name}: error {e.mean():+.4f}, sd {e.std(ddof=1):.4f}")


if __name__ == "__main__":
    main()
