"""Fit service-time distributions to measurements: per-request samples or per-minute CloudWatch aggregates.

Per-request samples are fitted by maximum likelihood to every family the workload can name (constant,
exponential, lognormal, gamma; `sim.distributions`) and the family with the lowest BIC (k ln n - 2 ln L) wins.
BIC rather than AIC because the exponential is a gamma with cv 1: AIC's penalty of 2 per parameter lets the
gamma win about one time in six on exponential data, BIC's ln n almost never once n is in the hundreds.
The goodness of fit is the Kolmogorov-Smirnov distance D between the samples and the fitted law, with its
p-value, and the fitted vs observed p50 and p99. The p-value is optimistic: the parameters were fitted to the
same samples (the Lilliefors effect), so read it as a screen (p < 0.01 says the family is wrong), not a test.

Per-minute aggregates hide the individual requests, so each method says what it could and could not see:
- percentiles (ExtendedStatistics such as p50/p90/p99): a lognormal through them, ln q_p = mu + sigma z_p fitted
  by least squares over every minute and percentile, each minute weighted by its SampleCount;
  one percentile plus Average: the lognormal with that mean and that percentile;
- Average and SampleCount only: the mean is Sum / SampleCount; the variance comes from the spread of the
  minute averages (a one-way analysis of variance: E[sum n_i (a_i - m)^2] = (k - 1) sigma^2 when every minute
  draws from one distribution), written as a gamma with that mean and cv. Drift between minutes inflates it;
- Average alone: the mean only; the workload's current family and shape are kept and rescaled to that mean;
- one percentile alone (a get-metric-data p99 series): likewise, rescaled so that percentile matches; several
  percentiles equal in every minute: a constant.

scipy supplies the gamma likelihood fit, the gamma quantiles and the KS p-value (the regularized incomplete
gamma function and the Kolmogorov distribution are not in numpy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.distributions import Constant, Empirical, Exponential, Gamma, Lognormal, ServiceTime

FAMILIES = ("constant", "exponential", "lognormal", "gamma", "empirical")
"""Families a fit can produce: the `dist` names of the workload's service_time."""

_PARAMS = {"exponential": 1, "lognormal": 2, "gamma": 2}  # free parameters, for BIC
_Z99 = stats.norm.ppf(0.99)


