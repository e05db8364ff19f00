"""CloudWatch metric exports: per-period statistics of one metric, as latencies (ms) or as a count trace.

Three shapes are read, all holding one row per period (SageMaker publishes its endpoint metrics each minute):
- the JSON of `aws cloudwatch get-metric-statistics`: `{"Label": ..., "Datapoints": [{"Timestamp",
  "Average", "Minimum", "Maximum", "SampleCount", "Sum", "Unit", "ExtendedStatistics": {"p99": ...}}]}`, in
  no particular order (AWS CLI reference, get-metric-statistics, and the Datapoint type of the CloudWatch API
  reference: Unit is one of Seconds | Microseconds | Milliseconds | ... | Count | None);
- the JSON of `aws cloudwatch get-metric-data`: `{"MetricDataResults": [{"Id", "Label", "Timestamps": [...],
  "Values": [...], "StatusCode"}]}` (CloudWatch API reference, MetricDataResult). It names no statistic or
  unit: `fitness.calibration.metric_data` takes the statistic from each result's Id or Label, else `stat`;
- a CSV: a time column and either statistic columns (Average, Sum, SampleCount, Minimum, Maximum, pNN, as a
  jq flattening of the JSON gives) or one value column per graphed metric, as the CloudWatch console's
  "Download as .csv" gives (we found no published spec of that layout, so any one-time-column CSV is read).

Units: SageMaker's ModelLatency, OverheadLatency and ModelSetupTime are reported in microseconds ("Amazon
SageMaker AI metrics in Amazon CloudWatch", endpoint invocation metrics). A unit given by the user wins, then
the export's Unit, then a SageMaker metric's documented unit; otherwise milliseconds are assumed, and said,
except for get-metric-data, which never carries a unit: there the user is asked for --unit.
Invocations is a count of InvokeEndpoint requests per period, read with the Sum statistic (same page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fitness.calibration.exports import (
    PERCENTILE,
    SAGEMAKER_MICROSECONDS,
    STATS,
    TIME_NAMES,
    UNIT_MS,
    MetricExport,
    default_stat,
    fail,
    nearest,
    parse_times,
    seconds,
    statistic,
)
from fitness.calibration.metric_data import from_json


def read_export(path: Path, field: str, column: str | None = None, stat: str | None = None, *,
                latency: bool = False) -> MetricExport:
    """Read a CloudWatch export (the shapes of the module docstring); `field` names the option in errors.

    `column` picks one metric of a multi-metric file (a CSV column, or a get-metric-data Id or Label);
    `stat` names the statistic of a single-value series (default Sum for Invocations, else Average; with
    `latency`, a get-metric-data result naming no statistic is refused instead of read as the Average).
    """
    source = str(path)
    if not path.is_file():
        raise fail(source, field, "an existing file (a CloudWatch export or a CSV of measurements)",
                    "The file does not exist.")
    stat = stat_option(stat, source)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise fail(source, field, "the JSON of `aws cloudwatch get-metric-statistics` or get-metric-data",
                        f"It could not be read ({e}).") from e
        return from_json(data, source, field, column, stat, latency)
    return from_csv(read_csv(path, field), source, field, column, stat)


def stat_option(stat: str | None, source: str) -> str | None:
    """--stat as CloudWatch names it (avg -> Average, P99 -> p99), or a UserError listing the statistics."""
    if stat is None or statistic(stat):
        return stat and statistic(stat)
    raise fail(source, "--stat", f"a CloudWatch statistic ({', '.join(STATS)}, or a percentile such as p50, p99, "
                "p99.9)", f"Got {stat!r}.")


def read_csv(path: Path, field: str) -> pd.DataFrame:
    """A CSV with at least one data row, or a UserError saying why not."""
    source = str(path)
    if not path.is_file():
        raise fail(source, field, "an existing CSV file", "The file does not exist.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise fail(source, field, "a readable CSV file", f"It could not be read ({e}).") from e
    if frame.empty:
        raise fail(source, field, "a CSV with a header and at least one data row", "The file has no data rows.")
    return frame


def _stat_name(name: str) -> str | None:
    """The CloudWatch statistic a column is named after (any case), or None."""
    folded = {s.lower(): s for s in STATS}
    low = name.strip().lower()
    if low in folded:
        return folded[low]
    if low[:1] == "p" and low[1:].replace(".", "", 1).isdigit():
        return low
    return None


def time_column(frame: pd.DataFrame) -> str | None:
    """The column named timestamp / time / date / datetime (any case), if any."""
    return next((str(c) for c in frame.columns if str(c).strip().lower() in TIME_NAMES), None)


def looks_like_export(frame: pd.DataFrame) -> bool:
    """True when a CSV holds per-period statistics rather than one row per request: a column named after a
    CloudWatch statistic, or a time column spaced at a whole number of minutes throughout."""
    if any(_stat_name(str(c)) for c in frame.columns if str(c).lower() not in TIME_NAMES):
        return True
    tcol = time_column(frame)
    if tcol is None or len(frame) < 3:
        return False
    stamps = pd.to_datetime(frame[tcol], utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        return False
    gaps = np.diff(np.sort(seconds(pd.DatetimeIndex(stamps))))
    return bool(gaps.size and gaps.min() >= 60 and np.all(gaps % 60 == 0))


def from_csv(frame: pd.DataFrame, source: str, field: str, column: str | None, stat: str | None) -> MetricExport:
    """A CloudWatch CSV: a time column plus statistic columns, or one value column (`column` picks one)."""
    tcol = time_column(frame) or str(frame.columns[0])
    named = {str(c): s for c in frame.columns if str(c) != tcol and (s := _stat_name(str(c)))}
    unit = None
    if "Unit" in frame:
        units = frame.pop("Unit").dropna().unique()
        unit = str(units[0]) if len(units) == 1 else None
    label = None
    if named and column is None:
        data = frame[list(named)].rename(columns=named)
    else:
        values = [str(c) for c in frame.columns if str(c) != tcol]
        if column is not None and column not in values:
            raise fail(source, "--column", f"a column of the export ({', '.join(values)})", nearest(column, values))
        if column is None and len(values) != 1:
            raise fail(source, field, "one value column, or --column naming one", f"Columns: {', '.join(values)}.")
        label = column or values[0]
        data = frame[[label]].rename(columns={label: stat or default_stat(label)})
    index = parse_times(frame[tcol], source, field)
    data = data.apply(pd.to_numeric, errors="coerce").set_index(index).sort_index()
    return MetricExport(data, label, unit, source, "CSV")


def merge(exports: list[MetricExport], field: str) -> MetricExport:
    """Several exports of one metric as one: get-metric-statistics takes Statistics or ExtendedStatistics but
    not both in one call (CloudWatch API reference), so Average/SampleCount and p50/p99 arrive in two files."""
    if len(exports) == 1:
        return exports[0]
    labels = {e.label for e in exports if e.label}
    units = {e.unit for e in exports if e.unit}
    if len(labels) > 1 or len(units) > 1:
        raise fail(" + ".join(e.source for e in exports), field, "exports of one metric in one unit",
                    f"They hold {', '.join(sorted(labels | units))}.")
    frame = exports[0].frame
    for e in exports[1:]:
        frame = frame.join(e.frame[[c for c in e.frame.columns if c not in frame.columns]], how="outer")
    return MetricExport(frame, next(iter(labels), None), next(iter(units), None),
                        " + ".join(e.source for e in exports), " + ".join(dict.fromkeys(e.shape for e in exports)))


def latency_ms(export: MetricExport, unit: str | None, field: str) -> tuple[pd.DataFrame, str]:
    """The export's time statistics converted to ms (checked by `checked`), and a phrase saying which unit was
    used and why."""
    if unit is not None:
        factor, why = UNIT_MS[unit.lower()], f"{unit} (given)"
    elif export.unit is not None:
        if export.unit.lower() not in UNIT_MS:
            raise fail(export.source, field, "a time metric (Unit Seconds, Milliseconds or Microseconds)",
                        f"The export's Unit is {export.unit}; is this a count metric such as Invocations?")
        factor, why = UNIT_MS[export.unit.lower()], f"{export.unit} (from the export)"
    elif export.label and any(m.lower() in export.label.lower() for m in SAGEMAKER_MICROSECONDS):
        factor, why = 1e-3, f"Microseconds (SageMaker reports {export.label} in microseconds)"
    elif "get-metric-data" in export.shape:  # it never carries a unit: guessing ms would be off 1000x for SageMaker
        option = {"MEASUREMENTS": "--unit", "--cold-starts": "--cold-unit"}.get(field)
        ask = f"pass {option} ms, us or s" if option else "label the query with its metric (OverheadLatency)"
        raise fail(export.source, option or field, "the unit of the get-metric-data values",
                    f"MetricDataResults carry no unit and their Label ({export.label or 'none, only an Id'}) names "
                    f"no SageMaker metric of known unit: {ask}. SageMaker's ModelLatency is in microseconds.")
    else:
        factor, why = 1.0, "ms (assumed: the export names no unit; pass --unit)"
    frame, dropped = checked(export.frame, export.source)
    for col in frame.columns:
        if col != "SampleCount":
            frame[col] = frame[col] * factor
    return frame.dropna(how="all"), why + (f"; {dropped:,} period(s) with SampleCount 0 and no value dropped"
                                           if dropped else "")


def _at(frame: pd.DataFrame, mask) -> str:
    """The timestamp of the first period flagged in `mask`."""
    return f"{frame.index[int(np.argmax(np.asarray(mask)))]:%Y-%m-%dT%H:%M:%SZ}"


def checked(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, int]:
    """Latency statistics a fit can trust (a copy), and how many empty periods were dropped: every value finite
    and >= 0, percentiles rising with their probability in every period, SampleCount above 0 somewhere."""
    for col in frame.columns:
        x = frame[col].to_numpy(float)
        if (bad := np.isinf(x) | (x < 0)).any():
            raise fail(source, str(col), "a finite value >= 0 in every period", f"At {_at(frame, bad)} it holds "
                        f"{x[np.argmax(bad)]!r}.")
    pct = sorted((float(m[1]), str(c)) for c in frame.columns if (m := PERCENTILE.fullmatch(str(c))))
    for i, (_, low) in enumerate(pct):
        for _, high in pct[i + 1:]:
            if (bad := (frame[low] > frame[high]).to_numpy()).any():
                raise fail(source, high, f"percentiles that rise ({low} <= {high}) in every period",
                            f"At {_at(frame, bad)} {high} is {frame[high][bad].iloc[0]:g}, below {low} "
                            f"{frame[low][bad].iloc[0]:g}.")
    if "SampleCount" not in frame or frame["SampleCount"].isna().all():
        return frame.copy(), 0
    zero = (frame["SampleCount"] == 0).to_numpy()
    # A period with SampleCount 0 measured no request (CloudWatch may still publish it, with nulls or zeros): it
    # has nothing to fit and the fits would give it no weight, so it is dropped; a latency in it is a contradiction
    empty = zero & frame.drop(columns="SampleCount").fillna(0).eq(0).all(axis=1).to_numpy()
    if (zero & ~empty).any():
        raise fail(source, "SampleCount", "a count above 0 in a period with latencies",
                    f"At {_at(frame, zero & ~empty)} it is 0 beside a latency.")
    if empty.all():
        raise fail(source, "SampleCount", "a count above 0 in at least one period",
                    "It is 0 in every period: the export measured no request.")
    return frame[~empty].copy(), int(empty.sum())


@dataclass(frozen=True, eq=False)
class CountTrace:
    """Requests per period, ready to be written as a count trace (`sim.traces` reads it back).

    `frame` has columns timestamp (UTC) and invocations (int64), one row per period from the first to the
    last exported one; `filled` periods had no datapoint (CloudWatch publishes none for an idle minute).
    """

    frame: pd.DataFrame
    period_s: float
    filled: int
    statistic: str

    @property
    def total(self) -> int:
        """Requests in the trace."""
        return int(self.frame["invocations"].sum())

    @property
    def mean_rps(self) -> float:
        """Requests per second over the whole span."""
        return self.total / (len(self.frame) * self.period_s)

    @property
    def peak_rps(self) -> float:
        """Requests per second in the busiest period."""
        return float(self.frame["invocations"].max()) / self.period_s

    def to_csv(self) -> str:
        """The trace as CSV text: `timestamp,invocations` with ISO UTC timestamps."""
        stamps = self.frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = "".join(f"{t},{c}\n" for t, c in zip(stamps, self.frame["invocations"], strict=True))
        return "timestamp,invocations\n" + body


def count_trace(export: MetricExport, field: str, period_s: float | None = None) -> CountTrace:
    """Invocations per period (the Sum statistic) as a CountTrace, idle periods filled with 0."""
    if export.label and any(m.lower() in export.label.lower() for m in SAGEMAKER_MICROSECONDS) or (
            export.unit and export.unit.lower() in UNIT_MS):
        raise fail(export.source, field, "an Invocations export (requests per period, statistic Sum)",
                    f"It holds {export.label or export.unit}, a latency; use `fitness calibrate` for latencies.")
    statistic = next((s for s in ("Sum", "SampleCount") if s in export.frame), None)
    if statistic is None:
        raise fail(export.source, field, "the Sum statistic of Invocations per period",
                    f"The export has {', '.join(map(str, export.frame.columns))}; request --statistics Sum.")
    counts = export.frame[statistic].groupby(level=0).sum()
    values = counts.to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (np.abs(values - np.round(values)) > 1e-6)
    if bad.any():
        row = int(np.argmax(bad))
        raise fail(export.source, field, "a whole number of requests >= 0 per period",
                    f"{counts.index[row]} holds {values[row]!r} (InvocationsPerInstance is a fraction per request).")
    return _filled(counts.round().astype(np.int64), period_s or export.period_s or 60.0, statistic)


def _filled(counts: pd.Series, period_s: float, statistic: str) -> CountTrace:
    """Counts on a regular grid from the first to the last period; periods off the grid are kept as they are."""
    offsets = seconds(counts.index) / period_s
    filled = 0
    if np.allclose(offsets, np.round(offsets)):
        grid = pd.date_range(counts.index[0], counts.index[-1], freq=pd.Timedelta(seconds=period_s))
        filled = len(grid) - len(counts)
        counts = counts.reindex(grid, fill_value=0)
    frame = pd.DataFrame({"timestamp": counts.index, "invocations": counts.to_numpy(np.int64)})
    return CountTrace(frame, period_s, filled, statistic)
