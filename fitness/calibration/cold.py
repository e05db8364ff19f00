"""The cold start `fitness calibrate` writes: a constant container start, or its distribution.

A model's cold start is its container start + size_mb / the catalog's download bandwidth + load_s
(`sim.model.ModelSpec`). Measured cold starts vary; the download and load_s are taken as fixed, so the
spread is the container start's:
- From per-start samples (a CSV of cold-start durations, or rows flagged cold), each sample less the
  download and load_s is one container start. When they vary, a distribution is fitted to them
  (`fitness.calibration.fits.fit_samples`, lowest BIC) and written as `container_start`: each container or
  instance the simulator starts draws its own. Rows flagged cold hold a service time too, so their delay
  is latency - the warm mean, and their spread includes the service time's; they are taken to vary only
  when their variance exceeds the warm requests' by an F-test at 1%, else the constant is written.
- From per-minute aggregates (CloudWatch ModelSetupTime), the fitted law is of the whole cold start: it is
  written as `container_start` when nothing is downloaded or loaded after it, else its mean as a constant.
- A constant: `container_start_s` takes what the download and the workload's `load_s` leave of the mean
  (then `load_s`, then nothing, if they leave less).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from fitness.calibration.fits import Fit, fit_samples, sig
from fitness.workload.spec import ModelEntry
from sim.distributions import Constant

SPREAD_P = 0.01
"""Significance of the F-test that says rows flagged cold vary more than the warm ones."""


@dataclass(frozen=True)
class ColdData:
    """What was measured of a model's cold starts, in ms.

    `mean_ms` is the mean cold-start delay; `samples_ms` one delay per cold start (None from aggregates);
    `law` the fit of aggregates; `service` the warm fit when the samples are rows flagged cold (each then
    holds a service time, whose spread is in theirs).
    """

    mean_ms: float
    samples_ms: np.ndarray | None = None
    law: Fit | None = None
    service: Fit | None = None


def cold_start_fields(entry: ModelEntry, cold_s: float, bandwidth_mb_per_s: float) -> tuple[dict, str]:
    """The constant container_start_s / load_s that make the model's cold start equal `cold_s`, and what was done."""
    download = entry.download_s(bandwidth_mb_per_s)
    rest = cold_s - download
    if rest >= entry.load_s:
        fields: dict = {"container_start_s": sig(rest - entry.load_s)}
    else:
        fields = {"container_start_s": 0.0, "load_s": sig(max(rest, 0.0))}
    how = (f"cold start {cold_s:,.3g} s = container_start_s {fields['container_start_s']:g} + download "
           f"{download:,.3g} s (size_mb {entry.size_mb:g} / catalog {bandwidth_mb_per_s:g} MB/s) + load_s "
           f"{fields.get('load_s', entry.load_s):g}")
    if rest < 0:
        how += "; the download alone is longer than the measured cold start: check size_mb"
    if entry.container_start is not None:
        fields["container_start"] = None  # the constant replaces the workload's distribution
    return fields, how


def _varies(data: ColdData) -> tuple[bool, str]:
    """Whether the samples vary beyond the service time inside them, and why (for the notes)."""
    x = data.samples_ms
    if x is None or x.size < 2 or np.ptp(x) == 0:
        return False, "fewer than two distinct cold starts"
    if data.service is None:
        return True, ""
    service_var = data.service.dist.variance_ms2
    if service_var == 0:
        return True, ""
    f = float(np.var(x, ddof=1)) / service_var
    p = float(stats.f.sf(f, x.size - 1, max(data.service.n - 1, 1)))
    if p >= SPREAD_P:
        return False, (f"the cold rows vary no more than the service time does (F = {f:.3g}, p = {p:.2g}, "
                       f"{x.size:,} cold rows)")
    return True, (f"the cold rows' spread includes the service time's (sd {service_var ** 0.5:,.4g} ms beside "
                  f"{float(np.std(x, ddof=1)):,.4g} ms)")


def cold_start_updates(entry: ModelEntry, data: ColdData, bandwidth_mb_per_s: float) -> tuple[dict, list[str],
                                                                                             Fit | None]:
    """The fields to write for the measured cold starts, the notes saying what was done, and the container
    start's fit (None when a constant is written)."""
    after_ms = (entry.download_s(bandwidth_mb_per_s) + entry.load_s) * 1000
    varies, why = _varies(data)
    if varies:
        x = data.samples_ms - after_ms
        fit = fit_samples(np.maximum(x, 0.0), quantity="container start")
        if not isinstance(fit.dist, Constant):
            notes = [f"container start varies: {fit.describe_dist()}, fitted to {x.size:,} cold starts less the "
                     f"download and load_s ({after_ms / 1000:,.3g} s); each container or instance started draws "
                     "its own"]
            notes += [why] if why else []
            if (short := int(np.sum(x < 0))) > 0:
                notes.append(f"{short:,} cold start(s) shorter than the download and load_s: check size_mb")
            return _distribution(entry, fit), notes, fit
    law = data.law
    if data.samples_ms is None and law is not None and not isinstance(law.dist, Constant):
        if after_ms == 0:
            return _distribution(entry, law), [f"container start varies: {law.describe_dist()} (the aggregates' "
                                               "law); each container or instance started draws its own"], law
        why = ("the aggregates give the law of the whole cold start, download and load_s included: its mean is "
               "written")
    fields, how = cold_start_fields(entry, data.mean_ms / 1000, bandwidth_mb_per_s)
    return fields, [how + (f"; a constant, as {why}" if why else "")], None


def _distribution(entry: ModelEntry, fit: Fit) -> dict:
    """`container_start` set to the fitted law (and `container_start_s` cleared, as the two exclude each other)."""
    fields: dict = {"container_start": fit.dist.model_dump(mode="json")}
    if entry.container_start_s > 0:
        fields["container_start_s"] = 0.0
    return fields
