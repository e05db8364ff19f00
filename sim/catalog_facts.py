"""The entries of a catalog: a `Fact` (a number with its source, date and confidence), instance types, and
the facts of each hosting option, one model per catalog section (`sim.catalog.Catalog` holds them all)."""

from __future__ import annotations

import datetime
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Confidence = Literal["high", "medium", "low", "derived", "assumption"]
"""How far a fact can be trusted: documented (high) ... chosen by us for lack of a source (assumption)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Fact(BaseModel):
    """One number with its provenance: value, source, retrieval date, confidence and an optional note."""

    model_config = _FROZEN

    value: float
    source: str = Field(min_length=1)
    retrieved: datetime.date
    confidence: Confidence
    note: str = ""

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        # NaN/inf would silently poison every cost sum downstream.
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _explained(self) -> Fact:
        # An assumption without a reason cannot be reviewed, which defeats the point of recording it.
        if self.confidence == "assumption" and not self.note.strip():
            raise ValueError("an assumption needs a note saying why this value was chosen")
        return self

    def __float__(self) -> float:
        """The value, so `float(fact)` works where only the number matters."""
        return self.value

    def __int__(self) -> int:
        """The value truncated to an integer, for counts and limits (concurrency, datapoints)."""
        return int(self.value)


class BurstableFacts(BaseModel):
    """CPU credits of a burstable (T) instance type in standard credit mode, per instance.

    One credit is one vCPU at 100% for one minute. The instance earns `credits_per_hour`, keeps at most
    `max_credits` earned credits, starts with `launch_credits` (spent first, outside the cap) and, with no
    credits left, runs at `baseline_share_per_vcpu` x vCPUs of CPU (`sim.components.credits`).
    """

    model_config = _FROZEN

    baseline_share_per_vcpu: Fact
    credits_per_hour: Fact
    max_credits: Fact
    launch_credits: Fact

    @model_validator(mode="after")
    def _ranges(self) -> BurstableFacts:
        # A zero baseline would make a throttled request take forever, far from the cause.
        if not 0 < self.baseline_share_per_vcpu.value <= 1:
            raise ValueError("baseline_share_per_vcpu must be in (0, 1]")
        if self.credits_per_hour.value <= 0 or self.max_credits.value < 0 or self.launch_credits.value < 0:
            raise ValueError("credits_per_hour must be positive, max_credits and launch_credits >= 0")
        return self


class InstanceType(BaseModel):
    """An instance type: shape (vCPU, memory, GPUs), on-demand price and, for T types, CPU credits
    (`burstable`). `name` is the catalog key.

    `gpu_memory_gib` is the memory of one GPU; the instance has `gpu_count` of them, so its GPU memory is
    `gpu_memory_total_mb`.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1)
    vcpu: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    gpu_count: int = Field(ge=0)
    gpu_memory_gib: float = Field(ge=0)  # per GPU
    gpu_model: str | None
    accelerator: Literal["cpu", "gpu", "inferentia"]
    price_per_hour: Fact
    burstable: BurstableFacts | None = None  # None: fixed performance (every non-T type)
    storage_gb: Fact | None = None
    """The ML storage volume (GB) SageMaker attaches to each hosting instance of this type, billed per
    GB-month; None: the catalog's `realtime.default_volume_gb`."""
    instance_store: bool = False
    """True for types with NVMe instance storage, where SageMaker attaches no EBS volume (none is billed)."""

    @model_validator(mode="after")
    def _consistent(self) -> InstanceType:
        if self.price_per_hour.value <= 0:
            raise ValueError("price_per_hour must be positive")
        b = self.burstable
        # The baseline is defined as the share at which credits earned = credits spent (one per vCPU-minute);
        # a table row copied with a typo in either number would break that identity.
        if b is not None and not math.isclose(b.credits_per_hour.value,
                                              b.baseline_share_per_vcpu.value * self.vcpu * 60, rel_tol=1e-6):
            raise ValueError("burstable credits_per_hour must equal baseline_share_per_vcpu x vcpu x 60")
        # Feasibility checks ("needs a GPU") trust `accelerator`; a mismatch with gpu_count would make
        # them disagree with the memory arithmetic that uses gpu_count.
        if (self.accelerator == "gpu") != (self.gpu_count > 0):
            raise ValueError("accelerator 'gpu' requires gpu_count >= 1, and only GPU types have GPUs")
        return self

    @property
    def memory_mb(self) -> float:
        """Instance memory in MB (memory_gib x 1024), before the serving overhead is taken off."""
        return self.memory_gib * 1024

    @property
    def gpu_memory_total_mb(self) -> float:
        """GPU memory of the whole instance in MB: gpu_memory_gib (per GPU) x 1024 x gpu_count."""
        return self.gpu_memory_gib * 1024 * self.gpu_count

    @property
    def baseline_vcpus(self) -> float:
        """CPU a burstable instance runs at with no credits (baseline_share_per_vcpu x vcpu); vcpu otherwise."""
        b = self.burstable
        return self.vcpu * b.baseline_share_per_vcpu.value if b is not None else float(self.vcpu)

    def volume_gb(self, default_gb: float) -> float:
        """GB of billed ML storage per instance: 0 for an instance-store (NVMe) type, else `storage_gb` or, when
        the catalog gives none for this type, `default_gb`."""
        if self.instance_store:
            return 0.0
        return self.storage_gb.value if self.storage_gb is not None else default_gb

    @property
    def has_gpu(self) -> bool:
        """True for GPU instance types."""
        return self.gpu_count > 0


