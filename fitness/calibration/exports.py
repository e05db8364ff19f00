"""What every CloudWatch export reader shares: the statistics' names, units, the one-metric frame
(`MetricExport`), timestamps, and the one-paragraph errors. `cloudwatch` (CSV and the choice of reader) and
`metric_data` (the JSON of get-metric-statistics and get-metric-data) both build on it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fitness.errors import UserError
from sim.errors import did_you_mean

STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
"""CloudWatch's plain statistics; percentiles are named pNN (p50, p99, p99.9)."""

UNIT_MS = {"microseconds": 1e-3, "us": 1e-3, "milliseconds": 1.0, "ms": 1.0, "seconds": 1000.0, "s": 1000.0}
"""Milliseconds per unit, by CloudWatch unit name or short name (lower case)."""

SAGEMAKER_MICROSECONDS = ("ModelLatency", "OverheadLatency", "ModelSetupTime", "ModelLoadingWaitTime",
                          "ModelDownloadingTime", "ModelLoadingTime", "ContainerLatency")
"""SageMaker metrics the AWS documentation gives in microseconds."""

TIME_NAMES = ("timestamp", "timestamps", "time", "date", "datetime")
"""Names of a CSV's time column (compared in lower case)."""

STAT_ALIASES = {"avg": "Average", "average": "Average", "sum": "Sum", "samplecount": "SampleCount",
                "count": "SampleCount", "min": "Minimum", "minimum": "Minimum", "max": "Maximum", "maximum": "Maximum"}
"""Words naming a plain statistic (lower case), as a --stat value or a token of a get-metric-data Id or Label."""

PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?)")
"""A percentile statistic as CloudWatch names it (p50, p99, p99.9)."""

# pandas holds datetimes as int64 nanoseconds (1677-09-21 .. 2262-04-11): the largest epoch it can hold, per unit
_EPOCH_MAX = {"s": pd.Timestamp.max.value // 10**9, "ms": pd.Timestamp.max.value // 10**6}


@dataclass(frozen=True, eq=False)
class MetricExport:
    """One metric's statistics per period: `frame` is indexed by UTC timestamps (sorted), one column per
    statistic (SampleCount, Average, Sum, Minimum, Maximum, pNN). `unit` is the export's own unit (None
    when the file does not say); `shape` names the layout that was read."""

    frame: pd.DataFrame
    label: str | None
    unit: str | None
    source: str
    shape: str

    @property
    def period_s(self) -> float | None:
        """Median spacing of the timestamps in seconds (None with a single row)."""
        gaps = np.diff(seconds(self.frame.index))
        return float(np.median(gaps)) if gaps.size else None


def seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since the first timestamp (whatever resolution pandas stores the index in)."""
    return ((index - index[0]) / pd.Timedelta(seconds=1)).to_numpy(float) if len(index) else np.array([])


def fail(source: str, field: str, expected: str, hint: str = "") -> UserError:
    """One paragraph naming the file, the option and what is expected."""
    return UserError(f"{source}: {field}: expected {expected}." + (f" {hint}" if hint else ""))


def nearest(name: str, choices: list[str]) -> str:
    """A 'did you mean' sentence, or the list of choices."""
    return did_you_mean(name, choices, cutoff=0.4) or f"Columns: {', '.join(choices)}."


def parse_times(values: pd.Series, source: str, field: str,
                row_field: Callable[[int], str] | None = None) -> pd.DatetimeIndex:
    """ISO datetimes or Unix epoch seconds (milliseconds when larger than 1e11) as a UTC index.

    Errors name `row_field(row)` (a JSON field such as Datapoints[3].Timestamp), else `field` and the data row.
    """
    def at_row(row: int, expected: str) -> UserError:
        if row_field is not None:
            return fail(source, row_field(row), expected, f"It holds {values.iloc[row]!r}.")
        return fail(source, field, expected + " in every row of the time column",
                    f"Data row {row + 1} holds {values.iloc[row]!r}.")

    if values.empty:
        return pd.DatetimeIndex([], tz="UTC")
    numeric = pd.to_numeric(values, errors="coerce")
    x, epochs = numeric.to_numpy(float), numeric.notna().to_numpy()
    if epochs.any():
        unit = "ms" if np.nanmax(np.abs(x)) > 1e11 else "s"
        out = epochs & (~np.isfinite(x) | (np.abs(x) > _EPOCH_MAX[unit]))  # pandas raises OutOfBoundsDatetime
        if out.any():
            raise at_row(int(np.argmax(out)), f"Unix seconds within +-{_EPOCH_MAX['s']:.4g} (values above 1e11 are "
                       f"read as milliseconds, within +-{_EPOCH_MAX['ms']:.4g}): pandas holds times from "
                       f"{pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d}")
        if epochs.all():
            return pd.DatetimeIndex(pd.to_datetime(x, unit=unit, utc=True))
    stamps = pd.to_datetime(values.astype(str), utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        raise at_row(int(np.argmax(stamps.isna().to_numpy())), "ISO datetimes (2024-05-01T12:00:00Z) or Unix seconds")
    return pd.DatetimeIndex(stamps)


def statistic(text: str) -> str | None:
    """The statistic a --stat value or an Id/Label token names (avg, p99, SampleCount ...; any case), or None."""
    low = text.strip().lower().replace("_", ".")
    if low in STAT_ALIASES:
        return STAT_ALIASES[low]
    match = PERCENTILE.fullmatch(low)
    return f"p{float(match[1]):g}" if match and 0 < float(match[1]) < 100 else None


def default_stat(label: str | None) -> str:
    """The statistic of a series that names none: Sum for Invocations (a count of requests), else Average."""
    return "Sum" if label and "invocation" in label.lower() else "Average"
