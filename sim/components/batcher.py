"""Dynamic batching on GPU instances (Triton): per-model batchers, shared GPUs, ensembles, routing.

Semantics follow Triton's dynamic batcher (docs: user_guide/batcher.md, "Preferred Batch Sizes" and
"Delayed Batching"; user_guide/model_execution.md for instance groups):
- Requests for a model wait in one FIFO queue per instance. When one of the model's execution slots
  (instance_group count x GPUs) is free, the batcher takes requests in arrival order: max_batch_size of
  them at once if that many wait, else the largest preferred batch size that can be formed, else, once
  the oldest request has waited max_queue_delay, everything queued. A delay of 0 never waits; a
  max_batch_size of 1 is a FIFO queue in front of the slots.
- A batch of n runs fixed + per_item x n seconds on a GPU to itself: the model's `batch_latency` if given;
  else the catalog's default curve applied to the batch's own requests: fixed = fraction x their mean
  service time, per_item = (1 - fraction) x the same mean, so a batch of one takes exactly its request's
  service time (variability kept) and the expected curve is a + b x n with a = fraction x the model's mean.
- Batches running at once share the instance's GPUs (`SharedGpu`, processor sharing, see gpu.py).
- Ensembles run on the instance that took the request: a request finishing one stage enters the next
  stage's batchers at that moment, with no network hop; parallel branches enter together and the next
  stage waits for the slowest. Business-logic steps are fixed CPU delays (their own service time, no
  batching, no GPU, no contention).

Per-request work runs in a plain event loop per instance (no SimPy process per request); `TritonPool`
routes arrivals across instances (least outstanding requests) and offers the control-plane interface of
`InstancePool` (join, retire, request_launch, in_service, pending, billed_intervals), so the autoscaler
drives it unchanged.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from sim.components.batch_plan import Ensemble
from sim.components.batch_single import Host, SingleBatchHosts, single_model
from sim.components.fleet import Fleet, mark_lost
from sim.components.gpu import SharedGpu
from sim.components.seq import floats
from sim.results import RequestLog

_DELAY, _LOGIC = 0, 1  # timer kinds: a batcher's queue delay expires; a business-logic step ends


class TritonHost:
    """One instance: a batcher per model, its GPUs, and the requests in flight on it."""

    def __init__(self, ens: Ensemble, log: RequestLog, t0: float) -> None:
        self.ens, self.log = ens, log
        m = len(ens.plans)
        self.gpu = SharedGpu(ens.gpus, t0)
        self.now = self.busy_until = t0
        self.outstanding = 0
        self.batch_sizes: list[dict[int, int]] = [{} for _ in range(m)]
        self._queue: list[deque[int]] = [deque() for _ in range(m)]
        self._ready: list[deque[float]] = [deque() for _ in range(m)]
        self._free = [p.slots if p is not None else 0 for p in ens.plans]
        self._timer_at = [math.inf] * m
        self._timers: list[tuple[float, int, int, int]] = []  # (time, seq, kind, model or request)
        self._seq = 0
        self._stage: dict[int, int] = {}   # request -> position of its current stage
        self._left: dict[int, int] = {}    # request -> branches of that stage still running
        self._touched: set[int] = set()    # models whose queues grew during the current event
        self._only = ens.paths[0] if ens.path_of is None else None  # every request's path, when there is one

    @property
    def gpu_busy_s(self) -> float:
        """GPU-seconds with a batch running on this instance."""
        return self.gpu.busy_s

    def in_flight(self) -> list[int]:
        """The requests taken and not yet answered (queued, in a batch or between stages)."""
        return list(self._stage)

    def _timer(self, t: float, kind: int, x: int) -> None:
        heapq.heappush(self._timers, (t, self._seq, kind, x))
        self._seq += 1

    def run_until(self, t_lim: float) -> None:
        """Process every batch end and timer at or before `t_lim`, in time order (batch ends first)."""
        gpu, timers = self.gpu, self._timers
        while True:
            tg = gpu.next_finish()
            tt = timers[0][0] if timers else math.inf
            if (tg > t_lim and tt > t_lim) or tg == tt == math.inf:
                break
            if tg <= tt:
                t, (i, js) = gpu.finish()
                self._free[i] += 1
                self._touched.add(i)
                for j in js:
                    self._branch_done(j, t)
            else:
                t, _, kind, x = heapq.heappop(timers)
                if kind == _DELAY:
                    if t == self._timer_at[x]:
                        self._timer_at[x] = math.inf
                    self._touched.add(x)
                else:
                    self._branch_done(x, t)
            self._dispatch_touched(t)
        if t_lim != math.inf and t_lim > self.now:
            self.now = t_lim

    def arrive(self, t: float, j: int) -> None:
        """Request j reaches this instance at t (or when the instance started, if later)."""
        t = max(t, self.now)
        self.outstanding += 1
        path = self._only or self.ens.paths[self.ens.path_of[j]]
        self._stage[j], self._left[j] = 0, len(path[0])
        for i in path[0]:
            self._enter(i, j, t)
        self._dispatch_touched(t)

    def _enter(self, i: int, j: int, t: float) -> None:
        """Request j joins model i's queue at t (a logic step starts at once)."""
        if self.ens.plans[i].logic:
            if self._stage[j] == 0:
                self._mark_start(j, t)
            self._timer(t + self.ens.work[i][j], _LOGIC, j)
            return
        self._queue[i].append(j)
        self._ready[i].append(t)
        self._touched.add(i)

    def _mark_start(self, j: int, t: float) -> None:
        start = self.log.start_s
        if not start[j] <= t:  # NaN (not started yet) or a later branch: keep the earliest start
            start[j] = t

    def _dispatch_touched(self, t: float) -> None:
        while self._touched:
            self._dispatch(self._touched.pop(), t)

    def _dispatch(self, i: int, t: float) -> None:
        """Send batches of model i while it has a free slot and a batch is due (Triton's rules)."""
        plan, q, ready = self.ens.plans[i], self._queue[i], self._ready[i]
        while self._free[i] and q:
            size = plan.ready_size(len(q))
            if not size:
                deadline = ready[0] + plan.delay_s
                if t < deadline:
                    if self._timer_at[i] != deadline:
                        self._timer_at[i] = deadline
                        self._timer(deadline, _DELAY, i)
                    return
                size = len(q)
            js = [q.popleft() for _ in range(size)]
            for _ in range(size):
                ready.popleft()
            self._free[i] -= 1
            hist = self.batch_sizes[i]
            hist[size] = hist.get(size, 0) + 1
            samples = self.ens.work[i]
            self.gpu.start(t, plan.work_s([samples[j] for j in js] if samples is not None else js), (i, js))
            for j in js:
                if self._stage[j] == 0:
                    self._mark_start(j, t)

    def _branch_done(self, j: int, t: float) -> None:
        """One of request j's branches ended at t: move it to its next stage, or finish it."""
        left = self._left[j] - 1
        if left:
            self._left[j] = left
            return
        path = self._only or self.ens.paths[self.ens.path_of[j]]
        k = self._stage[j] + 1
        if k < len(path):
            self._stage[j], self._left[j] = k, len(path[k])
            for i in path[k]:
                self._enter(i, j, t)
            return
        del self._stage[j], self._left[j]
        self.outstanding -= 1
        self.busy_until = max(self.busy_until, t)
        self.log.finish_s[j] = t


