"""Triton's dynamic batcher for the common case: one model, one stage, no more slots than GPUs, compiled.

`triton_kernel` (the general host) handles any ensemble with GPU processor sharing. When an instance hosts
a single model that every request visits once, and the model has no more execution slots than the instance
has GPUs, no two batches ever share a GPU: each batch runs at full speed from its start, so it ends at start + work.
Each host is then a FIFO queue in front of `slots` servers that take requests in batches, served with its
running batches' ends and one delay timer instead of the general host's stage maps, timer heap and
virtual clock. The batching rules are `BatchPlan.ready_size` and `max_queue_delay` exactly as in
the general host, events at one instant in the same order (batch ends before the delay timer, arrivals after
both); only the end times' last bits may differ, as start + work is computed directly.

Every host of a pool lives in arrays (`SingleBatchHosts`), so that routing and serving a stretch of
arrivals is one compiled call (`sim.jit`): a host's queue is a linked list through the requests (`nxt`),
a batch is a run of it (first request, size), and each host holds at most `slots` running batches, the
earliest end (then the earliest started) finishing first.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from sim.components.batch_plan import BatchPlan, Ensemble
from sim.jit import inlined, kernel, warm_up
from sim.results import RequestLog

# per-host float state (columns of `f`) and int state (columns of `i`)
NOW, BUSY, TIMER, GPU = 0, 1, 2, 3
HEAD, TAIL, QLEN, FREE, OUT, NRUN, SEQ = 0, 1, 2, 3, 4, 5, 6


def single_model(ens: Ensemble) -> int | None:
    """The index of the one model every request visits once, when `SingleBatchHosts` can serve `ens`."""
    hosted = [i for i, p in enumerate(ens.plans) if p is not None]
    if len(hosted) != 1:
        return None
    i = hosted[0]
    plan = ens.plans[i]
    if plan.logic or plan.slots > ens.gpus or any(path != ((i,),) for path in ens.paths):
        return None
    return i


class SingleBatchHosts:
    """Every instance of one pool serving one model's batches on its own GPUs (see the module docstring).

    Host h's state is row h of the arrays; `join` adds a row. `arrivals` is the pool's arrival sequence
    (a buffer the pool may move backlogged arrivals forward in), read in place.
    """

    def __init__(self, ens: Ensemble, model: int, log: RequestLog, arrivals) -> None:
        plan: BatchPlan = ens.plans[model]
        self.plan, self.model, self.log, self.n_hosts = plan, model, log, 0
        work = ens.work[model]
        self._work = np.zeros(0) if work is None else np.frombuffer(work, np.float64) \
            if not isinstance(work, np.ndarray) else np.asarray(work, np.float64)
        self._arr = np.frombuffer(arrivals, np.float64) if not isinstance(arrivals, np.ndarray) else arrivals
        n = log.n
        self._nxt, self._qt = np.full(n, -1, np.int64), np.zeros(n)
        self._due = np.array([plan.ready_size(k) for k in range(plan.max_batch + 1)], np.int64)
        fixed = math.nan if plan.fixed_s is None else plan.fixed_s
        self._p = np.array([plan.delay_s, fixed, plan.per_item_s, plan.fixed_fraction, plan.mean_s])
        self._grow(4)

    def _grow(self, rows: int) -> None:
        """Room for `rows` hosts, the existing rows kept."""
        s, cap = self.plan.slots, self.plan.max_batch
        new = {"f": np.zeros((rows, 4)), "i": np.zeros((rows, 7), np.int64), "rend": np.zeros((rows, s)),
               "rmeta": np.zeros((rows, s, 3), np.int64), "hist": np.zeros((rows, cap + 1), np.int64)}
        for name, arr in new.items():
            old = getattr(self, "_" + name, None)
            if old is not None:
                arr[:old.shape[0]] = old
            setattr(self, "_" + name, arr)

    def join(self, t0: float) -> Host:
        """A host starts serving at t0: empty queue, every slot free; returns it."""
        h = self.n_hosts
        if h == self._f.shape[0]:
            self._grow(2 * h)
        self._f[h] = (t0, t0, math.inf, 0.0)
        self._i[h] = (-1, -1, 0, self.plan.slots, 0, 0, 0)
        self.n_hosts += 1
        return Host(self, h)

    def _state(self) -> tuple:
        return (self._f, self._i, self._rend, self._rmeta, self._hist, self._nxt, self._qt, self._due, self._p,
                self._work, self.log.start_s, self.log.finish_s)

    def serve(self, routable: list[int], k: int, until: float) -> int:
        """Route and serve arrivals k, k+1, ... before `until` across the `routable` hosts (least outstanding,
        ties to the first in `routable`); returns the next k."""
        return int(_serve(np.asarray(routable, np.int64), k, until, self._arr, *self._state()))


class Host:
    """Row `h` of a `SingleBatchHosts`, with the general host's interface (`batcher.GeneralHost`) for the
    pool's control plane: settling up to a time, what it holds, when it was last busy, what it ran."""

    def __init__(self, hosts: SingleBatchHosts, h: int) -> None:
        self.hosts, self.h = hosts, h

    def run_until(self, t_lim: float) -> None:
        """Process every batch end and delay expiry at or before `t_lim`, in time order."""
        _run_until(self.h, t_lim, *self.hosts._state())

    @property
    def outstanding(self) -> int:
        """Requests this host holds (queued or in a running batch)."""
        return int(self.hosts._i[self.h, OUT])

    @property
    def busy_until(self) -> float:
        """When this host's last batch ended."""
        return float(self.hosts._f[self.h, BUSY])

    @property
    def gpu_busy_s(self) -> float:
        """GPU-seconds this host had a batch running."""
        return float(self.hosts._f[self.h, GPU])

    @property
    def batch_sizes(self) -> list[dict[int, int]]:
        """Per model (the general host's shape): how many batches of each size ran."""
        out: list[dict[int, int]] = [{} for _ in range(self.hosts.model + 1)]
        out[self.hosts.model] = {size: int(c) for size, c in enumerate(self.hosts._hist[self.h]) if c}
        return out

    def in_flight(self) -> list[int]:
        """The requests taken and not yet answered (queued or in a running batch)."""
        hs, h = self.hosts, self.h
        i, nxt = hs._i[h], hs._nxt
        out = _chain(nxt, int(i[HEAD]), int(i[QLEN]))
        for s in range(int(i[NRUN])):
            out += _chain(nxt, int(hs._rmeta[h, s, 1]), int(hs._rmeta[h, s, 2]))
        return out


