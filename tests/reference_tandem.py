"""The interpreted tandem pools as they ran before the compiled kernels (sim/components/tandem.py, commit
faf4cf5): the reference tests/test_kernels.py holds them to, request for request.

Tandem queues: a request runs through S steps in order on one instance, each step its own FIFO workers.

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
order with the arrivals. The loop that shares vCPUs (and the burstable one) still takes requests in
arrival order at every step, which errs on the slow side with several workers and variable service.
"""

from __future__ import annotations

import bisect
import heapq
import math

import numpy as np

from sim.components.credits import CreditBook
from sim.components.fleet import Fleet, mark_lost
from sim.components.seq import floats, floats_at, positions
from sim.results import RequestLog


class TandemPool(Fleet):
    """Requests `idx` of `log` (None: all of them) through the steps whose service times (s) are the columns
    of `service_s`.

    `hop_s` is the delay between consecutive steps (none before the first). The log gets when each
    request's last step finished (the caller's timeout is applied after the run, `sim.components.timeout`).
    Per-step queue waits are summed in `wait_s` (and their maxima in `max_wait_s`) to show where requests
    queue. `vcpus` and `cpu_steps` (which steps run on CPU) make the CPU steps share the instance's vCPUs;
    unset, every worker has a CPU of its own.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 hop_s: float = 0.0, vcpus: int | None = None, cpu_steps: tuple[bool, ...] = ()) -> None:
        super().__init__()
        service_s = np.asarray(service_s, float)
        service_s = service_s[:, None] if service_s.ndim == 1 else service_s
        self.log, self.workers, self.hop_s = log, workers, hop_s
        self.steps = service_s.shape[1]
        self._idx, self._arr = positions(idx, log.n), floats_at(log.arrival_s, idx)
        self._cols = [floats(service_s[:, j]) for j in range(self.steps)]
        self._next = 0
        self._free: list[list[list[float]]] = []   # per instance, per step: heap of worker free times
        self._done: list[tuple[float, int, int]] = []   # (finish, instance, log position) of requests in flight
        self._ev: list[tuple[float, int, int, int]] = []  # (reaches step, request, step, instance) still to serve
        self.wait_s = [0.0] * self.steps
        self.max_wait_s = [0.0] * self.steps
        cpu = [j for j, c in enumerate(cpu_steps) if c]
        # contention only once the CPU workers outnumber the vCPUs: below that the plain recursion is exact
        self._shared = (vcpus, cpu) if vcpus is not None and workers * len(cpu) > vcpus else None
        self._jobs: list[tuple[list[float], list[float]]] = []  # per instance: sorted starts, finishes of CPU jobs

    def _on_join(self, iid: int, t: float) -> None:
        self._free.append([[t] * self.workers for _ in range(self.steps)])

    def _outstanding(self, t: float) -> list[int]:
        return self._counted_out(self._done, self.out, t)

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests whose last step ends after t, at whichever step they are (those still on their
        way to a later step are in `_ev`)."""
        done, ev = self._done, self._ev
        lost = [j for f, i, j in done if i == iid and f > t] + [self._idx[r] for _, r, _, i in ev if i == iid]
        done[:] = [e for e in done if e[1] != iid]
        ev[:] = [e for e in ev if e[3] != iid]
        heapq.heapify(done)
        heapq.heapify(ev)
        self.out[iid] = 0
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Serve every arrival before `until` at its first step, and every later step a request reaches before
        `until`, in order of arrival at that step (later steps wait in `_ev` across calls; `advance(inf)`
        ends the run with none left)."""
        if self._shared is not None:
            if self.routable:
                self._advance_shared(until)
            return
        arr, idx, cols, k, n = self._arr, self._idx, self._cols, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, out, free, busy, ev = self._done, self.out, self._free, self.busy_until, self._ev
        wait, top = self.wait_s, self.max_wait_s
        hop, last, inf = self.hop_s, self.steps - 1, math.inf
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        end = n if self.routable else k  # arrivals wait while no instance is in service
        while True:
            a = arr[k] if k < end and arr[k] < until else inf
            if ev and ev[0][0] <= a and ev[0][0] < until:
                ready, r, s, iid = pop(ev)  # request r reaches step s of instance iid
            elif a < inf:
                while done and done[0][0] <= a:
                    out[pop(done)[1]] -= 1
                ready, r, s, iid = a, k, 0, self.least_outstanding()
                out[iid] += 1
                k += 1
            else:
                break
            heap = free[iid][s]
            begin = heap[0] if heap[0] > ready else ready
            waited = begin - ready
            wait[s] += waited
            if waited > top[s]:
                top[s] = waited
            f = begin + cols[s][r]
            replace(heap, f)
            j = idx[r]
            if s == 0:
                start_s[j] = begin
            if s < last:
                push(ev, (f + hop, r, s + 1, iid))  # ties at a step: the earlier arrival first
                continue
            push(done, (f, iid, j))  # the position tells a failed instance its requests (`_lose`)
            if f > busy[iid]:
                busy[iid] = f
            finish_s[j] = f
        self._next = k

    def _advance_shared(self, until: float, slow: list[float] | None = None,
                        routed: list[float] | None = None) -> None:
        """`advance` when CPU steps contend for the vCPUs: each CPU step's service is stretched by the share
        of vCPUs it gets at its start (see the module docstring); on a burstable type also by the factor of
        its instance's credits (`slow`), the work scheduled being added to `routed` (with no vCPUs shared,
        `BurstableTandemPool` runs this loop for the factor alone).

        The CPU jobs assigned on an instance that overlap [t0, t1) are those with start < t1 and finish > t0:
        with sorted lists of starts and finishes, #starts < t1 - #finishes <= t0. Jobs done by the current
        arrival count +1 - 1 for every later instant, so that many of the smallest starts and finishes are
        dropped as the clock passes them, keeping the lists to the work still in the system."""
        vcpus, cpu = self._shared if self._shared is not None else (0, [])  # none: only the credit factor
        is_cpu = [j in cpu for j in range(self.steps)]
        arr, idx, cols, k, n = self._arr, self._idx, self._cols, self._next, len(self._arr)
        start_s, finish_s = self.log.start_s, self.log.finish_s
        done, out, free, busy, jobs = self._done, self.out, self._free, self.busy_until, self._jobs
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        while k < n and arr[k] < until:
            a = arr[k]
            while done and done[0][0] <= a:
                out[pop(done)[1]] -= 1
            iid = self.least_outstanding()
            while len(jobs) <= iid:
                jobs.append(([], []))
            starts, ends = jobs[iid]
            gone = bisect.bisect_right(ends, a)
            del starts[:gone], ends[:gone]
            heaps, ready, f = free[iid], a, a
            sl = slow[iid] if slow is not None else 1.0
            for s in range(self.steps):
                heap = heaps[s]
                begin = heap[0] if heap[0] > ready else ready
                if s == 0:
                    start_s[idx[k]] = begin
                waited = begin - ready
                self.wait_s[s] += waited
                self.max_wait_s[s] = max(self.max_wait_s[s], waited)
                work = cols[s][k] * sl
                if routed is not None:
                    routed[iid] += work
                if is_cpu[s]:
                    overlap = bisect.bisect_left(starts, begin + work) - bisect.bisect_right(ends, begin)
                    work /= min(1.0, vcpus / (overlap + 1))
                f = begin + work
                replace(heap, f)
                if is_cpu[s]:
                    bisect.insort(starts, begin)
                    bisect.insort(ends, f)
                ready = f + self.hop_s
            out[iid] += 1
            push(done, (f, iid, idx[k]))
            busy[iid] = max(busy[iid], f)
            finish_s[idx[k]] = f
            k += 1
        self._next = k


class BurstableTandemPool(TandemPool):
    """The interpreted `sim.components.tandem.BurstableTandemPool` (its docstring says how credits slow the steps)."""

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
        self.credits.tick(t, lambda iid, t1: sum(f - t1 for heap in free[iid] for f in heap if f > t1), self)

    def advance(self, until: float) -> None:
        """`TandemPool.advance`, each step's service time scaled by its instance's factor (the loop that also
        shares vCPUs, which it skips when the CPU steps do not outnumber them)."""
        if self.routable:
            self._advance_shared(until, self.credits.slow, self.credits.routed_s)
