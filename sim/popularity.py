"""Which model each request names: the workload's `traffic.popularity` and the draw of model indices.

A request that names one model (single or multi-tenant workloads) picks it independently with the
popularity's probabilities; Zipf popularity is the usual model of tenant traffic (DESIGN §4, multi-model
endpoints against Che's approximation).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.errors import InputError, did_you_mean
from sim.units import Rate


class Popularity(BaseModel):
    """How requests spread over the (expanded, ordered) model list: `{zipf: s}` or `{weights: {name: w}}`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

    zipf: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Zipf exponent s: model i (0-based, in workload order) gets weight 1 / (i + 1)^s; 0 is uniform."""
    weights: dict[str, Rate] | None = None
    """Weight per model name, normalised to sum 1; models not named get no requests."""

    @model_validator(mode="after")
    def _one_form(self) -> Popularity:
        if (self.zipf is None) == (self.weights is None):
            raise ValueError("give exactly one of zipf (an exponent >= 0) or weights ({model_name: weight})")
        if self.weights is not None and sum(self.weights.values()) <= 0:
            raise ValueError("weights must include at least one positive weight")
        return self

    def probabilities(self, model_names: list[str]) -> np.ndarray:
        """Probability of each model in `model_names` order (float64, sums to 1).

        Raises InputError when `weights` names a model that is not in `model_names` (suggesting the
        nearest name) or when the named models all have weight 0.
        """
        if not model_names:
            raise InputError("models", "at least one model to spread traffic over", got=[])
        if self.zipf is not None:
            raw = 1.0 / np.arange(1, len(model_names) + 1, dtype=np.float64) ** self.zipf
            return raw / raw.sum()
        weights = self.weights or {}
        for name in weights:
            if name not in model_names:
                raise InputError(f"traffic.popularity.weights.{name}", "the name of a model under `models`",
                                 got=name, hint=did_you_mean(name, model_names))
        raw = np.array([weights.get(name, 0.0) for name in model_names], dtype=np.float64)
        return normalised(raw)


def normalised(weights: np.ndarray) -> np.ndarray:
    """Non-negative weights (at least one above 0) scaled to sum 1; scaled by the largest first, so weights
    near the float maximum do not sum to infinity."""
    scaled = weights / weights.max()
    return scaled / scaled.sum()


def assign_models(probabilities: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw `n` model indices (int32) independently with the given probabilities (normalised here)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"probabilities must be a non-empty 1-D array of non-negative numbers, got {p!r}")
    if p.size == 1:
        return np.zeros(n, dtype=np.int32)
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    # side="right" gives zero-probability models an empty interval, so they are never drawn.
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, p.size - 1).astype(np.int32)
