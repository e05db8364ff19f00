"""CloudWatch JSON exports, every field checked: get-metric-statistics Datapoints and get-metric-data results.

A bad field is a UserError naming the file and the JSON field (`Label`, `Datapoints[3].Unit`,
`MetricDataResults[1].Timestamps`), never an exception from pandas.

get-metric-data results carry neither a statistic nor a unit (CloudWatch API reference, MetricDataResult):
the statistic was the query's `Stat`. It is read from the result's Id or Label when a token names one (p50,
p99, p99.9, avg/average, sum, samplecount/count, min/minimum, max/maximum, any case: Id `p99`, Label
`ModelLatency p99`), else from --stat; a latency naming neither is refused rather than read as the Average
(a p99 series taken for the mean fits a law about 2.5 times too slow). Several results of one metric with
distinct statistics become one frame, one column per statistic, as `cloudwatch.merge` does for several
files. The unit is left to `cloudwatch.latency_ms`, which asks for --unit unless the Label names a SageMaker
metric of documented unit.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import pandas as pd

from fitness.calibration.exports import (
    STATS,
    MetricExport,
    default_stat,
    fail,
    nearest,
    parse_times,
    statistic,
)

_TOKEN = re.compile(r"(?<![a-z0-9])(p\d{1,2}(?:[._]\d+)?|avg|average|sum|samplecount|count|minimum|min|maximum|max)"
                    r"(?![a-z0-9])", re.IGNORECASE)


def show(value) -> str:
    """A JSON value as the file holds it, cut to 60 characters."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def text_field(obj: dict, key: str, source: str, field: str) -> str | None:
    """obj[key] when it is a string (None when absent or empty); a number or a list is refused."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise fail(source, field, "a string", f"It holds {show(value)}.")
    return value or None


def number_field(value, source: str, field: str) -> float:
    """A statistic's value: a finite JSON number (null is missing: NaN); text, lists or booleans are refused."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(source, field, "a finite number (or null)", f"It holds {show(value)}.")
    return float(value)


def time_field(value, source: str, field: str):
    """A timestamp as JSON holds it: an ISO string or epoch seconds; anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(source, field, "a time (an ISO datetime such as 2024-05-01T12:00:00Z, or Unix seconds)",
                    f"It holds {show(value)}.")
    return value


def from_json(data, source: str, field: str, column: str | None, stat: str | None, latency: bool) -> MetricExport:
    """get-metric-statistics (Datapoints) or get-metric-data (MetricDataResults) JSON, as `read_export` reads it."""
    if isinstance(data, dict) and isinstance(data.get("Datapoints"), list):
        frame, label, unit = _statistics(data, source, field)
        shape = "get-metric-statistics JSON"
    elif isinstance(data, dict) and isinstance(data.get("MetricDataResults"), list):
        frame, label = read_metric_data(data["MetricDataResults"], source, field, column, stat, latency)
        unit, shape = None, "get-metric-data JSON"
    else:
        raise fail(source, field, "the JSON of `aws cloudwatch get-metric-statistics` (a `Datapoints` list) or "
                    "`get-metric-data` (a `MetricDataResults` list)")
    if frame.empty:
        raise fail(source, field, "at least one datapoint with a Timestamp", "The export holds no datapoints; "
                    "widen --start-time/--end-time or check the metric's dimensions.")
    return MetricExport(frame.sort_index(), label, unit, source, shape)


def _statistics(data: dict, source: str, field: str) -> tuple[pd.DataFrame, str | None, str | None]:
    """(frame indexed by time, Label, Unit) of get-metric-statistics JSON; every field is checked."""
    label = text_field(data, "Label", source, "Label")
    rows, units = [], {}
    for i, point in enumerate(data["Datapoints"]):
        row, unit = _datapoint(point, f"Datapoints[{i}]", source)
        rows.append(row)
        if unit:
            units.setdefault(unit, i)
    if len(units) > 1:  # one metric has one unit: a mix says datapoints of different metrics were pasted together
        first, *_, last = units.items()
        raise fail(source, f"Datapoints[{last[1]}].Unit", f"the unit of the other datapoints ({first[0]})",
                    f"It holds {last[0]}.")
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame, label, None
    index = parse_times(frame.pop("Timestamp"), source, field, lambda row: f"Datapoints[{row}].Timestamp")
    return frame.astype(float).set_index(index), label, next(iter(units), None)


def _datapoint(point, where: str, source: str) -> tuple[dict, str | None]:
    """One Datapoint as {Timestamp, statistic: value}, and its Unit."""
    if not isinstance(point, dict):
        raise fail(source, where, "an object (Timestamp, Average, SampleCount, ..., Unit)", f"It holds {show(point)}.")
    unit = text_field(point, "Unit", source, f"{where}.Unit")
    extended = point.get("ExtendedStatistics") or {}
    if not isinstance(extended, dict):
        raise fail(source, f"{where}.ExtendedStatistics", 'an object such as {"p99": 12.5}',
                    f"It holds {show(extended)}.")
    row = {str(k): number_field(v, source, f"{where}.ExtendedStatistics.{k}") for k, v in extended.items()}
    row |= {s: number_field(point[s], source, f"{where}.{s}") for s in STATS if s in point}
    return row | {"Timestamp": time_field(point.get("Timestamp"), source, f"{where}.Timestamp")}, unit


@dataclass(frozen=True)
class _Result:
    """One MetricDataResult, its fields checked; `index` is its place in the file."""

    index: int
    id: str | None
    label: str | None
    times: list
    values: list[float]

    @property
    def where(self) -> str:
        return f"MetricDataResults[{self.index}]"


def named_statistic(text: str | None) -> str | None:
    """The one statistic a token of an Id or Label names (p99 in `ModelLatency p99`), else None (none or two)."""
    found = {statistic(token) for token in _TOKEN.findall(text or "")} - {None}
    return found.pop() if len(found) == 1 else None


def _metric_name(label: str | None) -> str | None:
    """The Label without its statistic token: the metric's name (None when nothing is left)."""
    name = " ".join(_TOKEN.sub(" ", label or "").split()).strip(" -_:()[]/,")
    return name or None