@warm_up
def _warm() -> None:
    """Every kernel once, on three requests and two hosts, with the types a pool passes."""
    work = array("d", [0.01, 0.02, 0.03])
    ens = Ensemble([BatchPlan(slots=1, max_batch=2, delay_s=0.001)], [((0,),)], None, [work], 1)
    arrivals = array("d", [0.0, 0.001, 0.002])
    hosts = SingleBatchHosts(ens, 0, RequestLog.empty(np.frombuffer(arrivals), np.zeros(3, np.int64)), arrivals)
    first = hosts.join(0.0)
    hosts.join(0.0)
    k = hosts.serve([0], 0, 0.0015)
    hosts.serve([0, 1], k, math.inf)
    first.run_until(math.inf)


def _chain(nxt: np.ndarray, j: int, count: int) -> list[int]:
    """`count` requests of a queue's linked list from j on."""
    out = []
    for _ in range(count):
        out.append(j)
        j = int(nxt[j])
    return out


@inlined
def _batch_work(first, size, nxt, p, work):
    """GPU-seconds of the batch of `size` requests from `first` on (`BatchPlan.work_s`, same operations in
    the same order, so the same bits)."""
    if work.size == 0:  # an explicit curve with no variation to keep
        return p[1] + p[2] * size
    total, j = 0.0, first
    for _ in range(size):
        total += work[j]
        j = nxt[j]
    if not math.isnan(p[1]):
        curve = p[1] + p[2] * size
        return curve * (total / size) / p[4] if p[4] > 0 else curve
    if size == 1:
        return work[first]  # what the default curve gives a batch of one: its own sample
    return total - p[3] * total * (size - 1) / size


@inlined
def _start(h, first, size, t, f, i, rend, rmeta, hist, nxt, p, work, start_s):
    """A batch of `size` requests from `first` on starts at t on a free slot of host h."""
    i[h, 3] -= 1
    hist[h, size] += 1
    w = _batch_work(first, size, nxt, p, work)
    f[h, 3] += w
    j = first
    for _ in range(size):
        start_s[j] = t
        j = nxt[j]
    s = i[h, 5]
    rend[h, s] = t + w
    rmeta[h, s, 0], rmeta[h, s, 1], rmeta[h, s, 2] = i[h, 6], first, size
    i[h, 5] += 1
    i[h, 6] += 1


