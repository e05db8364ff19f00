"""Tandem queues: a request runs through S steps in order on one instance, each step its own FIFO workers.

The data plane of inference pipelines: every instance holds one container per step, each with
`workers` workers. A request routed to an instance (least outstanding requests) starts step k at
max(its finish at step k - 1 + hop, the earliest free worker of step k), so throughput is bound by the
slowest step and requests queue in front of it.

CPU steps share the instance's vCPUs (SageMaker runs a pipeline's containers on one instance, side by
side). While the CPU workers of an instance are no more than its vCPUs nothing is shared and the recursion
is exact; beyond that a CPU job runs at speed min(1, vcpus / (b + 1)) for its whole service, b being the
CPU jobs already assigned on its instance that overlap its interval at full speed (an assigned job is not
slowed again by a later one: each overlap is charged once, to the later job). A lone request runs at full
speed, and at saturation with equal steps this is the processor-sharing throughput vcpus / (sum of the CPU
steps' service); in between it is an approximation.

Each step serves requests in order of their arrival at that step (FIFO per step): a request that
overtakes another at one step (several workers, variable service) reaches the next step first and is
served first there, as in the queueing network (tests/test_pipeline.py holds two M/M/2 steps to Burke's
theorem). Requests reach later steps through a heap of (time, request, step, instance), processed in time
order with the arrivals (compiled: `sim.components.tandem_kernel`). The loop that shares vCPUs (and the
burstable one) still takes requests in arrival order at every step, which errs on the slow side with
several workers and variable service.
"""

from __future__ import annotations

import math

import numpy as np

from sim.components import tandem_kernel as kern
from sim.components.credits import CreditBook
from sim.components.fleet import Fleet, mark_lost
from sim.components.pool import _count_out
from sim.jit import warm_up
from sim.results import RequestLog

JOB_BUFFER = 64
"""Values the buffer of each sorted multiset of CPU jobs holds before it is merged (at least the steps a
request has: one merge per request at most)."""