class TritonPool(Fleet):
    """Instances running the same ensemble; arrivals go to the one with the fewest requests in flight.

    The log gets when each request's work finished; the caller's timeout is applied to it after the run
    (`sim.components.timeout`).
    """

    def __init__(self, log: RequestLog, ens: Ensemble) -> None:
        super().__init__()
        self.log, self.ens = log, ens
        self._arr = floats(log.arrival_s)
        self._next = 0
        self.hosts: list[TritonHost | Host] = []
        self._routable = self.routable
        i = single_model(ens)
        self.single = SingleBatchHosts(ens, i, log, self._arr) if i is not None else None  # the hosts' arrays

    def _on_join(self, iid: int, t: float) -> None:
        self.hosts.append(self.single.join(t) if self.single is not None else TritonHost(self.ens, self.log, t))

    def _outstanding(self, t: float) -> list[int]:
        for iid in self.routable:
            self.hosts[iid].run_until(t)  # batches ending by t answer their requests first
        return [self.hosts[iid].outstanding for iid in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop what the failed host held; it is never run again (`advance` drains the others only)."""
        return mark_lost(self.log, self.hosts[iid].in_flight(), t)

    def advance(self, until: float) -> None:
        """Route and serve every arrival before `until`; with `until` = inf, drain every instance."""
        if self.single is not None:  # one compiled call routes and serves the stretch
            if self.routable:
                self._next = self.single.serve(self.routable, self._next, until)
        else:
            self._route(until)
        if until == math.inf:
            for iid, host in enumerate(self.hosts):
                if iid not in self.failed_s:
                    host.run_until(math.inf)

    def _route(self, until: float) -> None:
        """Every arrival before `until` to the general host with the fewest requests in flight."""
        arr, hosts, routable, out, k, n = self._arr, self.hosts, self._routable, self.out, self._next, len(self._arr)
        while routable and k < n and arr[k] < until:
            a = arr[k]
            if len(routable) == 1:
                host = hosts[routable[0]]
                host.run_until(a)
            else:
                for iid in routable:  # each host counts its own requests in flight; routing reads them in `out`
                    host = hosts[iid]
                    host.run_until(a)
                    out[iid] = host.outstanding
                host = hosts[self.least_outstanding()]
            host.arrive(a, k)
            k += 1
        self._next = k

    def billed_intervals(self, horizon_s: float) -> list[tuple[float, float]]:
        """Per instance (launched, end), as every fleet bills; each host knows when its last batch ended."""
        self.busy_until = [h.busy_until for h in self.hosts]
        return super().billed_intervals(horizon_s)

    def batch_sizes(self) -> list[dict[int, int]]:
        """Per model: how many batches of each size ran, over all instances."""
        out: list[dict[int, int]] = [{} for _ in self.ens.plans]
        for h in self.hosts:
            for i, hist in enumerate(h.batch_sizes):
                for size, count in hist.items():
                    out[i][size] = out[i].get(size, 0) + count
        return out

    def gpu_busy_s(self) -> float:
        """GPU-seconds with a batch running, over all instances."""
        return sum(h.gpu_busy_s for h in self.hosts)