class RealtimeFacts(BaseModel):
    """Real-time endpoint limits and behaviour."""

    model_config = _FROZEN

    payload_limit_mb: Fact
    timeout_s: Fact
    data_price_per_gb: Fact
    storage_price_per_gb_month: Fact
    default_volume_gb: Fact
    instance_launch_s: Fact
    memory_overhead_mb: Fact


class AutoscalingFacts(BaseModel):
    """Target-tracking autoscaling behaviour (Application Auto Scaling on SageMaker variants)."""

    model_config = _FROZEN

    metric_period_s: Fact
    scale_out_datapoints: Fact
    scale_in_datapoints: Fact
    scale_in_threshold_ratio: Fact
    scale_out_cooldown_s: Fact
    scale_in_cooldown_s: Fact
    high_resolution_period_s: Fact
    high_resolution_scale_out_datapoints: Fact


class ServerlessFacts(BaseModel):
    """Serverless inference prices, limits and (assumed) container behaviour."""

    model_config = _FROZEN

    price_per_gb_second: Fact
    data_price_per_gb: Fact
    provisioned_price_per_gb_second: Fact
    provisioned_inference_price_per_gb_second: Fact
    memory_mb_min: Fact
    memory_mb_max: Fact
    memory_mb_step: Fact
    max_concurrency_min: Fact
    max_concurrency_max: Fact
    account_concurrency: Fact
    endpoints_per_region: Fact
    startup_limit_s: Fact
    payload_limit_mb: Fact
    timeout_s: Fact
    keep_alive_s: Fact
    memory_mb_per_vcpu: Fact
    billing_granularity_ms: Fact
    free_tier_seconds_per_month: Fact

    @model_validator(mode="after")
    def _ranges(self) -> ServerlessFacts:
        lo, hi, step = self.memory_mb_min.value, self.memory_mb_max.value, self.memory_mb_step.value
        if not (0 < lo <= hi and step > 0):
            raise ValueError("memory needs 0 < memory_mb_min <= memory_mb_max and memory_mb_step > 0")
        if not 0 < self.max_concurrency_min.value <= self.max_concurrency_max.value:
            raise ValueError("concurrency needs 0 < max_concurrency_min <= max_concurrency_max")
        return self

    def memory_sizes_mb(self) -> list[int]:
        """Every memory size an endpoint may choose, smallest first (1024, 2048, ... 6144 on AWS)."""
        lo, hi, step = int(self.memory_mb_min), int(self.memory_mb_max), int(self.memory_mb_step)
        return list(range(lo, hi + 1, step))



class NetworkFacts(BaseModel):
    """Data movement rates used for download times."""

    model_config = _FROZEN

    model_download_mb_per_s: Fact

    @model_validator(mode="after")
    def _positive(self) -> NetworkFacts:
        # Download time divides by this; zero would turn into an infinite cold start far from the cause.
        if self.model_download_mb_per_s.value <= 0:
            raise ValueError("model_download_mb_per_s must be positive")
        return self


class AsyncFacts(BaseModel):
    """Limits of asynchronous inference."""

    model_config = _FROZEN

    payload_limit_mb: Fact
    inline_body_limit_bytes: Fact
    timeout_max_s: Fact
    timeout_default_s: Fact


