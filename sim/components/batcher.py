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

Per-request work runs in compiled loops over every instance's arrays (no SimPy process per request):
`batch_single` for one model on no more slots than GPUs, `triton_kernel` for any ensemble. `TritonPool`
routes arrivals across instances (least outstanding requests) and offers the control-plane interface of
`InstancePool` (join, retire, request_launch, in_service, pending, billed_intervals), so the autoscaler
drives it unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from sim.components import triton_kernel
from sim.components.batch_plan import BatchPlan, Ensemble
from sim.components.batch_single import Host, SingleBatchHosts, single_model
from sim.components.fleet import Fleet, mark_lost
from sim.components.seq import floats
from sim.jit import warm_up
from sim.results import RequestLog


class TritonHosts:
    """Every instance of one pool running a general ensemble, in arrays for the compiled host
    (`sim.components.triton_kernel`): `join` adds a host, `serve` routes and serves a stretch of arrivals."""

    def __init__(self, ens: Ensemble, log: RequestLog, arrivals) -> None:
        self.ens, self.log, self.gpus, n, m = ens, log, int(ens.gpus), log.n, len(ens.plans)
        plans = [p if p is not None else BatchPlan(slots=0) for p in ens.plans]
        self._arr = np.frombuffer(arrivals, np.float64) if not isinstance(arrivals, np.ndarray) else arrivals
        self._mi = np.array([(p.slots, p.logic, w is not None) for p, w in zip(plans, ens.work, strict=True)],
                            np.int64).reshape(m, 3)
        self._mp = np.array([(p.delay_s, math.nan if p.fixed_s is None else p.fixed_s, p.per_item_s,
                              p.fixed_fraction, p.mean_s) for p in plans]).reshape(m, 5)
        top = max(p.max_batch for p in plans)
        self._due = np.array([[p.ready_size(q) for q in range(top + 1)] for p in plans], np.int64)
        self._work = np.zeros((m, n))
        for i, w in enumerate(ens.work):
            if w is not None:
                self._work[i] = np.asarray(w, np.float64)
        self._paths(ens, n)
        self._rq = np.full((n, 3), -1, np.int64)
        self._nxt, self._qt, self._touched = np.full((m, n), -1, np.int64), np.zeros((m, n)), np.zeros(m, np.int64)
        self.runs = max(1, sum(p.slots for p in plans))  # batches running at once on a host, at most
        self.need = top * m + 2 * m + 1                  # timers one event may push, at most
        self.n_hosts, self._cap = 0, 0
        self._grow(4, 64)

    def _paths(self, ens: Ensemble, n: int) -> None:
        """Each path's stages as (start, count) into one flat array of models."""
        stages = max(len(p) for p in ens.paths)
        self._plen = np.array([len(p) for p in ens.paths], np.int64)
        self._pstart = np.zeros((len(ens.paths), stages), np.int64)
        self._pcount = np.zeros((len(ens.paths), stages), np.int64)
        flat: list[int] = []
        for p, path in enumerate(ens.paths):
            for k, stage in enumerate(path):
                self._pstart[p, k], self._pcount[p, k] = len(flat), len(stage)
                flat.extend(stage)
        self._pm = np.array(flat, np.int64)
        self._path_of = np.zeros(n, np.int64) if ens.path_of is None else np.asarray(ens.path_of, np.int64)

    def _grow(self, rows: int, timers: int) -> None:
        """Room for `rows` hosts and `timers` timers a host, what is there kept."""
        m, top, r = len(self.ens.plans), self._due.shape[1], self.runs
        new = {"fh": np.zeros((rows, 5)), "ih": np.zeros((rows, 5), np.int64), "qi": np.zeros((rows, m, 4), np.int64),
               "qa": np.full((rows, m), math.inf), "hist": np.zeros((rows, m, top), np.int64),
               "rv": np.zeros((rows, r)), "rm": np.zeros((rows, r, 4), np.int64),
               "tt": np.zeros((rows, timers)), "ti": np.zeros((rows, timers, 3), np.int64)}
        for name, arr in new.items():
            old = getattr(self, "_" + name, None)
            if old is not None:
                arr[tuple(slice(0, k) for k in old.shape)] = old
            setattr(self, "_" + name, arr)
        self._cap = timers

    def state(self) -> tuple:
        """The arrays the kernels read and write, in their order."""
        return (self._fh, self._ih, self._qi, self._qa, self._hist, self._rv, self._rm, self._tt, self._ti, self._rq,
                self._nxt, self._qt, self._work, self._mi, self._mp, self._due, self._path_of, self._plen,
                self._pstart, self._pcount, self._touched, self.log.start_s, self._pm, self.log.finish_s)

    def more_timers(self) -> None:
        """Twice the timer heap (a kernel stopped for room)."""
        self._grow(self._fh.shape[0], 2 * self._cap)

    def join(self, t0: float) -> GeneralHost:
        """A host starts serving at t0: empty queues, every slot free, no timers; returns it."""
        h = self.n_hosts
        if h == self._fh.shape[0]:
            self._grow(2 * h, self._cap)
        self._fh[h] = (t0, t0, t0, 0.0, 0.0)
        self._ih[h] = 0
        self._qi[h, :, :3] = (-1, -1, 0)
        self._qi[h, :, triton_kernel.FREE] = self._mi[:, triton_kernel.SLOTS]
        self._qa[h] = math.inf
        self.n_hosts += 1
        return GeneralHost(self, h)

    def serve(self, routable: list[int], k: int, until: float) -> int:
        """Route and serve arrivals k, k+1, ... before `until` across the `routable` hosts (fewest requests in
        flight, ties to the first in `routable`); returns the next k."""
        r = np.asarray(routable, np.int64)
        while True:
            k, done = triton_kernel.serve(r, k, until, self._arr, self.state(), self.gpus, self.need)
            if done:
                return int(k)
            self.more_timers()


