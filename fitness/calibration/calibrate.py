"""`fitness calibrate`: fit a model's service time (and cold start) from measurements into a new workload.

Measurements are per-request latencies (a CSV, one row per request) or per-minute CloudWatch aggregates
(`fitness.calibration.cloudwatch`); `fitness.calibration.fits` does the fitting and says how well it fits.
What goes where:
- ModelLatency (or a per-request latency column) is the model's `service_time`. SageMaker measures it from
  the front end to the container and back, so it includes time a request waits inside the container:
  calibrate from a period when the endpoint was not saturated.
- A cold start is container start + size_mb / catalog download bandwidth + load_s. What the measured cold
  starts leave after the download and load_s is the container start: a distribution (`container_start`)
  when they vary, else a constant (`container_start_s`); `fitness.calibration.cold` decides. Cold starts
  come from rows flagged cold (a boolean column; delay = cold latency - mean warm latency) or
  from a file of cold-start durations (e.g. SageMaker's serverless ModelSetupTime).
- OverheadLatency is SageMaker's own time around the model. A workload has no field for it: it is reported
  next to the catalog's `co_hosting.endpoint_hop_ms`, the per-call overhead the simulator adds between
  separate endpoints.
The library reads and returns; the CLI writes the text it returns.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fitness.calibration import cloudwatch as cw
from fitness.calibration.cold import ColdData, cold_start_updates
from fitness.calibration.fits import Fit, fit_aggregates, fit_samples
from fitness.calibration.yaml_edit import set_model_fields
from fitness.errors import UserError
from fitness.escape import one_line
from fitness.workload.spec import load_workload, parse_workload
from sim.catalog import load_catalog
from sim.errors import did_you_mean

LATENCY_NAMES = ("latency_ms", "service_time_ms", "duration_ms", "modellatency", "model_latency", "model_latency_ms",
                 "latency_us", "latency_s", "duration_s", "duration_us", "latency", "duration", "service_time",
                 "response_time_ms", "response_time", "elapsed_ms", "elapsed", "ms", "modelsetuptime", "cold_start_ms",
                 "cold_start_s", "setup_ms", "init_duration_ms")
"""Column names taken for latencies without --column, in order of preference (any case)."""

COLD_NAMES = ("cold", "is_cold", "cold_start", "coldstart", "is_cold_start")
"""Column names taken as the cold-start flag without --cold-column (any case)."""

MAX_EMPIRICAL = 10_000
"""Most samples `--family empirical` writes inline into a workload file."""

_TRUE = {"true", "1", "yes", "y", "t", "cold", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "warm", "0.0"}


@dataclass(frozen=True)
class Inputs:
    """What to calibrate from: the CLI's options. `measurements` is one per-request CSV, or one or more
    CloudWatch exports of one metric (merged by timestamp); `unit` is ms, us or s; `where` is COLUMN=VALUE."""

    measurements: tuple[Path, ...]
    column: str | None = None
    unit: str | None = None
    where: str | None = None
    family: str = "auto"
    stat: str | None = None
    cold_column: str | None = None
    cold_starts: Path | None = None
    cold_unit: str | None = None
    overhead: Path | None = None


@dataclass(frozen=True)
class Calibration:
    """The result: fits, the fields written, notes for the terminal, and the new workload's text."""

    model: str
    index: int
    service: Fit
    cold: Fit | None
    overhead: Fit | None
    updates: dict
    notes: tuple[str, ...]
    text: str
    comments_kept: bool
    container_start: Fit | None = None
    """The container start's distribution, when the measured cold starts vary (`fitness.calibration.cold`)."""

    @property
    def fits(self) -> list[Fit]:
        """Every fit made, service time first."""
        return [f for f in (self.service, self.cold, self.container_start, self.overhead) if f is not None]


def _unit_of(column: str) -> str | None:
    """The unit a column name states: a _ms/_us/_s suffix, or a SageMaker metric given in microseconds."""
    low = column.lower()
    for suffix, unit in (("_ms", "ms"), ("_us", "us"), ("_s", "s"), ("(ms)", "ms"), ("(us)", "us"), ("(s)", "s")):
        if low.endswith(suffix):
            return unit
    return "us" if any(m.lower() in low for m in cw.SAGEMAKER_MICROSECONDS) else None