@inlined
def _dispatch(h, t, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s):
    """Send batches while a slot is free and a batch is due (the general host's rules, `triton_kernel._dispatch`).
    The delay timer is armed only for the oldest request waiting: once that one leaves, it is disarmed."""
    cap = due.size - 1
    while i[h, 3] > 0 and i[h, 2] > 0:
        queued = i[h, 2]
        size = due[min(queued, cap)]
        if size == 0:
            deadline = qt[i[h, 0]] + p[0]
            if t < deadline:
                f[h, 2] = deadline
                break
            size = queued
        f[h, 2] = math.inf
        first, j = i[h, 0], i[h, 0]
        for _ in range(size - 1):
            j = nxt[j]
        i[h, 0] = nxt[j] if size < queued else -1
        i[h, 2] -= size
        if i[h, 2] == 0:
            i[h, 1] = -1
        _start(h, first, size, t, f, i, rend, rmeta, hist, nxt, p, work, start_s)


@inlined
def _earliest(h, i, rend, rmeta):
    """The running slot of host h that ends first (ties: started first), or -1."""
    best = -1
    for s in range(i[h, 5]):
        if best < 0 or rend[h, s] < rend[h, best] or (rend[h, s] == rend[h, best]
                                                        and rmeta[h, s, 0] < rmeta[h, best, 0]):
            best = s
    return best


@inlined
def _finish(h, s, f, i, rend, rmeta, nxt, finish_s):
    """Running slot s of host h ended: its requests are answered (the timeout is applied after the run)."""
    tf, first, size = rend[h, s], rmeta[h, s, 1], rmeta[h, s, 2]
    i[h, 3] += 1
    i[h, 4] -= size
    f[h, 1] = tf
    j = first
    for _ in range(size):
        finish_s[j] = tf
        j = nxt[j]
    last = i[h, 5] - 1
    rend[h, s] = rend[h, last]
    rmeta[h, s, 0], rmeta[h, s, 1], rmeta[h, s, 2] = rmeta[h, last, 0], rmeta[h, last, 1], rmeta[h, last, 2]
    i[h, 5] = last
    return tf


@inlined
def _run_until(h, t_lim, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s, finish_s):
    """Every batch end and delay expiry of host h at or before `t_lim`, in time order (batch ends first).
    Inlined into `_serve`: a call passing its fourteen arrays cost more than the work of most arrivals (one
    model on two hosts: 181 -> 82 ns a request with the check below, 2026-12-08); the control plane calls it
    compiled on its own."""
    while True:
        s = _earliest(h, i, rend, rmeta)
        if s >= 0 and rend[h, s] <= t_lim and rend[h, s] <= f[h, 2]:
            tf = _finish(h, s, f, i, rend, rmeta, nxt, finish_s)
            if i[h, 2] > 0:
                _dispatch(h, tf, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s)
        elif f[h, 2] <= t_lim and f[h, 2] != math.inf:
            t = f[h, 2]
            f[h, 2] = math.inf
            _dispatch(h, t, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s)
        else:
            break
    if t_lim != math.inf and t_lim > f[h, 0]:
        f[h, 0] = t_lim


@inlined
def _arrive(h, t, j, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s):
    """Request j reaches host h at t (or when the host started, if later)."""
    if t < f[h, 0]:
        t = f[h, 0]
    i[h, 4] += 1
    if i[h, 2] == 0:
        i[h, 0] = j
    else:
        nxt[i[h, 1]] = j
    i[h, 1] = j
    i[h, 2] += 1
    qt[j] = t
    # with the delay timer armed for the oldest request, one more only matters if it completes a batch
    if i[h, 3] > 0 and (f[h, 2] == math.inf or due[min(i[h, 2], due.size - 1)] > 0):
        _dispatch(h, t, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s)


@kernel
def _serve(routable, k, until, arr, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s, finish_s):
    """Arrivals k, k+1, ... before `until`, each to the routable host with the fewest outstanding requests
    once every host has processed what ended by its arrival; returns the next k."""
    n = arr.size
    while k < n and arr[k] < until:
        a = arr[k]
        h = routable[0]
        for r in range(routable.size):  # settle the hosts with a batch end or a timer due by a: the others hold
            g = routable[r]
            s = _earliest(g, i, rend, rmeta)
            if (s >= 0 and rend[g, s] <= a) or f[g, 2] <= a:
                _run_until(g, a, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s, finish_s)
        for r in range(1, routable.size):
            if i[routable[r], 4] < i[h, 4]:
                h = routable[r]
        _arrive(h, a, k, f, i, rend, rmeta, hist, nxt, qt, due, p, work, start_s)
        k += 1
    return k
