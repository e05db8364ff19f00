"""Recorded traffic: load a CSV trace once (`load_trace`) and replay it for a horizon (`replay_trace`).

Two layouts are accepted:
- timestamps, one row per request: a column of seconds or of ISO datetimes (e.g. the Azure LLM inference
  traces' `2023-11-16 18:17:03.9799600`). Column choice: `time_column` if given; else, when the file has
  `end_timestamp` and `duration` columns (the Azure Functions 2021 trace), arrival = end - duration; else
  the first column named timestamp / time / arrival / arrival_s / t (any case); else the first column.
- per-interval counts (a CloudWatch "Invocations per minute" export): used when `count_column` is set or a
  column named Invocations / count / Sum (any case) exists. Rows are interval starts plus counts;
  `interval_s` defaults to the median spacing of the starts. Requests are placed uniformly at random
  within their interval at replay time, so a count trace needs the run's random generator.
Rows out of time order are sorted, not rejected. Times are relative to the first timestamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import InputError, did_you_mean
from sim.traffic_spec import TraceTraffic

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported by the functions that read or map a trace, not here: this module is on the import path
# of every workload (through sim.traffic), and one without a trace file must not pay for pandas.

_TIME_NAMES = ("timestamp", "time", "arrival", "arrival_s", "t")
_COUNT_NAMES = ("invocations", "count", "sum")
_EXPECTED_TIMES = "a CSV with a column of timestamps (seconds or ISO datetimes like 2023-11-16 18:17:03.98)"


@dataclass(frozen=True, eq=False)
class Trace:
    """A loaded trace. Arrays are read-only; times are seconds relative to the first row.

    Timestamp traces set `times_s` (sorted, starting at 0) and leave `counts` / `interval_starts_s` None.
    Count traces set `counts` (int64 per row), `interval_starts_s` (per row, sorted, starting at 0) and
    `interval_s`, and leave `times_s` None: their arrival times only exist once drawn by `replay_trace`.
    `models` holds the model name of each row (object array) when the spec names a `model_column`.
    `span_s` is last - first for timestamps, and last start - first start + interval_s for counts.
    """

    times_s: np.ndarray | None
    models: np.ndarray | None
    span_s: float
    source: str
    counts: np.ndarray | None = None
    interval_starts_s: np.ndarray | None = None
    interval_s: float | None = None

    @property
    def is_counts(self) -> bool:
        """True for a per-interval count trace."""
        return self.counts is not None

    @property
    def n_requests(self) -> int:
        """Number of recorded requests."""
        return int(self.counts.sum()) if self.counts is not None else int(self.times_s.size)

    @property
    def mean_rate_rps(self) -> float:
        """Recorded requests per second over the span (0 when the span is 0)."""
        return self.n_requests / self.span_s if self.span_s > 0 else 0.0


def load_trace(path: Path, spec: TraceTraffic) -> Trace:
    """Read and validate the CSV at `path` (already resolved by the caller) as described for `spec`.

    Raises InputError naming the spec field at fault (`traffic.trace`, `traffic.time_column`, ...) with
    the file as `source`.
    """
    source = str(path)
    frame = _read_csv(Path(path), source)
    models = None
    if spec.model_column is not None:
        models = _text_values(frame, _column(frame, spec.model_column, "traffic.model_column", source),
                              "traffic.model_column", source)
    count_name = _count_column(frame, spec, source)
    if count_name is None:
        return _timestamp_trace(_arrival_seconds(frame, spec, source), models, source)
    time_name = _time_column(frame, spec, source, exclude={count_name, spec.model_column})
    field = "traffic.time_column" if spec.time_column else "traffic.trace"
    starts = _seconds(frame[time_name], time_name, field, source)
    counts = _counts(frame[count_name], count_name, spec, source)
    return _count_trace(starts, counts, models, spec.interval_s, source)


def replay_trace(trace: Trace, horizon_s: float, rng: np.random.Generator,
                 rate_multiplier: float = 1.0) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrival times in [0, horizon_s) (sorted float64) and their model names (None without a model column).

    `rate_multiplier` m scales the recorded traffic. For m < 1 each request is kept with probability m
    (thinning). For m > 1 each request is kept and gets floor(m) - 1 extra copies plus one more with
    probability m - floor(m), the copies uniform in [t, t_next) (the gap to the next request; the mean
    gap for the last one), so bursts stay bursts and the mean rate is multiplied by m. Count traces scale
    each interval's count the same way (binomial thinning / replication) before placing requests.
    The trace is not wrapped around: a horizon longer than the span just sees no more arrivals.
    """
    if not (math.isfinite(rate_multiplier) and rate_multiplier > 0):
        raise ValueError(f"rate_multiplier must be a positive finite number, got {rate_multiplier!r}")
    if trace.counts is not None:
        counts = _scale_counts(trace.counts, rate_multiplier, rng)
        times, order = _place_counts(trace.interval_starts_s, counts, trace.interval_s, rng)
        models = None if trace.models is None else np.repeat(trace.models, counts)
    else:
        times, models, order = _scale_times(trace.times_s, trace.models, trace.span_s, rate_multiplier, rng)
    if order is not None:
        times = times[order]
        models = None if models is None else models[order]
    end = int(np.searchsorted(times, horizon_s, side="left"))
    return times[:end], None if models is None else models[:end]


