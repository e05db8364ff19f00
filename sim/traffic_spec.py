"""Traffic specs: the workload's `traffic:` block as frozen pydantic models, one per pattern.

Rates are requests/second and durations seconds; durations also accept "90s" / "30m" / "6h" / "7d". A
discriminated union on `pattern` (`TrafficSpec`) keeps YAML and validation in one place. How arrivals are
drawn from a spec is `sim.traffic`; how a trace is read and replayed, `sim.traces`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from sim.popularity import Popularity
from sim.units import DURATION_JSON_SCHEMA, Rate, parse_duration_s

POSITIVE_DURATION_JSON_SCHEMA = {**DURATION_JSON_SCHEMA, "exclusiveMinimum": 0, "not": {
    "type": "string", "pattern": r"^\s*(0+(\.0*)?|\.0+)([eE][+-]?\d+)?\s*[smhdSMHD]?\s*$"}}
"""A duration that must be > 0: a number above 0 (the keyword only constrains numbers) or a non-zero string."""
Duration = Annotated[float, BeforeValidator(parse_duration_s), WithJsonSchema(POSITIVE_DURATION_JSON_SCHEMA),
                     Field(gt=0, allow_inf_nan=False)]
"""A positive duration in seconds, given as a number or a string like "30m"."""
Offset = Annotated[float, BeforeValidator(parse_duration_s), WithJsonSchema(DURATION_JSON_SCHEMA),
                   Field(ge=0, allow_inf_nan=False)]
"""A non-negative time offset in seconds, given as a number or a string like "14h"."""


class _Traffic(BaseModel):
    """Fields shared by every pattern."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    rate_multiplier: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    """Factor on the arrival rate (the sensitivity analysis runs traffic x0.5, x2, x10); 1: as given."""
    popularity: Popularity | None = None
    """Spread of requests over the models when each request names one; unset: uniform."""

    @property
    def mean_rate_rps(self) -> float | None:  # pragma: no cover - overridden
        """Long-run mean arrival rate including `rate_multiplier`; None when only data can say (traces)."""
        raise NotImplementedError


class ConstantTraffic(_Traffic):
    """Deterministic arrivals every 1 / rate seconds, the first at t = 0."""

    pattern: Literal["constant"] = "constant"
    """`constant`: one request every 1 / `rate_rps` seconds."""
    rate_rps: float = Field(gt=0, allow_inf_nan=False, description="Arrival rate, requests/s.")

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate (req/s), including `rate_multiplier`."""
        return self.rate_rps * self.rate_multiplier


class PoissonTraffic(_Traffic):
    """Homogeneous Poisson arrivals (exponential inter-arrival times) at `rate_rps`."""

    pattern: Literal["poisson"] = "poisson"
    """`poisson`: independent arrivals, exponential gaps between them."""
    rate_rps: float = Field(gt=0, allow_inf_nan=False, description="Mean arrival rate, requests/s.")

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate (req/s), including `rate_multiplier`."""
        return self.rate_rps * self.rate_multiplier


class DiurnalTraffic(_Traffic):
    """Non-homogeneous Poisson with a daily-style sinusoidal cycle.

    rate(t) = mid + amp * cos(2 pi (t - peak_at_s) / period_s), with mid = (trough + peak) / 2 and
    amp = (peak - trough) / 2: the rate is `peak_rps` at `peak_at_s` and `trough_rps` half a period later.
    Alternatively give `rate_rps` (the mean) and `peak_to_trough`. When both `trough_rps` and `peak_rps` are
    given they win and `rate_rps` / `peak_to_trough` are ignored; giving only one of them is an error.
    After validation `trough_rps` and `peak_rps` are always set.
    """

    pattern: Literal["diurnal"] = "diurnal"
    """`diurnal`: Poisson arrivals at a rate that follows a cosine cycle of `period_s`."""
    trough_rps: Rate | None = None
    """Lowest rate, half a period after the peak, requests/s; unset: derived from `rate_rps`."""
    peak_rps: Rate | None = None
    """Highest rate, at `peak_at_s`, requests/s; unset: derived from `rate_rps`."""
    rate_rps: Rate | None = None
    """Mean rate, requests/s, split by `peak_to_trough`; ignored when `trough_rps` and `peak_rps` are given."""
    peak_to_trough: float = Field(default=4.0, ge=1, allow_inf_nan=False)
    """Peak rate over trough rate when they are derived from `rate_rps`."""
    peak_at_s: Offset = 14 * 3600.0
    """Time of the peak within each period, seconds from t = 0 (14:00 when t = 0 is midnight)."""
    period_s: Duration = 86400.0
    """Length of one cycle, seconds (one day by default)."""

    @model_validator(mode="before")
    @classmethod
    def _from_mean(cls, data: Any) -> Any:
        # Fill trough/peak from the mean here (frozen models cannot be changed after validation). Values
        # that do not convert cleanly are left alone so the field validators report them by name.
        if not isinstance(data, dict) or any(data.get(k) is not None for k in ("trough_rps", "peak_rps")):
            return data
        try:
            mean = float(data["rate_rps"])
            ratio = float(data.get("peak_to_trough", 4.0))
        except (KeyError, TypeError, ValueError):
            return data
        if not (math.isfinite(mean) and math.isfinite(ratio) and mean >= 0 and ratio >= 1):
            return data
        trough = 2.0 * mean / (1.0 + ratio)
        return {**data, "trough_rps": trough, "peak_rps": ratio * trough}

    @model_validator(mode="after")
    def _check(self) -> DiurnalTraffic:
        if self.trough_rps is None or self.peak_rps is None:
            raise ValueError("give both trough_rps and peak_rps, or rate_rps (the mean) with peak_to_trough")
        if self.peak_rps < self.trough_rps:
            raise ValueError(f"peak_rps ({self.peak_rps}) must be >= trough_rps ({self.trough_rps})")
        if self.peak_rps <= 0:
            raise ValueError("peak_rps must be > 0")
        return self

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate (req/s), including `rate_multiplier`."""
        return (self.trough_rps + self.peak_rps) / 2.0 * self.rate_multiplier

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """Expected arrivals in [0, t] (closed form integral of the intensity), with `rate_multiplier`."""
        mid = (self.trough_rps + self.peak_rps) / 2.0
        amp = (self.peak_rps - self.trough_rps) / 2.0
        omega = 2.0 * math.pi / self.period_s
        wave = np.sin(omega * (t - self.peak_at_s)) + math.sin(omega * self.peak_at_s)
        return (mid * t + amp / omega * wave) * self.rate_multiplier