def _no_such_column(source: str, option: str, names: list[str], got: str,
                    expected: str = "a column of the file", column: str | None = None) -> UserError:
    """The option names no column of the file: the columns, and the nearest to `column` (default `got`)."""
    hint = did_you_mean(column if column is not None else got, names, cutoff=0.4)
    return UserError(f"{source}: {option}: expected {expected} ({', '.join(names)}), got {got!r}."
                     + (f" {hint}" if hint else ""))


def _latency_column(frame: pd.DataFrame, column: str | None, source: str, field: str) -> str:
    """--column, else the first conventionally named latency column; errors suggest the nearest name."""
    names = [str(c) for c in frame.columns]
    if column is not None:
        if column in names:
            return column
        raise _no_such_column(source, "--column", names, column)
    folded = {n.lower(): n for n in names}
    found = next((folded[n] for n in LATENCY_NAMES if n in folded), None)
    if found is None:
        score = {n: max(difflib.SequenceMatcher(None, n.lower(), w).ratio() for w in LATENCY_NAMES) for n in names}
        near = [n for n in sorted(names, key=score.get, reverse=True)[:1] if score[n] >= 0.6]
        raise UserError(f"{source}: {field}: expected a column of per-request latencies named one of latency_ms, "
                        f"duration_ms, ModelLatency, latency, duration ... (columns: {', '.join(names)}); pass "
                        "--column NAME" + (f" (did you mean --column {near[0]}?)" if near else "") + ".")
    return found


def _where(frame: pd.DataFrame, where: str | None, source: str) -> pd.DataFrame:
    """Rows whose COLUMN equals VALUE (as text), for files that mix several models or functions."""
    if where is None:
        return frame
    column, sep, value = where.partition("=")
    names = [str(c) for c in frame.columns]
    if not sep or column not in names:
        raise _no_such_column(source, "--where", names, where, "COLUMN=VALUE with a column of the file", column)
    kept = frame[frame[column].astype(str) == value]
    if kept.empty:
        seen = ", ".join(map(str, frame[column].astype(str).unique()[:5]))
        raise UserError(f"{source}: --where: no row has {column}={value}; expected one of its values ({seen}, ...).")
    return kept


