"""Cost arithmetic: pure functions, USD, per-second billing. Prices come from the catalog."""

from __future__ import annotations

import numpy as np

HOURS_PER_MONTH = 730.0
"""The month used for projections, in hours (AWS pricing pages use 730)."""

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0
"""The month of GB-month prices (storage), in seconds: 730 h."""

MB_PER_GB = 1024.0
KB_PER_GB = 1024.0 * 1024.0
SECONDS_PER_DAY = 86400.0


def instance_cost_usd(instance_seconds: float, price_per_hour: float) -> float:
    """Instance time cost: instance_seconds * price_per_hour / 3600, in USD (per-second billing)."""
    return instance_seconds * price_per_hour / 3600.0


def storage_cost_usd(instance_seconds: float, volume_gb: float, price_per_gb_month: float) -> float:
    """ML storage attached to instances: instance_seconds * volume_gb * price_per_gb_month / (730 * 3600),
    in USD (a GB-month is one GB kept for a 730-hour month)."""
    return instance_seconds * volume_gb * price_per_gb_month / SECONDS_PER_MONTH


def instance_meters(instance_seconds: float, price_per_hour: float, volume_gb: float,
                    storage_price_per_gb_month: float) -> dict[str, float]:
    """The bill of instance time: {"instances": instance_cost_usd, "storage": storage_cost_usd of the volume
    each instance carries}, USD; "storage" only when the type carries a billed volume."""
    out = {"instances": instance_cost_usd(instance_seconds, price_per_hour)}
    if volume_gb > 0:
        out["storage"] = storage_cost_usd(instance_seconds, volume_gb, storage_price_per_gb_month)
    return out


def object_store_usd(kilobytes_written: float, retention_days: float, puts: int, gets: int,
                     price_per_gb_month: float, put_per_1000: float, get_per_1000: float) -> dict[str, float]:
    """S3 for payloads and results over a run: {"s3_storage": GB written * price_per_gb_month * retention_days
    * 86400 / (730 * 3600) (each object kept `retention_days`), "s3_requests": puts / 1000 * put_per_1000 +
    gets / 1000 * get_per_1000}, USD."""
    gb = kilobytes_written / KB_PER_GB
    return {"s3_storage": gb * price_per_gb_month * retention_days * SECONDS_PER_DAY / SECONDS_PER_MONTH,
            "s3_requests": puts / 1000.0 * put_per_1000 + gets / 1000.0 * get_per_1000}


def gb_second_cost_usd(seconds: float, memory_mb: float, price_per_gb_second: float) -> float:
    """Memory-time cost: seconds * (memory_mb / 1024) * price_per_gb_second, in USD."""
    return seconds * (memory_mb / MB_PER_GB) * price_per_gb_second


def data_cost_usd(kilobytes: float, price_per_gb: float) -> float:
    """Data processed: kilobytes / 1024^2 * price_per_gb, in USD."""
    return kilobytes / KB_PER_GB * price_per_gb


def served_data_usd(status: np.ndarray, kb: np.ndarray, price_per_gb: float, served_code: int = 0) -> float:
    """Data processed in and out of an endpoint: the kilobytes `kb` (payload + response) of every request with
    status `served_code` (SERVED), / 1024^2 * price_per_gb, in USD."""
    return data_cost_usd(float(np.sum(kb[status == served_code])), price_per_gb)


def billed_seconds(durations_s: np.ndarray, granularity_ms: float) -> float:
    """Sum of durations each rounded up to the billing granularity, in seconds."""
    if durations_s.size == 0:
        return 0.0
    g = granularity_ms / 1000.0
    return float(np.sum(np.ceil(np.round(durations_s / g, 9)) * g))


def monthly_usd(total_usd: float, horizon_s: float) -> float:
    """Projection of a horizon's cost to a 730-hour month: total * 730 * 3600 / horizon_s, USD."""
    return total_usd * HOURS_PER_MONTH * 3600.0 / horizon_s if horizon_s > 0 else 0.0


def per_million_usd(total_usd: float, served: int) -> float:
    """Cost per million served inferences: total * 1e6 / served, USD (NaN when nothing was served)."""
    return total_usd * 1e6 / served if served else float("nan")
