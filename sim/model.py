"""What the simulator needs to know about one model (or one business-logic step)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sim.distributions import ServiceTime


class BatchLatency(BaseModel):
    """Service time of a batch of b requests on a GPU: fixed_ms + per_item_ms x b."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    fixed_ms: float = Field(ge=0)
    """Time of a batch whatever its size, ms."""
    per_item_ms: float = Field(gt=0)
    """Time each request adds to its batch, ms."""


class ModelSpec(BaseModel):
    """One model after `count` expansion: artifact, memory, service time and start-up costs.

    `service_time` is per request on one worker of the chosen instance. A cold start costs
    `container_start_s` + download (`size_mb` / bandwidth, a catalog assumption) + `load_s`.
    `memory_mb` is GPU memory for `accelerator: gpu` models. `batch_latency` is the batch curve used by
    dynamic batching (Triton); without it the catalog's default curve scales `service_time`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    """Model name, unique after `count` expansion; the application, routes and popularity weights refer to it."""
    kind: Literal["model", "logic"] = "model"
    """`model`, or `logic` for a business-logic step (DB lookup, feature fetch) that Triton runs on the CPU."""
    size_mb: float = Field(default=0.0, ge=0)
    """Artifact size downloaded on a cold start or a multi-model cache miss, MB; 0: nothing to download."""
    memory_mb: float = Field(default=0.0, ge=0)
    """Memory one loaded copy holds (GPU memory when `accelerator: gpu`), MB; 0: none counted."""
    accelerator: Literal["cpu", "gpu"] = "cpu"
    """Hardware the model needs: `cpu`, or `gpu` (which serverless and multi-container endpoints lack)."""
    service_time: ServiceTime
    """Time one request takes on one worker of the chosen instance, a distribution chosen by `dist`."""
    container_start_s: float = Field(default=0.0, ge=0)
    """Start of a new container or instance process, seconds: the first part of a cold start."""
    load_s: float = Field(default=0.0, ge=0)
    """Loading into memory after the download, seconds: the last part of a cold start."""
    payload_kb: float = Field(default=0.0, ge=0)
    """Request size, KB: payload limits, serverless data charges, async S3 reads, batch packing (0 packs as 1 KB)."""
    response_kb: float = Field(default=0.0, ge=0)
    """Response size, KB: payload limits, serverless data charges, async S3 writes."""
    batch_latency: BatchLatency | None = None
    """Batch time curve for Triton's dynamic batching; unset: the catalog's default curve scales `service_time`."""
    container: str | None = None
    """Serving container or framework (e.g. xgboost, pytorch); a multi-model endpoint serves every model from
    one. Unset: the same container as the other models that leave it unset."""

    def download_s(self, bandwidth_mb_per_s: float) -> float:
        """Time to fetch the artifact: size_mb / bandwidth_mb_per_s, in seconds."""
        return self.size_mb / bandwidth_mb_per_s if self.size_mb else 0.0

    def cold_start_s(self, bandwidth_mb_per_s: float) -> float:
        """Start of a new container: container_start_s + download_s + load_s, in seconds."""
        return self.container_start_s + self.download_s(bandwidth_mb_per_s) + self.load_s
