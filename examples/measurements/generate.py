"""Write the synthetic measurement files of this folder (seeded; run `python examples/measurements/generate.py`).

They stand in for what a team exports from a SageMaker endpoint serving `fraud-xgb` of
examples/fraud-detection.yaml: per-request latencies from a load test, and CloudWatch exports of ModelLatency
(Statistics and ExtendedStatistics, two calls), OverheadLatency and Invocations in the shape
`aws cloudwatch get-metric-statistics` prints. The true laws
are below, so `fitness calibrate` can be checked against them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
START = pd.Timestamp("2024-05-01T12:00:00Z")
SERVICE = (np.log(14.0), 0.5)  # lognormal service time: median 14 ms, sigma 0.5 (p99 44.8 ms)
COLD = (np.log(6000.0), 0.25)  # cold-start delay: median 6 s
OVERHEAD = (np.log(4.0), 0.6)  # SageMaker overhead: median 4 ms


def requests(rng: np.random.Generator, n: int = 1000) -> pd.DataFrame:
    """A load test: one row per request, 1% cold starts (their latency includes the cold start)."""
    latency = rng.lognormal(*SERVICE, n)
    cold = rng.random(n) < 0.01
    latency[cold] += rng.lognormal(*COLD, cold.sum())
    times = START + pd.to_timedelta(np.cumsum(rng.exponential(0.2, n)), unit="s")
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "latency_ms": latency.round(3),
                         "cold": cold})


def datapoint(minute: int, values_us: np.ndarray) -> tuple[dict, dict]:
    """One minute as get-metric-statistics prints it (microseconds, as SageMaker reports latencies): the
    datapoint of a --statistics call and that of an --extended-statistics call (one call cannot ask both)."""
    stamp = (START + pd.Timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain = {"Timestamp": stamp, "SampleCount": float(values_us.size), "Average": round(float(values_us.mean()), 1),
             "Sum": round(float(values_us.sum()), 1), "Minimum": round(float(values_us.min()), 1),
             "Maximum": round(float(values_us.max()), 1), "Unit": "Microseconds"}
    extended = {"Timestamp": stamp, "Unit": "Microseconds", "ExtendedStatistics": {
        p: round(float(np.percentile(values_us, float(p[1:]))), 1) for p in ("p50", "p90", "p99")}}
    return plain, extended


def latency_exports(rng: np.random.Generator, label: str, law: tuple) -> tuple[dict, dict]:
    """An hour of one latency metric: the Statistics export and the ExtendedStatistics export, datapoints in no
    particular order (as CloudWatch returns them)."""
    pairs = [datapoint(m, rng.lognormal(*law, rng.poisson(300)) * 1000) for m in range(60)]
    rng.shuffle(pairs)
    return ({"Label": label, "Datapoints": [a for a, _ in pairs]},
            {"Label": label, "Datapoints": [b for _, b in pairs]})


def invocations(rng: np.random.Generator) -> dict:
    """Three hours of Invocations (Sum per minute), with an idle quarter hour that has no datapoints."""
    minutes = np.arange(180)
    rate = 300 + 200 * np.sin(minutes / 180 * 2 * np.pi)
    counts = rng.poisson(rate)
    points = [{"Timestamp": (START + pd.Timedelta(minutes=int(m))).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "Sum": float(c), "Unit": "None"} for m, c in zip(minutes, counts, strict=True) if not 100 <= m < 115]
    return {"Label": "Invocations", "Datapoints": points}


def main() -> None:
    """Write every file of this folder."""
    rng = np.random.default_rng(2024)
    requests(rng).to_csv(HERE / "fraud-xgb-requests.csv", index=False)
    model, model_pct = latency_exports(rng, "ModelLatency", SERVICE)
    overhead, _ = latency_exports(rng, "OverheadLatency", OVERHEAD)
    for name, data in (("ModelLatency.json", model), ("ModelLatency-percentiles.json", model_pct),
                       ("OverheadLatency.json", overhead), ("Invocations.json", invocations(rng))):
        (HERE / name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
