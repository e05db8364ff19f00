"""Requests simulated per second by each hosting option, against a plain SimPy baseline (DESIGN §5).

One Poisson workload (lambda = 30/s, exponential service of mean 100 ms, 1M requests by default) is
simulated by:

1. `realtime`, one pinned instance with 4 workers (M/M/4, utilisation 0.75);
2. `realtime`, 4 pinned instances x 2 workers (least-outstanding routing across instances);
3. `serverless`, max_concurrency 200, 0.5 s cold start;
4. plain SimPy: a `simpy.Resource` of capacity 4 and one generator process per request, fed the same
   arrival and service-time arrays as line 1.

Each line is timed as a whole: building the scenario (service-time draw) + simulate + summary metrics,
with `time.perf_counter`. Arrivals are drawn once, outside the timing, and shared by every line; each
line first runs once untimed on 10,000 requests (warm-up).
The SimPy run's mean queue wait is checked against line 1's (same arrays, so they should agree).

    PYTHONPATH=. python -m benchmarks.run [--requests N] [--repeat K] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import simpy  # noqa: E402

from sim.catalog import Catalog, load_catalog  # noqa: E402
from sim.distributions import Exponential  # noqa: E402
from sim.metrics import distribution_ms, summary, wait_ms  # noqa: E402
from sim.model import ModelSpec  # noqa: E402
from sim.options import load_all  # noqa: E402
from sim.scenario import Scenario, build_scenario, stream  # noqa: E402
from sim.summary import Requests, Summary  # noqa: E402

RATE_PER_S = 30.0
MEAN_SERVICE_MS = 100.0
SEED = 1
WARMUP_REQUESTS = 10_000
WAIT_TOLERANCE = 1e-9
"""Largest relative difference of mean queue wait (simulator vs SimPy) still called agreement: the two get
the same arrays and do the same additions, so anything beyond rounding is a queueing bug."""


@dataclass(frozen=True)
class Line:
    """One benchmarked configuration: a registered option and its config, or the SimPy baseline."""

    name: str
    option: str | None
    config: dict
    workers: int
    description: str


LINES = (
    Line("realtime 1x4", "realtime",
         {"instance_type": "ml.c5.xlarge", "instance_count": 1, "workers_per_instance": 4}, 4,
         "pinned single instance, M/M/4"),
    Line("realtime 4x2", "realtime",
         {"instance_type": "ml.c5.xlarge", "instance_count": 4, "workers_per_instance": 2}, 8,
         "pinned 4 instances, least-outstanding routing"),
    Line("serverless", "serverless", {"memory_mb": 2048, "max_concurrency": 200}, 200,
         "on-demand containers, 0.5 s cold start"),
    Line("multi-model 2x4", "multi-model",
         {"instance_type": "ml.c5.xlarge", "instance_count": 2, "workers_per_instance": 4}, 8,
         "one model on a multi-model endpoint: cache hits, least-outstanding routing"),
    Line("plain SimPy", None, {"capacity": 4}, 4, "simpy.Resource(c=4), one process per request"),
)


@dataclass(frozen=True)
class Workload:
    """The shared requests: arrival times (s, drawn once) and the model whose service times are drawn."""

    arrivals_s: np.ndarray
    model: ModelSpec
    catalog: Catalog

    @property
    def n(self) -> int:
        """Number of requests."""
        return int(self.arrivals_s.size)


def make_workload(n: int, seed: int = SEED) -> Workload:
    """Poisson arrivals at RATE_PER_S and an exponential-service model with a short cold start."""
    arrivals = np.cumsum(stream(seed, "arrivals").exponential(1.0 / RATE_PER_S, n))
    model = ModelSpec(name="m", service_time=Exponential(mean_ms=MEAN_SERVICE_MS), memory_mb=100,
                      container_start_s=0.5)
    return Workload(arrivals, model, load_catalog())


def build(w: Workload, seed: int = SEED) -> Scenario:
    """The scenario of the workload: one model, its service times drawn from the seed's stream."""
    return build_scenario([w.model], w.arrivals_s, np.zeros(w.n, np.int32),
                          horizon_s=float(w.arrivals_s[-1]) + 1.0, catalog=w.catalog, seed=seed)


def simpy_start_s(arrivals_s: np.ndarray, service_s: np.ndarray, capacity: int) -> np.ndarray:
    """Service start times from a naive SimPy M/M/c: FIFO `simpy.Resource`, one process per request."""
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=capacity)
    start = [0.0] * arrivals_s.size

    def request(i: int, svc: float):
        with servers.request() as req:
            yield req
            start[i] = env.now
            yield env.timeout(svc)

    def source():
        now = 0.0
        for i, (a, s) in enumerate(zip(arrivals_s.tolist(), service_s.tolist(), strict=True)):
            yield env.timeout(a - now)
            now = a
            env.process(request(i, s))

    env.process(source())
    env.run()
    return np.asarray(start)


