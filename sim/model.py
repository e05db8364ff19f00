"""What the simulator needs to know about one model (or one business-logic step)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.distributions import ServiceTime


class BatchLatency(BaseModel):
    """Service time of a batch of b requests on a GPU: fixed_ms + per_item_ms x b."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixed_ms: float = Field(ge=0)
    per_item_ms: float = Field(gt=0)


class ModelSpec(BaseModel):
    """One model after `count` expansion: artifact, memory, service time and start-up costs.

    `service_time` is per request on one worker of the chosen instance. A cold start costs
    `container_start_s` + download (`size_mb` / bandwidth, a catalog assumption) + `load_s`.
    `memory_mb` is GPU memory for `accelerator: gpu` models. `batch_latency` is the batch curve used by
    dynamic batching (Triton); without it the catalog's default curve scales `service_time`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["model", "logic"] = "model"
    size_mb: float = Field(default=0.0, ge=0)
    memory_mb: float = Field(default=0.0, ge=0)
    accelerator: Literal["cpu", "gpu"] = "cpu"
    service_time: ServiceTime
    container_start_s: float = Field(default=0.0, ge=0)
    load_s: float = Field(default=0.0, ge=0)
    payload_kb: float = Field(default=0.0, ge=0)
    response_kb: float = Field(default=0.0, ge=0)
    batch_latency: BatchLatency | None = None

    def download_s(self, bandwidth_mb_per_s: float) -> float:
        """Time to fetch the artifact: size_mb / bandwidth_mb_per_s, in seconds."""
        return self.size_mb / bandwidth_mb_per_s if self.size_mb else 0.0

    def cold_start_s(self, bandwidth_mb_per_s: float) -> float:
        """Start of a new container: container_start_s + download_s + load_s, in seconds."""
        return self.container_start_s + self.download_s(bandwidth_mb_per_s) + self.load_s
