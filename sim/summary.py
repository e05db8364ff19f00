"""The summary of one simulated option, typed: the `simulate --format json` object of DESIGN §3.

Each part is a frozen record with its unit in its name; `Summary.to_json()` gives the contract's JSON
object, key for key and in the contract's order. `sim.metrics.summary` computes it from a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from sim.results import Cache, Job, SimConfig


@dataclass(frozen=True)
class Requests:
    """Offered requests and what became of them; offered = served + throttled + failed."""

    offered: int
    served: int
    throttled: int
    failed: int

    @property
    def error_rate(self) -> float:
        """(throttled + failed) / offered, 0 when nothing was offered."""
        return (self.throttled + self.failed) / self.offered if self.offered else 0.0

    @property
    def goodput(self) -> float:
        """served / offered (0..1), 0 when nothing was offered."""
        return self.served / self.offered if self.offered else 0.0


@dataclass(frozen=True)
class Wait:
    """A distribution of times in ms (mean and percentiles); None when nothing was measured."""

    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True)
class Latency(Wait):
    """End-to-end latency of served requests in ms, with the slowest one."""

    max: float | None = None


@dataclass(frozen=True)
class ColdStarts:
    """Served requests that met a cold start: count, and fraction of the served."""

    count: int
    fraction: float


@dataclass(frozen=True)
class Instances:
    """Instances (containers for serverless) paid for on average, and the most at once."""

    mean: float
    max: float


@dataclass(frozen=True)
class Cost:
    """USD over the horizon, its 730-hour monthly projection, per million served, and the bill's lines."""

    total: float
    monthly: float
    per_million: float
    breakdown: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Backlog:
    """Requests waiting or in process over time (options with a queue): time-average and peak."""

    mean: float
    max: float


@dataclass(frozen=True)
class Summary:
    """One option's result (DESIGN §3): whether it can serve the workload, and if it ran, what it did.

    The measured parts (`requests` .. `utilization`) are None for an option that could not run. `config` is
    the configuration actually simulated, as the flat JSON object of the contract; `utilization` (an
    addition to the contract) is busy worker-seconds / paid worker-seconds; `cache`, `backlog` and `jobs`
    exist only for the options that have them; `latency_by_model_ms` only for the models a caller asked
    about (those with an SLO of their own).
    """

    option: str
    feasible: bool
    reasons: tuple[str, ...]
    config: SimConfig
    requests: Requests | None = None
    latency_ms: Latency | None = None
    queue_wait_ms: Wait | None = None
    cold_starts: ColdStarts | None = None
    instances: Instances | None = None
    cost_usd: Cost | None = None
    utilization: float | None = None
    cache: Cache | None = None
    backlog: Backlog | None = None
    jobs: tuple[Job, ...] | None = None
    latency_by_model_ms: Mapping[str, Latency] | None = None
    p99_interval_ms: tuple[float, float] | None = None
    """95% interval on `latency_ms.p99` from sections of the run (`sim.metrics.p99_interval_ms`)."""

    @property
    def measured(self) -> bool:
        """Whether the option ran (it has numbers), feasible or not."""
        return self.requests is not None

    def to_json(self) -> dict:
        """The DESIGN §3 object: option, feasible, reasons, config, then the measured parts when it ran."""
        out: dict = {"option": self.option, "feasible": self.feasible, "reasons": list(self.reasons),
                     "config": self.config.to_json()}
        if not self.measured:
            return out
        out.update({"requests": asdict(self.requests), "latency_ms": asdict(self.latency_ms),
                    "queue_wait_ms": asdict(self.queue_wait_ms), "cold_starts": asdict(self.cold_starts),
                    "instances": asdict(self.instances), "cost_usd": asdict(self.cost_usd),
                    "utilization": self.utilization})
        for key in ("cache", "backlog"):
            if getattr(self, key) is not None:
                out[key] = asdict(getattr(self, key))
        if self.jobs is not None:
            out["jobs"] = [asdict(j) for j in self.jobs]
        if self.latency_by_model_ms:
            out["latency_by_model_ms"] = {name: asdict(lat) for name, lat in self.latency_by_model_ms.items()}
        if self.p99_interval_ms is not None:
            out["p99_interval_ms"] = list(self.p99_interval_ms)
        return out