class BurstyTraffic(_Traffic):
    """Two-state Markov-modulated Poisson process: `rate_rps` in the base state, `burst_rate_rps` in bursts.

    Sojourns are exponential with means `mean_gap_s` (base) and `mean_burst_s` (burst); the process starts
    in its stationary state, so the long-run rate holds from t = 0:
    (rate * gap + burst_rate * burst) / (gap + burst).
    """

    pattern: Literal["bursty"] = "bursty"
    """`bursty`: Poisson arrivals switching between a base rate and bursts (a two-state MMPP)."""
    rate_rps: Rate
    """Arrival rate between bursts, requests/s."""
    burst_rate_rps: Rate
    """Arrival rate during a burst, requests/s."""
    mean_burst_s: Duration
    """Mean length of a burst (exponentially distributed), seconds."""
    mean_gap_s: Duration
    """Mean time between bursts (exponentially distributed), seconds."""

    @model_validator(mode="after")
    def _check(self) -> BurstyTraffic:
        if self.rate_rps <= 0 and self.burst_rate_rps <= 0:
            raise ValueError("at least one of rate_rps and burst_rate_rps must be > 0")
        return self

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate (req/s), including `rate_multiplier`."""
        mix = self.rate_rps * self.mean_gap_s + self.burst_rate_rps * self.mean_burst_s
        return mix / (self.mean_gap_s + self.mean_burst_s) * self.rate_multiplier


class OnOffTraffic(_Traffic):
    """Deterministic cycles of `on_s` on then `off_s` off, starting on; Poisson at `rate_rps` while on."""

    pattern: Literal["on_off"] = "on_off"
    """`on_off`: Poisson arrivals during on periods, none during off periods, starting on."""
    rate_rps: float = Field(gt=0, allow_inf_nan=False, description="Arrival rate while on, requests/s.")
    on_s: Duration
    """Length of every on period, seconds."""
    off_s: Duration
    """Length of every off period, seconds."""

    @property
    def mean_rate_rps(self) -> float:
        """Long-run mean arrival rate (req/s), including `rate_multiplier`."""
        return self.rate_rps * self.on_s / (self.on_s + self.off_s) * self.rate_multiplier


class TraceTraffic(_Traffic):
    """Arrivals replayed from a CSV (see `sim.traces.load_trace` for the accepted layouts).

    `trace` is a path the workload layer resolves (relative to the workload file). `rate_multiplier`
    thins (m < 1) or replicates (m > 1) the recorded arrivals; see `sim.traces.replay_trace`.
    """

    pattern: Literal["trace"] = "trace"
    """`trace`: arrivals replayed from a CSV file."""
    trace: str = Field(min_length=1, description="CSV of timestamps or interval counts, relative to the workload.")
    time_column: str | None = None
    """Column of timestamps (seconds or ISO datetimes) or interval starts; unset: guessed from the names."""
    count_column: str | None = None
    """Column of requests per interval; unset: Invocations, count or Sum if present, else one row per request."""
    interval_s: Duration | None = None
    """Length of each count interval, seconds; unset: the median spacing of the interval starts."""
    model_column: str | None = None
    """Column naming each request's model; unset: models chosen as for any pattern (popularity or routes)."""

    @property
    def mean_rate_rps(self) -> None:
        """None: a trace's rate comes from its data (see `Trace.mean_rate_rps`)."""
        return None


TrafficSpec = Annotated[
    ConstantTraffic | PoissonTraffic | DiurnalTraffic | BurstyTraffic | OnOffTraffic | TraceTraffic,
    Field(discriminator="pattern"),
]
"""Any traffic spec, chosen by its `pattern` field (use as a pydantic field type)."""