def _result(r, i: int, source: str) -> _Result:
    """A MetricDataResult: an object with string Id / Label and lists of Timestamps and Values that pair up."""
    where = f"MetricDataResults[{i}]"
    if not isinstance(r, dict):
        raise fail(source, where, "an object (Id, Label, Timestamps, Values)", f"It holds {show(r)}.")
    ident, label = text_field(r, "Id", source, f"{where}.Id"), text_field(r, "Label", source, f"{where}.Label")
    times, values = r.get("Timestamps"), r.get("Values")
    for key, value in (("Timestamps", times), ("Values", values)):
        if not isinstance(value, list):
            got = f"It holds {show(value)}." if key in r else "It is missing."
            raise fail(source, f"{where}.{key}", "a list", got)
    if len(times) != len(values):
        raise fail(source, f"{where}.Values", f"one value per timestamp ({len(times):,} Timestamps)",
                    f"It holds {len(values):,} values; Timestamps[j] is the time of Values[j].")
    return _Result(i, ident, label, [time_field(t, source, f"{where}.Timestamps[{j}]") for j, t in enumerate(times)],
                   [number_field(v, source, f"{where}.Values[{j}]") for j, v in enumerate(values)])


def _statistic_of(r: _Result, stat: str | None, latency: bool, several: bool, source: str, field: str) -> str:
    """The statistic of a result: named by its Id or Label, else --stat, else Sum for Invocations; with `latency`
    (`fitness calibrate`) one naming none is refused (see the module docstring), else read as the Average."""
    by_id, by_label = named_statistic(r.id), named_statistic(r.label)
    if by_id and by_label and by_id != by_label:
        raise fail(source, f"{r.where}.Label", f"the statistic its Id names ({by_id})", f"It names {by_label}.")
    if by_id or by_label or stat:
        return by_id or by_label or stat
    if (default := default_stat(r.label)) == "Sum" or not latency:
        return default
    how = "Pass --stat (p99, Average, ...) or name" if field == "MEASUREMENTS" else "Name"
    raise fail(source, r.where, "a statistic: a get-metric-data result names none (it was the query's Stat)",
               f"{how} it in the query's Id or Label (Id p99, Label 'ModelLatency p99')"
               f"{'; or pick one result with --column' if several else ''}. The Average is not assumed: a "
               "p99 series read as the mean would fit a law several times too slow.")


def _series(r: _Result, stat: str, source: str) -> pd.Series:
    """The values of one result indexed by time; a timestamp given twice is refused."""
    index = parse_times(pd.Series(r.times, dtype=object), source, f"{r.where}.Timestamps",
                        lambda j: f"{r.where}.Timestamps[{j}]")
    if (twice := index.duplicated()).any():
        j = int(twice.argmax())
        raise fail(source, f"{r.where}.Timestamps[{j}]", "distinct timestamps (one value per period)",
                    f"{index[j]:%Y-%m-%dT%H:%M:%SZ} appears twice.")
    return pd.Series(r.values, index=index, name=stat, dtype=float)


def read_metric_data(results: list, source: str, field: str, column: str | None, stat: str | None,
                     latency: bool) -> tuple[pd.DataFrame, str | None]:
    """(frame indexed by time, one column per statistic; the metric's name) of the result `column` names
    (Id or Label), else of every result: they must be one metric with distinct, known statistics."""
    chosen = [_result(r, i, source) for i, r in enumerate(results)]
    if column is not None:
        names = [r.label or r.id or r.where for r in chosen]
        chosen = [r for r in chosen if column in (r.id, r.label)][:1]
        if not chosen:
            raise fail(source, "--column", f"the Id or Label of a MetricDataResult ({', '.join(names)})",
                        nearest(column, names))
    metrics = {}
    for r in chosen:
        metrics.setdefault(_metric_name(r.label), r)
    metrics.pop(None, None)
    if len(metrics) > 1:
        (first, _), (other, r) = list(metrics.items())[:2]
        raise fail(source, f"{r.where}.Label", f"results of one metric ({first}), or --column naming one",
                    f"It holds {other}.")
    seen: dict[str, _Result] = {}
    for r in chosen:
        s = _statistic_of(r, stat, latency, len(chosen) > 1, source, field)
        if s in seen:
            raise fail(source, r.where, "one result per statistic, or --column naming one",
                        f"Its statistic, {s}, is also that of {seen[s].where}.")
        seen[s] = r
    frame = pd.concat([_series(r, s, source) for s, r in seen.items()], axis=1) if seen else pd.DataFrame()
    return frame, next(iter(metrics), None)
