"""What the simulator needs to know about one model (or one business-logic step)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    `service_time` is per request on one worker of the chosen instance. A cold start costs the container
    start (`container_start_s`, or one draw of `container_start` per container or instance started) +
    download (`size_mb` / bandwidth, a catalog assumption) + `load_s`.
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
    container_start: ServiceTime | None = None
    """Container start as a distribution (ms, like `service_time`), for starts that vary: each container or
    instance started draws its own. Set instead of `container_start_s`; `fitness calibrate` fits it."""
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

    @model_validator(mode="after")
    def _one_container_start(self) -> ModelSpec:
        if self.container_start is not None and self.container_start_s > 0:
            raise ValueError("give container_start_s (a constant, seconds) or container_start (a distribution, "
                             "ms), not both")
        return self

    @property
    def container_start_mean_s(self) -> float:
        """Mean container start, seconds: `container_start_s`, or the mean of `container_start`."""
        return self.container_start_s if self.container_start is None else self.container_start.expected_ms / 1000

    def container_starts_s(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` container starts, seconds: draws of `container_start`, or `container_start_s` n times."""
        if self.container_start is None:
            return np.full(n, self.container_start_s)
        return self.container_start.sample_s(rng, n)

    def download_s(self, bandwidth_mb_per_s: float) -> float:
        """Time to fetch the artifact: size_mb / bandwidth_mb_per_s, in seconds."""
        return self.size_mb / bandwidth_mb_per_s if self.size_mb else 0.0

    def cold_start_s(self, bandwidth_mb_per_s: float) -> float:
        """Mean start of a new container: container_start_mean_s + download_s + load_s, in seconds."""
        return self.container_start_mean_s + self.download_s(bandwidth_mb_per_s) + self.load_s

    def cold_starts_s(self, rng: np.random.Generator, n: int, bandwidth_mb_per_s: float) -> np.ndarray:
        """`n` cold starts of new containers: container_starts_s + download_s + load_s, in seconds."""
        return self.container_starts_s(rng, n) + (self.download_s(bandwidth_mb_per_s) + self.load_s)