def sig(value: float, digits: int = 6) -> float:
    """`value` rounded to `digits` significant figures, as written into a workload file."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class Fit:
    """A fitted distribution (ms) and how well it matches what was measured.

    `observed` and `fitted` hold mean / p50 / p99 in ms (None where the data cannot tell). `ks` and
    `p_value` exist only for per-request samples. `bic` lists every family tried (lower is better).
    """

    quantity: str
    dist: ServiceTime
    method: str
    n: int
    observed: dict[str, float | None]
    fitted: dict[str, float]
    ks: float | None = None
    p_value: float | None = None
    bic: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def describe_dist(self) -> str:
        """The fitted law as the workload writes it, e.g. `lognormal p50_ms=12.1 p99_ms=40.3`."""
        if isinstance(self.dist, Empirical):
            return f"empirical ({len(self.dist.samples_ms):,} samples)"
        params = self.dist.model_dump(exclude={"dist"})
        return self.dist.dist + " " + " ".join(f"{k}={v:g}" for k, v in params.items())

    def line(self) -> str:
        """The goodness-of-fit line: law, method, KS (or why not), observed vs fitted percentiles."""
        parts = [f"{self.quantity}: {self.describe_dist()} ({self.method}, n={self.n:,})"]
        if self.bic:
            parts.append("BIC " + ", ".join(f"{k} {v:,.1f}" for k, v in sorted(self.bic.items(), key=lambda kv: kv[1])))
        if self.ks is not None:
            parts.append(f"KS D={self.ks:.3f}" + (f" p={self.p_value:.3g}" if self.p_value is not None else ""))
        else:
            parts.append("KS not computed (no per-request data)")
        for key in ("mean", "p50", "p99"):
            seen = self.observed.get(key)
            if seen is not None:
                parts.append(f"{key} observed {seen:,.4g} / fitted {self.fitted[key]:,.4g} ms")
        return "; ".join(parts + list(self.notes))


def summary_ms(dist: ServiceTime) -> dict[str, float]:
    """Mean, p50 and p99 of a service-time distribution, in ms."""
    if isinstance(dist, Empirical):
        x = np.asarray(dist.samples_ms, float)
        return {"mean": float(x.mean()), "p50": float(np.quantile(x, 0.5)), "p99": float(np.quantile(x, 0.99))}
    if isinstance(dist, Constant):
        return {"mean": dist.value_ms, "p50": dist.value_ms, "p99": dist.value_ms}
    law = frozen(dist)
    return {"mean": float(law.mean()), "p50": float(law.ppf(0.5)), "p99": float(law.ppf(0.99))}


def frozen(dist: ServiceTime):
    """The scipy law (in ms) of an exponential, lognormal or gamma service time."""
    if isinstance(dist, Exponential):
        return stats.expon(scale=dist.mean_ms)
    if isinstance(dist, Lognormal):
        return stats.lognorm(s=dist.sigma, scale=math.exp(dist.mu))
    if isinstance(dist, Gamma):
        shape = 1.0 / dist.cv**2
        return stats.gamma(a=shape, scale=dist.mean_ms / shape)
    raise TypeError(f"no scipy law for {type(dist).__name__}")


def _candidate(family: str, x: np.ndarray) -> ServiceTime | None:
    """Maximum-likelihood fit of one family to positive samples, rounded as it will be written."""
    if family == "exponential":
        return Exponential(mean_ms=sig(x.mean()))
    logs = np.log(x)
    if family == "lognormal":
        mu, s = logs.mean(), logs.std()
        p50, p99 = sig(math.exp(mu)), sig(math.exp(mu + _Z99 * s))
        return Lognormal(p50_ms=p50, p99_ms=p99) if p99 > p50 else None
    try:
        shape, _, scale = stats.gamma.fit(x, floc=0)
    except (ValueError, RuntimeError):  # the likelihood equation has no root on nearly equal samples
        return None
    return Gamma(mean_ms=sig(shape * scale), cv=sig(1 / math.sqrt(shape)))


def observed_ms(x: np.ndarray) -> dict[str, float]:
    """Mean, p50 and p99 of samples, in ms."""
    return {"mean": float(x.mean()), "p50": float(np.quantile(x, 0.5)), "p99": float(np.quantile(x, 0.99))}


def fit_samples(samples_ms, family: str = "auto", quantity: str = "service time") -> Fit:
    """Fit per-request samples (ms, finite, >= 0, at least one); `family` "auto" picks the lowest BIC.

    Zeros are left out of the parametric fits (a lognormal or gamma cannot produce 0) and the line says
    how many. A single sample, samples that are all equal (to 1e-5 relative), or a family that cannot be
    fitted to them give a constant at the mean.
    """
    x = np.asarray(samples_ms, float)
    if family == "empirical":
        dist = Empirical(samples_ms=tuple(sig(v) for v in x))
        return Fit(quantity, dist, "the measurements themselves, resampled", x.size, observed_ms(x),
                   summary_ms(dist), ks=0.0, p_value=1.0)
    positive = x[x > 0]
    notes = (f"{x.size - positive.size:,} zero value(s) left out of the fit",) if positive.size < x.size else ()
    spread = positive.size >= 2 and np.ptp(positive) > 1e-5 * positive.max()
    tried = [family] if family != "auto" else list(_PARAMS)
    fits = {f: d for f in tried if (d := _candidate(f, positive)) is not None} if spread else {}
    if family == "constant" or not fits:
        return _constant(x, quantity, notes)
    penalty = math.log(positive.size)
    bic = {f: _PARAMS[f] * penalty - 2 * float(np.sum(frozen(d).logpdf(positive))) for f, d in fits.items()}
    best = min(bic, key=bic.get)
    test = stats.kstest(positive, frozen(fits[best]).cdf)
    method = "maximum likelihood, lowest BIC" if family == "auto" else f"maximum likelihood, {family} asked for"
    return Fit(quantity, fits[best], method, x.size, observed_ms(x), summary_ms(fits[best]), ks=float(test.statistic),
               p_value=float(test.pvalue), bic=bic if family == "auto" else {}, notes=notes)


def _constant(x: np.ndarray, quantity: str, notes: tuple[str, ...]) -> Fit:
    """A constant at the mean: for one value, equal values, or a family that cannot be fitted to them."""
    dist = Constant(value_ms=sig(x.mean()))
    why = "all values equal" if np.ptp(x) == 0 else ("one value" if x.size == 1 else "constant at the mean")
    # KS distance to a step at c: sup |F_n - 1{t >= c}| = max(P_n(X < c), P_n(X > c)); no p-value for a step
    d = max(np.mean(x < dist.value_ms), np.mean(x > dist.value_ms))
    return Fit(quantity, dist, why, x.size, observed_ms(x), summary_ms(dist), ks=float(d), notes=notes)


def percentile_columns(frame: pd.DataFrame) -> dict[str, float]:
    """Percentile statistics present in an aggregate frame: column name -> probability (p99 -> 0.99)."""
    out = {}
    for col in frame.columns:
        name = str(col)
        if name[:1] == "p" and name[1:].replace(".", "", 1).isdigit() and 0 < float(name[1:]) < 100:
            out[name] = float(name[1:]) / 100
    return out


def _weights(frame: pd.DataFrame) -> np.ndarray:
    """Per-minute weights: SampleCount when exported (its mean where a minute lacks it), else 1 per minute."""
    if "SampleCount" in frame and frame["SampleCount"].notna().any():
        counts = frame["SampleCount"]
        return counts.fillna(counts.mean()).to_numpy(float)
    return np.ones(len(frame))


def _wmean(frame: pd.DataFrame, column: str, log: bool = False) -> float | None:
    """Weighted mean of a statistic over the minutes that have it (> 0); of its logarithm with `log`."""
    values, w = frame[column].to_numpy(float), _weights(frame)
    ok = np.isfinite(values) & (values > 0) & (w > 0)
    if not ok.any():
        return None
    x = np.log(values[ok]) if log else values[ok]
    return float(np.sum(w[ok] * x) / np.sum(w[ok]))


def _pooled_mean(frame: pd.DataFrame) -> float | None:
    """Mean over every request: sum of Sum / sum of SampleCount, else the weighted mean of minute averages."""
    if {"Sum", "SampleCount"} <= set(frame.columns):
        both = frame[["Sum", "SampleCount"]].dropna()
        if both["SampleCount"].sum() > 0:
            return float(both["Sum"].sum() / both["SampleCount"].sum())
    return _wmean(frame, "Average") if "Average" in frame else None


def _lognormal_from_percentiles(pct: dict[str, float], logs: dict[str, float], mean: float | None):
    """(mu, sigma, method) of a lognormal through pooled ln percentiles (and the mean with one percentile)."""
    z = {c: stats.norm.ppf(p) for c, p in pct.items()}
    if len(pct) >= 2:
        zs, ls = np.array([z[c] for c in pct]), np.array([logs[c] for c in pct])
        sigma, mu = np.polyfit(zs, ls, 1)  # each percentile already pools its minutes by SampleCount
        return float(mu), float(sigma), f"lognormal through the per-minute {', '.join(pct)}"
    (c,) = pct
    if mean is None:
        return None
    # ln q = mu + z sigma and ln m = mu + sigma^2 / 2  =>  sigma^2 - 2 z sigma + 2 ln(q / m) = 0 (smaller root)
    disc = z[c] ** 2 - 2 * (logs[c] - math.log(mean))
    if disc < 0:
        return None
    sigma = z[c] - math.sqrt(disc)
    return logs[c] - z[c] * sigma, sigma, f"lognormal through the per-minute Average and {c}"


def fit_aggregates(frame: pd.DataFrame, current: ServiceTime | None = None,
                   quantity: str = "service time") -> Fit:
    """Fit per-period aggregates (columns Average / Sum / SampleCount / Minimum / Maximum / pNN, in ms).

    See the module docstring for the method chosen from the columns present; minutes lacking a statistic
    are left out of that statistic only. `current` is the workload's present service time, kept in shape
    when only the mean can be measured.
    """
    frame = frame.dropna(how="all")
    counted = "SampleCount" in frame and frame["SampleCount"].notna().any()
    n = int(frame["SampleCount"].sum()) if counted else len(frame)
    counts = () if counted else ("n counts minutes: no SampleCount exported",)
    mean = _pooled_mean(frame)
    logs = {c: v for c in percentile_columns(frame) if (v := _wmean(frame, c, log=True)) is not None}
    pct = {c: p for c, p in percentile_columns(frame).items() if c in logs}
    observed = {"mean": mean} | {k: _wmean(frame, k) if k in pct else None for k in ("p50", "p99")}
    solved = _lognormal_from_percentiles(pct, logs, mean) if pct else None
    if solved is not None and solved[1] > 0:
        mu, sigma, method = solved
        dist = Lognormal(p50_ms=sig(math.exp(mu)), p99_ms=sig(math.exp(mu + _Z99 * sigma)))
        weighting = "SampleCount-weighted" if counted else "unweighted"
        return Fit(quantity, dist, method, n, observed, summary_ms(dist),
                   notes=(*counts, f"observed percentiles are {weighting} means of the minutes' percentiles"))
    if mean is None:
        return _percentiles_only(pct, logs, current, n, observed, quantity, counts)
    spread = frame[["Average", "SampleCount"]].dropna() if {"Average", "SampleCount"} <= set(frame) else frame.iloc[:0]
    if len(spread) >= 2:
        return _moments_fit(spread, mean, n, observed, quantity)
    dist = rescaled(current, mean)
    return Fit(quantity, dist, "mean only (no SampleCount or percentiles exported)", n, observed,
               summary_ms(dist), notes=(*counts, "shape kept from the workload, rescaled to the measured mean; "
                                        "export SampleCount and p50/p99 to measure the spread"))


def _percentiles_only(pct: dict[str, float], logs: dict[str, float], current: ServiceTime | None, n: int,
                      observed: dict, quantity: str, counts: tuple[str, ...]) -> Fit:
    """Without a mean: the current shape scaled to one percentile, or a constant when the percentiles are equal."""
    if not pct:
        raise ValueError("the export has neither Average, Sum with SampleCount, nor percentiles")
    if len(pct) >= 2:  # the lognormal through them had sigma <= 0: the percentiles do not rise
        dist = Constant(value_ms=sig(math.exp(np.mean(list(logs.values())))))
        return Fit(quantity, dist, f"constant: the per-minute {', '.join(pct)} are equal", n, observed,
                   summary_ms(dist), notes=counts)
    ((c, p),) = pct.items()
    unit = rescaled(current, 1.0)  # every family here is a scale family: scaling the mean scales each quantile
    dist = rescaled(current, math.exp(logs[c]) / quantile_ms(unit, p))
    return Fit(quantity, dist, f"{c} only (no Average, Sum or second percentile exported)", n, observed,
               summary_ms(dist), notes=(*counts, f"shape kept from the workload, rescaled to the measured {c}; "
                                        "export p50 too (or Average and SampleCount) to measure the spread"))


def quantile_ms(dist: ServiceTime, p: float) -> float:
    """The p-quantile of a service-time distribution, in ms."""
    if isinstance(dist, Empirical):
        return float(np.quantile(np.asarray(dist.samples_ms, float), p))
    if isinstance(dist, Constant):
        return dist.value_ms
    return float(frozen(dist).ppf(p))


def _moments_fit(frame: pd.DataFrame, mean: float, n: int, observed: dict, quantity: str) -> Fit:
    """Gamma with the pooled mean and the within-minute variance recovered from the minute averages."""
    w = frame["SampleCount"].to_numpy(float)
    var = float(np.sum(w * (frame["Average"].to_numpy(float) - mean) ** 2) / (len(frame) - 1))
    method = "moments: Sum / SampleCount, variance from the spread of minute averages"
    dist = Constant(value_ms=sig(mean)) if var <= 0 else Gamma(mean_ms=sig(mean), cv=sig(math.sqrt(var) / mean))
    return Fit(quantity, dist, method, n, observed, summary_ms(dist),
               notes=("drift between minutes inflates the spread (a conservative cv)",))


def rescaled(current: ServiceTime | None, mean_ms: float) -> ServiceTime:
    """`current` with its shape kept and its mean set to `mean_ms` (an exponential when there is none)."""
    m = sig(mean_ms)
    if isinstance(current, Constant):
        return Constant(value_ms=m)
    if isinstance(current, Gamma):
        return Gamma(mean_ms=m, cv=current.cv)
    if isinstance(current, Lognormal):
        mu = math.log(mean_ms) - current.sigma**2 / 2
        return Lognormal(p50_ms=sig(math.exp(mu)), p99_ms=sig(math.exp(mu + _Z99 * current.sigma)))
    if isinstance(current, Empirical) and current.expected_ms > 0:
        return Empirical(samples_ms=tuple(sig(v * mean_ms / current.expected_ms) for v in current.samples_ms))
    return Exponential(mean_ms=m)