class ObjectStoreFacts(BaseModel):
    """Object store (S3) transfer figures used for payloads read and results written."""

    model_config = _FROZEN

    read_mb_per_s: Fact
    write_mb_per_s: Fact
    request_latency_ms: Fact
    storage_price_per_gb_month: Fact
    put_price_per_1000: Fact
    get_price_per_1000: Fact
    retention_days: Fact


class CommitmentFacts(BaseModel):
    """SageMaker Savings Plans: the discount off on-demand instance usage for a 1- and a 3-year commitment
    (no upfront payment), as fractions; what the plans cover is in each fact's note."""

    model_config = _FROZEN

    savings_plan_1y_discount: Fact
    savings_plan_3y_discount: Fact

    @model_validator(mode="after")
    def _fractions(self) -> CommitmentFacts:
        # A discount of 1 or more would make committed usage free, or pay the user.
        for f in (self.savings_plan_1y_discount, self.savings_plan_3y_discount):
            if not 0 <= f.value < 1:
                raise ValueError("a Savings Plan discount is a fraction in [0, 1)")
        return self

    def discount(self, term: str) -> Fact:
        """The discount fact of `term` ("1y" or "3y")."""
        return {"1y": self.savings_plan_1y_discount, "3y": self.savings_plan_3y_discount}[term]


class NameList(BaseModel):
    """A list of names (e.g. instance types) with the same provenance fields as a `Fact`."""

    model_config = _FROZEN

    names: tuple[str, ...] = Field(min_length=1)
    source: str = Field(min_length=1)
    retrieved: datetime.date
    confidence: Confidence
    note: str = ""


class BatchFacts(BaseModel):
    """Batch transform limits, defaults and (assumed) job start-up time."""

    model_config = _FROZEN

    instance_types: NameList
    instance_count_max: Fact
    max_payload_mb_max: Fact
    max_payload_mb_default: Fact
    invocations_timeout_s_default: Fact
    invocations_timeout_s_max: Fact
    invocations_max_retries: Fact
    job_startup_s: Fact

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> BatchFacts:
        # A default above its own limit would make every defaulted job infeasible, far from the cause.
        if not 0 < self.max_payload_mb_default.value <= self.max_payload_mb_max.value:
            raise ValueError("batch needs 0 < max_payload_mb_default <= max_payload_mb_max")
        if not 0 < self.invocations_timeout_s_default.value <= self.invocations_timeout_s_max.value:
            raise ValueError("batch needs 0 < invocations_timeout_s_default <= invocations_timeout_s_max")
        if self.job_startup_s.value < 0 or self.invocations_max_retries.value < 0:
            raise ValueError("batch job_startup_s and invocations_max_retries must be >= 0")
        return self


class CoHostingFacts(BaseModel):
    """Limits and hop overheads of multi-container endpoints, pipelines and separate endpoints."""

    model_config = _FROZEN

    multi_container_max: Fact
    pipeline_min_containers: Fact
    pipeline_max_containers: Fact
    pipeline_hop_ms: Fact
    endpoint_hop_ms: Fact


class MultiModelFacts(BaseModel):
    """Multi-model endpoint cache figures."""

    model_config = _FROZEN

    disk_gb: Fact
    disk_read_mb_per_s: Fact


class InferenceComponentFacts(BaseModel):
    """Inference components and managed instance scaling: the API's bounds on a copy and the instance scale-in."""

    model_config = _FROZEN

    min_cpu_cores_per_copy: Fact
    min_memory_per_copy_mb: Fact
    scale_in_cooldown_min: Fact
    scale_in_max_step: Fact


class TritonFacts(BaseModel):
    """Triton on GPU: default batch latency curve and GPU memory overhead."""

    model_config = _FROZEN

    batch_fixed_fraction: Fact
    gpu_memory_overhead_mb: Fact


class ExportFacts(BaseModel):
    """Limits of the AWS APIs and templates `fitness export` writes for (names, descriptions, and the
    resources, outputs, parameters and body size of one CloudFormation template, inline or from S3)."""

    model_config = _FROZEN

    sagemaker_name_max_chars: Fact
    cloudformation_description_max_chars: Fact
    cloudformation_max_resources: Fact
    cloudformation_max_outputs: Fact
    cloudformation_max_parameters: Fact
    cloudformation_template_max_bytes: Fact
    cloudformation_inline_template_max_bytes: Fact