def trace_model_indices(models: np.ndarray, model_names: list[str], source: str | None = None) -> np.ndarray:
    """Map a trace's model names to indices (int32) into `model_names`; unknown names raise InputError."""
    import pandas as pd  # lazy: only a trace file needs pandas (see the module top)

    idx = pd.Index(model_names).get_indexer(pd.Index(models, dtype=object))
    if np.any(idx < 0):
        unknown = str(models[int(np.argmax(idx < 0))])
        raise InputError("traffic.model_column", "names of models listed under `models`", got=unknown,
                         source=source, hint=did_you_mean(unknown, model_names))
    return idx.astype(np.int32)


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    """The CSV as a data frame with at least one row, or an InputError saying why not."""
    import pandas as pd  # lazy: only a trace file needs pandas (see the module top)

    if not path.is_file():
        raise InputError("traffic.trace", "an existing CSV file of request timestamps or per-interval counts",
                         got=source, source=source, hint="Paths are relative to the workload file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InputError("traffic.trace", f"a readable CSV file: {_EXPECTED_TIMES}", source=source,
                         hint=f"It could not be read ({exc})") from exc
    if frame.empty:
        raise InputError("traffic.trace", f"{_EXPECTED_TIMES} and at least one data row",
                         got="an empty file", source=source)
    return frame


def _column(frame: pd.DataFrame, name: str, field: str, source: str) -> str:
    """The column called `name` (exact, else case-insensitive), or an InputError suggesting the nearest."""
    columns = [str(c) for c in frame.columns]
    if name in columns:
        return name
    folded = {c.lower(): c for c in columns}
    if name.lower() in folded:
        return folded[name.lower()]
    raise InputError(field, f"a column of the trace (columns: {', '.join(columns)})", got=name,
                     source=source, hint=did_you_mean(name, columns))


def _named(frame: pd.DataFrame, names: tuple[str, ...], exclude: set) -> str | None:
    """The first column whose lower-cased name is in `names`, skipping `exclude`."""
    for column in frame.columns:
        if str(column).lower() in names and column not in exclude:
            return str(column)
    return None


def _count_column(frame: pd.DataFrame, spec: TraceTraffic, source: str) -> str | None:
    """The count column of a count trace, or None for a timestamp trace."""
    if spec.count_column is not None:
        return _column(frame, spec.count_column, "traffic.count_column", source)
    return _named(frame, _COUNT_NAMES, exclude={spec.time_column, spec.model_column})


def _time_column(frame: pd.DataFrame, spec: TraceTraffic, source: str, exclude: set) -> str:
    """`time_column`, else the first conventionally named column, else the first column not excluded."""
    if spec.time_column is not None:
        return _column(frame, spec.time_column, "traffic.time_column", source)
    named = _named(frame, _TIME_NAMES, exclude)
    if named is not None:
        return named
    rest = [str(c) for c in frame.columns if c not in exclude]
    if not rest:
        raise InputError("traffic.time_column", f"{_EXPECTED_TIMES} besides the count/model columns",
                         got=list(map(str, frame.columns)), source=source)
    return rest[0]


def _arrival_seconds(frame: pd.DataFrame, spec: TraceTraffic, source: str) -> np.ndarray:
    """Arrival time of each row in seconds (arbitrary origin, unsorted)."""
    if spec.time_column is None and {"end_timestamp", "duration"} <= set(frame.columns):
        # Azure Functions 2021 trace: rows record the end of an invocation and its duration.
        end = _seconds(frame["end_timestamp"], "end_timestamp", "traffic.trace", source)
        duration = _seconds(frame["duration"], "duration", "traffic.trace", source, numeric_only=True)
        return end - duration
    name = _time_column(frame, spec, source, exclude={spec.model_column})
    field = "traffic.time_column" if spec.time_column else "traffic.trace"
    return _seconds(frame[name], name, field, source)


