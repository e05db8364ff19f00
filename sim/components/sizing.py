"""Choosing hardware for a model: instance types that fit, workers per instance, limits."""

from __future__ import annotations

import numpy as np

from sim.catalog import Catalog, InstanceType
from sim.components.gpu import gpu_usable_mb
from sim.model import ModelSpec
from sim.traffic_stats import per_window_counts


def usable_memory_mb(it: InstanceType, catalog: Catalog) -> float:
    """Instance memory left for models: memory_mb - the serving stack's overhead (catalog assumption)."""
    return it.memory_mb - catalog.realtime.memory_overhead_mb.value


def max_workers(it: InstanceType, model: ModelSpec, catalog: Catalog) -> int:
    """Workers that fit, each holding its own model copy: one per vCPU that host memory allows, or, for a GPU
    model (whose `memory_mb` is GPU memory), one per GPU whose memory holds it."""
    if model.accelerator == "gpu":
        return it.gpu_count if model.memory_mb <= gpu_usable_mb(it, catalog) else 0
    if model.memory_mb <= 0:
        return it.vcpu
    return max(0, int(min(it.vcpu, usable_memory_mb(it, catalog) // model.memory_mb)))


def hardware_reasons(it: InstanceType, model: ModelSpec, workers: int | None, catalog: Catalog) -> list[str]:
    """Why `model` cannot run on `it` with `workers` workers (empty if it can)."""
    if model.accelerator == "gpu":
        return _gpu_reasons(it, model, workers, catalog)
    fit = max_workers(it, model, catalog)
    if fit == 0:
        return [f"model {model.name} needs {model.memory_mb:.0f} MB and {it.name} leaves "
                f"{usable_memory_mb(it, catalog):.0f} MB for models"]
    if workers is not None and workers > fit and model.memory_mb > 0:
        return [f"{workers} workers of model {model.name} need {workers * model.memory_mb:.0f} MB and "
                f"{it.name} leaves {usable_memory_mb(it, catalog):.0f} MB for models"]
    return []


def _gpu_reasons(it: InstanceType, model: ModelSpec, workers: int | None, catalog: Catalog) -> list[str]:
    """Why GPU `model` cannot run on `it`: no GPU, a model larger than one GPU's memory, more workers than
    GPUs (each worker holds its copy on a GPU of its own)."""
    if it.gpu_count == 0:
        return [f"model {model.name} needs a GPU and {it.name} has none"]
    usable = gpu_usable_mb(it, catalog)
    if model.memory_mb > usable:
        return [f"model {model.name} needs {model.memory_mb:,.0f} MB of GPU memory and a GPU of {it.name} leaves "
                f"{usable:,.0f} MB ({it.gpu_memory_gib:g} GiB less "
                f"{catalog.triton.gpu_memory_overhead_mb.value:,.0f} MB for the CUDA context and runtime)"]
    if workers is not None and workers > it.gpu_count:
        return [f"{workers} workers of GPU model {model.name} need a GPU each and {it.name} has {it.gpu_count}"]
    return []


def cheapest_fitting(model: ModelSpec, catalog: Catalog) -> InstanceType | None:
    """The cheapest instance type on which at least one worker of `model` fits."""
    fits = [it for it in catalog.instances.values()
            if it.accelerator in ("cpu", "gpu") and not hardware_reasons(it, model, None, catalog)
            and (it.gpu_count > 0) == (model.accelerator == "gpu")]
    return min(fits, key=lambda it: (it.price_per_hour.value, it.name), default=None)


def payload_reasons(models: tuple[ModelSpec, ...], limit_mb: float, what: str) -> list[str]:
    """Payloads or responses over `limit_mb`, as reasons naming the option (`what`)."""
    out = []
    for m in models:
        big = max(m.payload_kb, m.response_kb) / 1024.0
        if big > limit_mb:
            out.append(f"payload {big:g} MB exceeds the {limit_mb:g} MB limit of {what} (model {m.name})")
    return out


def processing_reasons(models: tuple[ModelSpec, ...], limit_s: float, what: str) -> list[str]:
    """Models whose mean processing time exceeds `limit_s`: most of their requests could never finish."""
    out = []
    for m in models:
        mean_s = m.service_time.expected_ms / 1000.0
        if mean_s > limit_s:
            out.append(f"processing of model {m.name} takes {mean_s:,.0f} s on average and exceeds the "
                       f"{limit_s:g} s limit of {what}")
    return out


def peak_rate_rps(arrivals_s: np.ndarray, horizon_s: float, window_s: float = 60.0) -> float:
    """Highest arrival rate over any aligned window of `window_s` seconds, requests/s."""
    if arrivals_s.size == 0:
        return 0.0
    return float(per_window_counts(arrivals_s, horizon_s, window_s).max() / window_s)