class GeneralHost:
    """Row `h` of a `TritonHosts`, with the interface the pool's control plane reads (as `batch_single.Host`)."""

    def __init__(self, hosts: TritonHosts, h: int) -> None:
        self.hosts, self.h = hosts, h

    def run_until(self, t_lim: float) -> None:
        """Process every batch end and timer at or before `t_lim`, in time order (batch ends first)."""
        hs = self.hosts
        while not triton_kernel.run_until(self.h, t_lim, hs.state(), hs.gpus, hs.need):
            hs.more_timers()

    @property
    def outstanding(self) -> int:
        """Requests this host holds (queued, in a batch or between stages)."""
        return int(self.hosts._ih[self.h, triton_kernel.OUT])

    @property
    def busy_until(self) -> float:
        """When this host last answered a request."""
        return float(self.hosts._fh[self.h, triton_kernel.BUSY])

    @property
    def gpu_busy_s(self) -> float:
        """GPU-seconds with a batch running on this host."""
        return float(self.hosts._fh[self.h, triton_kernel.GBUSY])

    @property
    def batch_sizes(self) -> list[dict[int, int]]:
        """Per model: how many batches of each size ran."""
        return [{size: int(c) for size, c in enumerate(row) if c} for row in self.hosts._hist[self.h]]

    def in_flight(self) -> list[int]:
        """The requests taken and not yet answered (queued, in a batch or between stages)."""
        return [int(j) for j in triton_kernel.in_flight(self.h, self.hosts._rq)]


@warm_up
def _warm() -> None:
    """Every kernel once, on a two-stage ensemble (a logic step, then a batched model) and two hosts."""
    work = [np.array([0.01, 0.02, 0.03]), np.array([0.001, 0.002, 0.003])]
    plans = [BatchPlan(slots=2, max_batch=2, delay_s=0.001), BatchPlan(logic=True)]
    ens = Ensemble(plans, [((1,), (0,))], None, work, 1)
    log = RequestLog.empty(np.array([0.0, 0.001, 0.002]), np.zeros(3, np.int64))
    hosts = TritonHosts(ens, log, log.arrival_s)
    first = hosts.join(0.0)
    hosts.join(0.0)
    k = hosts.serve([0], 0, 0.0015)
    hosts.serve([0, 1], k, math.inf)
    first.run_until(math.inf)
    first.in_flight()


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
        self.hosts: list[GeneralHost | Host] = []
        i = single_model(ens)
        # the hosts' arrays: the one-model fast path, or the general host
        self.arrays = SingleBatchHosts(ens, i, log, self._arr) if i is not None else TritonHosts(ens, log, self._arr)

    def _on_join(self, iid: int, t: float) -> None:
        self.hosts.append(self.arrays.join(t))

    def _outstanding(self, t: float) -> list[int]:
        for iid in self.routable:
            self.hosts[iid].run_until(t)  # batches ending by t answer their requests first
        return [self.hosts[iid].outstanding for iid in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop what the failed host held; it is never run again (`advance` drains the others only)."""
        return mark_lost(self.log, self.hosts[iid].in_flight(), t)

    def advance(self, until: float) -> None:
        """Route and serve every arrival before `until` (one compiled call); with `until` = inf, drain every
        instance."""
        if self.routable:
            self._next = self.arrays.serve(self.routable, self._next, until)
        if until == math.inf:
            for iid, host in enumerate(self.hosts):
                if iid not in self.failed_s:
                    host.run_until(math.inf)

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
