"""Service-time distributions: each knows its analytic mean and variance and samples in seconds.

Parameters are in milliseconds (how users measure latency); samples are returned in seconds (the
simulator's clock). A discriminated union on `dist` keeps YAML and validation in one place.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

_Z99 = NormalDist().inv_cdf(0.99)  # the lognormal is fitted through its 50th and 99th percentiles


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    @property
    def expected_ms(self) -> float:  # pragma: no cover - overridden
        """Analytic mean in ms."""
        raise NotImplementedError

    @property
    def variance_ms2(self) -> float:  # pragma: no cover - overridden
        """Analytic variance in ms^2."""
        raise NotImplementedError

    @property
    def scv(self) -> float:
        """Squared coefficient of variation, variance / mean^2 (dimensionless)."""
        return self.variance_ms2 / self.expected_ms**2 if self.expected_ms > 0 else 0.0

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        """Draw `n` service times in seconds."""
        raise NotImplementedError


class Constant(_Dist):
    """Deterministic service time `value_ms`."""

    dist: Literal["constant"] = "constant"
    """`constant`: every request takes exactly `value_ms`."""
    value_ms: float = Field(ge=0)
    """Service time of every request, ms."""

    @property
    def expected_ms(self) -> float:
        return self.value_ms

    @property
    def variance_ms2(self) -> float:
        return 0.0

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value_ms / 1000.0)


class Exponential(_Dist):
    """Exponential service time with mean `mean_ms` (M/M/c service)."""

    dist: Literal["exponential"] = "exponential"
    """`exponential`: memoryless service times, given by their mean."""
    mean_ms: float = Field(gt=0)
    """Mean service time, ms."""

    @property
    def expected_ms(self) -> float:
        return self.mean_ms

    @property
    def variance_ms2(self) -> float:
        return self.mean_ms**2

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_ms / 1000.0, n)


class Lognormal(_Dist):
    """Lognormal fitted to a median `p50_ms` and a 99th percentile `p99_ms` (p99 > p50)."""

    dist: Literal["lognormal"] = "lognormal"
    """`lognormal`: fitted through a median and a 99th percentile."""
    p50_ms: float = Field(gt=0)
    """Median service time, ms."""
    p99_ms: float = Field(gt=0)
    """99th-percentile service time, ms; must be greater than `p50_ms`."""

    @model_validator(mode="after")
    def _ordered(self) -> Lognormal:
        if self.p99_ms <= self.p50_ms:
            raise ValueError("p99_ms must be greater than p50_ms")
        return self

    @property
    def mu(self) -> float:
        """Log-scale location: ln(p50) with p50 in ms."""
        return math.log(self.p50_ms)

    @property
    def sigma(self) -> float:
        """Log-scale spread: ln(p99 / p50) / z(0.99)."""
        return math.log(self.p99_ms / self.p50_ms) / _Z99

    @property
    def expected_ms(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    @property
    def variance_ms2(self) -> float:
        return (math.exp(self.sigma**2) - 1) * math.exp(2 * self.mu + self.sigma**2)

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, n) / 1000.0


class Gamma(_Dist):
    """Gamma with mean `mean_ms` and coefficient of variation `cv` (shape = 1/cv^2)."""

    dist: Literal["gamma"] = "gamma"
    """`gamma`: given by its mean and coefficient of variation."""
    mean_ms: float = Field(gt=0)
    """Mean service time, ms."""
    cv: float = Field(ge=1e-3, le=100)
    """Coefficient of variation, standard deviation / mean (1 is as variable as exponential, below 1 steadier),
    0.001 to 100: below that the times are constant to the microsecond (use `constant`); above it almost every
    draw is 0 and a rare one enormous, no service time seen in practice (use `empirical` for such tails)."""

    @property
    def expected_ms(self) -> float:
        return self.mean_ms

    @property
    def variance_ms2(self) -> float:
        return (self.cv * self.mean_ms) ** 2

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean_ms / shape / 1000.0, n)


class Empirical(_Dist):
    """Resampled measurements: `samples_ms` inline, or `csv` (a path the workload loader reads).

    After loading, `samples_ms` holds the values whichever way they were given.
    """

    dist: Literal["empirical"] = "empirical"
    """`empirical`: measured service times, resampled with replacement."""
    samples_ms: tuple[float, ...] = ()
    """Measured service times, ms; empty: read from `csv`."""
    csv: str | None = None
    """CSV of latencies in ms (column latency_ms, ms or service_time_ms, else the first numeric), relative to the
    workload file; read only when `samples_ms` is empty."""

    @model_validator(mode="after")
    def _has_samples(self) -> Empirical:
        if not self.samples_ms and self.csv is None:
            raise ValueError("give samples_ms (a list of milliseconds) or csv (a file of them)")
        if any(s < 0 or not math.isfinite(s) for s in self.samples_ms):
            raise ValueError("samples_ms must be finite and >= 0")
        return self

    @property
    def expected_ms(self) -> float:
        return float(np.mean(self.samples_ms))

    @property
    def variance_ms2(self) -> float:
        return float(np.var(self.samples_ms))

    def sample_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.samples_ms, dtype=float), n) / 1000.0


ServiceTime = Annotated[Constant | Exponential | Lognormal | Gamma | Empirical, Field(discriminator="dist")]
"""Any service-time distribution, chosen by its `dist` field."""
