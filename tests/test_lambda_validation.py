"""Serverless cold starts and instance counts against real AWS Lambda measurements (DESIGN §4).

Data: tests/data/validation/aws-lambda-coldstart.csv (pacslab/simfaas, examples/exp.csv): 20 experiments
of Poisson arrivals with a 10-minute idle timeout. Each is simulated as that experiment: exponential warm
service with the measured mean, a cold start costing the measured cold - warm difference, keep-alive
600 s, 10^6 s of simulated time (as SimFaaS does), three seeds averaged.

Bound. The statistic below (MAPE of three-seed averages) was measured for four disjoint seed triples
(0-2, 3-5, 6-8, 9-11): 14.0%, 13.4%, 13.3%, 12.8% on cold-start probability (mean 13.4%, sd 0.5%) and
2.8%, 2.7%, 2.9%, 3.2% on mean instance count (mean 2.9%, sd 0.2%); twelve seeds together give 13.4%
and 2.9%, so that is the model's error, not noise. The bounds, 15% and 3.5%, sit three standard
deviations above those means: a regression of the model shows, noise does not. For comparison, the best
published simulator (SimFaaS) reports 12.2% and 3.1%, and the measurements' own standard error on
cold-start probability is about 10%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.catalog import load_catalog
from sim.distributions import Exponential
from sim.metrics import cold_starts
from sim.model import ModelSpec
from sim.options.serverless import ServerlessConfig, simulate
from sim.scenario import build_scenario, stream

HORIZON_S = 1e6
SEEDS = (0, 1, 2)
MAPE_COLD_BOUND = 0.15
MAPE_INSTANCES_BOUND = 0.035


def _simulate_row(row: pd.Series, seed: int) -> tuple[float, float]:
    """(cold-start probability, mean instance count) of one experiment and seed."""
    warm, cold = row.ServiceTimeWarm, row.ServiceTimeCold
    model = ModelSpec(name="fn", service_time=Exponential(mean_ms=warm), container_start_s=(cold - warm) / 1000)
    n = int(row.ArrivalRate * HORIZON_S * 1.2) + 100
    arr = np.cumsum(stream(seed, "lambda-arrivals").exponential(1 / row.ArrivalRate, n))
    arr = arr[arr < HORIZON_S]
    sc = build_scenario([model], arr, np.zeros(arr.size, np.int32), HORIZON_S, load_catalog(), seed)
    res = simulate(sc, ServerlessConfig(memory_mb=2048, max_concurrency=200, initial_warm=0,  # experiments start cold
                                        keep_alive_s=row.IdleMinutesBeforeKill * 60))
    return cold_starts(res.log).fraction, res.capacity.mean(HORIZON_S)


@pytest.mark.statistical
def test_serverless_matches_lambda_measurements(data_file):
    """Mean absolute percentage error on cold-start probability and instance count within the bounds."""
    df = pd.read_csv(data_file("validation", "aws-lambda-coldstart.csv"), index_col=0)
    sims = np.array([np.mean([_simulate_row(r, s) for s in SEEDS], axis=0) for _, r in df.iterrows()])
    mape_cold = float(np.mean(np.abs(sims[:, 0] - df.ColdStartProbability) / df.ColdStartProbability))
    mape_inst = float(np.mean(np.abs(sims[:, 1] - df.AverageInstanceCount) / df.AverageInstanceCount))
    print(f"\nLambda validation: MAPE cold-start probability {mape_cold:.1%} (bound {MAPE_COLD_BOUND:.0%}, "
          f"SimFaaS 12.2%), instance count {mape_inst:.2%} (bound {MAPE_INSTANCES_BOUND:.1%}, SimFaaS 3.1%)")
    assert mape_cold < MAPE_COLD_BOUND
    assert mape_inst < MAPE_INSTANCES_BOUND