def _numbers(column: pd.Series, name: str, source: str) -> tuple[np.ndarray, int]:
    """Finite values >= 0 of a column, and how many empty cells were skipped; text or negatives are errors."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(float)
    empty = column.isna().to_numpy()
    bad = (np.isnan(values) & ~empty) | ~np.isfinite(np.where(empty, 0.0, values)) | (values < 0)
    if bad.any():
        row = int(np.argmax(bad))
        cell = column.iloc[row]
        cell = cell.item() if isinstance(cell, np.generic) else cell
        raise UserError(f"{source}: column '{name}': expected a latency (a number >= 0) in every row, got "
                        f"{cell!r} in data row {row + 1}.")
    return values[~empty], int(empty.sum())


def _cold_flags(frame: pd.DataFrame, column: str | None, source: str) -> pd.Series | None:
    """The cold-start flag column as booleans (true/false, 1/0, yes/no, cold/warm), or None without one."""
    names = [str(c) for c in frame.columns]
    if column is None:
        column = next((n for n in names if n.lower() in COLD_NAMES), None)
        if column is None:
            return None
    elif column not in names:
        raise _no_such_column(source, "--cold-column", names, column)
    text = frame[column].astype(str).str.strip().str.lower()
    unknown = ~text.isin(_TRUE | _FALSE)
    if unknown.any():
        row = int(np.argmax(unknown.to_numpy()))
        raise UserError(f"{source}: column '{column}': expected true/false (or 1/0, yes/no, cold/warm) in every row, "
                        f"got {frame[column].iloc[row]!r} in data row {row + 1}.")
    return text.isin(_TRUE)


def read_requests(frame: pd.DataFrame, inputs: Inputs, source: str,
                  field: str = "MEASUREMENTS") -> tuple[np.ndarray, np.ndarray | None, str]:
    """(warm latencies ms, cold latencies ms or None, a phrase on column, unit and skipped cells)."""
    frame = _where(frame, inputs.where, source)
    column = _latency_column(frame, inputs.column, source, field)
    values, empty = _numbers(frame[column], column, source)
    unit = inputs.unit or _unit_of(column)
    values = values * cw.UNIT_MS[unit or "ms"]
    phrase = f"column '{column}' in {unit or 'ms (assumed: the column name states no unit; pass --unit)'}"
    phrase += f", {empty:,} empty cell(s) skipped" if empty else ""
    flags = _cold_flags(frame, inputs.cold_column, source)
    if values.size == 0:
        raise UserError(f"{source}: column '{column}': expected at least one latency, found none.")
    if flags is None:
        return values, None, phrase
    cold = flags[frame[column].notna()].to_numpy()
    if cold.all():
        raise UserError(f"{source}: every row is flagged cold; expected warm requests to fit the service time.")
    return values[~cold], (values[cold] if cold.any() else None), phrase + f", {int(cold.sum()):,} cold row(s)"


def _measure(paths: tuple[Path, ...], inputs: Inputs, field: str, quantity: str,
             current=None) -> tuple[Fit, np.ndarray | None, np.ndarray | None]:
    """Fit measurements: CloudWatch exports by aggregates, a per-request CSV by likelihood. Returns the fit,
    the rows flagged cold (ms) and the samples fitted (ms); None where there are none (aggregates)."""
    first = paths[0]
    if len(paths) == 1 and first.suffix.lower() != ".json" and inputs.stat is None:
        frame = cw.read_csv(first, field)
        if not cw.looks_like_export(frame):
            return _from_requests(frame, first, inputs, field, quantity)
        exports = [cw.from_csv(frame, str(first), field, inputs.column, inputs.stat)]
    else:
        exports = [cw.read_export(p, field, inputs.column, inputs.stat, latency=True) for p in paths]
    return _from_export(cw.merge(exports, field), inputs, field, quantity, current), None, None


def _from_requests(frame: pd.DataFrame, path: Path, inputs: Inputs, field: str,
                   quantity: str) -> tuple[Fit, np.ndarray | None, np.ndarray]:
    """Fit per-request latencies by maximum likelihood; rows flagged cold are returned apart, then the warm
    ones fitted."""
    warm, cold, phrase = read_requests(frame, inputs, str(path), field)
    if inputs.family == "empirical" and warm.size > MAX_EMPIRICAL:
        raise UserError(f"{path}: --family empirical writes every sample into the workload; expected at most "
                        f"{MAX_EMPIRICAL:,}, got {warm.size:,}. Narrow the rows with --where, or let a family be "
                        "fitted (drop --family).")
    return _noted(fit_samples(warm, inputs.family, quantity), phrase), cold, warm


def _noted(fit: Fit, *notes: str) -> Fit:
    """`fit` with `notes` put first in its goodness-of-fit line."""
    return replace(fit, notes=(*notes, *fit.notes))


_METRICS = {"modellatency": ("MEASUREMENTS", "the model's service time; pass it as MEASUREMENTS"),
            "overheadlatency": ("--overhead", "SageMaker's overhead, not the model's; pass it with --overhead"),
            "modelsetuptime": ("--cold-starts", "the serverless cold-start time; pass it with --cold-starts"),
            "invocations": ("import-trace", "a request count; import it with `fitness import-trace`")}
"""SageMaker metrics by lower-case name: the option that takes them, and what they are."""


def _from_export(export: cw.MetricExport, inputs: Inputs, field: str, quantity: str, current) -> Fit:
    """Fit per-minute aggregates after checking the metric is the one this option expects."""
    label = (export.label or "").lower()
    known = next((v for k, v in _METRICS.items() if k in label), None)
    if known and known[0] != field:
        want = {"MEASUREMENTS": "ModelLatency", "--overhead": "OverheadLatency"}.get(field, "cold-start durations")
        raise UserError(f"{export.source}: {field}: expected {want}; this export holds {export.label}, {known[1]}.")
    if inputs.where is not None:
        raise UserError(f"{export.source}: --where: rows can be chosen in per-request CSVs only; a CloudWatch "
                        "export holds one metric (pick its dimensions when exporting).")
    if inputs.family != "auto":
        raise UserError(f"{export.source}: --family: a family can be chosen for per-request measurements only; "
                        "per-minute aggregates are fitted as the module `fitness.calibration.fits` describes "
                        "(drop --family).")
    frame, why = cw.latency_ms(export, inputs.unit, field)
    if frame.empty:
        raise UserError(f"{export.source}: {field}: expected at least one datapoint with a value, found none.")
    try:
        fit = fit_aggregates(frame, current, quantity)
    except ValueError as e:  # only Minimum, Maximum or SampleCount: nothing says where the bulk of the law lies
        raise UserError(f"{export.source}: {field}: expected Average, Sum with SampleCount, or percentiles (p50, "
                        f"p99); the export has {', '.join(map(str, frame.columns))}. Export them (for "
                        "get-metric-data, one query per Stat, or --stat naming the one exported).") from e
    return _noted(fit, f"{export.shape}, {len(frame):,} period(s), unit {why}")


def _model_index(wl, name: str, source: str) -> int:
    """Index of the model entry called `name`; unknown names suggest the nearest."""
    names = [m.name for m in wl.models]
    if name in names:
        return names.index(name)
    hint = did_you_mean(name, names)
    raise UserError(f"{source}: --model: expected the name of a model entry ({', '.join(names[:8])}"
                    f"{', ...' if len(names) > 8 else ''}), got {name!r}." + (f" {hint}" if hint else ""))


def _cold(inputs: Inputs, cold_rows: np.ndarray | None, warm: Fit) -> tuple[Fit | None, ColdData | None]:
    """The fit of what was measured of cold starts, and the data the container start is fitted to (None, None
    without cold-start data)."""
    if inputs.cold_starts is not None:
        sub = Inputs((inputs.cold_starts,), unit=inputs.cold_unit)
        fit, _, samples = _measure(sub.measurements, sub, "--cold-starts", "cold start")
        mean = fit.fitted["mean"] if fit.observed["mean"] is None else fit.observed["mean"]
        return fit, ColdData(mean, samples, law=fit if samples is None else None)
    if cold_rows is None:
        return None, None
    fit = fit_samples(cold_rows, quantity="cold requests' latency")
    delays = cold_rows - warm.observed["mean"]
    return fit, ColdData(float(delays.mean()), delays, service=warm)


def calibrate(workload: Path, model: str, inputs: Inputs, out: Path) -> Calibration:
    """Fit the measurements and return the calibrated workload's text, validated as if written at `out`."""
    wl = load_workload(workload)
    index = _model_index(wl, model, str(workload))
    entry = wl.models[index]
    service, cold_rows, _ = _measure(inputs.measurements, inputs, "MEASUREMENTS", "service time", entry.service_time)
    updates: dict = {"service_time": service.dist.model_dump(mode="json")}
    notes = []
    cold, data = _cold(inputs, cold_rows, service)
    catalog = load_catalog(wl.catalog)
    start = None
    if data is not None and data.mean_ms > 0:
        fields, how, start = cold_start_updates(entry, data, catalog.network.model_download_mb_per_s.value)
        updates.update(fields)
        notes += how
    elif cold is not None:
        notes.append("cold start not written: cold requests were not slower than warm ones on average")
    overhead = _overhead(inputs, catalog, notes)
    text, kept = _new_text(workload, index, updates, [service, cold, start], notes, inputs)
    parse_workload(yaml.safe_load(text), str(out))  # the new file must validate where it will be written
    return Calibration(entry.name, index, service, cold, overhead, updates, tuple(notes), text, kept, start)


