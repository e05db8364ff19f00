"""On-demand containers: created per request when none is idle, expired after a keep-alive; compiled.

The data plane of serverless endpoints. A request takes a provisioned container if one is idle, else
the newest idle on-demand container (as SimFaaS does, which keeps old containers idle so they expire),
else a new container that pays the cold start, unless `max_concurrency` requests are already in
service, in which case it is throttled (no queue). An idle container dies `keep_alive_s` after its last
request; deaths are found lazily, which is exact because an idle container's death time is fixed.

The per-request loop is one compiled call (`sim.jit`) over arrays: the busy containers are a heap of
(free at, id) pairs, the idle ones a heap of -id (the newest on top), the provisioned ones a stack. Every
key is distinct, so each heap pops in one order whatever its layout: the order of Python's heapq.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.jit import inlined, kernel, warm_up
from sim.results import FAILED, THROTTLED, RequestLog

# the counters of `_n`
K, BUSY, IDLE, PROV, CREATED, BILLED, PBILLED = range(7)


class OnDemandContainers:
    """Containers for the requests `idx` of `log` (None: all of them); `service_s` is per request (s).

    `cold_s` is the cold start of every new container (s), or a function giving the next n containers'
    cold starts (one draw per container created, in creation order).

    A response later than `timeout_s` after arrival fails at arrival + timeout, and the platform stops the
    container's work there (`sim.components.timeout`).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray,
                 cold_s: float | Callable[[int], np.ndarray],
                 max_concurrency: int, keep_alive_s: float, provisioned: int = 0,
                 timeout_s: float = math.inf, warm: int = 0) -> None:
        self.log, self.cold_s, self.max_conc = log, cold_s, max_concurrency
        self.keep_alive_s, self.timeout_s, self.provisioned = keep_alive_s, timeout_s, provisioned
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)
        self._arr = np.ascontiguousarray(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)
        self._svc = np.ascontiguousarray(service_s, np.float64)
        n, room = self._arr.size, max_concurrency + provisioned + 1
        self._n = np.zeros(7, np.int64)
        self._bf, self._bc = np.zeros(room), np.zeros(room, np.int64)
        self._prov = np.arange(-provisioned, 0, dtype=np.int64)
        self._n[PROV] = provisioned
        self._billed, self._pbilled = np.zeros(n), np.zeros(n if provisioned else 0)
        self._created = self._died = self._since = self._idle = self._cold = np.zeros(0)
        self._grow(max(64, warm))
        for cid in range(warm):  # warm at the start, as in steady state: idle since t = 0
            self._created[cid], self._died[cid], self._since[cid] = 0.0, math.inf, 0.0
            _push_idle(self._idle, cid, int(self._n[IDLE]))
            self._n[IDLE] += 1
        self._n[CREATED] = warm

    def _grow(self, size: int) -> None:
        """Room for `size` on-demand containers (their lifetimes, cold starts and the idle heap), the existing kept."""
        old = self._cold.size
        more = self.cold_s(size - old) if callable(self.cold_s) else np.full(size - old, self.cold_s)
        self._cold = np.r_[self._cold, np.asarray(more, np.float64)]
        for name, fill, dtype in (("_created", 0.0, float), ("_died", math.inf, float), ("_since", 0.0, float),
                                  ("_idle", 0, np.int64)):
            new, old = np.full(size, fill, dtype), getattr(self, name)
            new[:old.size] = old
            setattr(self, name, new)

    @property
    def idle(self) -> bool:
        """True once every arrival has been served or refused."""
        return self._n[K] >= self._arr.size

    created_s = property(lambda self: self._created[:self._n[CREATED]],
                         doc="When each on-demand container was created (s).")
    died_s = property(lambda self: self._died[:self._n[CREATED]],
                      doc="When each on-demand container was found dead (s; inf while alive).")
    idle_since = property(lambda self: self._since[:self._n[CREATED]],
                          doc="When each on-demand container last became idle (s).")
    billed_s = property(lambda self: self._billed[:self._n[BILLED]],
                        doc="Per request served or failed on demand, in arrival order: its time in service (s).")
    provisioned_billed_s = property(lambda self: self._pbilled[:self._n[PBILLED]],
                                    doc="The same, for requests on provisioned containers.")

    def advance(self, until: float) -> None:
        """Serve every arrival before `until`."""
        log = self.log
        while True:
            full = _advance(until, self._arr, self._svc, self._idx, log.status, log.cold, log.start_s, log.finish_s,
                            self._n, self._bf, self._bc, self._idle, self._prov, self._created, self._died,
                            self._since, self._billed, self._pbilled, self.keep_alive_s, self._cold,
                            self.timeout_s, self.max_conc)
            if not full:
                return
            self._grow(2 * self._created.size)  # more containers than there was room for: grow, go on

    def lifetimes(self, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(created, died) of every on-demand container, deaths clipped to the horizon."""
        died = np.array(self.died_s, float)
        alive = ~np.isfinite(died)
        if alive.any():
            # a container still alive at the end dies keep_alive after its last request, if in range
            nb = int(self._n[BUSY])
            last_free = {int(c): float(f) for f, c in zip(self._bf[:nb], self._bc[:nb], strict=True) if c >= 0}
            ends = [max(last_free.get(c, self.idle_since[c]), self.idle_since[c]) + self.keep_alive_s
                    for c in np.flatnonzero(alive)]
            died[alive] = ends
        return np.array(self.created_s, float), np.minimum(died, horizon_s)


@warm_up
def _warm() -> None:
    """The kernels once, on three requests with a provisioned container, a cold start and a throttle."""
    log = RequestLog.empty(np.array([0.0, 0.1, 0.2]), np.zeros(3, np.int32))
    c = OnDemandContainers(log, None, np.array([1.0, 1.0, 1.0]), 0.5, 1, 60.0, provisioned=1, timeout_s=60.0,
                           warm=1)
    c.advance(math.inf)


@inlined
def _push_busy(bf, bc, size, f, c):
    """Push (f, c) on the busy heap of `size` entries (ordered by free time, then id)."""
    i = size
    while i > 0:
        up = (i - 1) // 2
        if bf[up] < f or (bf[up] == f and bc[up] < c):
            break
        bf[i], bc[i] = bf[up], bc[up]
        i = up
    bf[i], bc[i] = f, c


@inlined
def _pop_busy(bf, bc, size):
    """Remove the top of the busy heap of `size` entries (the caller read it first)."""
    size -= 1
    f, c = bf[size], bc[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and (bf[child + 1] < bf[child] or (bf[child + 1] == bf[child]
                                                                and bc[child + 1] < bc[child])):
            child += 1
        if f < bf[child] or (f == bf[child] and c < bc[child]):
            break
        bf[i], bc[i] = bf[child], bc[child]
        i = child
    if size > 0:
        bf[i], bc[i] = f, c


@inlined
def _push_idle(heap, cid, size):
    """Push container `cid` on the idle heap of `size` entries (the newest, highest id, on top)."""
    i = size
    while i > 0:
        up = (i - 1) // 2
        if heap[up] > cid:
            break
        heap[i] = heap[up]
        i = up
    heap[i] = cid


@inlined
def _pop_idle(heap, size):
    """Remove and return the top (newest) of the idle heap of `size` entries."""
    top = heap[0]
    size -= 1
    last = heap[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] > heap[child]:
            child += 1
        if last > heap[child]:
            break
        heap[i] = heap[child]
        i = child
    if size > 0:
        heap[i] = last
    return top


@kernel
def _advance(until, arr, svc, idx, status, cold, start_s, finish_s, n, bf, bc, idle, prov, created, died, since,
             billed, pbilled, ka, cold_s, timeout, cap):
    """Serve arrivals from n[K] on before `until` (see the module docstring); True when it stopped early for
    want of room for another container (grow `created`, `died`, `since`, `idle` and `cold_s`, then call
    again)."""
    k = n[K]
    while k < arr.size and arr[k] < until:
        a = arr[k]
        j = k if idx.size == 0 else idx[k]
        while n[BUSY] > 0 and bf[0] <= a:
            f, cid = bf[0], bc[0]
            _pop_busy(bf, bc, n[BUSY])
            n[BUSY] -= 1
            if cid < 0:
                prov[n[PROV]] = cid
                n[PROV] += 1
            else:
                since[cid] = f
                _push_idle(idle, cid, n[IDLE])
                n[IDLE] += 1
        cid, start, found = 0, a, False
        if n[PROV] > 0:
            n[PROV] -= 1
            cid, found = prov[n[PROV]], True
        else:
            while n[IDLE] > 0:
                c = _pop_idle(idle, n[IDLE])
                n[IDLE] -= 1
                if since[c] + ka > a:
                    cid, found = c, True
                    break
                died[c] = since[c] + ka
        if not found:
            if n[BUSY] >= cap:
                status[j] = THROTTLED
                k += 1
                continue
            if n[CREATED] == created.size:
                n[K] = k
                return True
            cid = n[CREATED]
            n[CREATED] += 1
            created[cid], died[cid], since[cid] = a, math.inf, a
            start = a + cold_s[cid]
            cold[j] = True
        f = start + svc[k]
        # the timeout rule of sim.components.timeout, counted from arrival; the capped finish is when the
        # container is free again
        if f - a > timeout:
            status[j] = FAILED
            f = a + timeout
        start_s[j], finish_s[j] = start, f
        if cid < 0:
            pbilled[n[PBILLED]] = max(0.0, f - start)
            n[PBILLED] += 1
        else:
            billed[n[BILLED]] = max(0.0, f - start)
            n[BILLED] += 1
        _push_busy(bf, bc, n[BUSY], f, cid)
        n[BUSY] += 1
        k += 1
    n[K] = k
    return False
