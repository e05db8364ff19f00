"""Catalogs: prices, limits and platform behaviour as validated data, every number with its source.

A catalog is a YAML file (built in under `catalogs/`, see `catalogs.available()`). Each numeric entry is
a `Fact`: a value plus where it came from, when, and how much to trust it, so a report can show which
numbers are assumptions. Code never holds prices; it asks a `Catalog`.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import catalogs
from sim.errors import InputError

__all__ = [
    "DEFAULT_CATALOG",
    "AutoscalingFacts",
    "BatchFacts",
    "Catalog",
    "Confidence",
    "Fact",
    "InstanceType",
    "NetworkFacts",
    "RealtimeFacts",
    "ServerlessFacts",
    "load_catalog",
    "parse_catalog",
]

Confidence = Literal["high", "medium", "low", "derived", "assumption"]
"""How far a fact can be trusted: documented (high) ... chosen by us for lack of a source (assumption)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


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


class InstanceType(BaseModel):
    """An instance type: shape (vCPU, memory, GPUs) and on-demand price. `name` is the catalog key."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    vcpu: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    gpu_count: int = Field(ge=0)
    gpu_memory_gib: float = Field(ge=0)
    gpu_model: str | None
    accelerator: Literal["cpu", "gpu", "inferentia"]
    price_per_hour: Fact

    @model_validator(mode="after")
    def _consistent(self) -> InstanceType:
        if self.price_per_hour.value <= 0:
            raise ValueError("price_per_hour must be positive")
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
    def price_per_second(self) -> float:
        """On-demand price per second (SageMaker bills instances per second)."""
        return self.price_per_hour.value / 3600.0

    @property
    def has_gpu(self) -> bool:
        """True for GPU instance types."""
        return self.gpu_count > 0


class RealtimeFacts(BaseModel):
    """Real-time endpoint limits and behaviour."""

    model_config = _FROZEN

    payload_limit_mb: Fact
    timeout_s: Fact
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


class ServerlessFacts(BaseModel):
    """Serverless inference prices, limits and (assumed) container behaviour."""

    model_config = _FROZEN

    price_per_gb_second: Fact
    data_price_per_gb: Fact
    provisioned_price_per_gb_second: Fact
    memory_mb_min: Fact
    memory_mb_max: Fact
    memory_mb_step: Fact
    max_concurrency_min: Fact
    max_concurrency_max: Fact
    account_concurrency: Fact
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

    def compute_price_per_second(self, memory_mb: float) -> float:
        """Compute price of one busy container per second at `memory_mb` (memory in GB x GB-second price)."""
        return memory_mb / 1024 * self.price_per_gb_second.value

    def vcpu_share(self, memory_mb: float) -> float:
        """vCPUs a container gets at `memory_mb` (memory / memory_mb_per_vcpu; an assumption, see catalog)."""
        return memory_mb / self.memory_mb_per_vcpu.value


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


class TritonFacts(BaseModel):
    """Triton on GPU: default batch latency curve and GPU memory overhead."""

    model_config = _FROZEN

    batch_fixed_fraction: Fact
    gpu_memory_overhead_mb: Fact


class ExportFacts(BaseModel):
    """Limits of the AWS APIs and templates `fitness export` writes for (names, descriptions)."""

    model_config = _FROZEN

    sagemaker_name_max_chars: Fact
    cloudformation_description_max_chars: Fact


class Catalog(BaseModel):
    """A whole catalog: instance types and the facts of each hosting option, for one region."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    currency: str = Field(min_length=1)
    retrieved: datetime.date
    instances: dict[str, InstanceType] = Field(min_length=1)
    realtime: RealtimeFacts
    autoscaling: AutoscalingFacts
    serverless: ServerlessFacts
    network: NetworkFacts
    async_inference: AsyncFacts
    object_store: ObjectStoreFacts
    co_hosting: CoHostingFacts
    multi_model: MultiModelFacts
    triton: TritonFacts
    batch: BatchFacts
    export: ExportFacts

    @model_validator(mode="after")
    def _batch_types_known(self) -> Catalog:
        # Batch right-sizing walks this list; a name missing from `instances` would be silently skipped.
        unknown = [n for n in self.batch.instance_types.names if n not in self.instances]
        if unknown:
            raise ValueError(f"batch.instance_types names types not in instances: {', '.join(unknown)}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _name_instances(cls, data: Any) -> Any:
        # The YAML key is the name; copying it in keeps one spelling and lets an InstanceType stand alone.
        if not isinstance(data, dict) or not isinstance(data.get("instances"), dict):
            return data
        named = {}
        for key, spec in data["instances"].items():
            if isinstance(spec, dict):
                if "name" in spec and spec["name"] != key:
                    raise ValueError(f"instance '{key}' has a different name '{spec['name']}'")
                spec = {**spec, "name": key}
            named[key] = spec
        return {**data, "instances": named}

    def instance(self, name: str, field: str = "instance_type") -> InstanceType:
        """The instance type `name`; unknown names raise InputError on `field` with the closest matches."""
        try:
            return self.instances[name]
        except (KeyError, TypeError):
            pass
        close = difflib.get_close_matches(str(name), sorted(self.instances), n=3, cutoff=0.5)
        if close:
            hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        else:
            hint = "valid types include " + ", ".join(f"'{t.name}'" for t in self.cheapest()[:5])
        # No `source`: the bad name comes from a workload, which the CLI names when source is unset.
        raise InputError(field=field, expected=f"an instance type in catalog '{self.name}'", got=name,
                         hint=hint)

    def cheapest(self, predicate: Callable[[InstanceType], bool] | None = None) -> list[InstanceType]:
        """Instance types satisfying `predicate` (all when None), cheapest first; ties broken by name.

        Right-sizing walks this list and takes the first type that meets its needs.
        """
        chosen = [t for t in self.instances.values() if predicate is None or predicate(t)]
        return sorted(chosen, key=lambda t: (t.price_per_hour.value, t.name))

    def facts(self) -> dict[str, Fact]:
        """Every fact by dotted path (e.g. 'serverless.keep_alive_s'), for reports and audits."""
        out: dict[str, Fact] = {}
        for key, inst in self.instances.items():
            out[f"instances.{key}.price_per_hour"] = inst.price_per_hour
        for section in ("realtime", "autoscaling", "serverless", "network", "async_inference", "object_store",
                        "batch", "co_hosting", "multi_model", "triton"):
            group = getattr(self, section)
            for fname in type(group).model_fields:
                value = getattr(group, fname)
                if isinstance(value, Fact):  # name lists carry their own source but are not numbers
                    out[f"{section}.{fname}"] = value
        return out


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<catalog>"


def parse_catalog(data: dict, source: str) -> Catalog:
    """Validate a catalog mapping (parsed YAML); problems raise InputError naming the field and `source`."""
    if not isinstance(data, dict):
        raise InputError(field="<catalog>", expected="a mapping with name, currency, retrieved, instances, "
                         "realtime, autoscaling, serverless and network", got=type(data).__name__,
                         source=source)
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        got = first.get("input")
        # Missing fields and whole-section checks carry a mapping as input; echoing it is noise, not help.
        if first["type"] == "missing" or isinstance(got, dict | list):
            got = None
        more = len(errors) - 1
        hint = f"{more} more problem{'s' if more > 1 else ''} in this catalog" if more else None
        raise InputError(field=_loc(first["loc"]), expected=_expected(first), got=got, source=source,
                         hint=hint) from None


def _expected(error: Any) -> str:
    # Pydantic phrases messages as complaints ("Input should be ..."); InputError wants what is expected.
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "this required field"
    if kind == "extra_forbidden":
        return "no field of this name (not part of the catalog schema)"
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg[:1].lower() + msg[1:]


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(field="<catalog>", expected="valid YAML", source=source,
                         hint=str(exc).replace("\n", " ")) from None


DEFAULT_CATALOG = "aws/us-east-1"
"""The catalog a workload gets when it names none."""


def load_catalog(name: str = DEFAULT_CATALOG) -> Catalog:
    """Load a built-in catalog by name (`catalogs.available()`), or a catalog file by path (*.yaml, *.yml).

    Cached: a catalog is immutable, and every scenario and option asks for it (a file is read once per
    process, so edits to it need a new process or `load_catalog.cache_clear()`).
    """
    # Through a helper so load_catalog() and load_catalog("aws/us-east-1") share one cache entry.
    return _load_cached(name)


@functools.lru_cache(maxsize=32)
def _load_cached(name: str) -> Catalog:
    # Built-in names never end in .yaml, so a file suffix unambiguously means a user's own catalog.
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise InputError(field="catalog", expected="an existing catalog file or a built-in catalog name",
                             got=name, hint="built-in catalogs: " + ", ".join(catalogs.available()))
        return parse_catalog(_read_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    names = catalogs.available()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else "a path to a catalog YAML file also works"
        raise InputError(field="catalog", expected="one of " + ", ".join(names), got=name, hint=hint)
    return parse_catalog(_read_yaml(catalogs.read_catalog_text(name), f"catalogs/{name}.yaml"),
                         f"catalogs/{name}.yaml")


load_catalog.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]