class TandemPool(Fleet):
    """Requests `idx` of `log` (None: all of them) through the steps whose service times (s) are the columns
    of `service_s`.

    `hop_s` is the delay between consecutive steps (none before the first). The log gets when each
    request's last step finished (the caller's timeout is applied after the run, `sim.components.timeout`).
    Per-step queue waits are summed in `wait_s` (and their maxima in `max_wait_s`) to show where requests
    queue. `vcpus` and `cpu_steps` (which steps run on CPU) make the CPU steps share the instance's vCPUs;
    unset, every worker has a CPU of its own. The loops are compiled (`sim.components.tandem_kernel`); the
    interpreted pools they replaced are tests/reference_tandem.py.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 hop_s: float = 0.0, vcpus: int | None = None, cpu_steps: tuple[bool, ...] = ()) -> None:
        super().__init__()
        service_s = np.asarray(service_s, float)
        service_s = service_s[:, None] if service_s.ndim == 1 else service_s
        self.log, self.workers, self.hop_s = log, workers, hop_s
        self.steps = service_s.shape[1]
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)  # empty: every position
        self._arr = np.ascontiguousarray(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)
        self._cols = np.ascontiguousarray(service_s, np.float64)
        self._n = np.zeros(3, np.int64)
        self._free = np.zeros((0, self.steps, workers))  # per instance, per step: heap of worker free times
        self._outs = np.zeros(0, np.int64)
        self._done = [np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)]  # (finish, instance, position)
        self._ev = [np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)]  # (reaches, r x steps + step, iid)
        self._wait, self._top = np.zeros(self.steps), np.zeros(self.steps)
        cpu = [j for j, c in enumerate(cpu_steps) if c]
        # contention only once the CPU workers outnumber the vCPUs: below that the plain recursion is exact
        self._shared = (vcpus, cpu) if vcpus is not None and workers * len(cpu) > vcpus else None
        # per instance, CPU job starts and finishes: sorted rows and their buffers (`tandem_kernel.serve_shared`)
        self._rows, self._bufs = np.zeros((2, 0, 4 * JOB_BUFFER)), np.zeros((2, 0, JOB_BUFFER))
        self._cnt = np.zeros((2, 0, 3), np.int64)

    wait_s = property(lambda self: self._wait.tolist(), doc="Per step: queue waits summed (s).")
    max_wait_s = property(lambda self: self._top.tolist(), doc="Per step: the longest queue wait (s).")

    @property
    def _next(self) -> int:
        """The first arrival not yet routed (`Fleet.idle`)."""
        return int(self._n[kern.K])

    def _on_join(self, iid: int, t: float) -> None:
        self._free = np.concatenate([self._free, np.full((1, self.steps, self.workers), t)])
        self._outs = np.r_[self._outs, 0]
        self._rows, self._bufs, self._cnt = (np.concatenate([a, np.zeros((2, 1, a.shape[2]), a.dtype)], axis=1)
                                             for a in (self._rows, self._bufs, self._cnt))

    def _outstanding(self, t: float) -> list[int]:
        df, di, dj = self._done
        self._n[kern.ND] = _count_out(df, di, dj, int(self._n[kern.ND]), t, self._outs)
        return [int(self._outs[i]) for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests whose last step ends after t, at whichever step they are (those still on their
        way to a later step are in the step heap)."""
        nd, ne = int(self._n[kern.ND]), int(self._n[kern.NE])
        df, di, dj = (a[:nd] for a in self._done)
        ef, ec, ei = (a[:ne] for a in self._ev)
        on_way = ec[ei == iid] // self.steps
        lost = np.r_[dj[(di == iid) & (df > t)], on_way if self._idx.size == 0 else self._idx[on_way]]
        for heap, (f, a, b), keep, counter in ((self._done, (df, di, dj), di != iid, kern.ND),
                                               (self._ev, (ef, ec, ei), ei != iid, kern.NE)):
            order = np.lexsort((b[keep], a[keep], f[keep]))  # sorted keys are a heap
            size = int(order.size)
            for arr, col in zip(heap, (f, a, b), strict=True):
                arr[:size] = col[keep][order]
            self._n[counter] = size
        self._outs[iid] = 0
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Serve every arrival before `until` at its first step, and every later step a request reaches before
        `until`, in order of arrival at that step (later steps wait in the step heap across calls;
        `advance(inf)` ends the run with none left)."""
        if self._shared is not None:
            if self.routable:
                n = len(self.joined_s)
                self._advance_shared(until, np.ones(n), np.zeros(n))
            return
        busy, routable = np.array(self.busy_until), np.array(self.routable, np.int64)
        while (grow := kern.serve_fifo(self._arr, self._cols, self._idx, self._n, until, routable, self._free,
                                       self._outs, busy, *self._done, *self._ev, self._wait, self._top, self.hop_s,
                                       self.log.start_s, self.log.finish_s)) != kern.DONE:
            name = "_done" if grow == kern.GROW_DONE else "_ev"
            setattr(self, name, [np.concatenate([a, np.zeros_like(a)]) for a in getattr(self, name)])
        self.busy_until[:] = busy.tolist()

    def _advance_shared(self, until: float, slow: np.ndarray, routed: np.ndarray) -> None:
        """`advance` when CPU steps contend for the vCPUs: each CPU step's service is stretched by the share
        of vCPUs it gets at its start (see the module docstring); on a burstable type also by the factor of
        its instance's credits (`slow`), the work scheduled being added to `routed` (with no vCPUs shared,
        `BurstableTandemPool` runs this loop for the factor alone).

        The CPU jobs assigned on an instance that overlap [t0, t1) are those with start < t1 and finish > t0:
        with sorted rows of starts and finishes, #starts < t1 - #finishes <= t0. Jobs done by the current
        arrival count +1 - 1 for every later instant, so that many of the smallest starts and finishes are
        dropped as the clock passes them, keeping the rows to the work still in the system."""
        vcpus, cpu = self._shared if self._shared is not None else (0, [])  # none: only the credit factor
        is_cpu = np.array([j in cpu for j in range(self.steps)])
        busy, routable = np.array(self.busy_until), np.array(self.routable, np.int64)
        while (grow := kern.serve_shared(self._arr, self._cols, self._idx, self._n, until, routable, self._free,
                                         self._outs, busy, *self._done, self._rows, self._bufs, self._cnt, is_cpu,
                                         vcpus, slow, routed, self._wait, self._top, self.hop_s,
                                         self.log.start_s, self.log.finish_s)) != kern.DONE:
            if grow == kern.GROW_DONE:
                self._done = [np.concatenate([a, np.zeros_like(a)]) for a in self._done]
            else:
                self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)], axis=2)
        self.busy_until[:] = busy.tolist()


class BurstableTandemPool(TandemPool):
    """`TandemPool` on a burstable (T) type: every step's service time is multiplied by the factor the instance's
    `CreditBook` sets each tick (`sim.components.credits`); fixed-performance types keep the loop above.

    A worker free after a tick is busy until then without a gap at the first step only; at a later step a
    request may still be on its way (previous step, hop) at the tick, so the busy time of a tick can slip
    into the next one by up to a request's earlier steps: well under the tick's minute.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 credits: CreditBook, hop_s: float = 0.0, vcpus: int | None = None,
                 cpu_steps: tuple[bool, ...] = ()) -> None:
        super().__init__(log, idx, service_s, workers, hop_s, vcpus, cpu_steps)
        self.credits = credits

    def _on_join(self, iid: int, t: float) -> None:
        self.credits.join(t)
        super()._on_join(iid, t)

    def credit_tick(self, t: float) -> None:
        """Settle the credits up to t (every arrival before t is routed): see `credit_ticks`."""
        free = self._free
        self.credits.tick(t, lambda iid, t1: sum(f - t1 for heap in free[iid].tolist() for f in heap if f > t1), self)

    def advance(self, until: float) -> None:
        """`TandemPool.advance`, each step's service time scaled by its instance's factor (the loop that also
        shares vCPUs, which it skips when the CPU steps do not outnumber them)."""
        if self.routable:
            book = self.credits
            slow, routed = np.array(book.slow), np.array(book.routed_s)
            self._advance_shared(until, slow, routed)
            book.routed_s[:] = routed.tolist()


@warm_up
def _warm() -> None:
    """The kernels once: both loops on two instances past the heaps' first room, a failure."""
    for vcpus in (None, 1):
        log = RequestLog.empty(np.arange(150) * 0.001, np.zeros(150, np.int32))
        pool = TandemPool(log, None, np.ones((150, 2)), 1, 0.01, vcpus, (True, True))
        for _ in range(2):
            pool.join(0.0)
        pool.advance(0.05)
        pool.fail(0.06)
        pool.advance(math.inf)
