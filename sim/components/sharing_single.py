"""Processor sharing with one job per request (direct invocation of one container), compiled.

`sim.components.sharing` has the rules: with n jobs in service on C vCPUs each progresses at rate
min(1, C / n); each instance keeps a virtual clock V, and a job of work w joining at V finishes when V
reaches V + w. Here the per-request loop is one compiled call (`sim.jit`) over arrays. Every instance's
jobs are a heap of (virtual finish, request) in one shared buffer, each heap in a segment of its own that
moves to a segment twice as large at the buffer's end when it fills (the space it left is not reused: the
buffer holds at most about four times the jobs in service). Keys are distinct (the request), so a heap
pops in one order whatever its layout: the order of Python's heapq, and the arithmetic is the interpreted
loop's, operation for operation (tests/test_kernels.py holds it to tests/reference_sharing.py).
"""

from __future__ import annotations

import math

import numpy as np

from sim.components.fleet import Fleet, mark_lost
from sim.jit import inlined, kernel, warm_up
from sim.results import RequestLog

# the counters of `_n`: next arrival to route, first free place of the heap buffer
K, TOP = range(2)
SEGMENT = 16
"""Room a new instance's heap starts with (it doubles when full)."""


class OneJobSharingPool(Fleet):
    """Requests `idx` of `log` (None: all of them), each one job of `work_s` seconds at full speed, on instances
    of `vcpus` vCPUs shared by processor sharing. The log gets when each request's work finished (the caller's
    timeout is applied after the run, `sim.components.timeout`)."""

    def __init__(self, log: RequestLog, idx: np.ndarray | None, work_s: np.ndarray, vcpus: int) -> None:
        super().__init__()
        self.log, self.vcpus = log, vcpus
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)  # empty: every position
        self._arr = np.array(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)  # held backlog moves
        self._col = np.ascontiguousarray(work_s, np.float64)
        self._n = np.zeros(2, np.int64)
        self._inst = np.zeros((4, 3))             # per instance: virtual clock, its time, next event
        self._seg = np.zeros((4, 3), np.int64)    # per instance: heap offset, room, size
        self._outs = np.zeros(4, np.int64)        # per instance: requests in service
        self._hv, self._hk = np.zeros(1024), np.zeros(1024, np.int64)
        self.work_s = 0.0                         # work of every job started, for utilisation

    @property
    def _next(self) -> int:
        """The first arrival not yet routed (`Fleet.idle`)."""
        return int(self._n[K])

    def _on_join(self, iid: int, t: float) -> None:
        if len(self.routable) == 1:
            self._hold_backlog(t)  # requests held with no instance in service start when this one joins
        if iid >= self._inst.shape[0]:
            self._inst, self._seg, self._outs = (np.concatenate([a, np.zeros_like(a)])
                                                 for a in (self._inst, self._seg, self._outs))
        while int(self._n[TOP]) + SEGMENT > self._hv.size:
            self._grow()
        self._inst[iid] = (0.0, t, math.inf)
        self._seg[iid] = (self._n[TOP], SEGMENT, 0)
        self._n[TOP] += SEGMENT

    def _grow(self) -> None:
        """Twice the room in the heap buffer."""
        self._hv, self._hk = (np.concatenate([a, np.zeros_like(a)]) for a in (self._hv, self._hk))

    def _outstanding(self, t: float) -> list[int]:
        return [int(self._outs[i]) for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests in service at t: every job in its heap. `advance(t)` ran each instance with an
        event by t up to t, so none of them has finished."""
        off, _, size = (int(x) for x in self._seg[iid])
        ks = self._hk[off:off + size]
        lost = self._idx[ks] if self._idx.size else ks.copy()
        self._seg[iid, 2] = 0
        self._inst[iid, 2] = math.inf
        self._outs[iid] = 0
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Route every arrival before `until`, then run every instance with an event by `until` up to it."""
        busy, k0 = np.array(self.busy_until), self._next
        if self.routable:
            routable = np.array(self.routable, np.int64)
            while _route(self._arr, self._col, self._idx, self._n, until, routable, self._inst, self._seg,
                         self._outs, self._hv, self._hk, self.vcpus, self.log.finish_s, busy):
                self._grow()
        k = self._next
        if k > k0:  # under processor sharing service starts on arrival; per batch of arrivals, not per request
            at = slice(k0, k) if not self._idx.size else self._idx[k0:k]
            self.log.start_s[at] = self._arr[k0:k]
            self.work_s += float(self._col[k0:k].sum())
        _settle_all(until, len(self.joined_s), self._idx, self._inst, self._seg, self._outs, self._hv, self._hk,
                    self.vcpus, self.log.finish_s, busy)
        self.busy_until[:] = busy.tolist()


@warm_up
def _warm() -> None:
    """The kernels once: two instances of one vCPU, their heaps past their first room, a failure."""
    log = RequestLog.empty(np.arange(80) * 0.001, np.zeros(80, np.int32))
    pool = OneJobSharingPool(log, None, np.ones(80), 1)
    pool.join(0.0)
    pool.join(0.0)
    pool.advance(0.05)
    pool.fail(0.06)
    pool.advance(math.inf)


@kernel
def _route(arr, col, idx, n, until, routable, inst, seg, outs, hv, hk, cap, finish_s, busy):
    """Route the arrivals from n[K] before `until` (least outstanding, the first of the fewest in join order);
    True when the heap buffer is full (grow it and call again), False when done."""
    k, size, every = n[K], arr.size, idx.size == 0
    while k < size and arr[k] < until:
        a = arr[k]
        for r in routable:
            if inst[r, 2] <= a:
                _settle(r, a, idx, inst, seg, outs, hv, hk, cap, finish_s, busy, every)
        iid = routable[0]
        for p in range(1, routable.size):
            if outs[routable[p]] < outs[iid]:
                iid = routable[p]
        if seg[iid, 2] == seg[iid, 1]:  # its heap is full: move it to a segment twice as large
            if n[TOP] + 2 * seg[iid, 1] > hv.size:
                n[K] = k
                return True
            off, m, top = seg[iid, 0], seg[iid, 2], n[TOP]
            for q in range(m):  # a loop: kernels create no slices
                hv[top + q], hk[top + q] = hv[off + q], hk[off + q]
            seg[iid, 0], seg[iid, 1] = top, 2 * seg[iid, 1]
            n[TOP] = top + seg[iid, 1]
        off, m = seg[iid, 0], seg[iid, 2]
        if m:
            inst[iid, 0] += (cap / m if m > cap else 1.0) * (a - inst[iid, 1])
        inst[iid, 1] = a
        _push(hv, hk, off, m, inst[iid, 0] + col[k], k)
        outs[iid] += 1
        m += 1
        seg[iid, 2] = m
        inst[iid, 2] = a + (hv[off] - inst[iid, 0]) * (m / cap if m > cap else 1.0)
        k += 1
    n[K] = k
    return False


@kernel
def _settle_all(until, count, idx, inst, seg, outs, hv, hk, cap, finish_s, busy):
    """Departures up to `until` of every instance with an event by then."""
    every = idx.size == 0
    for iid in range(count):
        if inst[iid, 2] <= until:
            _settle(iid, until, idx, inst, seg, outs, hv, hk, cap, finish_s, busy, every)


@inlined
def _settle(iid, until, idx, inst, seg, outs, hv, hk, cap, finish_s, busy, every):
    """Departures of instance iid up to `until` (inclusive); sets its next event."""
    v, t, off, m = inst[iid, 0], inst[iid, 1], seg[iid, 0], seg[iid, 2]
    b, done = busy[iid], 0
    while m:
        slow = m / cap if m > cap else 1.0   # 1 / rate
        t_dep = t + (hv[off] - v) * slow
        if t_dep > until:
            break
        v, k = hv[off], hk[off]
        m = _pop(hv, hk, off, m)
        t = t_dep
        finish_s[k if every else idx[k]] = t
        done += 1
    outs[iid] -= done
    if done and t > b:
        busy[iid] = t
    if m:
        if until != math.inf:
            v, t = v + (cap / m if m > cap else 1.0) * (until - t), until
        inst[iid, 2] = t + (hv[off] - v) * (m / cap if m > cap else 1.0)
    else:
        inst[iid, 2] = math.inf
        t = until if until != math.inf else t
    inst[iid, 0], inst[iid, 1], seg[iid, 2] = v, t, m


@inlined
def _before(hv, hk, a, b):
    """Entry a before entry b: (virtual finish, request) compared in that order."""
    return hv[a] < hv[b] or (hv[a] == hv[b] and hk[a] < hk[b])


@inlined
def _swap(hv, hk, a, b):
    """Exchange entries a and b."""
    hv[a], hv[b] = hv[b], hv[a]
    hk[a], hk[b] = hk[b], hk[a]


@inlined
def _push(hv, hk, off, m, v, k):
    """Add (v, k) to the heap of `m` entries at `off` (room checked by the caller)."""
    pos = off + m
    hv[pos], hk[pos] = v, k
    while pos > off:
        parent = off + ((pos - off - 1) >> 1)
        if not _before(hv, hk, pos, parent):
            break
        _swap(hv, hk, pos, parent)
        pos = parent


@inlined
def _pop(hv, hk, off, m):
    """Remove the first entry of the heap of `m` entries at `off`; the entries left."""
    m -= 1
    _swap(hv, hk, off, off + m)
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= m:
            break
        if child + 1 < m and _before(hv, hk, off + child + 1, off + child):
            child += 1
        if not _before(hv, hk, off + child, off + pos):
            break
        _swap(hv, hk, off + pos, off + child)
        pos = child
    return m