def _overhead(inputs: Inputs, catalog, notes: list[str]) -> Fit | None:
    """Fit --overhead and add a note comparing it with the catalog's per-call overhead (nothing is written)."""
    if inputs.overhead is None:
        return None
    sub = Inputs((inputs.overhead,))
    overhead, _, _ = _measure(sub.measurements, sub, "--overhead", "overhead (OverheadLatency)")
    hop = catalog.co_hosting.endpoint_hop_ms
    notes.append(f"overhead not written (a workload has no field for it): measured mean {overhead.fitted['mean']:,.4g}"
                 f" ms vs the catalog's co_hosting.endpoint_hop_ms {hop.value:g} ms ({hop.source}), which the "
                 "simulator adds per call between separate endpoints")
    return overhead


def _new_text(workload: Path, index: int, updates: dict, fits: list, notes: list[str],
              inputs: Inputs) -> tuple[str, bool]:
    """The input's text with the updates made in place (comments kept), else re-written by PyYAML."""
    original = workload.read_text(encoding="utf-8")
    edited = set_model_fields(original, index, updates)
    sources = " + ".join(p.name for p in inputs.measurements)
    header = [f"# Calibrated by `fitness calibrate` from {sources}: models[{index}] {', '.join(updates)}; "
              f"everything else as in {workload.name}."]
    header += [f"# {f.line()}" for f in fits if f is not None] + [f"# {n}" for n in notes]
    header = [one_line(h) for h in header]  # a file name holding a line break must not become a YAML key
    if edited is not None:
        return "\n".join(header) + "\n" + edited, True
    data = yaml.safe_load(original)
    data["models"][index].update(updates)
    header.append(one_line(f"# PyYAML re-wrote this file from the data: the comments of {workload.name} are not "
                           "in it."))
    return "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), False
