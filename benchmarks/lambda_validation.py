"""fitness and SimFaaS side by side on the AWS Lambda cold-start measurements (issue 16).

Data: tests/data/validation/aws-lambda-coldstart.csv (pacslab/simfaas, examples/exp.csv; the same file as
../shared/validation/aws-lambda-coldstart.csv): 20 experiments of Poisson arrivals against one Lambda
function with a 10-minute idle timeout, each with its measured cold-start probability, the probability's
standard error, and the mean instance count.

Each experiment runs on both simulators with the same mapping and the same length (10^6 s):
- fitness exactly as `tests/test_lambda_validation.py` runs it (exponential warm service with the measured
  mean, a cold start of the measured cold - warm difference, keep-alive the idle timeout), seeds 0..N-1;
- SimFaaS 0.2.2 (`ServerlessSimulator`), exponential warm and cold service with the measured means,
  expiration threshold the idle timeout. SimFaaS draws from numpy's global generator, so each of its runs
  is seeded with `np.random.seed(seed)` (nothing of fitness reads that generator).
Each row's value is the mean over the seeds. Per simulator it prints the MAPE on cold-start probability
and on instance count, the chi-square of cold-start probability against the measurements' standard errors
(20 degrees of freedom: a model exact to within the errors gives about 20) and, once, the noise floor (the
MAPE an exact model would show given those errors).

    pip install -e ".[validation]"        # SimFaaS and what it imports (matplotlib, scipy, tqdm)
    PYTHONPATH=. python -m benchmarks.lambda_validation [--seeds 3] [--json]

SimFaaS is a pure-Python event loop: about 2 minutes per seed on this machine (the busiest row holds a
million arrivals). It is not part of the test run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.test_lambda_validation import HORIZON_S, _simulate_row, chi_square, mape, noise_floor

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "validation" / "aws-lambda-coldstart.csv"


def simfaas_row(row: pd.Series, seed: int) -> tuple[float, float]:
    """(cold-start probability, mean instance count) of one experiment on SimFaaS."""
    try:
        from simfaas.ServerlessSimulator import ServerlessSimulator  # optional: the validation extra
    except ImportError as e:
        raise SystemExit('SimFaaS is not installed: pip install -e ".[validation]"') from e
    np.random.seed(seed)  # SimFaaS's only source of randomness is numpy's global generator
    sim = ServerlessSimulator(arrival_rate=row.ArrivalRate, warm_service_rate=1000.0 / row.ServiceTimeWarm,
                              cold_service_rate=1000.0 / row.ServiceTimeCold,
                              expiration_threshold=row.IdleMinutesBeforeKill * 60.0, max_time=HORIZON_S)
    sim.generate_trace(debug_print=False, progress=False)
    return float(sim.get_cold_start_prob()), float(sim.get_average_server_count())


def figures(sims: np.ndarray, df: pd.DataFrame) -> dict:
    """MAPE on both quantities and chi-square on cold-start probability of one simulator's rows."""
    measured, se = df.ColdStartProbability.to_numpy(), df.ColdStartProbabilitySE.to_numpy()
    return {"mape_cold": mape(sims[:, 0], measured), "chi_square_cold": chi_square(sims[:, 0], measured, se),
            "mape_instances": mape(sims[:, 1], df.AverageInstanceCount.to_numpy())}


def main() -> None:
    """Run both simulators on every experiment and print the table and the figures (or one JSON line)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    df = pd.read_csv(DATA, index_col=0)
    seeds = range(args.seeds)
    ours = np.array([np.mean([_simulate_row(r, s) for s in seeds], axis=0) for _, r in df.iterrows()])
    theirs = np.array([np.mean([simfaas_row(r, s) for s in seeds], axis=0) for _, r in df.iterrows()])
    floor = noise_floor(df.ColdStartProbability.to_numpy(), df.ColdStartProbabilitySE.to_numpy())
    out = {"seeds": args.seeds, "noise_floor_mape_cold": floor, "fitness": figures(ours, df),
           "simfaas": figures(theirs, df)}
    if args.json:
        print(json.dumps(out))
        return
    print("| experiment | rate /s | measured P(cold) | SE | fitness | SimFaaS |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, r), a, b in zip(df.iterrows(), ours, theirs, strict=True):
        print(f"| {name} | {r.ArrivalRate:.4f} | {r.ColdStartProbability:.5f} | {r.ColdStartProbabilitySE:.5f} | "
              f"{a[0]:.5f} | {b[0]:.5f} |")
    print("\n| simulator | MAPE P(cold) | chi-square P(cold) (20 rows) | MAPE instances |")
    print("|---|---:|---:|---:|")
    for who in ("fitness", "simfaas"):
        f = out[who]
        print(f"| {who} | {f['mape_cold']:.1%} | {f['chi_square_cold']:.1f} | {f['mape_instances']:.1%} |")
    print(f"\nNoise floor (MAPE an exact model would show, given the measurements' errors): {floor:.1%}; "
          f"seeds per row: {args.seeds}")


if __name__ == "__main__":
    main()
