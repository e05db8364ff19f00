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
published simulator (SimFaaS) reports 12.2% and 3.1%. The measurements carry standard errors
(ColdStartProbabilitySE): a model that were exact would still show a MAPE of about 8.1% (`noise_floor`),
and a chi-square near 20; the model's chi-square (about 56) says its 13.4% is more than noise.
`python -m benchmarks.lambda_validation` runs SimFaaS beside it on the same rows.
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
CHI2_COLD_BOUND = 70.0
"""Chi-square of cold-start probability against the measurements' standard errors, same seed triples as the
MAPE: 57.6, 59.7, 55.6, 49.3 (mean 55.6, sd 4.5; the bound is three sd above). A model right to within the
measurement errors would give about 20 (20 degrees of freedom), so the model's error is real, not noise."""


def mape(sim: np.ndarray, measured: np.ndarray) -> float:
    """Mean absolute percentage error, mean(|sim - measured| / measured) (a fraction)."""
    return float(np.mean(np.abs(sim - measured) / measured))


def chi_square(sim: np.ndarray, measured: np.ndarray, se: np.ndarray) -> float:
    """sum(((sim - measured) / se)^2): against the measurements' own standard errors (dimensionless)."""
    return float(np.sum(((sim - measured) / se) ** 2))


def noise_floor(measured: np.ndarray, se: np.ndarray) -> float:
    """The MAPE a perfect model would still show given the measurement errors: E|N(0, se)| / measured, averaged,
    = sqrt(2 / pi) x mean(se / measured) (a fraction)."""
    return float(np.sqrt(2 / np.pi) * np.mean(se / measured))


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
    measured, se = df.ColdStartProbability.to_numpy(), df.ColdStartProbabilitySE.to_numpy()
    mape_cold, mape_inst = mape(sims[:, 0], measured), mape(sims[:, 1], df.AverageInstanceCount.to_numpy())
    chi2, floor = chi_square(sims[:, 0], measured, se), noise_floor(measured, se)
    print(f"\nLambda validation: MAPE cold-start probability {mape_cold:.1%} (bound {MAPE_COLD_BOUND:.0%}, "
          f"SimFaaS 12.2%; noise floor {floor:.1%}), chi-square {chi2:.1f} on 20 (bound {CHI2_COLD_BOUND:g}), "
          f"instance count {mape_inst:.2%} (bound {MAPE_INSTANCES_BOUND:.1%}, SimFaaS 3.1%)")
    assert mape_cold < MAPE_COLD_BOUND
    assert mape_inst < MAPE_INSTANCES_BOUND
    assert chi2 < CHI2_COLD_BOUND
    assert floor == pytest.approx(0.0809, abs=5e-4)  # the measurements' own errors: 8.1% of MAPE is noise
