"""Requests simulated per second by every hosting option, each on the workload it is meant for.

Each line builds a 1M-request scenario (the arrivals drawn untimed) and times simulate + summary for
one option, as `benchmarks/run.py` does. In the same invocation the same arrivals and base service times go
through plain SimPy (`benchmarks.run.simpy_summary`: one process per request on a `simpy.Resource`) with
c = enough servers for a utilisation of at most one half at the mean rate. That baseline leaves out all
the option adds (autoscaling, containers, caches, batching), so it is faster than any naive SimPy model of
the option would be and the ratio `x SimPy` is a lower bound. The workloads:
- realtime autoscaled: diurnal day, trough 5 / peak 20 req/s x the scale to reach N requests;
- serverless, async: Poisson;
- multi-model: 1000 models with Zipf(0.9) popularity on 2 pinned instances;
- inference-components: 3 models, copies tracked per model on managed ml.c5.2xlarge instances: Poisson;
- multi-container (3 containers, direct), inference-pipeline (3 steps), triton (batch 8; and a serial
  ensemble, business logic -> model -> business logic, on 2 instances: the general host): Poisson.

    python -m benchmarks.options [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import simpy_summary  # noqa: E402
from fitness.engine.run import run_option  # noqa: E402
from fitness.workload.scenario import build  # noqa: E402
from fitness.workload.spec import parse_workload  # noqa: E402

BASELINE_UTILISATION = 0.5
"""The plain-SimPy baseline gets servers for at most this utilisation at the mean rate (a stable queue)."""

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
        ("inference-components 3 models autoscaled", "inference-components",
         {"horizon": h, "models": three, "traffic": poisson,
          "options": {"inference-components": {"instance_type": "ml.c5.2xlarge"}}}),
        ("triton batch 8", "triton", {"horizon": h, "models": [{"name": "m", **MODEL}], "traffic": poisson,
                                      "options": {"triton": {"instance_type": "ml.g4dn.xlarge",
                                                             "instance_count": 1}}}),
        ("triton ensemble logic-model-logic", "triton",
         {"horizon": h, "models": [{"name": "pre", "kind": "logic", "service_time": {"dist": "constant",
                                                                                      "value_ms": 2}},
                                   {"name": "m", **MODEL},
                                   {"name": "post", "kind": "logic", "service_time": {"dist": "constant",
                                                                                       "value_ms": 1}}],
          "traffic": poisson, "application": {"pattern": "serial", "steps": ["pre", "m", "post"]},
          "options": {"triton": {"instance_type": "ml.g4dn.xlarge", "instance_count": 2}}}),
    ]


def measure(name: str, oid: str, data: dict) -> dict:
    """Time one line: the option (simulate + summary) and plain SimPy on the same arrivals and service times."""
    wl = parse_workload({"name": name, "seed": 1, **data})
    sc = build(wl)
    t0 = time.perf_counter()
    run = run_option(wl, sc, oid)
    dt = time.perf_counter() - t0
    servers = max(1, math.ceil(float(sc.service_s.sum()) / sc.horizon_s / BASELINE_UTILISATION))
    t0 = time.perf_counter()
    simpy_summary(sc, servers)
    dt_simpy = time.perf_counter() - t0
    return {"line": name, "requests": sc.n, "seconds": dt, "requests_per_s": sc.n / dt,
            "simpy_servers": servers, "simpy_seconds": dt_simpy, "simpy_requests_per_s": sc.n / dt_simpy,
            "ratio": dt_simpy / dt, "feasible": run.summary.feasible, "reasons": "; ".join(run.summary.reasons)}


def main() -> None:
    """Print requests/s per option, and the plain-SimPy rate and ratio on the same requests."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = []
    for name, oid, data in cases(args.requests):
        row = measure(name, oid, data)
        out.append(row)
        if not args.json:
            print(f"{name:32s} {row['requests']:>10,d} requests  {row['seconds']:7.2f} s  "
                  f"{row['requests_per_s']:>12,.0f} req/s  plain SimPy {row['simpy_requests_per_s']:>9,.0f} req/s"
                  f"  x{row['ratio']:.1f}" + ("" if row["feasible"] else "  (infeasible: " + row["reasons"] + ")"))
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
