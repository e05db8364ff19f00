"""Requests simulated per second by every hosting option, each on the workload it is meant for.

Each line builds a 1M-request scenario (the arrivals drawn untimed) and times simulate + summary for
one option, as `benchmarks/run.py` does for realtime and serverless against plain SimPy. The workloads:
- realtime autoscaled: diurnal day, trough 5 / peak 20 req/s x the scale to reach N requests;
- serverless, async: Poisson;
- multi-model: 1000 models with Zipf(0.9) popularity on 2 pinned instances;
- multi-container (3 containers, direct), inference-pipeline (3 steps), triton (batch 8): Poisson.

    python -m benchmarks.options [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitness.api import build, run_option  # noqa: E402
from fitness.workload import parse_workload  # noqa: E402

MODEL = {"size_mb": 50, "memory_mb": 300, "container_start_s": 2, "load_s": 1,
         "service_time": {"dist": "exponential", "mean_ms": 20}}


def cases(n: int) -> list[tuple[str, str, dict]]:
    """(line name, option id, workload dict) for about n requests each."""
    day = 86400.0
    poisson = {"pattern": "poisson", "rate_rps": 50.0}
    h = n / 50.0
    three = [{"name": f"m{i}", **MODEL} for i in range(3)]
    return [
        ("realtime autoscaled, diurnal", "realtime",
         {"horizon": day, "models": [{"name": "m", **MODEL}],
          "traffic": {"pattern": "diurnal", "trough_rps": 5 * n / 1.08e6, "peak_rps": 20 * n / 1.08e6}}),
        ("serverless", "serverless", {"horizon": h, "models": [{"name": "m", **MODEL}], "traffic": poisson,
                                      "options": {"serverless": {"memory_mb": 2048, "max_concurrency": 100}}}),
        ("async autoscaled", "async", {"horizon": h, "models": [{"name": "m", **MODEL}], "traffic": poisson,
                                       "slo": {"delivery": "async"}}),
        ("multi-model 1000 models", "multi-model",
         {"horizon": h, "models": [{"name": "t", "count": 1000, **MODEL}],
          "traffic": {**poisson, "popularity": {"zipf": 0.9}},
          "options": {"multi-model": {"instance_type": "ml.m5.xlarge", "instance_count": 2}}}),
        ("multi-container 3 direct", "multi-container",
         {"horizon": h, "models": three, "traffic": poisson,
          "options": {"multi-container": {"instance_type": "ml.c5.2xlarge", "instance_count": 1}}}),
        ("inference-pipeline 3 steps", "inference-pipeline",
         {"horizon": h, "models": three, "traffic": poisson,
          "application": {"pattern": "serial", "steps": ["m0", "m1", "m2"]},
          "options": {"inference-pipeline": {"instance_type": "ml.c5.2xlarge", "instance_count": 1}}}),
        ("triton batch 8", "triton", {"horizon": h, "models": [{"name": "m", **MODEL}], "traffic": poisson,
                                      "options": {"triton": {"instance_type": "ml.g4dn.xlarge",
                                                             "instance_count": 1}}}),
    ]


def main() -> None:
    """Print requests/s per option."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = []
    for name, oid, data in cases(args.requests):
        wl = parse_workload({"name": name, "seed": 1, **data})
        sc = build(wl)
        t0 = time.perf_counter()
        run = run_option(wl, sc, oid)
        dt = time.perf_counter() - t0
        ok = run.summary["feasible"]
        out.append({"line": name, "requests": sc.n, "seconds": dt, "requests_per_s": sc.n / dt, "feasible": ok})
        if not args.json:
            print(f"{name:32s} {sc.n:>10,d} requests  {dt:7.2f} s  {sc.n / dt:>12,.0f} req/s"
                  + ("" if ok else "  (infeasible: " + "; ".join(run.summary["reasons"]) + ")"))
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
