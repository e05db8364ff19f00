"""A GPU instance's two shared resources: GPU memory (a hard budget) and GPU compute (processor sharing).

Memory: every model Triton places on an instance stays resident, one copy per execution instance
(instance_group count) on every GPU, and all of them must fit in the GPU memory left after the CUDA
context and the server (`catalog.triton.gpu_memory_overhead_mb`). There is no eviction (that is the
multi-model endpoint's business), so a set that does not fit is infeasible.

Compute: batches running at once on an instance share its GPUs. Triton lets several models and several
instances of one model execute concurrently, and the GPU's hardware scheduler interleaves them; it does
not make a GPU faster. So the GPUs are modelled as `gpus` processors shared equally among the running
batches (each runs at full speed while there are no more batches than GPUs, at gpus / n otherwise). A
batch's work is its batch time alone on one GPU. Concurrency therefore lets a short batch overtake a long
one but never raises the throughput above the GPUs' own; the extra overlap real GPUs find between one
execution's copies and another's kernels is left out, which errs on the side of a slower GPU.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from sim.catalog import Catalog, InstanceType
from sim.model import ModelSpec


def gpu_usable_mb(it: InstanceType, catalog: Catalog) -> float:
    """GPU memory one GPU leaves for models: its memory less the CUDA context and serving runtime held on
    every GPU (catalog `triton.gpu_memory_overhead_mb`), MB; 0 without a GPU."""
    return it.gpu_memory_gib * 1024 - catalog.triton.gpu_memory_overhead_mb.value if it.gpu_count else 0.0


def gpu_budget_mb(it: InstanceType, catalog: Catalog) -> float:
    """GPU memory the instance leaves for models: `gpu_usable_mb` on each of its GPUs, MB."""
    return gpu_usable_mb(it, catalog) * it.gpu_count


def gpu_demand_mb(models: Sequence[ModelSpec], instances_per_model: int, gpu_count: int) -> float:
    """GPU memory the models hold: memory_mb x instances_per_model on each of `gpu_count` GPUs, summed.

    Business-logic steps run on the CPU and hold no GPU memory.
    """
    return sum(m.memory_mb for m in models if m.kind == "model") * instances_per_model * gpu_count


def gpu_memory_reasons(it: InstanceType, models: Sequence[ModelSpec], instances_per_model: int,
                       catalog: Catalog) -> list[str]:
    """Why the models cannot all stay resident on `it` (empty if they can), with the figures."""
    if it.gpu_count == 0:
        return [f"Triton needs a GPU instance type and {it.name} has no GPU"]
    need, budget = gpu_demand_mb(models, instances_per_model, it.gpu_count), gpu_budget_mb(it, catalog)
    if need <= budget:
        return []
    copies = f" x {instances_per_model} instances per model" if instances_per_model > 1 else ""
    return [f"the models need {need:,.0f} MB of GPU memory{copies} and {it.name} leaves {budget:,.0f} MB "
            f"({it.gpu_count} x ({it.gpu_memory_gib:g} GiB GPU memory minus "
            f"{catalog.triton.gpu_memory_overhead_mb.value:,.0f} MB for the CUDA context and Triton))"]


def cheapest_gpu_fitting(models: Sequence[ModelSpec], instances_per_model: int, catalog: Catalog
                         ) -> InstanceType | None:
    """The cheapest GPU instance type whose GPU memory holds every model (None if none does)."""
    fits = catalog.cheapest(lambda it: it.gpu_count > 0
                            and not gpu_memory_reasons(it, models, instances_per_model, catalog))
    return fits[0] if fits else None


class SharedGpu:
    """The GPUs of one instance, shared equally by the batches running on it (processor sharing).

    Work is in seconds of one GPU to itself. A virtual clock `v` advances at the rate each running batch
    gets (1 while batches <= gpus, gpus / batches beyond), so a batch started at virtual time v0 with
    work w ends when the clock reaches v0 + w, whatever starts or ends in between.
    """

    def __init__(self, gpus: int, t0: float) -> None:
        self.gpus, self.t, self.v = gpus, t0, 0.0
        self.busy_s = 0.0                                  # GPU-seconds with a batch running
        self._run: list[tuple[float, int, object]] = []    # (virtual finish, seq, tag)
        self._seq = 0

    def _rate(self) -> float:
        n = len(self._run)
        return 1.0 if n <= self.gpus else self.gpus / n

    def _sync(self, t: float) -> None:
        """Move the clocks to t (no batch may end before t: the caller processes events in order)."""
        if self._run and t > self.t:
            self.v += (t - self.t) * self._rate()
            self.busy_s += (t - self.t) * min(len(self._run), self.gpus)
        self.t = max(self.t, t)

    def start(self, t: float, work_s: float, tag: object) -> None:
        """A batch of `work_s` GPU-seconds starts at t."""
        self._sync(t)
        heapq.heappush(self._run, (self.v + work_s, self._seq, tag))
        self._seq += 1

    def next_finish(self) -> float:
        """When the first running batch ends if nothing else starts (inf when idle)."""
        if not self._run:
            return math.inf
        return self.t + max(0.0, self._run[0][0] - self.v) / self._rate()

    def finish(self) -> tuple[float, object]:
        """End the first running batch: returns (its end time, its tag)."""
        t = self.next_finish()
        self._sync(t)
        v, _, tag = heapq.heappop(self._run)
        self.v = max(self.v, v)  # snap the clock onto the finish, so rounding never lets a batch end early
        return t, tag
