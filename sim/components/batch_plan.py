"""What a Triton instance runs, as data: each model's batching plan and each request's path through the
ensemble (shared by the general host, `triton_kernel`, and the one-model fast path, `batch_single`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BatchPlan:
    """How one model is served on an instance: slots, batcher knobs and batch curve (seconds).

    `fixed_s`/`per_item_s` set an explicit curve; when `fixed_s` is None the default curve applies to
    the batch's own service times with `fixed_fraction` of their mean as the per-batch part. An explicit
    curve is the mean batch; with `mean_s` (the model's mean service time, 0 for a model without variation)
    a batch takes the curve x its requests' mean sample / `mean_s`, so per-request variation stays. `logic`
    marks a business-logic step (a CPU delay; the other fields are unused).
    """

    slots: int = 1
    max_batch: int = 1
    delay_s: float = 0.0
    preferred: tuple[int, ...] = ()
    fixed_s: float | None = None
    per_item_s: float = 0.0
    fixed_fraction: float = 0.0
    logic: bool = False
    mean_s: float = 0.0

    def work_s(self, samples: list[float]) -> float:
        """GPU-seconds of a batch whose requests have these service samples (s)."""
        n = len(samples)
        if self.fixed_s is not None:
            curve = self.fixed_s + self.per_item_s * n
            return curve * (sum(samples) / n) / self.mean_s if self.mean_s > 0 else curve
        total = sum(samples)
        # = fraction x mean + (1 - fraction) x total, written so that a batch of one is exactly its sample
        return total - self.fixed_fraction * total * (n - 1) / n

    def expected_work_s(self, n: int, mean_s: float) -> float:
        """Expected GPU-seconds of a batch of n when one request takes `mean_s` on average."""
        if self.fixed_s is not None:
            return self.fixed_s + self.per_item_s * n
        return self.fixed_fraction * mean_s + (1 - self.fixed_fraction) * mean_s * n

    def ready_size(self, queued: int) -> int:
        """Batch to send at once with `queued` requests waiting: max, else the largest preferred, else 0."""
        if queued >= self.max_batch:
            return self.max_batch
        return max((p for p in self.preferred if p <= queued), default=0)


@dataclass(frozen=True)
class Ensemble:
    """What every instance runs: per-model plans (None: not hosted) and each request's path.

    `paths[path_of[j]]` is request j's stages in order, each a tuple of model indices run in parallel
    (`path_of` None: every request takes `paths[0]`);
    `work[i][j]` is request j's service sample at model i (None where an explicit curve needs none).
    """

    plans: Sequence[BatchPlan | None]
    paths: Sequence[tuple[tuple[int, ...], ...]]
    path_of: Sequence[int] | None
    work: Sequence[Sequence[float] | None]
    gpus: int