def _seconds(column: pd.Series, name: str, field: str, source: str, numeric_only: bool = False) -> np.ndarray:
    """A column of seconds or ISO datetimes as float64 seconds; every row must parse."""
    import pandas as pd  # lazy: only a trace file needs pandas (see the module top)

    if pd.api.types.is_bool_dtype(column):
        values = np.full(len(column), np.nan)
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    # Only text can hold datetimes; a numeric column with gaps is just a numeric column with gaps.
    if bad.any() and not numeric_only and not pd.api.types.is_numeric_dtype(column):
        stamps = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
        if not stamps.isna().any():
            return ((stamps - stamps.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)
        # Point at a bad row of whichever reading (numbers or datetimes) fits more rows.
        if stamps.notna().sum() > (~bad).sum():
            bad = stamps.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        what = "seconds" if numeric_only else "seconds or ISO datetimes"
        raise InputError(field, f"{_EXPECTED_TIMES}; column '{name}' must hold {what} in every row",
                         got=_cell(column, row), source=source, hint=f"See data row {row + 1}")
    return values


def _cell(column: pd.Series, row: int) -> object:
    """One cell as a plain Python value, so error messages show `-2`, not `np.int64(-2)`."""
    value = column.iloc[row]
    return value.item() if isinstance(value, np.generic) else value


def _text_values(frame: pd.DataFrame, name: str, field: str, source: str) -> np.ndarray:
    """A column as an object array of strings; missing values are an error."""
    column = frame[name]
    if column.isna().any():
        row = int(np.argmax(column.isna().to_numpy()))
        raise InputError(field, f"a model name in every row of column '{name}'", got="an empty cell",
                         source=source, hint=f"See data row {row + 1}")
    return column.astype(str).to_numpy(dtype=object)


def _counts(column: pd.Series, name: str, spec: TraceTraffic, source: str) -> np.ndarray:
    """Non-negative whole-number counts as int64."""
    import pandas as pd  # lazy: only a trace file needs pandas (see the module top)

    field = "traffic.count_column" if spec.count_column else "traffic.trace"
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(field, f"a whole number of requests >= 0 in every row of column '{name}'",
                         got=_cell(column, row), source=source, hint=f"See data row {row + 1}")
    return values.astype(np.int64)


def _sorted_by_time(times: np.ndarray, *others: np.ndarray | None) -> tuple:
    """`times` sorted (stable) and shifted to start at 0, with companion arrays in the same order."""
    if np.any(np.diff(times) < 0):
        order = np.argsort(times, kind="stable")
        times = times[order]
        others = tuple(None if o is None else o[order] for o in others)
    return (times - times[0], *others)


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    """Make an array read-only so the frozen Trace cannot be changed through it."""
    if array is not None:
        array.setflags(write=False)
    return array


def _timestamp_trace(times: np.ndarray, models: np.ndarray | None, source: str) -> Trace:
    times, models = _sorted_by_time(times, models)
    return Trace(times_s=_frozen(times), models=_frozen(models), span_s=float(times[-1]), source=source)


def _count_trace(starts: np.ndarray, counts: np.ndarray, models: np.ndarray | None,
                 interval_s: float | None, source: str) -> Trace:
    starts, counts, models = _sorted_by_time(starts, counts, models)
    if interval_s is None:
        spacing = np.diff(np.unique(starts))
        if spacing.size == 0:
            raise InputError("traffic.interval_s", "the length of each count interval in seconds",
                             source=source, hint="It cannot be inferred from a single timestamp")
        interval_s = float(np.median(spacing))
    return Trace(times_s=None, models=_frozen(models), span_s=float(starts[-1] + interval_s), source=source,
                 counts=_frozen(counts), interval_starts_s=_frozen(starts), interval_s=interval_s)


def _scale_counts(counts: np.ndarray, m: float, rng: np.random.Generator) -> np.ndarray:
    """Each count thinned (m < 1) or replicated (m > 1) binomially, so the expectation is m * count."""
    if m == 1.0:
        return counts
    whole = math.floor(m)
    return counts * whole + rng.binomial(counts, m - whole)


def _place_counts(starts: np.ndarray, counts: np.ndarray, interval_s: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Requests uniform within their interval; returns times and a sort order (None when already sorted).

    Each interval's points are drawn already sorted (normalised partial sums of count + 1 exponentials,
    all intervals in one cumsum), so ordered, non-overlapping intervals need no sort of millions of times.
    """
    total = int(counts.sum())
    ends = np.cumsum(counts + 1) - 1  # index of each interval's closing exponential
    sums = np.cumsum(rng.standard_exponential(total + counts.size))
    base = np.concatenate(([0.0], sums[ends[:-1]]))
    row = np.repeat(np.arange(counts.size), counts)
    point = np.arange(total) + row  # skip the closing exponential of every earlier interval
    times = starts[row] + interval_s * (sums[point] - base[row]) / (sums[ends[row]] - base[row])
    ordered = bool(np.all(np.diff(starts) >= interval_s))
    return times, None if ordered else np.argsort(times, kind="stable")


def _scale_times(times: np.ndarray, models: np.ndarray | None, span_s: float, m: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Thin or replicate timestamp arrivals; returns times, models and a sort order (None when sorted)."""
    if m == 1.0:  # copies: the trace's arrays are read-only and callers may want to edit theirs
        return times.copy(), None if models is None else models.copy(), None
    if m < 1.0:
        keep = rng.random(times.size) < m
        return times[keep], None if models is None else models[keep], None
    whole = math.floor(m)
    extra = whole - 1 + (rng.random(times.size) < m - whole)
    mean_gap = span_s / (times.size - 1) if times.size > 1 else 0.0
    gaps = np.diff(times, append=times[-1] + mean_gap) if times.size else times
    source = np.repeat(np.arange(times.size), extra)
    copies = times[source] + rng.random(source.size) * gaps[source]
    all_times = np.concatenate((times, copies))
    all_models = None if models is None else np.concatenate((models, models[source]))
    return all_times, all_models, np.argsort(all_times, kind="stable")