def simpy_summary(sc: Scenario, capacity: int) -> Summary:
    """Run the SimPy baseline on a scenario and compute its latency and queue-wait metrics."""
    start = simpy_start_s(sc.arrivals_s, sc.service_s, capacity)
    finish = start + sc.service_s
    return Summary("simpy", True, (), {}, requests=Requests(sc.n, sc.n, 0, 0),
                   latency_ms=distribution_ms(finish - sc.arrivals_s), queue_wait_ms=wait_ms(start - sc.arrivals_s))


def run_line(line: Line, w: Workload, registry: dict) -> tuple[float, Summary]:
    """Time one whole run of a line (build scenario + simulate + summary); returns (seconds, summary)."""
    cfg = registry[line.option].config_model(**line.config) if line.option else None
    gc.collect()
    t0 = time.perf_counter()
    sc = build(w)
    out = simpy_summary(sc, line.workers) if cfg is None else summary(registry[line.option].simulate(sc, cfg))
    return time.perf_counter() - t0, out


def benchmark(n: int, repeat: int) -> dict:
    """Run every line `repeat` times (interleaved) and return rates, ratios and the wait check."""
    w, registry = make_workload(n), load_all()
    warm = make_workload(min(n, WARMUP_REQUESTS))
    for line in LINES:  # untimed: first-call costs (lazy imports, caches) are not what is measured
        run_line(line, warm, registry)
    times: dict[str, list[float]] = {line.name: [] for line in LINES}
    summaries: dict[str, Summary] = {}
    for _ in range(repeat):
        for line in LINES:
            secs, summaries[line.name] = run_line(line, w, registry)
            times[line.name].append(secs)
    base = LINES[-1].name
    base_best, base_median = n / min(times[base]), n / statistics.median(times[base])
    rows = []
    for line in LINES:
        best, median = n / min(times[line.name]), n / statistics.median(times[line.name])
        s = summaries[line.name]
        if s.reasons:
            raise RuntimeError(f"{line.name} is infeasible: {s.reasons}")
        rows.append({"name": line.name, "option": line.option or "simpy", "description": line.description,
                     "config": line.config, "utilisation": RATE_PER_S * MEAN_SERVICE_MS / 1000 / line.workers,
                     "best_rps": best, "median_rps": median, "ratio_best": best / base_best,
                     "ratio_median": median / base_median, "seconds": times[line.name],
                     "served": s.requests.served, "mean_queue_wait_ms": s.queue_wait_ms.mean})
    sim_wait = summaries[LINES[0].name].queue_wait_ms.mean
    simpy_wait = summaries[base].queue_wait_ms.mean
    rel = abs(sim_wait - simpy_wait) / simpy_wait
    return {"requests": n, "repeat": repeat, "rate_per_s": RATE_PER_S, "mean_service_ms": MEAN_SERVICE_MS,
            "python": sys.version.split()[0], "simpy": simpy.__version__, "lines": rows,
            "wait_check": {"simulator_ms": sim_wait, "simpy_ms": simpy_wait, "relative_diff": rel,
                           "tolerance": WAIT_TOLERANCE, "agree": rel <= WAIT_TOLERANCE}}


def print_report(report: dict) -> None:
    """Print the rates as a rich table, then the queue-wait cross-check."""
    from rich.console import Console  # only for the table printed at the end, not for the timed runs
    from rich.table import Table  # as above

    n, k = report["requests"], report["repeat"]
    table = Table(title=f"{n:,} requests, best / median of {k} runs, one core")
    for col in ("line", "util", "best req/s", "median req/s", "x SimPy best", "x SimPy med", "wait ms"):
        table.add_column(col, justify="left" if col == "line" else "right", no_wrap=True)
    for r in report["lines"]:
        table.add_row(r["name"], f"{r['utilisation']:.3f}", f"{r['best_rps']:,.0f}",
                      f"{r['median_rps']:,.0f}", f"{r['ratio_best']:.1f}", f"{r['ratio_median']:.1f}",
                      f"{r['mean_queue_wait_ms']:.3f}")
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=110)
    console.print(table)
    for r in report["lines"]:
        console.print(f"  {r['name']:<13} {r['description']}")
    console.print("  each run: build scenario (service-time draw) + simulate + summary metrics; "
                  "wait = mean queue wait")
    c = report["wait_check"]
    verdict = "agree" if c["agree"] else "DISAGREE"
    console.print(f"M/M/4 mean queue wait: simulator {c['simulator_ms']:.3f} ms, plain SimPy "
                  f"{c['simpy_ms']:.3f} ms, difference {100 * c['relative_diff']:.2f}% "
                  f"(tolerance {c['tolerance']:.0e}): {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns 1 when the SimPy and simulator queue waits disagree."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1_000_000, help="requests per run (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per line, best and median shown (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = p.parse_args(argv)
    if args.requests < 1 or args.repeat < 1:
        p.error("--requests and --repeat must be >= 1")
    report = benchmark(args.requests, args.repeat)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if report["wait_check"]["agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
