"""CloudWatch metric exports: per-period statistics of one metric, as latencies (ms) or as a count trace.

Three shapes are read, all holding one row per period (SageMaker publishes its endpoint metrics each minute):
- the JSON of `aws cloudwatch get-metric-statistics`: `{"Label": ..., "Datapoints": [{"Timestamp",
  "Average", "Minimum", "Maximum", "SampleCount", "Sum", "Unit", "ExtendedStatistics": {"p99": ...}}]}`, in
  no particular order (AWS CLI reference, get-metric-statistics, and the Datapoint type of the CloudWatch API
  reference: Unit is one of Seconds | Microseconds | Milliseconds | ... | Count | None);
- the JSON of `aws cloudwatch get-metric-data`: `{"MetricDataResults": [{"Id", "Label", "Timestamps": [...],
  "Values": [...], "StatusCode"}]}` (CloudWatch API reference, MetricDataResult). It names no statistic or
  unit, so `stat` says which statistic the values are;
- a CSV: a time column and either statistic columns (Average, Sum, SampleCount, Minimum, Maximum, pNN, as a
  jq flattening of the JSON gives) or one value column per graphed metric, as the CloudWatch console's
  "Download as .csv" gives (we found no published spec of that layout, so any one-time-column CSV is read).

Units: SageMaker's ModelLatency, OverheadLatency and ModelSetupTime are reported in microseconds ("Amazon
SageMaker AI metrics in Amazon CloudWatch", endpoint invocation metrics). A unit given by the user wins, then
the export's Unit, then a SageMaker metric's documented unit; otherwise milliseconds are assumed, and said.
Invocations is a count of InvokeEndpoint requests per period, read with the Sum statistic (same page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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

_TIME_NAMES = ("timestamp", "timestamps", "time", "date", "datetime")


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


def _fail(source: str, field: str, expected: str, hint: str = "") -> UserError:
    """One paragraph naming the file, the option and what is expected."""
    return UserError(f"{source}: {field}: expected {expected}." + (f" {hint}" if hint else ""))


def _nearest(name: str, choices: list[str]) -> str:
    """A 'did you mean' sentence, or the list of choices."""
    return did_you_mean(name, choices, cutoff=0.4) or f"Columns: {', '.join(choices)}."


def parse_times(values: pd.Series, source: str, field: str) -> pd.DatetimeIndex:
    """ISO datetimes or Unix epoch seconds (milliseconds when larger than 1e11) as a UTC index."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        unit = "ms" if numeric.abs().max() > 1e11 else "s"
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit, utc=True))
    stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        row = int(np.argmax(stamps.isna().to_numpy()))
        raise _fail(source, field, "ISO datetimes (2024-05-01T12:00:00Z) or Unix seconds in every row of the time "
                    "column", f"Data row {row + 1} holds {values.iloc[row]!r}.")
    return pd.DatetimeIndex(stamps)


def read_export(path: Path, field: str, column: str | None = None, stat: str | None = None) -> MetricExport:
    """Read a CloudWatch export (the shapes of the module docstring); `field` names the option in errors.

    `column` picks one metric of a multi-metric file (a CSV column, or a get-metric-data Id or Label);
    `stat` names the statistic of a single-value series (default Sum for Invocations, else Average).
    """
    source = str(path)
    if not path.is_file():
        raise _fail(source, field, "an existing file (a CloudWatch export or a CSV of measurements)",
                    "The file does not exist.")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _fail(source, field, "the JSON of `aws cloudwatch get-metric-statistics` or get-metric-data",
                        f"It could not be read ({e}).") from e
        return _from_json(data, source, field, column, stat)
    return from_csv(read_csv(path, field), source, field, column, stat)


def read_csv(path: Path, field: str) -> pd.DataFrame:
    """A CSV with at least one data row, or a UserError saying why not."""
    source = str(path)
    if not path.is_file():
        raise _fail(source, field, "an existing CSV file", "The file does not exist.")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise _fail(source, field, "a readable CSV file", f"It could not be read ({e}).") from e
    if frame.empty:
        raise _fail(source, field, "a CSV with a header and at least one data row", "The file has no data rows.")
    return frame


def _default_stat(label: str | None) -> str:
    return "Sum" if label and "invocation" in label.lower() else "Average"


def _from_json(data, source: str, field: str, column: str | None, stat: str | None) -> MetricExport:
    """get-metric-statistics (Datapoints) or get-metric-data (MetricDataResults) JSON."""
    if isinstance(data, dict) and isinstance(data.get("Datapoints"), list):
        rows = [{"Timestamp": d.get("Timestamp"), **{s: d[s] for s in STATS if s in d},
                 **(d.get("ExtendedStatistics") or {})} for d in data["Datapoints"] if isinstance(d, dict)]
        units = {d.get("Unit") for d in data["Datapoints"] if isinstance(d, dict) and d.get("Unit")}
        frame = pd.DataFrame(rows)
        label, shape = data.get("Label"), "get-metric-statistics JSON"
    elif isinstance(data, dict) and isinstance(data.get("MetricDataResults"), list):
        label, frame = _metric_data(data["MetricDataResults"], source, field, column, stat)
        units, shape = set(), "get-metric-data JSON"
    else:
        raise _fail(source, field, "the JSON of `aws cloudwatch get-metric-statistics` (a `Datapoints` list) or "
                    "`get-metric-data` (a `MetricDataResults` list)")
    if frame.empty or "Timestamp" not in frame:
        raise _fail(source, field, "at least one datapoint with a Timestamp", "The export holds no datapoints; "
                    "widen --start-time/--end-time or check the metric's dimensions.")
    index = parse_times(frame.pop("Timestamp"), source, field)
    frame = frame.apply(pd.to_numeric, errors="coerce").set_index(index).sort_index()
    return MetricExport(frame, label, units.pop() if len(units) == 1 else None, source, shape)


def _metric_data(results: list, source: str, field: str, column: str | None, stat: str | None):
    """(label, frame) of the one MetricDataResult named by `column` (Id or Label), or the only one."""
    names = [str(r.get("Label") or r.get("Id")) for r in results if isinstance(r, dict)]
    if column is not None:
        chosen = [r for r in results if column in (r.get("Id"), r.get("Label"))]
        if not chosen:
            raise _fail(source, "--column", f"the Id or Label of a MetricDataResult ({', '.join(names)})",
                        _nearest(column, names))
    elif len(results) != 1:
        raise _fail(source, field, "one MetricDataResult, or --column naming one", f"Results: {', '.join(names)}.")
    else:
        chosen = results
    r = chosen[0]
    label = r.get("Label") or r.get("Id")
    frame = pd.DataFrame({"Timestamp": r.get("Timestamps") or [], stat or _default_stat(label): r.get("Values") or []})
    return label, frame


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
    return next((str(c) for c in frame.columns if str(c).strip().lower() in _TIME_NAMES), None)


def looks_like_export(frame: pd.DataFrame) -> bool:
    """True when a CSV holds per-period statistics rather than one row per request: a column named after a
    CloudWatch statistic, or a time column spaced at a whole number of minutes throughout."""
    if any(_stat_name(str(c)) for c in frame.columns if str(c).lower() not in _TIME_NAMES):
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
            raise _fail(source, "--column", f"a column of the export ({', '.join(values)})", _nearest(column, values))
        if column is None and len(values) != 1:
            raise _fail(source, field, "one value column, or --column naming one", f"Columns: {', '.join(values)}.")
        label = column or values[0]
        data = frame[[label]].rename(columns={label: stat or _default_stat(label)})
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
        raise _fail(" + ".join(e.source for e in exports), field, "exports of one metric in one unit",
                    f"They hold {', '.join(sorted(labels | units))}.")
    frame = exports[0].frame
    for e in exports[1:]:
        frame = frame.join(e.frame[[c for c in e.frame.columns if c not in frame.columns]], how="outer")
    return MetricExport(frame, next(iter(labels), None), next(iter(units), None),
                        " + ".join(e.source for e in exports), exports[0].shape)


def latency_ms(export: MetricExport, unit: str | None, field: str) -> tuple[pd.DataFrame, str]:
    """The export's time statistics converted to ms, and a phrase saying which unit was used and why."""
    if unit is not None:
        factor, why = UNIT_MS[unit.lower()], f"{unit} (given)"
    elif export.unit is not None:
        if export.unit.lower() not in UNIT_MS:
            raise _fail(export.source, field, "a time metric (Unit Seconds, Milliseconds or Microseconds)",
                        f"The export's Unit is {export.unit}; is this a count metric such as Invocations?")
        factor, why = UNIT_MS[export.unit.lower()], f"{export.unit} (from the export)"
    elif export.label and any(m.lower() in export.label.lower() for m in SAGEMAKER_MICROSECONDS):
        factor, why = 1e-3, f"Microseconds (SageMaker reports {export.label} in microseconds)"
    else:
        factor, why = 1.0, "ms (assumed: the export names no unit; pass --unit)"
    frame = export.frame.copy()
    for col in frame.columns:
        if col != "SampleCount":
            frame[col] = frame[col] * factor
    return frame.dropna(how="all"), why


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
        raise _fail(export.source, field, "an Invocations export (requests per period, statistic Sum)",
                    f"It holds {export.label or export.unit}, a latency; use `fitness calibrate` for latencies.")
    statistic = next((s for s in ("Sum", "SampleCount") if s in export.frame), None)
    if statistic is None:
        raise _fail(export.source, field, "the Sum statistic of Invocations per period",
                    f"The export has {', '.join(map(str, export.frame.columns))}; request --statistics Sum.")
    counts = export.frame[statistic].groupby(level=0).sum()
    values = counts.to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (np.abs(values - np.round(values)) > 1e-6)
    if bad.any():
        row = int(np.argmax(bad))
        raise _fail(export.source, field, "a whole number of requests >= 0 per period",
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
